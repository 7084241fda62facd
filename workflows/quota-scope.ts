import { allHandlersFinished, condition, continueAsNew, setHandler, workflowInfo } from '@temporalio/workflow';
import { admitCallsUpdate, quotaScopeQuery, rateLimitedSignal } from '../src/contract/messages';
import type { QuotaScopeInput, QuotaScopeState } from '../src/contract/states';
import { admitUnderAdaptiveRate, newAdaptiveRate, rateLimited, recordOutcomes } from './adaptive-rate';
import { admitCall, correctTokens, emptyAdmission, windowGrants } from './admission';

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
 *   finish; afterwards calls ramp back (half-speed pacing, or a spread start without limits);
 * - `--concurrency auto` (adaptive-rate.ts): calls of auto batches are admitted under a rate the
 *   scope learns from their outcomes (reported with the admission requests); their 429s lower
 *   that rate rather than pausing the scope, and the admission window gives the quota time to drain.
 */
export async function quotaScopeWorkflow(input: QuotaScopeInput): Promise<QuotaScopeState> {
  const base = input.baseCooldownMs ?? 1_000;
  const cap = input.maxCooldownMs ?? 120_000;
  const state: QuotaScopeState = input.carried ?? {
    cooldownUntil: 0,
    rampMs: 0,
    consecutive: 0,
    cooldowns: 0,
    rateLimits: 0,
  };
  let lastActivityAt = Date.now();
  let events = 0;
  setHandler(quotaScopeQuery, () => state);
  setHandler(rateLimitedSignal, ({ suggestedWaitMs, adaptive, admittedAt }) => {
    const now = Date.now();
    lastActivityAt = now;
    events += 1;
    state.rateLimits += 1;
    if (adaptive) {
      // A pause of every worker would waste the quota: the rate falls instead, and the calls
      // already over it wait for the window to drain (admission's window check).
      const rate = (state.adaptive ??= newAdaptiveRate(now));
      const admission = (state.admission ??= emptyAdmission());
      rateLimited(rate, now, admittedAt ?? now, windowGrants(admission, now));
      return;
    }
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
    ({ limits, calls, tokenCorrection, adaptive, outcomes }) => {
      const now = Date.now();
      lastActivityAt = now;
      events += 1;
      state.limits = limits;
      const admission = (state.admission ??= emptyAdmission());
      if (tokenCorrection) correctTokens(admission, limits, now, tokenCorrection);
      const cooldown = { until: state.cooldownUntil, rampMs: state.rampMs };
      if (adaptive) {
        const rate = (state.adaptive ??= newAdaptiveRate(now));
        if (outcomes) recordOutcomes(rate, now, outcomes);
        return admitUnderAdaptiveRate(admission, rate, limits, now, calls, cooldown);
      }
      return { delaysMs: calls.map(({ tokens }) => admitCall(admission, limits, now, tokens, cooldown) - now) };
    },
    {
      validator: ({ limits, calls }) => {
        for (const limit of [limits.requestsPerMinute, limits.tokensPerMinute]) {
          if (limit !== undefined && !(limit > 0))
            throw new Error(`admission limits must be positive, got ${JSON.stringify(limits)}`);
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
