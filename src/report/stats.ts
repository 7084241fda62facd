/**
 * A batch's report, computed from its result records alone (pure: no I/O, no Temporal). Records are
 * added one at a time (ReportBuilder), so a 100,000-item batch is read as a stream: the builder
 * keeps counters, the calls' durations and the items' finish times, never the records.
 *
 * Batch Mode (`--batch-api`): an attempt with `via: 'batch'` went through the provider's batch API.
 * Its duration is its whole job's (submission to end, minutes to hours), so latency and the
 * timeline's calls are of online calls only; batch requests get their own figures in `batchApi`.
 *
 * The object `finish()` returns is what `batch-llm report -o json` prints; its field names are
 * stable (docs/report.md describes each). Times are ISO strings, durations milliseconds, costs USD.
 */
import { batchRouteOf } from '../batch-mode';
import { batchSavingUsd, roundUsd } from '../pricing';
import { ITEM_STATUSES, type AttemptRecord, type ItemResult, type ItemStatus } from '../schemas';

/** Bumped when a field of BatchReport changes meaning or goes away (new fields do not bump it). */
export const REPORT_FORMAT = 1;

/** Statuses that count as an item done: an answer that parsed (filtered items keep their output). */
const SUCCESSFUL: ReadonlySet<ItemStatus> = new Set(['succeeded', 'filtered']);

/** Example item ids kept per error message. */
export const ERROR_EXAMPLES = 3;
/** Error messages listed, most frequent first. */
export const TOP_ERRORS = 10;
/** Normalised messages longer than this are cut (with "…"). */
const MESSAGE_CHARS = 240;
/** The timeline has at most this many buckets; its bucket is the smallest NICE_BUCKETS_MS step that fits. */
export const MAX_TIMELINE_BUCKETS = 30;
const NICE_BUCKETS_MS = [
  1_000, 2_000, 5_000, 10_000, 15_000, 30_000, 60_000, 120_000, 300_000, 600_000, 900_000, 1_800_000, 3_600_000,
  7_200_000, 10_800_000, 21_600_000, 43_200_000, 86_400_000,
];

/**
 * What became of a call, for spend: `accepted` — its answer is the item's output; `rejected` — an
 * answer came back but was not used (failed validation, truncated, blocked, …: what repairs
 * follow); `no_answer` — no answer at all (rate limits, 5xx, timeouts, …: what retries follow).
 */
export const CALL_ROLES = ['accepted', 'rejected', 'no_answer'] as const;
export type CallRole = (typeof CALL_ROLES)[number];

/** Tokens and estimated cost of a set of calls. */
export interface Spend {
  calls: number;
  inputTokens: number;
  outputTokens: number;
  cachedTokens: number;
  thoughtsTokens: number;
  costUsd: number;
  /** Share of the batch's cost (0..1). */
  costShare: number;
}

/** Latency of a set of calls (nearest-rank percentiles of their durations), ms. */
export interface Latency {
  calls: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
  meanMs: number;
}

/** One normalised error message: how often, of which category, and the first items it hit. */
export interface ErrorGroup {
  category: string;
  /** The message with digits, ids and the item's own id collapsed (see normaliseMessage). */
  message: string;
  /** Items (topErrors) or calls (topCallErrors) with this message. */
  count: number;
  /** Distinct items with this message. */
  items: number;
  /** Up to ERROR_EXAMPLES item ids, in the order read (input order by default). */
  exampleItemIds: string[];
  /** The first message as written, before normalising. */
  example: string;
}

export interface TimelineBucket {
  /** Start of the bucket (ISO), and its offset from the window's start. */
  start: string;
  offsetMs: number;
  /** Items whose finishedAt falls in the bucket, and of those the ones that did not succeed. */
  finished: number;
  unsuccessful: number;
  /** finished per minute of the bucket's time inside the window. */
  itemsPerMinute: number;
  /** unsuccessful / finished (0 when none finished). */
  errorRate: number;
  /** Online calls that ended in the bucket (startedAt + durationMs), and of those the ones without an accepted-quality answer (outcome not ok); batch requests are not placed here. */
  calls: number;
  callErrors: number;
  callErrorRate: number;
}

