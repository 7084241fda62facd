import { allHandlersFinished, condition, continueAsNew, defineQuery, defineSignal, defineUpdate, setHandler, workflowInfo } from '@temporalio/workflow';
import { admitCall, correctTokens, emptyAdmission, type AdmissionLimits, type AdmissionState } from './admission';

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

/** A call was answered 429: start (or extend) the scope's cooldown. */
export const rateLimitedSignal = defineSignal<[{ suggestedWaitMs?: number }]>('rateLimited');
export const quotaScopeQuery = defineQuery<QuotaScopeState>('quotaScope');
/** Grants start times to calls so the scope stays within its per-minute limits. */
export const admitCallsUpdate = defineUpdate<AdmitCallsOutput, [AdmitCallsInput]>('admitCalls');

/** Ends after this long without a 429 or an admission: the next one starts it again. */
const IDLE_MS = 10 * 60_000;
const MAX_EVENTS_PER_RUN = 2000;
/** Longest ramp back after a cooldown. */
const MAX_RAMP_MS = 5_000;

/**
 * One quota scope, across every worker process:
 * - admission: each call asks for a start time (`admitCalls`, batched per worker); the workflow
 *   paces calls under the scope's RPM and TPM limits (see admission.ts);
 * - coordinated 429 cooldown: the first 429 pauses new calls for the suggested wait (floor:
 *   RetryInfo / Retry-After; growing ×2 with repeated 429s, up to a cap); calls already in flight
 *   finish; afterwards calls ramp back (half-speed pacing, or a spread start without limits).
 */
export async function quotaScopeWorkflow(input: QuotaScopeInput): Promise<QuotaScopeState> {
  const base = input.baseCooldownMs ?? 1_000;
  const cap = input.maxCooldownMs ?? 120_000;
  const state: QuotaScopeState = input.carried ?? { cooldownUntil: 0, rampMs: 0, consecutive: 0, cooldowns: 0, rateLimits: 0 };
  let lastActivityAt = Date.now();
  let events = 0;
  setHandler(quotaScopeQuery, () => state);
  setHandler(rateLimitedSignal, ({ suggestedWaitMs }) => {
    const now = Date.now();
    lastActivityAt = now;
    events += 1;
    state.rateLimits += 1;
    const cooling = now < state.cooldownUntil;
    if (cooling) return; // a 429 from a call already in flight when the cooldown began
    // A 429 soon after the last cooldown ended means the quota is still tight: grow the wait.
    state.consecutive = now < state.cooldownUntil + state.rampMs + base ? state.consecutive + 1 : 1;
    const wait = Math.min(cap, Math.max(suggestedWaitMs ?? 0, base * 2 ** (state.consecutive - 1)));
    state.cooldownUntil = now + wait;
    state.rampMs = Math.min(wait, MAX_RAMP_MS);
    state.cooldowns += 1;
  });
  setHandler(
    admitCallsUpdate,
    ({ limits, calls, tokenCorrection }) => {
      const now = Date.now();
      lastActivityAt = now;
      events += 1;
      state.limits = limits;
      const admission = (state.admission ??= emptyAdmission());
      if (tokenCorrection) correctTokens(admission, limits, now, tokenCorrection);
      const cooldown = { until: state.cooldownUntil, rampMs: state.rampMs };
      return { delaysMs: calls.map(({ tokens }) => admitCall(admission, limits, now, tokens, cooldown) - now) };
    },
    {
      validator: ({ limits, calls }) => {
        for (const limit of [limits.requestsPerMinute, limits.tokensPerMinute]) {
          if (limit !== undefined && !(limit > 0)) throw new Error(`admission limits must be positive, got ${JSON.stringify(limits)}`);
        }
        if (!Array.isArray(calls) || calls.length === 0) throw new Error('admitCalls needs at least one call');
      },
    },
  );
  for (;;) {
    const idleFor = IDLE_MS - (Date.now() - lastActivityAt);
    const lastGrant = state.admission?.recent.at(-1)?.[0] ?? 0;
    if (idleFor <= 0 && Date.now() > Math.max(state.cooldownUntil + state.rampMs, lastGrant)) break;
    const before = events;
    await condition(() => events !== before, Math.max(idleFor, 1_000));
    if (workflowInfo().historyLength > MAX_EVENTS_PER_RUN) {
      await condition(allHandlersFinished);
      await continueAsNew<typeof quotaScopeWorkflow>({ ...input, carried: state });
    }
  }
  await condition(allHandlersFinished);
  return state;
}
