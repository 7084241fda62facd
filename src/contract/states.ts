/**
 * The state types the messages below carry: what a query answers, what an update takes and
 * returns. Types only; the workflows own the values.
 */
import type { CacheGrant, CachePlan } from '../caching/spec';
import type { AttemptRecord, ItemError, ItemStatus, Stage, Usage } from '../schemas';
import type { PartialState } from '../stages';

/**
 * Live state of one item. The workflow's local variables are the whole retry state: a crash at
 * any point resumes from history exactly here, never from activity memory.
 */
export interface ItemState {
  status: 'running' | ItemStatus;
  /** 1-based index into the stage plan. */
  stage: number;
  stagePlan: Stage[];
  /** Physical model calls so far, transient retries included. */
  modelCalls: number;
  maxModelCalls: number;
  usage: Usage;
  attempts: AttemptRecord[];
  /** Fields that validated so far, and those still to repair. */
  partial?: PartialState;
  /** Why a `cancelled` or `deadline_exceeded` item stopped. */
  stopReason?: string;
  /** Set while the one retry after a safety block (if the task allows it) is under way. */
  retryAfterBlock?: boolean;
  /** The context cache full prompts use (refreshed once per stage if it vanishes). */
  cache?: { name: string; ownerWorkflowId: string; model: string } | undefined;
  lastError?: ItemError;
}

/** Limits of a quota scope; an omitted limit is not enforced. */
export interface AdmissionLimits {
  requestsPerMinute?: number;
  tokensPerMinute?: number;
}

export interface AdmissionState {
  /** Earliest start of the next call under request pacing. */
  nextRequestAt: number;
  /** Earliest start of the next call under token pacing. */
  nextTokenAt: number;
  /** Grants whose start is within the last minute or later: [startAt, tokens], by start time. */
  recent: Array<[number, number]>;
  granted: number;
  grantedTokens: number;
}

/** What callers of one quota scope (model + API key + task queue) must respect right now. */
export interface QuotaScopeState {
  /** Epoch ms until which no new call may start. */
  cooldownUntil: number;
  /** After a cooldown, callers spread their restart over this many ms (the ramp back). */
  rampMs: number;
  /** 429s in a row (each within the previous cooldown's reach); the cooldown grows with them. */
  consecutive: number;
  /** Cooldowns started (several 429s inside one cooldown count once). */
  cooldowns: number;
  rateLimits: number;
  /** Admission (when workers run with RPM/TPM limits): pacing and what was granted. */
  admission?: AdmissionState;
  /** The limits the last admission request carried. */
  limits?: AdmissionLimits;
  /** `--concurrency auto`: the request rate the scope learned from the provider's answers. */
  adaptive?: AdaptiveRateState;
}

/** The adaptive request rate of a quota scope (workflows/adaptive-rate.ts); carried across continue-as-new. */
export interface AdaptiveRateState {
  /** Requests per minute the scope admits now (under the workers' RPM, when they have one). */
  rpm: number;
  /** Where the quota last bit (calls that got through in the minute before a 429); none until then. */
  ceilingRpm?: number;
  /** When the rate last fell (epoch ms; 0: never). */
  decreasedAt: number;
  /** The rate right after that fall: where the cubic climb starts. */
  climbFromRpm: number;
  /** Falls with no success in between: each falls harder. */
  fallsInARow: number;
  /** When the rate was last advanced. */
  grownAt: number;
  /** Latencies (ms) of recent successful calls, newest last. */
  latenciesMs: number[];
  baselineLatencyMs?: number;
  /** When the 429s of the last minute arrived (they do not count towards the quota). */
  recentRateLimits: number[];
  succeeded: number;
  rateLimited: number;
  decreases: number;
  latencyDecreases: number;
}

/** What a worker's calls in auto mode did since its last admission request. */
export interface CallOutcomes {
  succeeded: number;
  /** Latencies of some of them (at most a few dozen), newest last. */
  latenciesMs: number[];
}

export interface QuotaScopeInput {
  scope: string;
  baseCooldownMs?: number;
  maxCooldownMs?: number;
  carried?: QuotaScopeState;
}

/** Calls a worker wants to start, with their estimated input tokens. */
export interface AdmitCallsInput {
  limits: AdmissionLimits;
  calls: Array<{ tokens: number }>;
  /** Input tokens this worker's finished calls used beyond (or, negative, below) their estimates. */
  tokenCorrection?: number;
  /** `--concurrency auto`: admit under the scope's adaptive rate (the limits stay hard caps). */
  adaptive?: boolean;
  /** Auto mode: what this worker's calls did since its last request (no extra write per call). */
  outcomes?: CallOutcomes;
}

/** For each call, how long to wait (from when the answer arrives) before starting it. */
export interface AdmitCallsOutput {
  delaysMs: number[];
  /**
   * Auto mode grants start times only a moment ahead, so a fall of the rate applies at once: the
   * calls listed here (indexes) are not admitted yet and ask again after their delay.
   */
  askAgain?: number[];
  /** Auto mode: the scope's rate now (requests per minute). */
  rpm?: number;
  /** Auto mode: the scope's time of these grants, which a 429 report gives back (`RateLimitedInput.admittedAt`). */
  admittedAt?: number;
}

/** A call was answered 429. */
export interface RateLimitedInput {
  suggestedWaitMs?: number;
  /** The call ran under the adaptive rate: its 429 lowers the rate instead of pausing the scope. */
  adaptive?: boolean;
  /** When the scope admitted the call (epoch ms): a 429 of a call admitted before the rate last fell is not news. */
  admittedAt?: number;
}

/** What the owner of one context cache knows; carried across continue-as-new. */
export interface CacheOwnerState {
  plan: CachePlan;
  grant?: CacheGrant | undefined;
  /** Batch ids holding a lease. */
  leases: string[];
  creations: number;
  renewals: number;
  /** When this owner started holding the current cache (for storage accounting). */
  heldSince?: string;
}

export interface CacheOwnerInput {
  plan: CachePlan;
  carried?: Omit<CacheOwnerState, 'plan'>;
}

export interface CacheOwnerOutput {
  displayName: string;
  lastName?: string;
  creations: number;
  renewals: number;
  deleted: boolean;
}