/** How a call was sent: through the provider's batch API (`via: 'batch'`), or online. */
export const ROUTES = ['batch', 'online'] as const;
export type Route = (typeof ROUTES)[number];

/** Batch Mode's part of the report: present only when some call went through the batch API. */
export interface BatchApiReport {
  /** Calls by route, batch first; `items`: items with at least one call by that route. */
  byRoute: Array<Spend & { route: Route; items: number }>;
  /** What batch pricing saved against the online price for the same tokens: Σ costUsd / BATCH_PRICE_FACTOR − costUsd over batch calls. */
  savedUsd: number;
  /** What the same calls would have cost at online prices (the total cost + savedUsd). */
  costAtOnlinePricesUsd: number;
  /** Items whose every call went through the batch API, and items with at least one online call. */
  answeredByBatch: number;
  neededOnline: number;
  /** Distinct provider jobs (`batchJob`) of the batch calls. */
  jobs: number;
  /** Batch requests' turnaround: their job's submission to end (one value per request), not a call latency. */
  turnaround: Latency;
}

/** What Temporal says of the batch, when it was reachable (the report works without it). */
export interface BatchInfo {
  state: string;
  taskName: string;
  total: number;
  startedAt: string;
  finishedAt?: string;
  durationMs?: number;
  costUsd: number;
  cacheStorageCostUsd?: number;
  stop?: { kind: string; reason: string };
}

export interface BatchReport {
  format: typeof REPORT_FORMAT;
  batchId: string;
  generatedAt: string;
  /** Where the records were read (a file, a database without its password). */
  source: string;
  batch?: BatchInfo;
  /** Items with a record, and their calls. */
  items: number;
  calls: number;
  /** From the first item's start to the last item's finish. */
  window: { startedAt: string | null; finishedAt: string | null; durationMs: number };
  /** items over the window, per minute. */
  itemsPerMinute: number;
  /** succeeded + filtered over items (0 when there are none). */
  successRate: number;
  byStatus: Record<ItemStatus, number>;
  /** Items that did not succeed, by error category (cancelled and deadline_exceeded items by their status). */
  byCategory: Array<{ category: string; items: number }>;
  /** Items by the finish reason of their final answer ("(no answer)" when none arrived). */
  byFinishReason: Array<{ finishReason: string; items: number }>;
  /** Calls by outcome: "ok" or the error category of the call. */
  callsByOutcome: Array<{ outcome: string; calls: number }>;
  /** The final errors of items that did not succeed, most frequent first (at most TOP_ERRORS). */
  topErrors: ErrorGroup[];
  /** The errors of calls, retried ones included, most frequent first (at most TOP_ERRORS). */
  topCallErrors: ErrorGroup[];
  spend: {
    total: Spend;
    byStage: Array<Spend & { stage: number; mode: string; items: number }>;
    byModel: Array<Spend & { model: string }>;
    /** By what the call got, each with its outcomes (accepted: ok; rejected: validation_error, truncated, …). */
    byRole: Array<Spend & { role: CallRole; outcomes: Array<Spend & { outcome: string }> }>;
    byOutcome: Array<Spend & { outcome: string }>;
    /** What calls whose answer was not the item's output cost: retries and repairs. */
    notAccepted: { calls: number; costUsd: number; costShare: number };
    /** Calls without a price (their cost is not in costUsd). */
    unpricedCalls: number;
  };
  /** Batch Mode: calls by route, savings, items answered by batch alone (absent when no call went through the batch API). */
  batchApi?: BatchApiReport;
  /** Online calls only: a batch request's duration is its job's (see batchApi.turnaround). */
  latency: {
    all: Latency;
    byStage: Array<Latency & { stage: number }>;
    /** Items' durations, start to finish (retry waits included). */
    items: Latency;
  };
  /** Items by how many model calls they made (every count from the fewest to the most, empty ones included). */
  callsPerItem: Array<{ calls: number; items: number }>;
  /** Items by the last stage they called (0: never called), and how many of them succeeded. */
  stageReached: Array<{ stage: number; items: number; succeeded: number }>;
  timeline: { bucketMs: number; buckets: TimelineBucket[] };
}

