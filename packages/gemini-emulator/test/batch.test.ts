import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { ApiError, JobState, type GoogleGenAI, type InlinedRequest } from '@google/genai';
import { GeminiEmulator, parseFaultFlag, type FaultRule } from '../src';
import { failureOf, withEmulator } from './helpers/emulator';

delete process.env.GEMINI_API_KEY;
delete process.env.GOOGLE_API_KEY;
delete process.env.GOOGLE_GEMINI_BASE_URL;

const MODEL = 'gemini-2.5-flash';
const T0 = Date.parse('2026-11-01T10:00:00.000Z');
const SCHEMA = {
  type: 'object',
  properties: { label: { type: 'string' }, score: { type: 'integer' } },
  required: ['label', 'score'],
};

function manualClock(): { now: () => number; advance: (ms: number) => void } {
  let current = T0;
  return { now: () => current, advance: (ms) => (current += ms) };
}

function requestsFor(keys: string[]): InlinedRequest[] {
  return keys.map((key) => ({
    contents: [{ role: 'user', parts: [{ text: `Classify item ${key}.` }] }],
    config: {
      systemInstruction: 'You label items.',
      responseMimeType: 'application/json',
      responseJsonSchema: SCHEMA,
      temperature: 0,
    },
    metadata: { key },
  }));
}

/** The parts of the REST operation the tests read. */
interface RawBatch {
  name: string;
  done?: boolean;
  error?: { code: number; message: string };
  metadata: { state: string; displayName?: string; batchStats: Record<string, string> };
}

type AnswerShape = { candidates?: Array<{ content?: { parts?: Array<{ text?: string }> } }> };

/** The REST resource as Google sends it: the SDK's BatchJob drops `batchStats` and `error`. */
async function rawBatch(emulator: GeminiEmulator, name: string): Promise<RawBatch> {
  const response = await fetch(`${emulator.url}/v1beta/${name}`, { headers: { 'x-goog-api-key': 'test-key' } });
  assert.equal(response.status, 200);
  return (await response.json()) as RawBatch;
}

/**
 * The answer text of an inlined response. The SDK hands inlined responses over as plain objects,
 * not `GenerateContentResponse` instances: `.text` is undefined there, so read the parts.
 */
function textOf(response: AnswerShape | undefined): string {
  return response?.candidates?.[0]?.content?.parts?.map((part) => part.text ?? '').join('') ?? '';
}

const TERMINAL = new Set<string | undefined>([
  JobState.JOB_STATE_SUCCEEDED,
  JobState.JOB_STATE_FAILED,
  JobState.JOB_STATE_CANCELLED,
  JobState.JOB_STATE_EXPIRED,
]);

async function pollUntilDone(ai: GoogleGenAI, name: string, advance?: (ms: number) => void) {
  for (let poll = 0; poll < 20; poll += 1) {
    const job = await ai.batches.get({ name });
    if (TERMINAL.has(job.state)) return job;
    advance?.(1000);
  }
  return assert.fail('the job never finished');
}

