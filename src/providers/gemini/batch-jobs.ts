/**
 * Gemini Batch Mode behind the provider's BatchJobs: jobs created through `@google/genai`
 * (`batches.create`, inline requests or an uploaded JSONL file), found again by display name,
 * polled, read, cancelled and deleted.
 *
 * Progress counts: the SDK's `BatchJob` drops the REST operation's `metadata.batchStats` and
 * `error`, so `get` reads the raw resource (`GET v1beta/batches/{id}`) through the client's own
 * `apiClient.request` — the same base URL, API version, key and headers as every other call (it is
 * a private field of `GoogleGenAI`; `rawClientOf` fails loudly if an SDK release removes it).
 */
import { createReadStream } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import {
  ApiError,
  type BatchJob,
  type GenerateContentResponse,
  type GoogleGenAI,
  type InlinedRequest,
} from '@google/genai';
import {
  BatchResultsMismatchError,
  type BatchJobRef,
  type BatchJobResult,
  type BatchJobs,
  type BatchJobState,
  type BatchJobStatus,
} from '../types';
import { answerOf } from './answers';
import { classifyGemini } from './errors';
import { contentConfig, contentsOf, restRequestOf } from './request';

/** Gemini's inline limit is 20 MB per batch request; stay a little below it. */
export const DEFAULT_INLINE_LIMIT_BYTES = 19 * 1024 * 1024;

/** `BATCH_STATE_RUNNING` (REST) and `JOB_STATE_RUNNING` (the SDK's mapping) alike. */
export function normaliseBatchState(state: string | undefined): BatchJobState {
  const bare = (state ?? '').replace(/^(BATCH|JOB)_STATE_/, '');
  switch (bare) {
    case 'PENDING':
    case 'QUEUED':
    case 'UNSPECIFIED':
    case '':
      return 'pending';
    case 'RUNNING':
      return 'running';
    case 'SUCCEEDED':
      return 'succeeded';
    case 'FAILED':
      return 'failed';
    case 'CANCELLING':
    case 'PAUSED':
    case 'UPDATING':
      return 'running';
    case 'CANCELLED':
      return 'cancelled';
    case 'EXPIRED':
      return 'expired';
    default:
      throw new Error(`unknown Gemini batch state ${state}`);
  }
}

/** The REST operation, as far as it is read here. */
interface RawOperation {
  name?: string;
  error?: { code?: number; message?: string };
  metadata?: {
    state?: string;
    displayName?: string;
    batchStats?: Partial<
      Record<'requestCount' | 'successfulRequestCount' | 'failedRequestCount' | 'pendingRequestCount', string | number>
    >;
  };
}

interface RawApiClient {
  request(request: { path: string; httpMethod: 'GET' }): Promise<{ json(): Promise<unknown> }>;
}

function rawClientOf(client: GoogleGenAI): RawApiClient {
  const apiClient = (client as unknown as { apiClient?: Partial<RawApiClient> }).apiClient;
  if (typeof apiClient?.request !== 'function')
    throw new Error('this @google/genai release has no apiClient.request: cannot read a batch job’s batchStats');
  return apiClient as RawApiClient;
}

type Line = {
  key?: string | undefined;
  response?: GenerateContentResponse | undefined;
  error?: { code?: number | undefined; message?: string | undefined; status?: string | undefined } | undefined;
};