interface SpendSum {
  calls: number;
  inputTokens: number;
  outputTokens: number;
  cachedTokens: number;
  thoughtsTokens: number;
  costUsd: number;
}

interface ErrorSum {
  category: string;
  message: string;
  count: number;
  itemIds: Set<string>;
  examples: string[];
  example: string;
}

const emptySpend = (): SpendSum => ({
  calls: 0,
  inputTokens: 0,
  outputTokens: 0,
  cachedTokens: 0,
  thoughtsTokens: 0,
  costUsd: 0,
});

function addCall(sum: SpendSum, attempt: AttemptRecord): void {
  sum.calls += 1;
  sum.inputTokens += attempt.usage.inputTokens;
  sum.outputTokens += attempt.usage.outputTokens;
  sum.cachedTokens += attempt.usage.cachedTokens;
  sum.thoughtsTokens += attempt.usage.thoughtsTokens;
  sum.costUsd += attempt.costUsd ?? 0;
}

function entryOf<K, V>(map: Map<K, V>, key: K, make: () => V): V {
  let value = map.get(key);
  if (value === undefined) {
    value = make();
    map.set(key, value);
  }
  return value;
}

const UUID = /\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/gi;
/** A long run of letters and digits with at least one digit: a request id, a hash, a token. */
const LONG_ID = /\b(?=[A-Za-z_-]*\d)[A-Za-z0-9_-]{16,}\b/g;
const HEX_ID = /\b(?=[a-f]*\d)[0-9a-f]{8,}\b/gi;
const NUMBER = /\d+(?:[.,]\d+)*/g;

/**
 * A message made comparable across items: the item's own id becomes `<item>`, UUIDs `<uuid>`,
 * long ids and hashes `<id>`, every number `#`; whitespace is collapsed and long messages cut.
 * "retry in 12.5s (request 7f3a9c01b2)" and "retry in 3s (request 0e11aa77c4)" are one message.
 */
export function normaliseMessage(message: string, itemId?: string): string {
  // The id as a whole word only: item "d" must not eat the d of "rejected".
  let text = itemId
    ? message.replace(
        new RegExp(`(?<![\\w-])${itemId.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?![\\w-])`, 'g'),
        '<item>',
      )
    : message;
  text = text
    .replace(UUID, '<uuid>')
    .replace(LONG_ID, '<id>')
    .replace(HEX_ID, '<id>')
    .replace(NUMBER, '#')
    .replace(/\s+/g, ' ')
    .trim();
  return text.length > MESSAGE_CHARS ? `${text.slice(0, MESSAGE_CHARS - 1)}…` : text;
}

/** Nearest-rank percentile of ascending `sorted` values (0 when empty). */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1] ?? 0;
}

export function latencyOf(durations: number[]): Latency {
  const sorted = [...durations].sort((a, b) => a - b);
  const sum = sorted.reduce((total, value) => total + value, 0);
  return {
    calls: sorted.length,
    p50Ms: percentile(sorted, 50),
    p90Ms: percentile(sorted, 90),
    p99Ms: percentile(sorted, 99),
    maxMs: sorted.at(-1) ?? 0,
    meanMs: sorted.length > 0 ? Math.round(sum / sorted.length) : 0,
  };
}

/** The smallest nice bucket that covers `durationMs` in at most `maxBuckets` buckets. */
export function bucketSizeFor(durationMs: number, maxBuckets = MAX_TIMELINE_BUCKETS): number {
  for (const size of NICE_BUCKETS_MS) if (Math.ceil(durationMs / size) <= maxBuckets) return size;
  const day = NICE_BUCKETS_MS.at(-1) ?? 86_400_000;
  return Math.ceil(durationMs / maxBuckets / day) * day;
}

/** The call whose answer an item kept: its last `ok` call, when the item succeeded or was filtered. */
function acceptedCall(record: ItemResult): AttemptRecord | undefined {
  if (!SUCCESSFUL.has(record.status)) return undefined;
  for (let index = record.attempts.length - 1; index >= 0; index -= 1)
    if (record.attempts[index]?.outcome === 'ok') return record.attempts[index];
  return undefined;
}

