import { condition, continueAsNew, defineQuery, defineSignal, setHandler, workflowInfo } from '@temporalio/workflow';

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
}

export interface QuotaScopeInput {
  scope: string;
  baseCooldownMs?: number;
  maxCooldownMs?: number;
  carried?: QuotaScopeState;
}

/** A call was answered 429: start (or extend) the scope's cooldown. */
export const rateLimitedSignal = defineSignal<[{ suggestedWaitMs?: number }]>('rateLimited');
export const quotaScopeQuery = defineQuery<QuotaScopeState>('quotaScope');

/** Ends after this long without a 429: the next one starts it again (signal-with-start). */
const IDLE_MS = 10 * 60_000;
const MAX_EVENTS_PER_RUN = 2000;

/**
 * Coordinated 429 cooldown for one quota scope, across every worker: the first 429 pauses new
 * calls for the suggested wait (floor: RetryInfo / Retry-After; growing ×2 with repeated 429s, up
 * to a cap); calls already in flight finish; afterwards callers ramp back with a spread start.
 */
export async function quotaScopeWorkflow(input: QuotaScopeInput): Promise<QuotaScopeState> {
  const base = input.baseCooldownMs ?? 1_000;
  const cap = input.maxCooldownMs ?? 120_000;
  const state: QuotaScopeState = input.carried ?? { cooldownUntil: 0, rampMs: 0, consecutive: 0, cooldowns: 0, rateLimits: 0 };
  let lastSignalAt = Date.now();
  setHandler(quotaScopeQuery, () => state);
  setHandler(rateLimitedSignal, ({ suggestedWaitMs }) => {
    const now = Date.now();
    lastSignalAt = now;
    state.rateLimits += 1;
    const cooling = now < state.cooldownUntil;
    if (cooling) return; // a 429 from a call already in flight when the cooldown began
    // A 429 soon after the last cooldown ended means the quota is still tight: grow the wait.
    state.consecutive = now < state.cooldownUntil + state.rampMs + base ? state.consecutive + 1 : 1;
    const wait = Math.min(cap, Math.max(suggestedWaitMs ?? 0, base * 2 ** (state.consecutive - 1)));
    state.cooldownUntil = now + wait;
    state.rampMs = Math.min(wait, 5_000);
    state.cooldowns += 1;
  });
  for (;;) {
    const idleFor = IDLE_MS - (Date.now() - lastSignalAt);
    if (idleFor <= 0 && Date.now() > state.cooldownUntil + state.rampMs) return state;
    const before = lastSignalAt;
    await condition(() => lastSignalAt !== before, Math.max(idleFor, 1_000));
    if (workflowInfo().historyLength > MAX_EVENTS_PER_RUN) await continueAsNew<typeof quotaScopeWorkflow>({ ...input, carried: state });
  }
}