export function geminiBatchJobs(client: GoogleGenAI): BatchJobs {
  const refOf = (job: BatchJob): BatchJobRef => ({
    name: job.name ?? '',
    displayName: job.displayName ?? '',
    state: normaliseBatchState(job.state),
    ...(job.src?.fileName ? { file: true } : {}),
  });

  const jobs: BatchJobs = {
    async findByDisplayName(displayName) {
      // The Gemini API has no display-name filter (the SDK refuses `config.filter`): page through.
      for await (const job of await client.batches.list({ config: { pageSize: 100 } })) {
        if (job.displayName === displayName && job.name) return refOf(job);
      }
      return undefined;
    },

    async submit({ displayName, model, requests, inlineLimitBytes = DEFAULT_INLINE_LIMIT_BYTES }) {
      const existing = await jobs.findByDisplayName(displayName);
      if (existing) return existing;
      const keys = new Set<string>();
      for (const { key } of requests) {
        if (keys.has(key)) throw new Error(`batch job ${displayName}: key ${key} appears twice`);
        keys.add(key);
      }
      const inlined: InlinedRequest[] = requests.map(({ key, request }) => ({
        contents: contentsOf(request.prompt),
        config: contentConfig(request),
        metadata: { key },
      }));
      const inlineBytes = Buffer.byteLength(JSON.stringify(inlined));
      if (inlineBytes <= inlineLimitBytes) {
        const job = await client.batches.create({ model, src: inlined, config: { displayName } });
        return refOf(job);
      }
      const dir = await mkdtemp(path.join(tmpdir(), 'gemini-batch-in-'));
      try {
        const file = path.join(dir, 'requests.jsonl');
        const lines = requests.map(({ key, request }) => JSON.stringify({ key, request: restRequestOf(request) }));
        await writeFile(file, `${lines.join('\n')}\n`);
        const uploaded = await client.files.upload({
          file,
          config: { mimeType: 'application/jsonl', displayName: `${displayName}/requests` },
        });
        if (!uploaded.name) throw new Error(`batch job ${displayName}: the uploaded requests file has no name`);
        const job = await client.batches.create({ model, src: uploaded.name, config: { displayName } });
        return { ...refOf(job), file: true };
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },

    async get(name) {
      const response = await rawClientOf(client).request({ path: name, httpMethod: 'GET' });
      const raw = (await response.json()) as RawOperation;
      const stats = raw.metadata?.batchStats ?? {};
      const count = (value: string | number | undefined) => Number(value ?? 0);
      const status: BatchJobStatus = {
        name: raw.name ?? name,
        displayName: raw.metadata?.displayName ?? '',
        state: normaliseBatchState(raw.metadata?.state),
        stats: {
          requests: count(stats.requestCount),
          succeeded: count(stats.successfulRequestCount),
          failed: count(stats.failedRequestCount),
          pending: count(stats.pendingRequestCount),
        },
      };
      if (raw.error) status.error = { code: raw.error.code, message: raw.error.message ?? 'no message' };
      return status;
    },

    async *results(name, keys) {
      const job = await client.batches.get({ name });
      const state = normaliseBatchState(job.state);
      if (state !== 'succeeded') throw new Error(`batch job ${name} is ${state}: it has no results`);
      if (job.dest?.inlinedResponses) {
        const lines: Line[] = job.dest.inlinedResponses.map((entry) => ({
          key: entry.metadata?.['key'] !== undefined ? String(entry.metadata['key']) : undefined,
          response: entry.response,
          error: entry.error as Line['error'],
        }));
        const matched = matchKeys(name, lines, keys);
        for (let index = 0; index < lines.length; index += 1) yield resultOf(matched[index]!, lines[index]!);
        return;
      }
      const fileName = job.dest?.fileName;
      if (!fileName) throw new Error(`batch job ${name} succeeded without inline responses or a responses file`);
      const dir = await mkdtemp(path.join(tmpdir(), 'gemini-batch-out-'));
      try {
        const downloadPath = path.join(dir, 'responses.jsonl');
        await client.files.download({ file: fileName, downloadPath });
        // Two passes over the file: every key is checked before the first result is yielded.
        const lineKeys: Line[] = [];
        for await (const line of linesOf(downloadPath)) {
          const key = line.key;
          lineKeys.push(key === undefined ? {} : { key });
        }
        const matched = matchKeys(name, lineKeys, keys);
        let index = 0;
        for await (const line of linesOf(downloadPath)) {
          yield resultOf(matched[index]!, line);
          index += 1;
        }
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },

    async cancel(name) {
      await client.batches.cancel({ name });
    },

    async delete(name) {
      await client.batches.delete({ name });
    },
  };
  return jobs;
}

/**
 * The submitted key of each response: its own key where it has one, else the key submitted at
 * its position (the API documents that order). A count mismatch, an unknown key or a key answered
 * twice is an error, never a silent shift.
 */
export function matchKeys(
  name: string,
  lines: ReadonlyArray<{ key?: string | undefined }>,
  keys: readonly string[],
): string[] {
  if (lines.length !== keys.length)
    throw new BatchResultsMismatchError(`batch job ${name}: ${lines.length} responses for ${keys.length} requests`);
  const submitted = new Set(keys);
  const seen = new Set<string>();
  return lines.map((line, index) => {
    const key = line.key ?? keys[index]!;
    if (!submitted.has(key))
      throw new BatchResultsMismatchError(`batch job ${name}: response ${index} has unknown key ${key}`);
    if (seen.has(key)) throw new BatchResultsMismatchError(`batch job ${name}: key ${key} answered twice`);
    seen.add(key);
    return key;
  });
}

function resultOf(key: string, line: Line): BatchJobResult {
  if (line.response) return { key, answer: answerOf(line.response) };
  const error = line.error ?? { code: 500, message: 'the batch response has neither a response nor an error' };
  // The same ApiError the online call would throw, so the provider's rules classify it.
  const apiError = new ApiError({ message: JSON.stringify({ error }), status: error.code ?? 500 });
  return { key, error: classifyGemini(apiError) };
}

async function* linesOf(file: string): AsyncGenerator<Line> {
  const reader = createInterface({ input: createReadStream(file, 'utf8'), crlfDelay: Infinity });
  for await (const text of reader) {
    if (text.trim() === '') continue;
    yield JSON.parse(text) as Line;
  }
}
