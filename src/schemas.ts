/**
 * Shared zod schemas for every boundary: workflow inputs, activity inputs/outputs, results.
 * Pure (no I/O): imported by workflows, activities, the client and the CLI alike.
 * Payloads are plain JSON (ISO strings, no Date/Map) so the Web UI shows them readably.
 */
import { z } from 'zod';
import { ERROR_CATEGORIES } from './errors/categories';
import {
  CALL_MODES,
  DEFAULT_CALL_TIMEOUT_MS,
  DEFAULT_FAIL_FAST,
  DEFAULT_CONCURRENCY,
  DEFAULT_HISTORY_EVENTS_PER_RUN,
  DEFAULT_MAX_MODEL_CALLS,
  DEFAULT_BATCH_JOB_SIZE,
  DEFAULT_BATCH_MAX_POLL_MS,
  DEFAULT_BATCH_POLL_MS,
  INPUT_PAGE_SIZE,
  PROVIDER_NAME_PATTERN,
} from './constants';
import { CacheOverrideSchema } from './caching/spec';
import type { Price } from './pricing';

export const PriceSchema = z
  .object({
    input: z.number().min(0),
    output: z.number().min(0),
    cachedInput: z.number().min(0),
    /** Context-cache storage, per 1M cached tokens per hour. */
    cacheStoragePerHour: z.number().min(0),
  })
  .strict() satisfies z.ZodType<Price>;
export const PriceTableSchema = z.record(z.string().min(1), PriceSchema);

export const ErrorCategorySchema = z.enum(ERROR_CATEGORIES);

/**
 * How an item ends: `succeeded`; `failed` (error category attached); `blocked` (Gemini's safety
 * filters blocked the prompt or the answer; ratings attached); `filtered` (the answer parsed but
 * the task's own safety thresholds set it aside; output and ratings kept); `cancelled` (the batch
 * was cancelled or stopped before the item could finish); `deadline_exceeded` (its item deadline,
 * or the batch's deadline before it started).
 */
export const ITEM_STATUSES = ['succeeded', 'failed', 'blocked', 'filtered', 'cancelled', 'deadline_exceeded'] as const;
export type ItemStatus = (typeof ITEM_STATUSES)[number];

/** The statuses `rerun` picks by default: every item that did not end with a usable answer. */
export const RERUN_DEFAULT_STATUSES = [
  'failed',
  'blocked',
  'cancelled',
  'deadline_exceeded',
] as const satisfies readonly ItemStatus[];

/**
 * A rerun's items: those of an ended batch whose final record has one of these statuses (and,
 * when given, one of these error categories). The workers select them from the results store.
 */
export const RerunSelectionSchema = z
  .object({
    batchId: z.lazy(() => BatchIdSchema),
    statuses: z.array(z.enum(ITEM_STATUSES)).min(1),
    categories: z.array(ErrorCategorySchema).min(1).optional(),
  })
  .strict();
export type RerunSelection = z.infer<typeof RerunSelectionSchema>;

/** Batch ids become the first half of every item workflow id, so they may not contain '/'. */
export const BatchIdSchema = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._:-]*$/, 'batch id: letters, digits, ".", "_", ":" and "-" only (no "/" or spaces)');

export const ItemIdSchema = z
  .string()
  .min(1, 'item id must not be empty')
  .max(256, 'item id is longer than 256 characters')
  // eslint-disable-next-line no-control-regex
  .regex(/^[^\u0000-\u001f\u007f]+$/, 'item id must not contain control characters');

export const TaskNameSchema = z.string().min(1).max(128);

export const WorkItemSchema = z.object({
  id: ItemIdSchema,
  /** 0-based position in the input; results can be exported in input order. */
  index: z.number().int().min(0),
  /** The whole input record (the JSONL line's object), handed to the task's prompt builder. */
  data: z.record(z.string(), z.unknown()),
});
export type WorkItem = z.infer<typeof WorkItemSchema>;

export const GenerationSettingsSchema = z
  .object({
    temperature: z.number().min(0).max(2).optional(),
    topP: z.number().min(0).max(1).optional(),
    topK: z.number().int().positive().optional(),
    maxOutputTokens: z.number().int().positive().optional(),
    seed: z.number().int().optional(),
    thinkingBudget: z.number().int().min(-1).optional(),
  })
  .strict();
export type GenerationSettings = z.infer<typeof GenerationSettingsSchema>;

