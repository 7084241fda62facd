import { createHash } from 'node:crypto';
import { googleError, invalidArgument } from './errors';
import type { GoogleError } from './errors';
import { isRecord } from './schema';
import { seededToken, seededUnit } from './seeded';

/** Batch job states as the REST API spells them (the SDK maps `BATCH_STATE_X` to `JOB_STATE_X`). */
export const BATCH_STATES = ['PENDING', 'RUNNING', 'SUCCEEDED', 'FAILED', 'CANCELLED', 'EXPIRED'] as const;

export type BatchState = (typeof BATCH_STATES)[number];

/** How a job that is not cancelled by a request ends. */
export type BatchOutcome = Extract<BatchState, 'SUCCEEDED' | 'FAILED' | 'CANCELLED' | 'EXPIRED'>;

/**
 * A fault for single requests inside a batch job: `schema_invalid` answers JSON that breaks the
 * request's schema, `error` puts an `error` in place of the response. Matches by `key`, `keyPrefix`
 * and `rate` (all given must hold); the first matching rule wins.
 */
export interface BatchRequestFault {
  fault: 'schema_invalid' | 'error';
  key?: string;
  keyPrefix?: string;
  /** 0..1, decided from hash(seed, rule index, key). */
  rate?: number;
  /** For `error`: default 500 / INTERNAL. */
  code?: number;
  status?: string;
  message?: string;
}

/** Which outcome jobs whose display name starts with `displayNamePrefix` (all jobs when omitted) get. */
export interface BatchOutcomeRule {
  displayNamePrefix?: string;
  outcome: BatchOutcome;
}

/** Batch Mode settings; each job keeps those in force when it was created. */
export interface BatchSettings {
  /** How long a new job stays PENDING (ms, by the emulator clock). Default 0. */
  pendingMs?: number;
  /** How long it then stays RUNNING; progress counts grow linearly meanwhile. Default 0. */
  runningMs?: number;
  /** First matching rule wins; default SUCCEEDED. */
  outcomes?: BatchOutcomeRule[];
  requestFaults?: BatchRequestFault[];
  /** 'BATCH' (default, as the Gemini API sends) or 'JOB' (`JOB_STATE_*`, as the SDK and Vertex spell them). */
  statePrefix?: 'BATCH' | 'JOB';
  /** Echo each inline request's `metadata` in its response (default true; reported missing in the wild). */
  echoMetadata?: boolean;
}

/** One batch job as the emulator's batch log shows it. */
export interface BatchJobLogEntry {
  name: string;
  displayName: string | undefined;
  model: string;
  requestCount: number;
  /** `files/…` for a file-input job. */
  inputFile: string | undefined;
  createdAtMs: number;
  /** Every state the job has reached by now, with when (emulator clock). */
  states: Array<{ state: BatchState; atMs: number }>;
  cancelRequested: boolean;
  deleted: boolean;
}

/** A request's result inside a job: a generateContent answer or an error. */
export type BatchItemResult = { response: object } | { error: { code: number; message: string; status: string } };

/** Answers one request of a job the way generateContent would. */
export type BatchAnswerer = (
  model: string,
  request: unknown,
  key: string,
  fault: 'schema_invalid' | undefined,
) => Promise<BatchItemResult>;

/** One request of a job being created: its key, the request and an inline request's metadata. */
interface BatchCreateItem {
  key: string;
  request: unknown;
  metadata: unknown;
}

/** A well-formed `batchGenerateContent` body: inline requests, or the name of an input file. */
export interface BatchCreateView {
  displayName: string | undefined;
  input: { items: BatchCreateItem[] } | { fileName: string };
}

interface StoredFile {
  name: string;
  displayName: string | undefined;
  mimeType: string;
  data: Buffer;
  createdAtMs: number;
}