function roleOf(attempt: AttemptRecord, accepted: AttemptRecord | undefined): CallRole {
  if (attempt === accepted) return 'accepted';
  return attempt.metadata || attempt.outcome === 'ok' ? 'rejected' : 'no_answer';
}

/** Why an item that did not succeed ended: its error, else why it was stopped. */
function itemError(record: ItemResult): { category: string; message: string } | undefined {
  if (SUCCESSFUL.has(record.status)) return undefined;
  if (record.error) return { category: record.error.category, message: record.error.message };
  return { category: record.status, message: record.stopReason ?? record.status };
}

function countErrors(groups: Map<string, ErrorSum>, category: string, message: string, itemId: string): void {
  const normalised = normaliseMessage(message, itemId);
  const group = entryOf(groups, `${category}\u0000${normalised}`, () => ({
    category,
    message: normalised,
    count: 0,
    itemIds: new Set<string>(),
    examples: [],
    example: message,
  }));
  group.count += 1;
  if (!group.itemIds.has(itemId)) {
    group.itemIds.add(itemId);
    if (group.examples.length < ERROR_EXAMPLES) group.examples.push(itemId);
  }
}

function topGroups(groups: Map<string, ErrorSum>): ErrorGroup[] {
  return [...groups.values()]
    .sort((a, b) => b.count - a.count || b.itemIds.size - a.itemIds.size || byText(a.message, b.message))
    .slice(0, TOP_ERRORS)
    .map((group) => ({
      category: group.category,
      message: group.message,
      count: group.count,
      items: group.itemIds.size,
      exampleItemIds: group.examples,
      example: group.example,
    }));
}

/** Counts sorted by count (descending), then by key, as `{ [keyName]: key, [countName]: count }`. */
function sortedCounts<K extends string, C extends string>(
  counts: Map<string, number>,
  keyName: K,
  countName: C,
): Array<Record<K, string> & Record<C, number>> {
  return [...counts.entries()]
    .sort(([a, countA], [b, countB]) => countB - countA || byText(a, b))
    .map(([key, count]) => ({ [keyName]: key, [countName]: count }) as Record<K, string> & Record<C, number>);
}

/** Code-point order: the same on every machine, whatever its locale. */
const byText = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

const bump = (counts: Map<string, number>, key: string) => counts.set(key, (counts.get(key) ?? 0) + 1);

const ratio = (part: number, whole: number) => (whole > 0 ? part / whole : 0);

/** Accumulates records one at a time; `finish()` gives the report. */
export class ReportBuilder {
  private items = 0;
  private calls = 0;
  private readonly byStatus = Object.fromEntries(ITEM_STATUSES.map((status) => [status, 0])) as Record<
    ItemStatus,
    number
  >;
  private readonly byCategory = new Map<string, number>();
  private readonly byFinishReason = new Map<string, number>();
  private readonly callsByOutcome = new Map<string, number>();
  private readonly itemErrors = new Map<string, ErrorSum>();
  private readonly callErrors = new Map<string, ErrorSum>();
  private readonly total = emptySpend();
  private readonly byStage = new Map<number, SpendSum & { mode: string; itemIds: number }>();
  private readonly byModel = new Map<string, SpendSum>();
  private readonly byRole = new Map<CallRole, SpendSum>(CALL_ROLES.map((role) => [role, emptySpend()]));
  private readonly byRoleOutcome = new Map<CallRole, Map<string, SpendSum>>(
    CALL_ROLES.map((role) => [role, new Map()]),
  );
  private readonly byOutcome = new Map<string, SpendSum>();
  private unpricedCalls = 0;
  private readonly byRoute = new Map<Route, SpendSum & { items: number }>(
    ROUTES.map((route) => [route, { ...emptySpend(), items: 0 }]),
  );
  private batchSavedUsd = 0;
  private answeredByBatch = 0;
  private neededOnline = 0;
  private readonly batchJobs = new Set<string>();
  private readonly batchDurations: number[] = [];
  private readonly durations: number[] = [];
  private readonly durationsByStage = new Map<number, number[]>();
  private readonly itemDurations: number[] = [];
  private readonly callsPerItem: number[] = [];
  private readonly stageReached = new Map<number, { items: number; succeeded: number }>();
  /** [startedAt, finishedAt, successful] of every item, and [endedAt, ok] of every online call (ms since the epoch). */
  private readonly itemTimes: Array<[number, number, boolean]> = [];
  private readonly callTimes: Array<[number, boolean]> = [];