export const StageSchema = z
  .object({
    /** `full`: the task's whole prompt. `partial`: only the fields that failed validation. */
    mode: z.enum(['full', 'partial']),
    temperature: z.number().min(0).max(2),
    /** Another model for this stage (escalation, e.g. flash-lite → flash); the item's otherwise. */
    model: z.string().min(1).optional(),
    generation: GenerationSettingsSchema.optional(),
  })
  .strict();
export type Stage = z.infer<typeof StageSchema>;

/** The item's validation-recovery plan; see DEFAULT_STAGE_PLAN in stages.ts. */
export const StagePlanSchema = z
  .array(StageSchema)
  .min(1)
  .max(12)
  .refine((plan) => plan[0]?.mode === 'full', {
    message: 'the first stage must be a full prompt (a partial one has nothing to repair)',
  });
export type StagePlan = z.infer<typeof StagePlanSchema>;

/** A provider's name: gemini, openai-compatible, or a named endpoint (a batch's override, `--provider`). */
export const ProviderNameSchema = z.string().regex(PROVIDER_NAME_PATTERN, {
  error: 'must be a provider name such as gemini, openai-compatible or a named endpoint',
});

export const ItemOptionsSchema = z
  .object({
    /** Model override for the whole batch; the task's model otherwise. */
    model: z.string().min(1).optional(),
    /**
     * Provider override for the whole batch (`gemini`, `openai-compatible`, a named endpoint); the
     * task's otherwise. Give a model of that provider with it.
     */
    provider: ProviderNameSchema.optional(),
    generation: GenerationSettingsSchema.optional(),
    /** Hard cap on physical model calls per item, transient retries included. */
    maxModelCalls: z.number().int().min(1).max(100).default(DEFAULT_MAX_MODEL_CALLS),
    /** Timeout of one model call. */
    callTimeoutMs: z.number().int().min(100).max(3_600_000).default(DEFAULT_CALL_TIMEOUT_MS),
    /** Stage plan for every item of the batch; else the task's, else DEFAULT_STAGE_PLAN. */
    stagePlan: StagePlanSchema.optional(),
    /** Price overrides (USD per 1M tokens) by model, for cost estimates. */
    prices: PriceTableSchema.optional(),
    /** Changes to the task's context-cache declaration for this batch (TTL, tags, keep/delete). */
    cache: CacheOverrideSchema.optional(),
    /** An item still unfinished this long after it started ends `deadline_exceeded`. */
    itemDeadlineMs: z.number().int().min(100).optional(),
    /**
     * `local-first`: the item's first model call runs as a local activity, in the worker that runs
     * the item (one workflow task, no activity dispatch); its retries and later stages are regular
     * activities on the model-call queue. `activity`: every call is a regular activity. Workers
     * that admit calls under RPM/TPM limits always use regular activities.
     */
    callMode: z.enum(CALL_MODES).default('local-first'),
  })
  .strict();
export type ItemOptions = z.infer<typeof ItemOptionsSchema>;

/** Gemini Batch Mode (`--batch-api`): stage 1 of every item goes through the provider's batch API at batch prices. */
export const BatchApiOptionsSchema = z
  .object({
    /** Items per provider job at most (a job above ~19 MB of requests goes as an uploaded JSONL file). */
    jobSize: z.number().int().min(1).max(100_000).default(DEFAULT_BATCH_JOB_SIZE),
    /** The first wait between polls of the running jobs; it grows 1.5× per unchanged poll… */
    pollIntervalMs: z.number().int().min(100).max(3_600_000).default(DEFAULT_BATCH_POLL_MS),
    /** …up to this. */
    maxPollIntervalMs: z.number().int().min(100).max(3_600_000).default(DEFAULT_BATCH_MAX_POLL_MS),
    /** Above this many bytes of requests a job's input is uploaded as a file (default ~19 MB; tests force files with less). */
    inlineLimitBytes: z.number().int().min(1).optional(),
  })
  .strict();
export type BatchApiOptions = z.output<typeof BatchApiOptionsSchema>;

