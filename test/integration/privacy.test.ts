/**
 * Payload encryption and the claim check against a real dev server: what an encrypting worker
 * leaves in history (read raw, without the codec), key rotation mid-batch, a worker without the
 * key, and an item of 5 MB.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { BatchClient } from '../../src/client/batch-client';
import { encryptionCodecOf, type PayloadPrivacy } from '../../src/privacy/data-converter';
import { createTemporalClient } from '../../src/temporal/connection';
import { itemWorkflowId } from '../../workflows/batch';
import { batchOutcome } from '../helpers/batch';
import { startTestStack, uniqueName, type TestStack } from '../helpers/stack';

const MARKER = 'PRIVATE-PATIENT-NOTE-7731';
const k1 = { id: 'k1', key: randomBytes(32) };
const k2 = { id: 'k2', key: randomBytes(32) };

describe('private payloads', () => {
  let stack: TestStack;
  let blobDirectory: string;
  const privacy = (...keys: (typeof k1)[]): PayloadPrivacy => ({ keys, blobDirectory, blobThreshold: 128 * 1024 });

  before(async () => {
    stack = await startTestStack();
    blobDirectory = mkdtempSync(path.join(os.tmpdir(), 'batch-llm-blobs-'));
  });
  after(async () => {
    await stack?.teardown();
    rmSync(blobDirectory, { recursive: true, force: true });
  });

  const batchClientWith = (taskQueue: string, keys: PayloadPrivacy) =>
    new BatchClient(createTemporalClient(stack.env.connection, 'default', keys), {
      taskQueue,
      namespace: 'default',
      webUiUrl: 'http://localhost:8233',
    });

  /** Every byte of a workflow's history as the server keeps it (payloads undecoded). */
  async function rawHistory(workflowId: string): Promise<Buffer> {
    const bare = new Client({ connection: stack.env.connection, namespace: 'default' });
    const history = await bare.workflow.getHandle(workflowId).fetchHistory();
    return Buffer.from(temporal.api.history.v1.History.encode(history).finish());
  }

  test('an encrypting worker leaves no record, prompt, output or error message in plain text in history', async () => {
    const taskQueue = uniqueName('tq-private');
    const worker = await stack.startWorker(taskQueue, { privacy: privacy(k1) });
    try {
      const client = batchClientWith(taskQueue, privacy(k1));
      const good = uniqueName('private');
      await client.start({
        batchId: good,
        taskName: 'test-echo',
        records: [
          { id: 'a', note: MARKER },
          { id: 'b', note: MARKER },
        ],
      });
      const summary = await client.summary(good);
      assert.equal(summary.succeeded, 2, JSON.stringify(summary));
      const bad = uniqueName('private-bug');
      await client.start({ batchId: bad, taskName: 'test-buggy', records: [{ id: 'x', note: MARKER }] });
      const badSummary = await client.summary(bad);
      assert.equal(badSummary.failed, 1, JSON.stringify(badSummary));

      // Read through the codec, the error message is there…
      const { results } = await batchOutcome(stack, bad);
      assert.equal(results.length, 1);
      assert.match(results[0]?.error?.message ?? '', /cannot read "code" of undefined/);
      const failure = await client.client.workflow
        .getHandle(itemWorkflowId(bad, 'x'))
        .result()
        .then(
          () => undefined,
          (error: Error & { cause?: Error }) => error,
        );
      assert.match(String(failure?.cause?.message ?? failure?.message), /cannot read "code" of undefined/);

      // …and in the server's bytes none of it is.
      const workflowIds = [good, itemWorkflowId(good, 'a'), itemWorkflowId(good, 'b'), bad, itemWorkflowId(bad, 'x')];
      for (const workflowId of workflowIds) {
        const raw = await rawHistory(workflowId);
        assert.ok(raw.length > 0);
        assert.ok(!raw.includes(MARKER), `${workflowId}: the item's note is in plain text`);
        assert.ok(!raw.includes('cannot read'), `${workflowId}: an error message is in plain text`);
        assert.ok(!raw.includes('"label"'), `${workflowId}: model output is in plain text`);
        assert.ok(raw.includes('binary/encrypted') && raw.includes('k1'), `${workflowId}: payloads encrypted with k1`);
      }
    } finally {
      await worker.stop();
    }
  });

  test('keys rotate mid-batch: a worker encrypting with k2 and holding k1 finishes what k1 began', async () => {
    const taskQueue = uniqueName('tq-rotate');
    const batchId = uniqueName('rotate');
    const records = Array.from({ length: 6 }, (_, index) => ({ id: `r${index}`, note: MARKER }));
    // Started under k1, with no worker yet: the batch's input is encrypted with k1.
    await batchClientWith(taskQueue, privacy(k1)).start({ batchId, taskName: 'test-echo', records });
    const worker = await stack.startWorker(taskQueue, { privacy: privacy(k2, k1) });
    try {
      const client = batchClientWith(taskQueue, privacy(k2, k1));
      const summary = await client.summary(batchId);
      assert.equal(summary.succeeded, 6, JSON.stringify(summary));
      const raw = await rawHistory(batchId);
      assert.ok(raw.includes('k1') && raw.includes('k2'), 'the batch history holds payloads of both keys');
      assert.ok(!raw.includes(MARKER));
    } finally {
      await worker.stop();
    }
  });

  test('a worker without the key fails the workflow task naming the key id, and the item finishes once a worker has it', async () => {
    const taskQueue = uniqueName('tq-nokey');
    const batchId = uniqueName('nokey');
    await batchClientWith(taskQueue, privacy(k1)).start({
      batchId,
      taskName: 'test-echo',
      records: [{ id: 'n1', note: MARKER }],
    });
    const wrong = await stack.startWorker(taskQueue, { privacy: privacy(k2) });
    let taskFailure = '';
    try {
      const reader = createTemporalClient(stack.env.connection, 'default', privacy(k1));
      for (let attempt = 0; attempt < 100 && !taskFailure; attempt++) {
        const history = await reader.workflow.getHandle(batchId).fetchHistory();
        const failure = history.events?.find((event) => event.workflowTaskFailedEventAttributes)
          ?.workflowTaskFailedEventAttributes?.failure;
        // The worker encodes its failures' messages too (with its own key): decoded as the Web UI would.
        if (failure?.encodedAttributes) {
          const [decoded] = await encryptionCodecOf(privacy(k2)).decode([failure.encodedAttributes]);
          taskFailure = String(
            (JSON.parse(Buffer.from(decoded?.data ?? []).toString()) as { message?: string }).message,
          );
        }
        if (!taskFailure) await new Promise((resolve) => setTimeout(resolve, 200));
      }
    } finally {
      await wrong.stop();
    }
    assert.match(taskFailure, /key "k1"/, 'the workflow task failure names the missing key');
    assert.match(taskFailure, /holds "k2"/);
    const right = await stack.startWorker(taskQueue, { privacy: privacy(k1) });
    try {
      const summary = await batchClientWith(taskQueue, privacy(k1)).summary(batchId);
      assert.equal(summary.succeeded, 1, JSON.stringify(summary));
    } finally {
      await right.stop();
    }
  });

  test('an item of 5 MB travels by reference: history stays small, the blob is encrypted, the item succeeds', async () => {
    const taskQueue = uniqueName('tq-large');
    const worker = await stack.startWorker(taskQueue, { privacy: privacy(k1) });
    try {
      const client = batchClientWith(taskQueue, privacy(k1));
      const batchId = uniqueName('large');
      const bigNote = `${MARKER} ${'lorem ipsum dolor sit amet '.repeat(200_000)}`.slice(0, 5 * 1024 * 1024);
      await client.start({
        batchId,
        taskName: 'test-echo',
        records: [
          { id: 'big', note: bigNote },
          { id: 'small', note: 'x' },
        ],
      });
      const summary = await client.summary(batchId);
      assert.equal(summary.succeeded, 2, JSON.stringify(summary));
      const { results, calls } = await batchOutcome(stack, batchId);
      assert.equal(results.length, 2);
      const bigCalls = calls('big');
      assert.equal(bigCalls.length, 1);
      for (const workflowId of [batchId, itemWorkflowId(batchId, 'big')]) {
        const raw = await rawHistory(workflowId);
        assert.ok(raw.length < 256 * 1024, `${workflowId}: history is ${raw.length} bytes`);
        assert.ok(!raw.includes(MARKER));
      }
      const blobs = readdirSync(blobDirectory, { recursive: true, withFileTypes: true }).filter((entry) =>
        entry.isFile(),
      );
      assert.ok(blobs.length > 0, 'large payloads are in the blob directory');
      const largest =
        blobs
          .map((entry) => path.join(entry.parentPath, entry.name))
          .sort((a, b) => statSync(b).size - statSync(a).size)[0] ?? '';
      assert.ok(statSync(largest).size > 5 * 1024 * 1024);
      const { readFileSync } = await import('node:fs');
      assert.ok(!readFileSync(largest).includes(MARKER), 'the blob is encrypted at rest');
    } finally {
      await worker.stop();
    }
  });
});