interface BatchJob {
  name: string;
  displayName: string | undefined;
  model: string;
  sequence: number;
  inputFile: string | undefined;
  keys: string[];
  metadata: Array<unknown | undefined>;
  results: BatchItemResult[];
  createdAtMs: number;
  pendingMs: number;
  runningMs: number;
  outcome: BatchOutcome;
  statePrefix: 'BATCH' | 'JOB';
  echoMetadata: boolean;
  cancelledAtMs: number | undefined;
  deleted: boolean;
  resultFile: string | undefined;
}

const DEFAULT_PAGE_SIZE = 10;
const PAGE_TOKEN_PREFIX = 'after-';
const FILE_TTL_MS = 48 * 60 * 60 * 1000;
const BATCH_TYPE = 'type.googleapis.com/google.ai.generativelanguage.v1main.GenerateContentBatch';
const OUTPUT_TYPE = 'type.googleapis.com/google.ai.generativelanguage.v1main.GenerateContentBatchOutput';

export function batchNotFound(): ReturnType<typeof googleError> {
  return googleError(404, 'NOT_FOUND', 'Requested entity was not found.');
}

/** The emulator's batch jobs and uploaded files. Job states follow the clock; no timers run. */
export class BatchStore {
  private readonly jobs = new Map<string, BatchJob>();
  private readonly files = new Map<string, StoredFile>();
  private readonly uploads = new Map<string, { displayName: string | undefined; mimeType: string; chunks: Buffer[] }>();
  private created = 0;
  settings: BatchSettings = {};

  constructor(
    private readonly now: () => number,
    private readonly baseUrl: () => string,
  ) {}

  /**
   * The parts of a `batchGenerateContent` body the emulator acts on, or the error Google answers a
   * malformed one with. Only the body is read here: the input file is looked up by `create`.
   */
  readCreate(body: unknown): BatchCreateView | GoogleError {
    const batch = isRecord(body) && isRecord(body.batch) ? body.batch : undefined;
    const input = batch !== undefined && isRecord(batch.inputConfig) ? batch.inputConfig : undefined;
    if (input === undefined) return invalidArgument('* batch.input_config: input_config is not specified\n');
    const displayName = typeof batch?.displayName === 'string' ? batch.displayName : undefined;
    if (typeof input.fileName === 'string') return { displayName, input: { fileName: input.fileName } };
    const requests = isRecord(input.requests) ? input.requests.requests : undefined;
    if (!Array.isArray(requests) || requests.length === 0)
      return invalidArgument('* batch.input_config.requests: requests is empty\n');
    const items = requests.map((entry: unknown, index) => {
      const record = isRecord(entry) ? entry : {};
      const metadata = isRecord(record.metadata) ? record.metadata : undefined;
      const key = typeof metadata?.key === 'string' ? metadata.key : String(index);
      return { key, request: record.request, metadata };
    });
    return { displayName, input: { items } };
  }

