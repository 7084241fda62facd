/**
 * Payload encryption and the claim check against a real dev server: what an encrypting worker
 * leaves in history (read raw, without the codec), key rotation mid-batch, a worker without the
 * key, and an item of 5 MB.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { BatchClient } from '../../src/client/batch-client';
import { encryptionCodecOf, type PayloadPrivacy, workerDataConverter } from '../../src/privacy/data-converter';
import { workflowBundle } from '../../src/worker';
import { Worker } from '@temporalio/worker';
import { createTemporalClient } from '../../src/temporal/connection';
import { itemWorkflowId } from '../../workflows/batch';
import { batchOutcome, withEmulatorSettings } from '../helpers/batch';
import { startTestStack, uniqueName, type TestStack } from '../helpers/stack';

const MARKER = 'PRIVATE-PATIENT-NOTE-7731';
const ANSWER_CANARY = 'MODEL-SAID-CANARY-5510';
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
      const cached = uniqueName('private-cached');
      // The canary in every item and in every answer the model gives.
      await withEmulatorSettings(
        stack.emulator,
        { responder: () => JSON.stringify({ label: ANSWER_CANARY, score: 3 }) },
        async () => {
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
          await client.start({
            batchId: cached,
            taskName: 'test-cached',
            records: [
              { id: 'c1', note: MARKER },
              { id: 'c2', note: MARKER },
            ],
            options: { cache: { tags: { run: cached.replace(/[^A-Za-z0-9_.:-]/g, '') } } },
          });
          const cachedSummary = await client.summary(cached);
          assert.equal(cachedSummary.succeeded, 2, JSON.stringify(cachedSummary));
        },
      );
      // Queries answer through the codec: the progress a status command shows is readable.
      const progress = await client.progress(good);
      assert.equal(progress.succeeded, 2);
      const owners: string[] = [];
      for await (const owner of client.client.workflow.list({ query: 'WorkflowType="cacheOwnerWorkflow"' }))
        owners.push(owner.workflowId);
      assert.ok(owners.length >= 1, 'the cached batch has a cache owner');
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
      const workflowIds = [
        good,
        itemWorkflowId(good, 'a'),
        itemWorkflowId(good, 'b'),
        cached,
        itemWorkflowId(cached, 'c1'),
        ...owners,
        bad,
        itemWorkflowId(bad, 'x'),
      ];
      for (const workflowId of workflowIds) {
        const raw = await rawHistory(workflowId);
        assert.ok(raw.length > 0);
        assert.ok(!raw.includes(MARKER), `${workflowId}: the item's note is in plain text`);
        assert.ok(!raw.includes(ANSWER_CANARY), `${workflowId}: the model's answer is in plain text`);
        assert.ok(!raw.includes('Rule 17: when a record'), `${workflowId}: the cached prompt prefix is in plain text`);
        assert.ok(!raw.includes('cannot read'), `${workflowId}: an error message is in plain text`);
        assert.ok(!raw.includes('"label"'), `${workflowId}: model output is in plain text`);
        if (!owners.includes(workflowId))
          assert.ok(
            raw.includes('binary/encrypted') && raw.includes('k1'),
            `${workflowId}: payloads encrypted with k1`,
          );
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
      // An old history still replays on a worker that holds both keys (and not on one without k1).
      const history = await client.client.workflow.getHandle(batchId).fetchHistory();
      const bundle = await workflowBundle(true);
      await Worker.runReplayHistory(
        { workflowBundle: bundle, dataConverter: workerDataConverter(privacy(k2, k1)) },
        history,
        batchId,
      );
      await assert.rejects(
        Worker.runReplayHistory(
          { workflowBundle: bundle, dataConverter: workerDataConverter(privacy(k2)) },
          history,
          batchId,
        ),
        // The worker's own failure is encoded too (it encrypts with k2): the replay fails, unreadable to the server.
        /Replay failed/,
      );
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

  for (const encrypted of [true, false])
    test(`an item of 5 MB and an answer of 3 MB travel by reference, encryption ${encrypted ? 'on' : 'off'}: histories stay small, the items succeed`, async () => {
      const keys = encrypted ? privacy(k1) : privacy();
      const taskQueue = uniqueName('tq-large');
      const worker = await stack.startWorker(taskQueue, { privacy: keys });
      try {
        const client = batchClientWith(taskQueue, keys);
        const batchId = uniqueName('large');
        const bigNote = `${MARKER} ${'lorem ipsum dolor sit amet '.repeat(200_000)}`.slice(0, 5 * 1024 * 1024);
        const bigLabel = `${ANSWER_CANARY} ${'y'.repeat(3 * 1024 * 1024)}`;
        await withEmulatorSettings(
          stack.emulator,
          {
            responder: (request) =>
              JSON.stringify({ label: request.itemKey?.endsWith('/bigout') ? bigLabel : 'small', score: 3 }),
          },
          async () => {
            await client.start({
              batchId,
              taskName: 'test-echo',
              records: [
                { id: 'big', note: bigNote },
                { id: 'bigout', note: 'x' },
                { id: 'small', note: 'x' },
              ],
            });
            const summary = await client.summary(batchId);
            assert.equal(summary.succeeded, 3, JSON.stringify(summary));
          },
        );
        const { results, calls } = await batchOutcome(stack, batchId);
        assert.equal(results.length, 3);
        assert.equal(calls('big').length, 1);
        const output = results.find((result) => result.itemId === 'bigout')?.output as { label?: string } | undefined;
        assert.equal(output?.label?.length, bigLabel.length, 'the 3 MB answer reached the results whole');
        for (const workflowId of [batchId, itemWorkflowId(batchId, 'big'), itemWorkflowId(batchId, 'bigout')]) {
          const raw = await rawHistory(workflowId);
          assert.ok(raw.length < 256 * 1024, `${workflowId}: history is ${raw.length} bytes`);
          assert.ok(
            !raw.includes(MARKER) && !raw.includes(ANSWER_CANARY),
            `${workflowId}: large payloads are not inline`,
          );
        }
        const blobs = readdirSync(blobDirectory, { recursive: true, withFileTypes: true })
          .filter((entry) => entry.isFile())
          .map((entry) => path.join(entry.parentPath, entry.name));
        assert.ok(blobs.length > 0, 'large payloads are in the blob directory');
        const withNote = blobs.filter((file) => readFileSync(file).includes(MARKER));
        if (encrypted) assert.equal(withNote.length, 0, 'blobs are encrypted at rest');
        else assert.ok(withNote.length > 0, 'without encryption the blob is the plain payload');
      } finally {
        await worker.stop();
      }
    });
});