  add(record: ItemResult): this {
    this.items += 1;
    this.byStatus[record.status] = (this.byStatus[record.status] ?? 0) + 1;
    const successful = SUCCESSFUL.has(record.status);
    const error = itemError(record);
    if (error) {
      bump(this.byCategory, error.category);
      countErrors(this.itemErrors, error.category, error.message, record.itemId);
    }
    bump(this.byFinishReason, record.metadata?.finishReason ?? '(no answer)');
    const accepted = acceptedCall(record);
    const stagesCalled = new Set<number>();
    let lastStage = 0;
    let batchCalls = 0;
    for (const attempt of record.attempts) {
      this.calls += 1;
      bump(this.callsByOutcome, attempt.outcome);
      addCall(this.total, attempt);
      const stage = entryOf(this.byStage, attempt.stage, () => ({ ...emptySpend(), mode: attempt.mode, itemIds: 0 }));
      addCall(stage, attempt);
      if (!stagesCalled.has(attempt.stage)) {
        stagesCalled.add(attempt.stage);
        stage.itemIds += 1;
      }
      addCall(entryOf(this.byModel, attempt.model, emptySpend), attempt);
      const role = roleOf(attempt, accepted);
      addCall(entryOf(this.byRole, role, emptySpend), attempt);
      addCall(
        entryOf(
          entryOf(this.byRoleOutcome, role, () => new Map()),
          attempt.outcome,
          emptySpend,
        ),
        attempt,
      );
      addCall(entryOf(this.byOutcome, attempt.outcome, emptySpend), attempt);
      if (attempt.costUsd === undefined) this.unpricedCalls += 1;
      if (attempt.via === 'batch') {
        // Its duration is its job's: a turnaround, kept apart from the latency of online calls and the timeline.
        batchCalls += 1;
        addCall(this.routeSum('batch'), attempt);
        this.batchSavedUsd += batchSavingUsd(attempt.costUsd ?? 0);
        if (attempt.batchJob) this.batchJobs.add(attempt.batchJob);
        this.batchDurations.push(attempt.durationMs);
      } else {
        addCall(this.routeSum('online'), attempt);
        this.durations.push(attempt.durationMs);
        entryOf(this.durationsByStage, attempt.stage, () => []).push(attempt.durationMs);
        const started = Date.parse(attempt.startedAt);
        if (Number.isFinite(started)) this.callTimes.push([started + attempt.durationMs, attempt.outcome === 'ok']);
      }
      if (attempt.outcome !== 'ok')
        countErrors(this.callErrors, attempt.outcome, attempt.message ?? attempt.outcome, record.itemId);
      lastStage = Math.max(lastStage, attempt.stage);
    }
    const onlineCalls = record.attempts.length - batchCalls;
    if (batchCalls > 0) this.routeSum('batch').items += 1;
    if (onlineCalls > 0) this.routeSum('online').items += 1;
    const route = batchRouteOf(batchCalls, record.attempts.length);
    if (route === 'batch') this.answeredByBatch += 1;
    else if (route === 'online') this.neededOnline += 1;
    this.callsPerItem[record.attempts.length] = (this.callsPerItem[record.attempts.length] ?? 0) + 1;
    const reached = entryOf(this.stageReached, lastStage, () => ({ items: 0, succeeded: 0 }));
    reached.items += 1;
    if (successful) reached.succeeded += 1;
    this.itemDurations.push(record.durationMs);
    const started = Date.parse(record.startedAt);
    const finished = Date.parse(record.finishedAt);
    if (Number.isFinite(started) && Number.isFinite(finished)) this.itemTimes.push([started, finished, successful]);
    return this;
  }