  /**
   * `POST models/{m}:batchGenerateContent`: reads the inline requests or the JSONL input file and
   * answers them all now. Returns the new job's operation (and name), or an error.
   */
  async create(
    model: string,
    view: BatchCreateView,
    seed: number,
    answer: BatchAnswerer,
  ): Promise<{ name: string; operation: object } | GoogleError> {
    const { displayName } = view;
    let items: BatchCreateItem[];
    let inputFile: string | undefined;
    if ('fileName' in view.input) {
      inputFile = view.input.fileName;
      const file = this.files.get(inputFile);
      if (file === undefined) return batchNotFound();
      const lines = file.data
        .toString('utf8')
        .split('\n')
        .filter((line) => line.trim() !== '');
      items = [];
      for (const [index, line] of lines.entries()) {
        let parsed: unknown;
        try {
          parsed = JSON.parse(line);
        } catch {
          return invalidArgument(`Invalid JSON in input file line ${index + 1}.`);
        }
        const key = isRecord(parsed) && typeof parsed.key === 'string' ? parsed.key : String(index);
        items.push({ key, request: isRecord(parsed) ? parsed.request : undefined, metadata: undefined });
      }
    } else {
      items = view.input.items;
    }
    const settings = this.settings;
    const results: BatchItemResult[] = [];
    for (const item of items) {
      const rule = (settings.requestFaults ?? []).find(
        (candidate, index) =>
          (candidate.key === undefined || candidate.key === item.key) &&
          (candidate.keyPrefix === undefined || item.key.startsWith(candidate.keyPrefix)) &&
          (candidate.rate === undefined || seededUnit('batch-fault', seed, index, item.key) < candidate.rate),
      );
      if (rule?.fault === 'error') {
        const code = rule.code ?? 500;
        results.push({
          error: {
            code,
            status: rule.status ?? 'INTERNAL',
            message: rule.message ?? 'An internal error has occurred.',
          },
        });
      } else {
        results.push(await answer(model, item.request, item.key, rule?.fault));
      }
    }
    let name: string;
    do {
      this.created += 1;
      name = `batches/${seededToken(20, 'batch', seed, this.created)}`;
    } while (this.jobs.has(name));
    const outcome =
      (settings.outcomes ?? []).find(
        (rule) => rule.displayNamePrefix === undefined || (displayName ?? '').startsWith(rule.displayNamePrefix),
      )?.outcome ?? 'SUCCEEDED';
    const job: BatchJob = {
      name,
      displayName,
      model,
      sequence: this.created,
      inputFile,
      keys: items.map((item) => item.key),
      metadata: items.map((item) => item.metadata),
      results,
      createdAtMs: this.now(),
      pendingMs: settings.pendingMs ?? 0,
      runningMs: settings.runningMs ?? 0,
      outcome,
      statePrefix: settings.statePrefix ?? 'BATCH',
      echoMetadata: settings.echoMetadata ?? true,
      cancelledAtMs: undefined,
      deleted: false,
      resultFile: undefined,
    };
    this.jobs.set(name, job);
    return { name, operation: this.resource(job, true) };
  }

  /** The model of a live job (without `models/`), for fault rules that name one. */
  modelOf(name: string): string | undefined {
    return this.live(name)?.model;
  }

  get(name: string): object {
    const job = this.live(name);
    return job === undefined ? batchNotFound() : this.resource(job, false);
  }

  /** Creation order; `pageToken` names the last job of the previous page; no token on the last page. */
  list(query: URLSearchParams): object {
    const pageSize = Number(query.get('pageSize') ?? '0');
    if (!Number.isInteger(pageSize) || pageSize < 0) return invalidArgument('Invalid page_size.');
    const token = query.get('pageToken') ?? '';
    const after = token === '' ? 0 : Number(token.slice(PAGE_TOKEN_PREFIX.length));
    if (token !== '' && (!token.startsWith(PAGE_TOKEN_PREFIX) || !Number.isInteger(after)))
      return invalidArgument(`Invalid page_token: ${token}`);
    const remaining = [...this.jobs.values()].filter((job) => !job.deleted && job.sequence > after);
    const page = remaining.slice(0, pageSize === 0 ? DEFAULT_PAGE_SIZE : pageSize);
    const operations = page.map((job) => this.resource(job, false));
    const last = page.at(-1);
    return last === undefined || page.length === remaining.length
      ? { operations }
      : { operations, nextPageToken: `${PAGE_TOKEN_PREFIX}${last.sequence}` };
  }

  /** Cancels a job still pending or running; a finished job stays as it is. Answers `{}`. */
  cancel(name: string): object {
    const job = this.live(name);
    if (job === undefined) return batchNotFound();
    if (!isTerminal(this.stateOf(job).state)) job.cancelledAtMs = this.now();
    return {};
  }

  delete(name: string): object {
    const job = this.live(name);
    if (job === undefined) return batchNotFound();
    job.deleted = true;
    return {};
  }