export const BatchInputSchema = z
  .object({
    batchId: BatchIdSchema,
    taskName: TaskNameSchema,
    /** Items inline (small batches)… */
    items: z.array(WorkItemSchema).optional(),
    /** …or a JSONL file readable by the workers (absolute path). */
    inputFile: z.string().min(1).optional(),
    /**
     * Items in flight at once, or `auto`: up to `maxConcurrency` items, with their calls admitted
     * at a request rate the quota scope learns from the provider's answers (no RPM needed).
     */
    concurrency: z
      .union([z.number().int().min(1).max(10_000), z.literal('auto')], {
        error: 'concurrency must be an integer from 1 to 10000, or "auto"',
      })
      .default(DEFAULT_CONCURRENCY),
    /** With `concurrency: 'auto'`: items in flight at most (default DEFAULT_MAX_CONCURRENCY). */
    maxConcurrency: z.number().int().min(1).max(10_000).optional(),
    /** A big inputFile is read this many items at a time, as they are dispatched. */
    inputPageSize: z.number().int().min(1).max(5_000).default(INPUT_PAGE_SIZE),
    /** No item starts after this moment (ISO time); the ones not started end `deadline_exceeded`. */
    deadline: z.iso.datetime({ offset: true }).optional(),
    /** Dispatch stops once the batch has used this many tokens (input + output + thoughts)… */
    maxTokens: z.number().int().positive().optional(),
    /** …or spent this many (estimated) dollars. Overshoot is bounded by the items in flight. */
    maxCostUsd: z.number().positive().optional(),
    /**
     * The batch workflow continues as new once its run's history passes this many events (it
     * stops dispatching, lets the items in flight finish, and carries its counters over).
     */
    historyEventsPerRun: z.number().int().min(200).max(40_000).default(DEFAULT_HISTORY_EVENTS_PER_RUN),
    /** The first item that ends with one of these categories stops the batch (cancelling the rest). */
    failFast: z.array(ErrorCategorySchema).default([...DEFAULT_FAIL_FAST]),
    options: ItemOptionsSchema.prefault({}),
    /** This batch reruns some items of an ended one: the origin's input, only the items selected. */
    rerunOf: RerunSelectionSchema.optional(),
    /** Stage 1 through the provider's batch API (Gemini Batch Mode), at half the online price. */
    batchApi: BatchApiOptionsSchema.optional(),
  })
  .strict()
  .refine((input) => (input.items === undefined) !== (input.inputFile === undefined), {
    message: 'give exactly one of items or inputFile',
    path: ['items'],
  })
  .refine((input) => input.maxConcurrency === undefined || input.concurrency === 'auto', {
    message: 'maxConcurrency bounds concurrency "auto"; with a fixed concurrency, leave it out',
    path: ['maxConcurrency'],
  });
export type BatchInput = z.input<typeof BatchInputSchema>;
export type ParsedBatchInput = z.output<typeof BatchInputSchema>;

export const ItemWorkflowInputSchema = z
  .object({
    batchId: BatchIdSchema,
    taskName: TaskNameSchema,
    item: WorkItemSchema,
    /** Resolved by the batch: batch override, else the task's model, else the worker default. */
    model: z.string().min(1),
    options: ItemOptionsSchema,
    /** The batch runs with `concurrency: 'auto'`: calls go at the quota scope's adaptive rate. */
    adaptiveRate: z.boolean().optional(),
    /** What the task does beyond prompting, as the batch learned it from a worker. */
    traits: z
      .object({ postProcess: z.boolean(), safetyRetryTemperature: z.number().min(0).max(2).optional() })
      .strict()
      .optional(),
    /** The batch's context cache, when its task has one and it is big enough. */
    cache: z
      .object({ name: z.string().min(1), ownerWorkflowId: z.string().min(1), model: z.string().min(1) })
      .strict()
      .optional(),
    /** Batch Mode: the provider job that carried this item's stage 1, and how it ended. */
    batchJob: z
      .object({
        /** 1-based job number of the batch (`<batchId>/job-<n>`): the staging store's key. */
        number: z.number().int().min(1),
        /** The provider's job name (absent when the job was never created). */
        name: z.string().optional(),
        state: z.enum(['succeeded', 'failed', 'expired', 'cancelled']),
        /** Why a job that did not succeed ended so. */
        message: z.string().optional(),
        /** When the job was created and when it ended (ISO): the batch request's time in the item's attempts. */
        submittedAt: z.string().optional(),
        endedAt: z.string().optional(),
      })
      .strict()
      .optional(),
  })
  .strict();
export type ItemWorkflowInput = z.input<typeof ItemWorkflowInputSchema>;

export const UsageSchema = z.object({
  inputTokens: z.number().int().min(0),
  outputTokens: z.number().int().min(0),
  cachedTokens: z.number().int().min(0),
  thoughtsTokens: z.number().int().min(0),
});
export type Usage = z.infer<typeof UsageSchema>;