  finish(context: { batchId: string; source: string; generatedAt?: string; batch?: BatchInfo }): BatchReport {
    const totalCost = roundUsd(this.total.costUsd);
    const spend = (sum: SpendSum): Spend => ({
      calls: sum.calls,
      inputTokens: sum.inputTokens,
      outputTokens: sum.outputTokens,
      cachedTokens: sum.cachedTokens,
      thoughtsTokens: sum.thoughtsTokens,
      costUsd: roundUsd(sum.costUsd),
      costShare: ratio(sum.costUsd, this.total.costUsd),
    });
    /** Rows of a map of sums, most expensive first (then most calls, then by name). */
    const rows = <K extends string>(sums: Map<string, SpendSum>, keyName: K) =>
      [...sums.entries()]
        .sort(([a, x], [b, y]) => y.costUsd - x.costUsd || y.calls - x.calls || byText(a, b))
        .map(([key, sum]) => ({ [keyName]: key, ...spend(sum) }) as Spend & Record<K, string>);
    const notAccepted = emptySpend();
    for (const role of CALL_ROLES) if (role !== 'accepted') merge(notAccepted, this.byRole.get(role) ?? emptySpend());
    const window = this.window();
    const succeeded = this.byStatus.succeeded + this.byStatus.filtered;
    return {
      format: REPORT_FORMAT,
      batchId: context.batchId,
      generatedAt: context.generatedAt ?? new Date().toISOString(),
      source: context.source,
      ...(context.batch ? { batch: context.batch } : {}),
      items: this.items,
      calls: this.calls,
      window,
      itemsPerMinute: window.durationMs > 0 ? (this.items * 60_000) / window.durationMs : 0,
      successRate: ratio(succeeded, this.items),
      byStatus: { ...this.byStatus },
      byCategory: sortedCounts(this.byCategory, 'category', 'items'),
      byFinishReason: sortedCounts(this.byFinishReason, 'finishReason', 'items'),
      callsByOutcome: sortedCounts(this.callsByOutcome, 'outcome', 'calls'),
      topErrors: topGroups(this.itemErrors),
      topCallErrors: topGroups(this.callErrors),
      spend: {
        total: { ...spend(this.total), costUsd: totalCost, costShare: this.total.calls > 0 ? 1 : 0 },
        byStage: [...this.byStage.entries()]
          .sort(([a], [b]) => a - b)
          .map(([stage, sum]) => ({ stage, mode: sum.mode, items: sum.itemIds, ...spend(sum) })),
        byModel: rows(this.byModel, 'model'),
        byRole: CALL_ROLES.map((role) => ({
          role,
          ...spend(this.byRole.get(role) ?? emptySpend()),
          outcomes: rows(this.byRoleOutcome.get(role) ?? new Map<string, SpendSum>(), 'outcome'),
        })),
        byOutcome: rows(this.byOutcome, 'outcome'),
        notAccepted: {
          calls: notAccepted.calls,
          costUsd: roundUsd(notAccepted.costUsd),
          costShare: ratio(notAccepted.costUsd, this.total.costUsd),
        },
        unpricedCalls: this.unpricedCalls,
      },
      ...(this.routeSum('batch').calls > 0 ? { batchApi: this.batchApiReport(spend) } : {}),
      latency: {
        all: latencyOf(this.durations),
        byStage: [...this.durationsByStage.entries()]
          .sort(([a], [b]) => a - b)
          .map(([stage, durations]) => ({ stage, ...latencyOf(durations) })),
        items: latencyOf(this.itemDurations),
      },
      callsPerItem: this.callsPerItemRows(),
      stageReached: [...this.stageReached.entries()]
        .sort(([a], [b]) => a - b)
        .map(([stage, counts]) => ({ stage, ...counts })),
      timeline: this.timeline(window),
    };
  }

  private routeSum(route: Route): SpendSum & { items: number } {
    return entryOf(this.byRoute, route, () => ({ ...emptySpend(), items: 0 }));
  }