describe('Batch Mode through the real SDK', () => {
  test('inline batch: create → PENDING → RUNNING with batchStats → SUCCEEDED with keyed inlinedResponses', async () => {
    const clock = manualClock();
    await withEmulator({ now: clock.now, batch: { pendingMs: 1000, runningMs: 4000 } }, async (emulator, ai) => {
      const keys = ['a', 'b', 'c', 'd'];
      const created = await ai.batches.create({
        model: MODEL,
        src: requestsFor(keys),
        config: { displayName: 'b1/job-1' },
      });
      assert.match(created.name ?? '', /^batches\/[a-z0-9]{20}$/);
      assert.equal(created.state, JobState.JOB_STATE_PENDING);
      assert.equal(created.displayName, 'b1/job-1');
      assert.equal(created.model, `models/${MODEL}`);

      clock.advance(3000); // half-way through RUNNING
      const running = await ai.batches.get({ name: created.name ?? '' });
      assert.equal(running.state, JobState.JOB_STATE_RUNNING);
      assert.equal((running as Record<string, unknown>).batchStats, undefined, 'the SDK drops batchStats');
      const raw = await rawBatch(emulator, created.name ?? '');
      assert.equal(raw.metadata.state, 'BATCH_STATE_RUNNING');
      assert.deepEqual(raw.metadata.batchStats, {
        requestCount: '4',
        successfulRequestCount: '2',
        pendingRequestCount: '2',
      });

      clock.advance(2000);
      const done = await pollUntilDone(ai, created.name ?? '');
      assert.equal(done.state, JobState.JOB_STATE_SUCCEEDED);
      const responses = done.dest?.inlinedResponses ?? [];
      assert.equal(responses.length, 4);
      assert.deepEqual(
        responses.map((entry) => entry.metadata?.key),
        keys,
      );
      for (const entry of responses) {
        const answer = JSON.parse(textOf(entry.response)) as { label: unknown; score: unknown };
        assert.equal(typeof answer.label, 'string');
        assert.equal(typeof answer.score, 'number');
        assert.ok((entry.response?.usageMetadata?.promptTokenCount ?? 0) > 0);
        assert.ok((entry.response?.candidates?.[0]?.safetyRatings ?? []).length > 0);
      }
      const finished = await rawBatch(emulator, created.name ?? '');
      assert.equal(finished.done, true);
      assert.deepEqual(finished.metadata.batchStats, { requestCount: '4', successfulRequestCount: '4' });

      const online = await ai.models.generateContent({
        model: MODEL,
        contents: 'Classify item a.',
        config: {
          systemInstruction: 'You label items.',
          responseMimeType: 'application/json',
          responseJsonSchema: SCHEMA,
        },
      });
      assert.equal(responses[0]?.response?.text, undefined, 'no text getter on inlined responses');
      assert.equal(textOf(responses[0]?.response), online.text, 'the same answer as the online route');

      const [logged] = emulator.batchJobs();
      assert.equal(logged?.displayName, 'b1/job-1');
      assert.equal(logged?.requestCount, 4);
      assert.deepEqual(
        logged?.states.map((step) => step.state),
        ['PENDING', 'RUNNING', 'SUCCEEDED'],
      );
    });
  });

  test('file input: files.upload JSONL → src "files/…" → responsesFile downloaded as JSONL keyed by request', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'batch-emulator-'));
    try {
      await withEmulator(
        { batch: { requestFaults: [{ fault: 'error', key: 'k2', code: 503, status: 'UNAVAILABLE' }] } },
        async (emulator, ai) => {
          const lines = ['k1', 'k2', 'k3'].map((key) =>
            JSON.stringify({
              key,
              request: {
                contents: [{ role: 'user', parts: [{ text: `Classify ${key}` }] }],
                systemInstruction: { parts: [{ text: 'You label items.' }] },
                generationConfig: { responseMimeType: 'application/json', responseJsonSchema: SCHEMA },
              },
            }),
          );
          const input = path.join(dir, 'input.jsonl');
          await writeFile(input, `${lines.join('\n')}\n`);
          const file = await ai.files.upload({
            file: input,
            config: { mimeType: 'application/jsonl', displayName: 'in' },
          });
          assert.match(file.name ?? '', /^files\/[a-z0-9]+$/);
          assert.equal(file.mimeType, 'application/jsonl');
          assert.equal(file.sizeBytes, String(Buffer.byteLength(`${lines.join('\n')}\n`)));
          assert.equal((await ai.files.get({ name: file.name ?? '' })).displayName, 'in');

          const created = await ai.batches.create({
            model: MODEL,
            src: file.name ?? '',
            config: { displayName: 'file-job' },
          });
          const done = await pollUntilDone(ai, created.name ?? '');
          assert.equal(done.state, JobState.JOB_STATE_SUCCEEDED);
          const resultFile = done.dest?.fileName ?? '';
          assert.match(resultFile, /^files\/batch-/);
          const downloadPath = path.join(dir, 'out.jsonl');
          await ai.files.download({ file: resultFile, downloadPath });
          const results = (await readFile(downloadPath, 'utf8'))
            .trim()
            .split('\n')
            .map((line) => JSON.parse(line) as { key: string; response?: AnswerShape; error?: { code: number } });
          assert.deepEqual(
            results.map((line) => line.key),
            ['k1', 'k2', 'k3'],
          );
          assert.equal(results[1]?.error?.code, 503);
          assert.equal(results[1]?.response, undefined);
          const text = textOf(results[0]?.response);
          assert.equal(typeof (JSON.parse(text) as { label: unknown }).label, 'string');
          const raw = await rawBatch(emulator, created.name ?? '');
          assert.deepEqual(raw.metadata.batchStats, {
            requestCount: '3',
            successfulRequestCount: '2',
            failedRequestCount: '1',
          });
          assert.equal(emulator.batchJobs()[0]?.inputFile, file.name);
        },
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('per-request faults by key and by rate: schema-invalid answers and errors inside a SUCCEEDED job', async () => {
    const requestFaults = [
      { fault: 'schema_invalid' as const, key: 'x1' },
      { fault: 'error' as const, keyPrefix: 'err-' },
      { fault: 'error' as const, rate: 0.5, keyPrefix: 'r-' },
    ];
    await withEmulator({ batch: { requestFaults } }, async (_emulator, ai) => {
      const rated = Array.from({ length: 40 }, (_, index) => `r-${index}`);
      const keys = ['x1', 'ok', 'err-1', ...rated];
      const created = await ai.batches.create({ model: MODEL, src: requestsFor(keys) });
      const done = await pollUntilDone(ai, created.name ?? '');
      assert.equal(done.state, JobState.JOB_STATE_SUCCEEDED);
      const byKey = new Map((done.dest?.inlinedResponses ?? []).map((entry) => [entry.metadata?.key, entry]));
      const invalid = JSON.parse(textOf(byKey.get('x1')?.response)) as Record<string, unknown>;
      assert.notEqual(typeof invalid.label, 'string', 'the first required property has the wrong type');
      assert.equal(typeof (JSON.parse(textOf(byKey.get('ok')?.response)) as { label: unknown }).label, 'string');
      assert.equal(byKey.get('err-1')?.error?.code, 500);
      assert.equal(byKey.get('err-1')?.response, undefined);
      const ratedErrors = rated.filter((key) => byKey.get(key)?.error !== undefined).length;
      assert.ok(ratedErrors > 5 && ratedErrors < 35, `about half of 40 fail, got ${ratedErrors}`);
    });
  });

  test('whole-job outcomes FAILED and EXPIRED by display name, and JOB_STATE_* names on the wire', async () => {
    const outcomes = [
      { displayNamePrefix: 'fail/', outcome: 'FAILED' as const },
      { displayNamePrefix: 'late/', outcome: 'EXPIRED' as const },
    ];
    await withEmulator({ batch: { outcomes } }, async (emulator, ai) => {
      const failed = await ai.batches.create({
        model: MODEL,
        src: requestsFor(['a']),
        config: { displayName: 'fail/1' },
      });
      const expired = await ai.batches.create({
        model: MODEL,
        src: requestsFor(['b']),
        config: { displayName: 'late/1' },
      });
      const ok = await ai.batches.create({ model: MODEL, src: requestsFor(['c']), config: { displayName: 'ok/1' } });
      assert.equal((await pollUntilDone(ai, failed.name ?? '')).state, JobState.JOB_STATE_FAILED);
      const expiredJob = await pollUntilDone(ai, expired.name ?? '');
      assert.equal(expiredJob.state, JobState.JOB_STATE_EXPIRED);
      assert.equal(expiredJob.dest, undefined, 'an expired job has no results');
      assert.equal((await pollUntilDone(ai, ok.name ?? '')).state, JobState.JOB_STATE_SUCCEEDED);
      const raw = await rawBatch(emulator, failed.name ?? '');
      assert.equal(raw.done, true);
      assert.equal(typeof raw.error?.message, 'string');

      emulator.configure({ batch: { statePrefix: 'JOB' } });
      const spelled = await ai.batches.create({ model: MODEL, src: requestsFor(['d']) });
      assert.equal((await rawBatch(emulator, spelled.name ?? '')).metadata.state, 'JOB_STATE_SUCCEEDED');
      assert.equal((await ai.batches.get({ name: spelled.name ?? '' })).state, 'JOB_STATE_SUCCEEDED');
    });
  });

  test('cancel a running job, then delete it; a CANCELLED outcome without a cancel request', async () => {
    const clock = manualClock();
    await withEmulator({ now: clock.now, batch: { runningMs: 60_000 } }, async (emulator, ai) => {
      const created = await ai.batches.create({
        model: MODEL,
        src: requestsFor(['a', 'b']),
        config: { displayName: 'c/1' },
      });
      clock.advance(1000);
      assert.equal((await ai.batches.get({ name: created.name ?? '' })).state, JobState.JOB_STATE_RUNNING);
      await ai.batches.cancel({ name: created.name ?? '' });
      clock.advance(120_000);
      const cancelled = await ai.batches.get({ name: created.name ?? '' });
      assert.equal(cancelled.state, JobState.JOB_STATE_CANCELLED);
      const [logged] = emulator.batchJobs();
      assert.equal(logged?.cancelRequested, true);
      assert.deepEqual(
        logged?.states.map((step) => step.state),
        ['PENDING', 'RUNNING', 'CANCELLED'],
      );
      await ai.batches.delete({ name: created.name ?? '' });
      await assert.rejects(ai.batches.get({ name: created.name ?? '' }), (error: unknown) => {
        assert.ok(error instanceof ApiError);
        assert.equal(error.status, 404);
        return true;
      });
      assert.equal(emulator.batchJobs()[0]?.deleted, true);

      emulator.configure({ batch: { outcomes: [{ outcome: 'CANCELLED' }] } });
      const selfCancelled = await ai.batches.create({ model: MODEL, src: requestsFor(['z']) });
      assert.equal((await ai.batches.get({ name: selfCancelled.name ?? '' })).state, JobState.JOB_STATE_CANCELLED);
    });
  });

  test('list pages through jobs; find one by display name, exactly one job per name', async () => {
    await withEmulator({}, async (emulator, ai) => {
      for (let index = 1; index <= 5; index += 1) {
        await ai.batches.create({
          model: MODEL,
          src: requestsFor([`i${index}`]),
          config: { displayName: `run/job-${index}` },
        });
      }
      const seen: string[] = [];
      const pager = await ai.batches.list({ config: { pageSize: 2 } });
      for await (const job of pager) seen.push(job.displayName ?? '');
      assert.deepEqual(seen, ['run/job-1', 'run/job-2', 'run/job-3', 'run/job-4', 'run/job-5']);

      const page = await fetch(`${emulator.url}/v1beta/batches?pageSize=2`, { headers: { 'x-goog-api-key': 'k' } });
      const body = (await page.json()) as { operations: Array<{ name: string }>; nextPageToken?: string };
      assert.equal(body.operations.length, 2);
      assert.equal(typeof body.nextPageToken, 'string');

      const names = emulator.batchJobs().map((job) => job.displayName);
      assert.equal(names.filter((name) => name === 'run/job-3').length, 1);
    });
  });

  test('over HTTP: POST /_emulator/config sets batch settings, GET /_emulator/batches lists the jobs', async () => {
    await withEmulator({}, async (emulator, ai) => {
      const config = await fetch(`${emulator.url}/_emulator/config`, {
        method: 'POST',
        body: JSON.stringify({ batch: { outcomes: [{ outcome: 'EXPIRED' }], requestFaults: [{ fault: 'error' }] } }),
      });
      assert.equal(config.status, 200);
      const bad = await fetch(`${emulator.url}/_emulator/config`, {
        method: 'POST',
        body: JSON.stringify({ batch: { outcomes: [{ outcome: 'DONE' }] } }),
      });
      assert.equal(bad.status, 400);
      assert.throws(() => emulator.configure({ batch: { pendingMs: -1 } }), /invalid emulator config/);

      const created = await ai.batches.create({
        model: MODEL,
        src: requestsFor(['a', 'b']),
        config: { displayName: 'g/1' },
      });
      assert.equal((await pollUntilDone(ai, created.name ?? '')).state, JobState.JOB_STATE_EXPIRED);
      const log = (await (await fetch(`${emulator.url}/_emulator/batches`)).json()) as {
        jobs: Array<{ name: string; displayName: string; requestCount: number; states: Array<{ state: string }> }>;
      };
      assert.equal(log.jobs.length, 1);
      assert.equal(log.jobs[0]?.name, created.name);
      assert.equal(log.jobs[0]?.requestCount, 2);
      assert.equal(log.jobs[0]?.states.at(-1)?.state, 'EXPIRED');
    });
  });

  test('echoMetadata: false leaves metadata out (match by position); a context cache works inside a batch', async () => {
    await withEmulator({ batch: { echoMetadata: false } }, async (_emulator, ai) => {
      const cache = await ai.caches.create({
        model: MODEL,
        config: { systemInstruction: 'You label items.', contents: 'r'.repeat(4400) },
      });
      const requests: InlinedRequest[] = ['p', 'q'].map((key) => ({
        contents: [{ role: 'user', parts: [{ text: `Classify ${key}` }] }],
        config: { cachedContent: cache.name ?? '', responseMimeType: 'application/json', responseJsonSchema: SCHEMA },
        metadata: { key },
      }));
      const created = await ai.batches.create({ model: MODEL, src: requests });
      const responses = (await pollUntilDone(ai, created.name ?? '')).dest?.inlinedResponses ?? [];
      assert.equal(responses.length, 2);
      assert.deepEqual(
        responses.map((entry) => entry.metadata),
        [undefined, undefined],
      );
      for (const entry of responses) {
        assert.ok((entry.response?.usageMetadata?.cachedContentTokenCount ?? 0) >= 1100);
      }
    });
  });

  test('batch routes need an API key like every other route', async () => {
    await withEmulator({}, async (emulator) => {
      const response = await fetch(`${emulator.url}/v1beta/batches`);
      assert.equal(response.status, 403);
    });
  });
});

/** A lost reply looks like a cut connection: fetch's TypeError, not an ApiError. */
function assertConnectionCut(error: unknown): void {
  assert.ok(error instanceof TypeError, String(error));
  assert.equal(error.message, 'fetch failed');
}

/** Every job the SDK lists, all pages. */
async function listedJobs(ai: GoogleGenAI): Promise<Array<{ name?: string; displayName?: string }>> {
  const jobs: Array<{ name?: string; displayName?: string }> = [];
  for await (const job of await ai.batches.list({ config: { pageSize: 50 } })) jobs.push(job);
  return jobs;
}

describe('Batch Mode and Files fault routes through the real SDK', () => {
  test('reply_lost on batchCreate: create rejects, yet exactly one job exists and the log shows the one create', async () => {
    const rule: FaultRule = { fault: 'reply_lost', route: 'batchCreate', times: 1 };
    await withEmulator({ faults: [rule] }, async (emulator, ai) => {
      const create = () =>
        ai.batches.create({ model: MODEL, src: requestsFor(['a', 'b']), config: { displayName: 'lost/job-1' } });
      assertConnectionCut(await failureOf(create()));

      const listed = (await listedJobs(ai)).filter((job) => job.displayName === 'lost/job-1');
      assert.equal(listed.length, 1, 'the job was created although its reply was lost');
      const jobs = emulator.batchJobs();
      assert.equal(jobs.length, 1);
      assert.equal(jobs[0]?.name, listed[0]?.name);
      assert.equal(jobs[0]?.requestCount, 2);
      assert.equal((await pollUntilDone(ai, listed[0]?.name ?? '')).state, JobState.JOB_STATE_SUCCEEDED);

      const [creates, lists] = [emulator.batchOperations('batchCreate'), emulator.batchOperations('batchList')];
      assert.deepEqual(
        creates.map((entry) => [entry.route, entry.model, entry.attempt, entry.fault, entry.status, entry.batchName]),
        [['batchCreate', MODEL, 1, 'reply_lost', 'reset', jobs[0]?.name]],
      );
      assert.equal(lists.length, 1);
      assert.ok(emulator.batchOperations().every((entry) => entry.route.startsWith('batch')));

      // The rule is spent (times: 1): the next create is answered, and makes a second job.
      const second = await create();
      assert.notEqual(second.name, jobs[0]?.name);
      assert.equal(emulator.batchJobs().length, 2);
      assert.deepEqual(
        emulator.batchOperations('batchCreate').map((entry) => [entry.attempt, entry.status]),
        [
          [1, 'reset'],
          [2, 200],
        ],
      );
    });
  });

  test('server_error on batchGet attempts [1]: the first get is a 500 ApiError, the second succeeds', async () => {
    await withEmulator(
      { faults: [{ fault: 'server_error', route: 'batchGet', attempts: [1] }] },
      async (emulator, ai) => {
        const created = await ai.batches.create({ model: MODEL, src: requestsFor(['a']) });
        const error = await failureOf(ai.batches.get({ name: created.name ?? '' }));
        assert.ok(error instanceof ApiError, String(error));
        assert.equal(error.status, 500);
        assert.equal((await ai.batches.get({ name: created.name ?? '' })).state, JobState.JOB_STATE_SUCCEEDED);
        assert.deepEqual(
          emulator
            .batchOperations('batchGet')
            .map((entry) => [entry.attempt, entry.fault, entry.status, entry.batchName, entry.model]),
          [
            [1, 'server_error', 500, created.name, MODEL],
            [2, undefined, 200, created.name, MODEL],
          ],
        );
        // Attempts count per route and item key: a get with an item header starts at 1 again.
        emulator.configure({ faults: [{ fault: 'overloaded', route: 'batchGet', attempts: [1] }] });
        const headers = { 'x-batch-llm-item': 'b1/poll' };
        const keyed = await failureOf(
          ai.batches.get({ name: created.name ?? '', config: { httpOptions: { headers } } }),
        );
        assert.ok(keyed instanceof ApiError && keyed.status === 503, String(keyed));
        assert.ok(await ai.batches.get({ name: created.name ?? '' }), 'attempt 3 of the header-less key');
      },
    );
  });

  test('reply_lost on batchCancel: the cancel rejects, yet the job ends CANCELLED', async () => {
    const clock = manualClock();
    await withEmulator(
      { now: clock.now, batch: { runningMs: 60_000 }, faults: [{ fault: 'reply_lost', route: 'batchCancel' }] },
      async (emulator, ai) => {
        const created = await ai.batches.create({
          model: MODEL,
          src: requestsFor(['a']),
          config: { displayName: 'c' },
        });
        clock.advance(1000);
        assertConnectionCut(await failureOf(ai.batches.cancel({ name: created.name ?? '' })));
        clock.advance(120_000);
        assert.equal((await ai.batches.get({ name: created.name ?? '' })).state, JobState.JOB_STATE_CANCELLED);
        assert.equal(emulator.batchJobs()[0]?.cancelRequested, true);
        const [cancel] = emulator.batchOperations('batchCancel');
        assert.deepEqual([cancel?.fault, cancel?.status, cancel?.batchName], ['reply_lost', 'reset', created.name]);
      },
    );
  });

  test('reply_lost on batchDelete deletes the job; reset and hang on batchList do nothing and answer nothing', async () => {
    await withEmulator(
      {
        faults: [
          { fault: 'reply_lost', route: 'batchDelete' },
          { fault: 'reset', route: 'batchList', attempts: [1] },
          { fault: 'hang', route: 'batchList', attempts: [2], hangMs: 50 },
          { fault: 'malformed_json', route: 'batchList', attempts: [3] },
        ],
      },
      async (emulator, ai) => {
        const created = await ai.batches.create({ model: MODEL, src: requestsFor(['a']) });
        assertConnectionCut(await failureOf(ai.batches.delete({ name: created.name ?? '' })));
        assert.equal(emulator.batchJobs()[0]?.deleted, true);
        assertConnectionCut(await failureOf(listedJobs(ai)));
        const hung = await failureOf(listedJobs(ai));
        assert.ok(hung instanceof ApiError && hung.status === 504, String(hung));
        assert.ok((await failureOf(listedJobs(ai))) instanceof SyntaxError);
        assert.deepEqual(await listedJobs(ai), []);
        assert.deepEqual(
          emulator.batchOperations('batchList').map((entry) => [entry.attempt, entry.fault, entry.status]),
          [
            [1, 'reset', 'reset'],
            [2, 'hang', 504],
            [3, 'malformed_json', 200],
            [4, undefined, 200],
          ],
        );
      },
    );
  });

  test('fileUpload and fileDownload: errors refuse the step; reply_lost cuts the finalize after the file is stored', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'batch-emulator-'));
    try {
      const faults: FaultRule[] = [
        { fault: 'rate_limit', route: 'fileUpload', attempts: [1] },
        { fault: 'reply_lost', route: 'fileUpload', attempts: [2] },
        { fault: 'not_found', route: 'fileDownload', attempts: [1] },
      ];
      await withEmulator({ faults }, async (emulator, ai) => {
        const input = path.join(dir, 'input.jsonl');
        await writeFile(input, '{"key":"k1","request":{"contents":[{"parts":[{"text":"hi"}]}]}}\n');
        const upload = () => ai.files.upload({ file: input, config: { mimeType: 'application/jsonl' } });
        const limited = await failureOf(upload());
        assert.ok(limited instanceof ApiError && limited.status === 429, String(limited));
        assertConnectionCut(await failureOf(upload()));
        const lost = emulator.log.find((entry) => entry.route === 'other' && entry.fault === 'reply_lost');
        assert.match(lost?.fileName ?? '', /^files\//, 'the finalize step stored the file');
        assert.equal((await ai.files.get({ name: lost?.fileName ?? '' })).name, lost?.fileName);
        assert.deepEqual(
          emulator.batchOperations('fileUpload').map((entry) => [entry.attempt, entry.fault, entry.status]),
          [
            [1, 'rate_limit', 429],
            [2, 'reply_lost', 200],
          ],
        );
        const file = await upload();
        assert.notEqual(file.name, lost?.fileName);

        const created = await ai.batches.create({ model: MODEL, src: file.name ?? '' });
        const resultFile = (await pollUntilDone(ai, created.name ?? '')).dest?.fileName ?? '';
        const downloadPath = path.join(dir, 'out.jsonl');
        const missing = await failureOf(ai.files.download({ file: resultFile, downloadPath }));
        assert.ok(missing instanceof ApiError && missing.status === 404, String(missing));
        await ai.files.download({ file: resultFile, downloadPath });
        assert.match(await readFile(downloadPath, 'utf8'), /"key":"k1"/);
        assert.deepEqual(
          emulator.batchOperations('fileDownload').map((entry) => [entry.fault, entry.status, entry.fileName]),
          [
            ['not_found', 404, resultFile],
            [undefined, 200, resultFile],
          ],
        );
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('answer-bending faults and cache_expired are refused on batch routes; reply_lost off them', async () => {
    await assert.rejects(
      GeminiEmulator.start({ faults: [{ fault: 'schema_invalid', route: 'batchCreate' }] }),
      /schema_invalid bends a model answer and cannot apply to route batchCreate\n.*faults\[0\]\.fault/,
    );
    await withEmulator({}, async (emulator, ai) => {
      assert.throws(
        () => emulator.configure({ faults: [{ fault: 'schema_invalid', route: 'batchCreate' }] }),
        /schema_invalid bends a model answer and cannot apply to route batchCreate/,
      );
      assert.throws(
        () => emulator.configure({ faults: [{ fault: 'cache_expired', route: 'batchGet' }] }),
        /cache_expired answers for a context cache and cannot apply to route batchGet/,
      );
      assert.throws(
        () => emulator.configure({ faults: [{ fault: 'reply_lost' }] }),
        /reply_lost \(act, then drop the connection\) applies only to the batch and file routes \(batchCreate, .*\), not to route generateContent \(the default\)/,
      );
      assert.throws(
        () => emulator.configure({ faults: [{ fault: 'reply_lost', route: 'generateContent' }] }),
        /reply_lost .* not to route generateContent\n/,
      );
      assert.throws(
        () => emulator.configure({ faults: [{ fault: 'reply_lost', route: 'cacheCreate' }] }),
        /not to route cacheCreate/,
      );
      const refused = await fetch(`${emulator.url}/_emulator/config`, {
        method: 'POST',
        body: JSON.stringify({ faults: [{ fault: 'reply_lost' }] }),
      });
      assert.equal(refused.status, 400);
      assert.match(((await refused.json()) as { error: { message: string } }).error.message, /reply_lost/);

      // Nothing was configured: generateContent and batches behave.
      assert.ok((await ai.models.generateContent({ model: MODEL, contents: 'hi' })).text);
      assert.ok((await ai.batches.create({ model: MODEL, src: requestsFor(['a']) })).name);

      // Over HTTP, the same rule shape the options take.
      const accepted = await fetch(`${emulator.url}/_emulator/config`, {
        method: 'POST',
        body: JSON.stringify({ faults: [{ fault: 'reply_lost', route: 'batchCreate', times: 1 }] }),
      });
      assert.equal(accepted.status, 200);
      assertConnectionCut(await failureOf(ai.batches.create({ model: MODEL, src: requestsFor(['b']) })));
      assert.equal(emulator.batchJobs().length, 2);
      const log = (await (await fetch(`${emulator.url}/_emulator/log`)).json()) as {
        entries: Array<{ route: string; fault?: string; status: number | string }>;
      };
      assert.deepEqual(
        log.entries.filter((entry) => entry.route === 'batchCreate').map((entry) => [entry.fault, entry.status]),
        [
          [undefined, 200],
          ['reply_lost', 'reset'],
        ],
      );
    });
  });

  test('a malformed create is refused before a rule is spent; a bad API key likewise', async () => {
    await withEmulator({ faults: [{ fault: 'reply_lost', route: 'batchCreate', times: 1 }] }, async (emulator, ai) => {
      const bad = await fetch(`${emulator.url}/v1beta/models/${MODEL}:batchGenerateContent`, {
        method: 'POST',
        headers: { 'x-goog-api-key': 'k' },
        body: JSON.stringify({ batch: {} }),
      });
      assert.equal(bad.status, 400);
      const keyless = await fetch(`${emulator.url}/v1beta/models/${MODEL}:batchGenerateContent`, {
        method: 'POST',
        body: JSON.stringify({ batch: { inputConfig: { requests: { requests: [{ request: {} }] } } } }),
      });
      assert.equal(keyless.status, 403);
      assert.equal(emulator.batchJobs().length, 0);
      assertConnectionCut(await failureOf(ai.batches.create({ model: MODEL, src: requestsFor(['a']) })));
      assert.deepEqual(
        emulator.batchOperations('batchCreate').map((entry) => [entry.attempt, entry.fault, entry.status]),
        [
          [1, undefined, 400],
          [2, undefined, 403],
          [3, 'reply_lost', 'reset'],
        ],
      );
    });
  });

  test('parseFaultFlag reads KIND[@ROUTE]=RATE for command-line flags', () => {
    assert.deepEqual(parseFaultFlag('overloaded=0.1'), { fault: 'overloaded', rate: 0.1 });
    assert.deepEqual(parseFaultFlag('reply_lost@batchCreate=1'), {
      fault: 'reply_lost',
      route: 'batchCreate',
      rate: 1,
    });
    assert.throws(() => parseFaultFlag('reply_lost=1'), /reply_lost .*not to route generateContent/);
    assert.throws(() => parseFaultFlag('safety@batchGet=0.5'), /safety bends a model answer/);
    assert.throws(() => parseFaultFlag('reset@batches=1'), /unknown fault route "batches"; known: generateContent/);
    assert.throws(() => parseFaultFlag('lost=1'), /unknown fault kind "lost"/);
    assert.throws(() => parseFaultFlag('reset=2'), /expected KIND\[@ROUTE\]=RATE/);
  });
});
