/**
 * The provider seam for Gemini Batch Mode (`provider.batchJobs`) against the emulator: submit →
 * poll → results, inline and through the Files API, retried submits, stats, terminal states,
 * per-request faults, cancel, and a batch answer equal to the online answer.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { GeminiEmulator, type EmulatorOptions } from '@durable-batch-llm/gemini-emulator';
import { createGeminiProvider } from '../../src/providers/gemini';
import { matchKeys, normaliseBatchState } from '../../src/providers/gemini/batch-jobs';
import { BatchResultsMismatchError } from '../../src/providers/types';
import type { BatchJobResult, BatchJobs, BatchRequest, ModelProvider } from '../../src/providers/types';

delete process.env.GEMINI_API_KEY;
delete process.env.GOOGLE_API_KEY;

const MODEL = 'gemini-2.5-flash';
const T0 = Date.parse('2026-11-01T10:00:00.000Z');
const SCHEMA = {
  type: 'object',
  properties: { label: { type: 'string' }, score: { type: 'integer' } },
  required: ['label', 'score'],
};

function requestFor(key: string): BatchRequest {
  return {
    prompt: `Classify item ${key}.`,
    systemInstruction: 'You label items.',
    responseJsonSchema: SCHEMA,
    generation: { temperature: 0, maxOutputTokens: 256 },
  };
}

const keyed = (keys: string[]) => keys.map((key) => ({ key, request: requestFor(key) }));

async function withProvider(
  options: EmulatorOptions,
  run: (
    emulator: GeminiEmulator,
    provider: ModelProvider,
    jobs: BatchJobs,
    clock: { advance(ms: number): void },
  ) => Promise<void>,
): Promise<void> {
  let now = T0;
  const emulator = await GeminiEmulator.start({ now: () => now, latency: { baseMs: 0, jitterMs: 0 }, ...options });
  try {
    const provider = createGeminiProvider({ baseUrl: emulator.url });
    assert.ok(provider.batchJobs, 'the Gemini provider has batch jobs');
    await run(emulator, provider, provider.batchJobs, { advance: (ms) => (now += ms) });
  } finally {
    await emulator.stop();
  }
}

async function collect(results: AsyncIterable<BatchJobResult>): Promise<Map<string, BatchJobResult>> {
  const byKey = new Map<string, BatchJobResult>();
  for await (const result of results) {
    assert.ok(!byKey.has(result.key), `key ${result.key} once`);
    byKey.set(result.key, result);
  }
  return byKey;
}

function answerText(result: BatchJobResult | undefined): string {
  assert.ok(result && 'answer' in result, `an answer for ${result?.key}`);
  assert.equal(result.answer.stopped, undefined);
  return result.answer.text ?? '';
}

describe('provider.batchJobs (Gemini Batch Mode) against the emulator', () => {
  test('inline: submit → pending → running with stats → succeeded; results keyed, valid JSON, usage counted', async () => {
    await withProvider({ batch: { pendingMs: 1000, runningMs: 4000 } }, async (_emulator, _provider, jobs, clock) => {
      const keys = ['a', 'b', 'c', 'd'];
      const submitted = await jobs.submit({ displayName: 'b1/job-1', model: MODEL, requests: keyed(keys) });
      assert.match(submitted.name, /^batches\//);
      assert.equal(submitted.displayName, 'b1/job-1');
      assert.equal(submitted.state, 'pending');
      const pending = await jobs.get(submitted.name);
      assert.equal(pending.state, 'pending');
      assert.equal(pending.stats.requests, 4);

      clock.advance(3000); // half-way through RUNNING
      const running = await jobs.get(submitted.name);
      assert.equal(running.state, 'running');
      assert.deepEqual(running.stats, { requests: 4, succeeded: 2, failed: 0, pending: 2 });
      await assert.rejects(collect(jobs.results(submitted.name, keys)), /is running: it has no results/);

      clock.advance(2000);
      const done = await jobs.get(submitted.name);
      assert.equal(done.state, 'succeeded');
      assert.deepEqual(done.stats, { requests: 4, succeeded: 4, failed: 0, pending: 0 });
      assert.equal(done.error, undefined);

      const results = await collect(jobs.results(submitted.name, keys));
      assert.deepEqual([...results.keys()], keys);
      for (const key of keys) {
        const answer = JSON.parse(answerText(results.get(key))) as { label: unknown; score: unknown };
        assert.equal(typeof answer.label, 'string');
        assert.equal(typeof answer.score, 'number');
        const result = results.get(key);
        assert.ok(result && 'answer' in result && result.answer.usage.inputTokens > 0);
        assert.equal(result.answer.metadata.finishReason, 'STOP');
      }
    });
  });

  test('a batch answer equals the online answer to the same request (text, usage, finish reason)', async () => {
    await withProvider({}, async (_emulator, provider, jobs) => {
      const submitted = await jobs.submit({ displayName: 'same/1', model: MODEL, requests: keyed(['p', 'q']) });
      const results = await collect(jobs.results(submitted.name, ['p', 'q']));
      assert.equal(results.size, 2);
      for (const key of ['p', 'q']) {
        const online = await provider.generate({
          ...requestFor(key),
          model: MODEL,
          timeoutMs: 10_000,
          signal: new AbortController().signal,
          itemKey: `b/${key}`,
        });
        const batch = results.get(key);
        assert.ok(batch && 'answer' in batch);
        assert.equal(batch.answer.text, online.text);
        assert.deepEqual(batch.answer.usage, online.usage);
        assert.equal(batch.answer.metadata.finishReason, online.metadata.finishReason);
        assert.deepEqual(batch.answer.metadata.safetyRatings, online.metadata.safetyRatings);
      }
    });
  });

  test('above the inline threshold the requests go as an uploaded JSONL file; results come from the responses file', async () => {
    await withProvider(
      { batch: { requestFaults: [{ fault: 'error', key: 'k2', code: 503, status: 'UNAVAILABLE' }] } },
      async (emulator, provider, jobs) => {
        const keys = ['k1', 'k2', 'k3'];
        const submitted = await jobs.submit({
          displayName: 'file/1',
          model: MODEL,
          requests: keyed(keys),
          inlineLimitBytes: 10,
        });
        const logged = emulator.batchJobs();
        assert.equal(logged.length, 1);
        assert.match(logged[0]?.inputFile ?? '', /^files\//);
        assert.equal(logged[0]?.requestCount, 3);
        const status = await jobs.get(submitted.name);
        assert.equal(status.state, 'succeeded');
        assert.deepEqual(status.stats, { requests: 3, succeeded: 2, failed: 1, pending: 0 });

        const results = await collect(jobs.results(submitted.name, keys));
        assert.deepEqual([...results.keys()], keys);
        const failed = results.get('k2');
        assert.ok(failed && 'error' in failed);
        assert.equal(failed.error.httpStatus, 503);
        assert.equal(failed.error.retryable, true);
        // The file request is the online request too: same answer text and usage.
        const online = await provider.generate({
          ...requestFor('k1'),
          model: MODEL,
          timeoutMs: 10_000,
          signal: new AbortController().signal,
          itemKey: 'b/k1',
        });
        const k1 = results.get('k1');
        assert.ok(k1 && 'answer' in k1);
        assert.equal(k1.answer.text, online.text);
        assert.deepEqual(k1.answer.usage, online.usage);
        assert.equal(typeof (JSON.parse(answerText(results.get('k3'))) as { label: unknown }).label, 'string');
      },
    );
  });

  test('cachedContent goes with every request, inline and in the file: cached tokens as online', async () => {
    await withProvider({ minCacheTokens: 1 }, async (_emulator, provider, jobs) => {
      const cache = await provider.caches?.create({
        model: MODEL,
        displayName: 'batch-cache',
        ttlSeconds: 600,
        systemInstruction: 'You label items.',
        contents: 'Shared reference text. '.repeat(200),
      });
      assert.ok(cache && 'name' in cache);
      // With a cache the system instruction lives in the cache, as on the online path.
      const cached = (key: string): BatchRequest => ({
        ...requestFor(key),
        systemInstruction: undefined,
        cachedContent: cache.name,
      });
      const online = await provider.generate({
        ...cached('c1'),
        model: MODEL,
        timeoutMs: 10_000,
        signal: new AbortController().signal,
        itemKey: 'b/c1',
      });
      assert.ok(online.usage.cachedTokens > 0);
      for (const inlineLimitBytes of [undefined, 10]) {
        const submitted = await jobs.submit({
          displayName: `cached/${inlineLimitBytes ?? 'inline'}`,
          model: MODEL,
          requests: [{ key: 'c1', request: cached('c1') }],
          inlineLimitBytes,
        });
        const results = await collect(jobs.results(submitted.name, ['c1']));
        assert.equal(results.size, 1);
        const batch = results.get('c1');
        assert.ok(batch && 'answer' in batch);
        assert.deepEqual(batch.answer.usage, online.usage, `usage with inlineLimitBytes ${inlineLimitBytes}`);
        assert.equal(batch.answer.text, online.text);
      }
    });
  });

  test('submitting twice with the same display name creates exactly one job', async () => {
    await withProvider({ batch: { runningMs: 60_000 } }, async (emulator, _provider, jobs) => {
      const first = await jobs.submit({ displayName: 'retry/job-1', model: MODEL, requests: keyed(['a', 'b']) });
      const again = await jobs.submit({ displayName: 'retry/job-1', model: MODEL, requests: keyed(['a', 'b']) });
      const other = await jobs.submit({ displayName: 'retry/job-2', model: MODEL, requests: keyed(['c']) });
      assert.equal(again.name, first.name);
      assert.notEqual(other.name, first.name);
      const logged = emulator.batchJobs();
      assert.equal(logged.length, 2);
      assert.deepEqual(
        logged.map((job) => job.displayName),
        ['retry/job-1', 'retry/job-2'],
      );
      assert.equal((await jobs.findByDisplayName('retry/job-2'))?.name, other.name);
      assert.equal(await jobs.findByDisplayName('retry/job-3'), undefined);
    });
  });

  test('findByDisplayName pages through more jobs than one list page holds', async () => {
    await withProvider({}, async (emulator, _provider, jobs) => {
      for (let index = 0; index < 105; index += 1)
        await jobs.submit({ displayName: `many/job-${index}`, model: MODEL, requests: keyed([`k${index}`]) });
      assert.equal(emulator.batchJobs().length, 105);
      const last = await jobs.findByDisplayName('many/job-104');
      const first = await jobs.findByDisplayName('many/job-0');
      assert.ok(last && first);
      assert.notEqual(last.name, first.name);
      // The emulator lists in creation order, 100 a page: job-104 is on the second page.
      const retried = await jobs.submit({ displayName: 'many/job-104', model: MODEL, requests: keyed(['k104']) });
      assert.equal(retried.name, last.name);
      assert.equal(emulator.batchJobs().length, 105, 'the retried submit found the job on a later page');
    });
  });

  test('FAILED, EXPIRED and CANCELLED outcomes are normalised; JOB_STATE_* names too; no results from them', async () => {
    const outcomes = [
      { displayNamePrefix: 'fail/', outcome: 'FAILED' as const },
      { displayNamePrefix: 'late/', outcome: 'EXPIRED' as const },
      { displayNamePrefix: 'gone/', outcome: 'CANCELLED' as const },
    ];
    await withProvider({ batch: { outcomes } }, async (emulator, _provider, jobs) => {
      const failed = await jobs.submit({ displayName: 'fail/1', model: MODEL, requests: keyed(['a']) });
      const expired = await jobs.submit({ displayName: 'late/1', model: MODEL, requests: keyed(['b']) });
      const cancelled = await jobs.submit({ displayName: 'gone/1', model: MODEL, requests: keyed(['c']) });
      const failedStatus = await jobs.get(failed.name);
      assert.equal(failedStatus.state, 'failed');
      assert.equal(typeof failedStatus.error?.message, 'string');
      const expiredStatus = await jobs.get(expired.name);
      assert.equal(expiredStatus.state, 'expired');
      assert.equal(typeof expiredStatus.error?.message, 'string');
      assert.equal((await jobs.get(cancelled.name)).state, 'cancelled');
      await assert.rejects(collect(jobs.results(expired.name, ['b'])), /is expired: it has no results/);
      await assert.rejects(collect(jobs.results(failed.name, ['a'])), /is failed/);

      emulator.configure({ batch: { statePrefix: 'JOB', outcomes: [] } });
      const spelled = await jobs.submit({ displayName: 'job/1', model: MODEL, requests: keyed(['d']) });
      assert.equal((await jobs.get(spelled.name)).state, 'succeeded');
      const results = await collect(jobs.results(spelled.name, ['d']));
      assert.equal(results.size, 1);
      answerText(results.get('d'));
    });
  });

  test('per-request faults come back by key: schema-invalid answers and classified errors', async () => {
    const requestFaults = [
      { fault: 'schema_invalid' as const, key: 'bad' },
      { fault: 'error' as const, key: 'err', code: 429, status: 'RESOURCE_EXHAUSTED' },
      { fault: 'error' as const, key: 'err2', code: 400, status: 'INVALID_ARGUMENT', message: 'bad request' },
    ];
    await withProvider({ batch: { requestFaults } }, async (_emulator, _provider, jobs) => {
      const keys = ['ok', 'bad', 'err', 'err2'];
      const submitted = await jobs.submit({ displayName: 'faults/1', model: MODEL, requests: keyed(keys) });
      const status = await jobs.get(submitted.name);
      assert.equal(status.state, 'succeeded');
      assert.deepEqual(status.stats, { requests: 4, succeeded: 2, failed: 2, pending: 0 });
      const results = await collect(jobs.results(submitted.name, keys));
      assert.equal(results.size, 4);
      assert.equal(typeof (JSON.parse(answerText(results.get('ok'))) as { label: unknown }).label, 'string');
      const invalid = JSON.parse(answerText(results.get('bad'))) as Record<string, unknown>;
      assert.notEqual(typeof invalid['label'], 'string', 'schema-invalid answer, judged later like an online one');
      const limited = results.get('err');
      assert.ok(limited && 'error' in limited);
      assert.equal(limited.error.httpStatus, 429);
      assert.equal(limited.error.isRateLimit, true);
      const invalidRequest = results.get('err2');
      assert.ok(invalidRequest && 'error' in invalidRequest);
      assert.equal(invalidRequest.error.category, 'invalid_request');
      assert.equal(invalidRequest.error.retryable, false);
    });
  });

  test('responses without keys are matched by position; a count mismatch is an error', async () => {
    await withProvider({ batch: { echoMetadata: false } }, async (_emulator, _provider, jobs) => {
      const keys = ['x', 'y', 'z'];
      const submitted = await jobs.submit({ displayName: 'unkeyed/1', model: MODEL, requests: keyed(keys) });
      const results = await collect(jobs.results(submitted.name, keys));
      assert.deepEqual([...results.keys()], keys);
      const online = await collect(
        jobs.results((await jobs.submit({ displayName: 'unkeyed/2', model: MODEL, requests: keyed(['y']) })).name, [
          'y',
        ]),
      );
      assert.equal(answerText(results.get('y')), answerText(online.get('y')), 'position 1 is y');
      await assert.rejects(collect(jobs.results(submitted.name, ['x', 'y'])), /3 responses for 2 requests/);
    });
  });

  test('cancel a running job, then delete it', async () => {
    await withProvider({ batch: { runningMs: 60_000 } }, async (emulator, _provider, jobs, clock) => {
      const submitted = await jobs.submit({ displayName: 'cancel/1', model: MODEL, requests: keyed(['a', 'b']) });
      clock.advance(1000);
      assert.equal((await jobs.get(submitted.name)).state, 'running');
      await jobs.cancel(submitted.name);
      assert.equal((await jobs.get(submitted.name)).state, 'cancelled');
      const logged = emulator.batchJobs();
      assert.equal(logged.length, 1);
      assert.equal(logged[0]?.cancelRequested, true);
      await jobs.delete(submitted.name);
      assert.equal(emulator.batchJobs()[0]?.deleted, true);
      await assert.rejects(jobs.get(submitted.name), (error: unknown) => {
        assert.equal(_provider.classify(error).httpStatus, 404);
        return true;
      });
    });
  });

  test('key matching and state names, without a server', () => {
    assert.deepEqual(matchKeys('j', [{ key: 'b' }, {}, { key: 'a' }], ['a', 'c', 'b']), ['b', 'c', 'a']);
    assert.throws(() => matchKeys('j', [{ key: 'q' }], ['a']), /unknown key q/);
    assert.throws(
      () => matchKeys('j', [{ key: 'q' }], ['a']),
      BatchResultsMismatchError,
      'a typed error the download names',
    );
    assert.throws(() => matchKeys('j', [{}, { key: 'a' }], ['a', 'b']), /key a answered twice/);
    assert.throws(() => matchKeys('j', [{}], ['a', 'b']), /1 responses for 2 requests/);
    assert.equal(normaliseBatchState('BATCH_STATE_RUNNING'), 'running');
    assert.equal(normaliseBatchState('JOB_STATE_SUCCEEDED'), 'succeeded');
    assert.equal(normaliseBatchState('JOB_STATE_EXPIRED'), 'expired');
    assert.equal(normaliseBatchState('BATCH_STATE_CANCELLED'), 'cancelled');
    assert.throws(() => normaliseBatchState('BATCH_STATE_WEIRD'), /unknown Gemini batch state/);
  });
});