  /** Every job ever created (deleted ones too), oldest first, with the states it reached so far. */
  log(): BatchJobLogEntry[] {
    return [...this.jobs.values()].map((job) => ({
      name: job.name,
      displayName: job.displayName,
      model: job.model,
      requestCount: job.keys.length,
      inputFile: job.inputFile,
      createdAtMs: job.createdAtMs,
      states: this.stateOf(job).history,
      cancelRequested: job.cancelledAtMs !== undefined,
      deleted: job.deleted,
    }));
  }

  /** Resumable upload, `start` step: returns the upload id. */
  startUpload(body: unknown, mimeTypeHeader: string | undefined): string {
    const file = isRecord(body) && isRecord(body.file) ? body.file : {};
    const id = `${this.uploads.size + this.files.size + 1}-${seededToken(8, 'upload', this.now(), this.uploads.size)}`;
    this.uploads.set(id, {
      displayName: typeof file.displayName === 'string' ? file.displayName : undefined,
      mimeType: typeof file.mimeType === 'string' ? file.mimeType : (mimeTypeHeader ?? 'application/octet-stream'),
      chunks: [],
    });
    return id;
  }

  /** Resumable upload, `upload[, finalize]` step: the file (name and resource) once finalized, else undefined. */
  uploadChunk(
    id: string,
    data: Buffer,
    finalize: boolean,
  ): { name: string; resource: object } | GoogleError | undefined {
    const upload = this.uploads.get(id);
    if (upload === undefined) return batchNotFound();
    upload.chunks.push(data);
    if (!finalize) return undefined;
    this.uploads.delete(id);
    const name = `files/${seededToken(12, 'file', id)}`;
    this.files.set(name, {
      name,
      displayName: upload.displayName,
      mimeType: upload.mimeType,
      data: Buffer.concat(upload.chunks),
      createdAtMs: this.now(),
    });
    return { name, resource: this.fileResource(name) };
  }

  fileResource(name: string): object {
    const file = this.files.get(name);
    if (file === undefined) return batchNotFound();
    const created = new Date(file.createdAtMs).toISOString();
    return {
      name: file.name,
      ...(file.displayName === undefined ? {} : { displayName: file.displayName }),
      mimeType: file.mimeType,
      sizeBytes: String(file.data.length),
      createTime: created,
      updateTime: created,
      expirationTime: new Date(file.createdAtMs + FILE_TTL_MS).toISOString(),
      sha256Hash: createHash('sha256').update(file.data).digest('base64'),
      uri: `${this.baseUrl()}/v1beta/${file.name}`,
      downloadUri: `${this.baseUrl()}/v1beta/${file.name}:download?alt=media`,
      state: 'ACTIVE',
      source: file.name.startsWith('files/batch-') ? 'GENERATED' : 'UPLOADED',
    };
  }

  fileData(name: string): Buffer | undefined {
    return this.files.get(name)?.data;
  }

  deleteFile(name: string): object {
    return this.files.delete(name) ? {} : batchNotFound();
  }

  private live(name: string): BatchJob | undefined {
    const job = this.jobs.get(name);
    return job === undefined || job.deleted ? undefined : job;
  }

  /** The job's state now and every state it reached, derived from the clock. */
  private stateOf(job: BatchJob): { state: BatchState; history: Array<{ state: BatchState; atMs: number }> } {
    const now = this.now();
    const planned: Array<{ state: BatchState; atMs: number }> = [
      { state: 'PENDING', atMs: job.createdAtMs },
      { state: 'RUNNING', atMs: job.createdAtMs + job.pendingMs },
      { state: job.outcome, atMs: job.createdAtMs + job.pendingMs + job.runningMs },
    ];
    let history = planned.filter((step) => step.atMs <= now);
    const cancelledAt = job.cancelledAtMs;
    if (cancelledAt !== undefined) {
      const before = history.filter((step) => step.atMs <= cancelledAt && !isTerminal(step.state));
      history = [...before, { state: 'CANCELLED', atMs: cancelledAt }];
    }
    // With no pending time, PENDING and RUNNING happen at once: keep both, in order.
    return { state: history.at(-1)?.state ?? 'PENDING', history };
  }