  private batchApiReport(spend: (sum: SpendSum) => Spend): BatchApiReport {
    return {
      byRoute: ROUTES.map((route) => {
        const sum = this.routeSum(route);
        return { route, items: sum.items, ...spend(sum) };
      }),
      savedUsd: roundUsd(this.batchSavedUsd),
      costAtOnlinePricesUsd: roundUsd(this.total.costUsd + this.batchSavedUsd),
      answeredByBatch: this.answeredByBatch,
      neededOnline: this.neededOnline,
      jobs: this.batchJobs.size,
      turnaround: latencyOf(this.batchDurations),
    };
  }

  private callsPerItemRows(): BatchReport['callsPerItem'] {
    const fewest = this.callsPerItem.findIndex((items) => items !== undefined);
    if (fewest < 0) return [];
    return Array.from({ length: this.callsPerItem.length - fewest }, (_, offset) => ({
      calls: fewest + offset,
      items: this.callsPerItem[fewest + offset] ?? 0,
    }));
  }

  private window(): BatchReport['window'] {
    if (this.itemTimes.length === 0) return { startedAt: null, finishedAt: null, durationMs: 0 };
    let first = Infinity;
    let last = -Infinity;
    for (const [started, finished] of this.itemTimes) {
      first = Math.min(first, started, finished);
      last = Math.max(last, finished);
    }
    return {
      startedAt: new Date(first).toISOString(),
      finishedAt: new Date(last).toISOString(),
      durationMs: last - first,
    };
  }

  private timeline(window: BatchReport['window']): BatchReport['timeline'] {
    if (window.startedAt === null || window.finishedAt === null) return { bucketMs: 0, buckets: [] };
    const from = Date.parse(window.startedAt);
    const to = Date.parse(window.finishedAt);
    const bucketMs = bucketSizeFor(to - from);
    const count = Math.max(1, Math.ceil((to - from) / bucketMs));
    const buckets = Array.from({ length: count }, () => ({ finished: 0, unsuccessful: 0, calls: 0, callErrors: 0 }));
    const at = (time: number) => buckets[Math.min(count - 1, Math.max(0, Math.floor((time - from) / bucketMs)))];
    for (const [, finished, successful] of this.itemTimes) {
      const bucket = at(finished);
      if (!bucket) continue;
      bucket.finished += 1;
      if (!successful) bucket.unsuccessful += 1;
    }
    for (const [ended, ok] of this.callTimes) {
      const bucket = at(ended);
      if (!bucket) continue;
      bucket.calls += 1;
      if (!ok) bucket.callErrors += 1;
    }
    return {
      bucketMs,
      buckets: buckets.map((bucket, index) => {
        const start = from + index * bucketMs;
        // Items finishing at the window's very end count in the last bucket; a bucket cut short by the end is
        // rated by its time inside the window (at least a second, so one item alone makes no spike).
        const inside = Math.max(1_000, Math.min(bucketMs, to - start));
        return {
          start: new Date(start).toISOString(),
          offsetMs: index * bucketMs,
          finished: bucket.finished,
          unsuccessful: bucket.unsuccessful,
          itemsPerMinute: (bucket.finished * 60_000) / inside,
          errorRate: ratio(bucket.unsuccessful, bucket.finished),
          calls: bucket.calls,
          callErrors: bucket.callErrors,
          callErrorRate: ratio(bucket.callErrors, bucket.calls),
        };
      }),
    };
  }
}

function merge(into: SpendSum, from: SpendSum): void {
  into.calls += from.calls;
  into.inputTokens += from.inputTokens;
  into.outputTokens += from.outputTokens;
  into.cachedTokens += from.cachedTokens;
  into.thoughtsTokens += from.thoughtsTokens;
  into.costUsd += from.costUsd;
}

/** The report of `records` (any order): the builder over an array, for tests and small batches. */
export function buildReport(
  records: Iterable<ItemResult>,
  context: { batchId: string; source: string; generatedAt?: string; batch?: BatchInfo },
): BatchReport {
  const builder = new ReportBuilder();
  for (const record of records) builder.add(record);
  return builder.finish(context);
}