export const HARM_PROBABILITIES = ['NEGLIGIBLE', 'LOW', 'MEDIUM', 'HIGH'] as const;
export type HarmProbability = (typeof HARM_PROBABILITIES)[number];

/** What one model call said about itself, compactly: kept for every call. */
export interface CallMetadata {
  finishReason?: string;
  /** `{ HARM_CATEGORY_…: probability }` of the candidate (or of the prompt, when it was blocked). */
  safetyRatings: Record<string, string>;
  /** Categories Gemini marked `blocked: true`. */
  blockedCategories: string[];
  /** promptFeedback.blockReason, when the prompt itself was blocked. */
  blockReason?: string;
  modelVersion?: string;
  responseId?: string;
  usage: Usage;
}

/** A rating at or above a task's threshold, as a `filtered` item records it. */
export interface FilterHit {
  category: string;
  probability: string;
  threshold: HarmProbability;
}

export interface ValidationIssue {
  path: string;
  message: string;
  /** The offending value, as short JSON (absent when the field is missing). */
  value?: string;
}

/** One physical model call as the item workflow saw it. */
export interface AttemptRecord {
  /** 1-based count of physical calls for this item. */
  call: number;
  stage: number;
  mode: 'full' | 'partial';
  model: string;
  temperature: number | undefined;
  startedAt: string;
  durationMs: number;
  usage: Usage;
  /** Estimated USD of this call (absent when the model has no price). */
  costUsd?: number;
  /** The context cache this call used. */
  cachedContent?: string;
  /** Finish reason, safety ratings, ids of this call (absent when no answer arrived). */
  metadata?: CallMetadata;
  /** `lost_in_crash`: the request was sent, but the worker making it died before its answer was recorded. */
  outcome: 'ok' | ErrorCategoryName | 'lost_in_crash';
  message?: string;
  /** `batch`: the request went through the provider's batch API (priced at the batch rate); absent: online. */
  via?: 'batch';
  /** The provider job that carried it (`batches/…`). */
  batchJob?: string;
}
type ErrorCategoryName = z.infer<typeof ErrorCategorySchema>;

export interface ItemError {
  category: ErrorCategoryName;
  message: string;
  validationIssues?: ValidationIssue[];
}

/** The full record of one item: written to the results sink, never into the batch history. */
export interface ItemResult {
  batchId: string;
  itemId: string;
  index: number;
  status: ItemStatus;
  output?: unknown;
  error?: ItemError;
  /** Metadata of the accepted call (or of the last answer, when none was accepted). */
  metadata?: CallMetadata;
  /** Ratings that put a `filtered` item aside. */
  filteredBy?: FilterHit[];
  /** The accepted call's raw response, only when the task sets includeRawResponse. */
  rawResponse?: unknown;
  /** Why a `cancelled` or `deadline_exceeded` item stopped. */
  stopReason?: string;
  model: string;
  usage: Usage;
  costUsd: number;
  modelCalls: number;
  attempts: AttemptRecord[];
  startedAt: string;
  finishedAt: string;
  durationMs: number;
}

/** The compact record an item workflow returns to its batch: no model output. */
export interface ItemOutcome {
  itemId: string;
  index: number;
  status: ItemStatus;
  category?: ErrorCategoryName;
  /** Why an item that did not succeed ended so: its last error, or why it was stopped. */
  message?: string;
  usage: Usage;
  costUsd: number;
  /** Models called without a known price (their calls are not in costUsd). */
  unpricedModels?: string[];
  modelCalls: number;
  durationMs: number;
  finishReason?: string;
  /** Highest probability per harm category in the final answer's ratings. */
  safety?: Record<string, string>;
  /** Batch Mode: requests of this item that went through the batch API (the rest went online). */
  batchCalls?: number;
  /** Batch Mode: what the batch-priced calls saved against the online price for the same tokens. */
  savedUsd?: number;
}

/** One provider job of a Batch Mode batch, as `status` shows it. */
export interface BatchJobProgress {
  /** 1-based; the job's display name is `<batchId>/job-<number>`. */
  number: number;
  displayName: string;
  /** Items [start, end) of the batch's item order. */
  start: number;
  end: number;
  /** The provider's name (`batches/…`) once created. */
  name?: string;
  /** `unsubmitted` until created; `downloaded` once its answers are staged for the items. */
  state: 'unsubmitted' | 'pending' | 'running' | 'succeeded' | 'failed' | 'cancelled' | 'expired' | 'downloaded';
  /** Request counts from the provider's batchStats, as of the last poll. */
  stats?: { requests: number; succeeded: number; failed: number; pending: number };
  /** Why the job failed, expired or was cancelled (its items then go online), or why its download failed. */
  message?: string;
  /** Uploaded as a JSONL file (above the inline size limit) rather than inline. */
  file?: boolean;
  submittedAt?: string;
  endedAt?: string;
}

