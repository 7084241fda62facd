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
}

/** For each call, how long to wait (from when the answer arrives) before starting it. */
export interface AdmitCallsOutput {
  delaysMs: number[];
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
