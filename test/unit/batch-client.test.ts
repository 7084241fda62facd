import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ServiceError, type Client } from '@temporalio/client';
import { BatchClient, isTransientRpcFailure } from '../../src/client/batch-client';
import type { BatchSummary } from '../../src/schemas';

/** A client whose result() fails with `failures` in turn, then answers. */
function clientFailing(failures: unknown[]): { client: Client; calls: () => number } {
  let calls = 0;
  const handle = {
    result: async () => {
      calls += 1;
      const failure = failures.shift();
      if (failure) throw failure;
      return { batchId: 'b', succeeded: 1 } as BatchSummary;
    },
  };
  return { client: { workflow: { getHandle: () => handle } } as unknown as Client, calls: () => calls };
}

const grpcFailure = (code: number, details: string) =>
  new ServiceError(`Failed to get Workflow execution history`, {
    cause: Object.assign(new Error(details), { code, details }),
  });

describe('waiting for a batch summary', () => {
  test('a cut wait (DEADLINE_EXCEEDED, UNAVAILABLE) is waited again; the summary arrives', async () => {
    const { client, calls } = clientFailing([
      grpcFailure(4, 'context deadline exceeded'),
      grpcFailure(14, 'connection refused'),
    ]);
    const summary = await new BatchClient(client, { taskQueue: 'q', namespace: 'default', webUiUrl: '' }).summary('b');
    assert.equal(summary.succeeded, 1);
    assert.equal(calls(), 3);
  });

  test('other failures (a failed batch, NOT_FOUND) surface at once', async () => {
    const notFound = grpcFailure(5, 'workflow not found');
    const { client, calls } = clientFailing([notFound]);
    await assert.rejects(
      new BatchClient(client, { taskQueue: 'q', namespace: 'default', webUiUrl: '' }).summary('b'),
      (error) => error === notFound,
    );
    assert.equal(calls(), 1);
    assert.equal(isTransientRpcFailure(new Error('deadline')), false);
  });
});