/** Batch Mode's part of the batch summary. */
export interface BatchApiProgress {
  jobSize: number;
  jobs: BatchJobProgress[];
  /** Items that ended on their batch answer alone (no online call). */
  answeredByBatch: number;
  /** Items that needed at least one online call (repairs, per-request errors, failed or expired jobs). */
  neededOnline: number;
  /** Requests sent through the batch API, and online. */
  batchCalls: number;
  onlineCalls: number;
  /** Saved by batch pricing against the online price for the same tokens. */
  savedUsd: number;
  /** Said at start: e.g. a batch deadline shorter than the provider's batch turnaround. */
  warning?: string;
}

/** The batch's context cache, as its summary reports it. */
export interface BatchCacheInfo {
  displayName: string;
  status: 'ready' | 'uncached';
  name?: string;
  reason?: string;
  tokenCount?: number;
}

export interface BatchProgress {
  batchId: string;
  taskName: string;
  total: number;
  pending: number;
  running: number;
  succeeded: number;
  failed: number;
  blocked: number;
  filtered: number;
  cancelled: number;
  deadline_exceeded: number;
  /** Items by the finish reason of their final answer. */
  byFinishReason: Record<string, number>;
  /** For each harm category, items by the probability their final answer was rated. */
  bySafety: Record<string, Partial<Record<string, number>>>;
  /** Failed and blocked items by error category. */
  byCategory: Partial<Record<ErrorCategoryName, number>>;
  usage: Usage;
  /** Cached share of input tokens. */
  cacheHitRate: number;
  /** Input tokens at full-price equivalence (cached ones weighted by their discount). */
  effectiveInputTokens: number;
  /** Estimated USD of the model calls so far. */
  costUsd: number;
  unpricedModels: string[];
  cache?: BatchCacheInfo;
  modelCalls: number;
  startedAt: string;
  done: boolean;
  control: BatchControlState;
  /** Runs of the batch workflow so far: it continues as new to keep each history bounded. */
  runs: number;
  /** Events of the longest finished run's history (0 until the first continue-as-new). */
  largestRunEvents: number;
  /** A rerun: which items of which batch it runs again. */
  rerunOf?: RerunSelection;
  /** Batch Mode (`--batch-api`): the provider jobs and what they answered. */
  batchApi?: BatchApiProgress;
}

/** Why a batch stopped dispatching before its last item. */
export interface BatchStop {
  kind: 'cancelled' | 'deadline' | 'fail_fast' | 'budget';
  reason: string;
}

/** What the control updates change and report. */
export interface BatchControlState {
  paused: boolean;
  /** Items in flight at most (with `auto`, the `maxConcurrency` cap). */
  concurrency: number;
  /** `concurrency: 'auto'`: calls go at the rate the quota scope learns; `concurrency` is the cap. */
  auto?: boolean;
  stop?: BatchStop;
}

export interface BatchSummary extends BatchProgress {
  /** Estimated storage of the context cache for the batch's duration (included in costUsd). */
  cacheStorageCostUsd?: number;
  finishedAt: string;
  durationMs: number;
  itemsPerSecond: number;
}

export { addUsage, emptyUsage } from './usage';

/** Names a zod error's issues as "field: message" lines; with the checked `input`, each with the value it refused. */
export function describeZodError(error: z.ZodError, input?: unknown): ValidationIssue[] {
  return error.issues.map((issue) => {
    const value = input === undefined ? undefined : valueAt(input, issue.path);
    return {
      path: issue.path.length > 0 ? issue.path.map(String).join('.') : '(root)',
      message: issue.message,
      ...(value !== undefined ? { value: shortJson(value) } : {}),
    };
  });
}

/** "path: message (got value)", one issue. */
export function formatIssue(issue: ValidationIssue): string {
  return `${issue.path}: ${issue.message}${issue.value !== undefined ? ` (got ${issue.value})` : ''}`;
}

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let value = input;
  for (const key of path) {
    if (typeof value !== 'object' || value === null) return undefined;
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return value;
}

const SHORT_JSON_CHARS = 80;

function shortJson(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > SHORT_JSON_CHARS ? `${text.slice(0, SHORT_JSON_CHARS - 1)}…` : text;
}