  /** The long-running operation `batches/…` as create, get and list return it. */
  private resource(job: BatchJob, justCreated: boolean): object {
    const { state: current, history } = this.stateOf(job);
    const state = justCreated ? 'PENDING' : current;
    const total = job.keys.length;
    let done = 0;
    if (state === 'SUCCEEDED') done = total;
    else if (state === 'RUNNING' && job.runningMs > 0) {
      const elapsed = this.now() - job.createdAtMs - job.pendingMs;
      done = Math.min(total, Math.floor((total * elapsed) / job.runningMs));
    }
    const failed = job.results.slice(0, done).filter((result) => 'error' in result).length;
    const batchStats = countsOf({
      requestCount: total,
      successfulRequestCount: done - failed,
      failedRequestCount: failed,
      pendingRequestCount: isTerminal(state) ? 0 : total - done,
    });
    const terminal = !justCreated && isTerminal(state);
    const output = state === 'SUCCEEDED' ? this.outputOf(job) : undefined;
    const lastUpdate = justCreated ? job.createdAtMs : (history.at(-1)?.atMs ?? job.createdAtMs);
    const metadata = {
      '@type': BATCH_TYPE,
      model: `models/${job.model}`,
      ...(job.displayName === undefined ? {} : { displayName: job.displayName }),
      ...(job.inputFile === undefined ? {} : { inputConfig: { fileName: job.inputFile } }),
      ...(output === undefined ? {} : { output }),
      createTime: new Date(job.createdAtMs).toISOString(),
      updateTime: new Date(lastUpdate).toISOString(),
      ...(terminal ? { endTime: new Date(lastUpdate).toISOString() } : {}),
      batchStats,
      state: `${job.statePrefix}_STATE_${state}`,
      name: job.name,
    };
    const error =
      state === 'FAILED'
        ? { code: 13, message: 'The batch job failed.' }
        : state === 'EXPIRED'
          ? { code: 4, message: 'The batch job expired before it could complete.' }
          : undefined;
    return {
      name: job.name,
      metadata,
      ...(terminal ? { done: true } : {}),
      ...(output === undefined ? {} : { response: { '@type': OUTPUT_TYPE, ...output } }),
      ...(error === undefined ? {} : { error }),
    };
  }

  /** Inline jobs: `{inlinedResponses: {inlinedResponses: […]}}`; file jobs: `{responsesFile}` (a JSONL file). */
  private outputOf(job: BatchJob): object {
    if (job.inputFile !== undefined) {
      if (job.resultFile === undefined) {
        job.resultFile = `files/batch-${job.name.slice('batches/'.length)}`;
        const lines = job.results.map((result, index) => JSON.stringify({ key: job.keys[index], ...result }));
        this.files.set(job.resultFile, {
          name: job.resultFile,
          displayName: undefined,
          mimeType: 'application/jsonl',
          data: Buffer.from(`${lines.join('\n')}\n`),
          createdAtMs: this.now(),
        });
      }
      return { responsesFile: job.resultFile };
    }
    const inlinedResponses = job.results.map((result, index) => {
      const metadata = job.metadata[index];
      return job.echoMetadata && metadata !== undefined ? { ...result, metadata } : result;
    });
    return { inlinedResponses: { inlinedResponses } };
  }
}

export function isTerminal(state: BatchState): boolean {
  return state === 'SUCCEEDED' || state === 'FAILED' || state === 'CANCELLED' || state === 'EXPIRED';
}

/** int64 counts as Google sends them: strings, zeros omitted. */
function countsOf(counts: Record<string, number>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(counts)
      .filter(([, value]) => value !== 0)
      .map(([key, value]) => [key, String(value)]),
  );
}
