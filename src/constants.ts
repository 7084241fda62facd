/** Constants shared by the worker, the CLI, the client API and the tests. */

/** The one task queue name used when TEMPORAL_TASK_QUEUE is not set. */
export const DEFAULT_TASK_QUEUE = 'batch-llm';

/**
 * Default model. gemini-2.5-flash and 2.5-pro retire on 2026-12-01, so the default is a current
 * stable model; override per task, per batch (`--model`) or with BATCH_LLM_MODEL.
 */
export const DEFAULT_MODEL = 'gemini-3.5-flash';

/**
 * Header our activity sends with each model call so the emulator can key faults and logs by item.
 * The emulator package owns the name (its import-free leaf module, so this file stays workflow-safe).
 */
export { ITEM_KEY_HEADER as ITEM_HEADER } from '@durable-batch-llm/gemini-emulator/item-header';

/** What a provider's name looks like: a task's or a batch's `provider`, a named endpoint. */
export const PROVIDER_NAME_PATTERN = /^[a-z][a-z0-9-]{0,40}$/;

/** Where local state lives by default (dev-server database, results). */
export const DEFAULT_STATE_DIR = '.batch-llm';

/**
 * How long `dev` keeps closed workflows by default: the dev server's own default, a day to look
 * at failed items in the Web UI. Bigger batches trade it for disk (docs/operations.md).
 */
export const DEFAULT_DEV_RETENTION = '24h';

/** Default cap on physical model calls per item, transient retries included. */
export const DEFAULT_MAX_MODEL_CALLS = 5;

/** Default per-call timeout for one model request. */
export const DEFAULT_CALL_TIMEOUT_MS = 120_000;

/** How an item calls the model: see ItemOptions.callMode. */
export const CALL_MODES = ['local-first', 'activity'] as const;

/** Default sliding-window size of a batch. */
export const DEFAULT_CONCURRENCY = 10;
/** `--concurrency auto`: items in flight at most, unless `--max-concurrency` says otherwise. */
export const DEFAULT_MAX_CONCURRENCY = 200;

/**
 * Model calls run on a task queue of their own, beside the main one, so a worker sizes its model-call
 * slots apart from bookkeeping (and a deployment could run call-only workers). Rate limits are the
 * quota-scope workflow's admission, not a task-queue limit.
 */
export function modelCallsTaskQueue(taskQueue: string): string {
  return `${taskQueue}-model-calls`;
}

/** Items per page when a batch reads a big input file as it goes (keeps payloads far below 2 MB). */
export const INPUT_PAGE_SIZE = 500;

/**
 * A batch run continues as new past this many history events. Draining the items in flight
 * adds a few events per item, so a run stays well under 10,000 even at concurrency 500.
 */
export const DEFAULT_HISTORY_EVENTS_PER_RUN = 7_000;

/** Error categories whose first occurrence stops a batch by default: no later item can do better. */
export const DEFAULT_FAIL_FAST = ['authentication', 'permission_denied', 'quota_exhausted'] as const;

/** The outcome recorded for a model request whose worker died before its answer was recorded (it still counts as a call). */
export const LOST_IN_CRASH = 'lost_in_crash';

/** Batch Mode: items per provider job at most (`--job-size`). */
export const DEFAULT_BATCH_JOB_SIZE = 1_000;
/** Batch Mode: the first wait between polls of running jobs (30 s), growing to… */
export const DEFAULT_BATCH_POLL_MS = 30_000;
/** …10 minutes. */
export const DEFAULT_BATCH_MAX_POLL_MS = 600_000;
/** Gemini's target turnaround for a batch job: a batch deadline sooner than this is reported at start. */
export const BATCH_TURNAROUND_MS = 24 * 60 * 60 * 1000;
