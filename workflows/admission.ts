/**
 * Admission for one quota scope (pure, deterministic: the quota-scope workflow runs it). Each call
 * gets a start time that keeps the scope under its requests-per-minute and input-tokens-per-minute
 * limits in every sliding 60-second window, like Google counts them, with the calls spread evenly
 * instead of bursting: pacing (one request every 60 s / RPM, and tokens at TPM / 60 s) plus an
 * exact sliding-window check on what was granted.
 */
import type { AdmissionLimits, AdmissionState } from '../src/contract/states';

export type { AdmissionLimits, AdmissionState } from '../src/contract/states';

/** The window Google's per-minute quotas slide over. */
export const WINDOW_MS = 60_000;

/**
 * Share of each limit admission plans for. The rest absorbs what admission cannot see: the
 * delay between a granted start and the request reaching the API, which differs per call.
 */
export const HEADROOM = 0.98;

export function emptyAdmission(): AdmissionState {
  return { nextRequestAt: 0, nextTokenAt: 0, recent: [], granted: 0, grantedTokens: 0 };
}

/** Pacing slows to half speed while the scope ramps back after a 429 cooldown. */
export interface Cooldown {
  until: number;
  rampMs: number;
}

/**
 * How admission paces: `burst` > 1 lets calls come that many times faster than the RPM limit while
 * the sliding window has room (the window check still holds the limit); 1 spreads them evenly.
 */
export interface Pacing {
  burst: number;
}

const EVEN: Pacing = Object.freeze({ burst: 1 });

/**
 * Grants one call of `tokens` estimated input tokens a start time (epoch ms, ≥ now) and records it.
 * A call larger than the whole token limit is charged the limit: it can never fit, and the API's
 * own 429 tells the caller so.
 */
export function admitCall(
  state: AdmissionState,
  limits: AdmissionLimits,
  now: number,
  tokens: number,
  cooldown: Cooldown,
): number {
  const start = plannedStart(state, limits, now, tokens, cooldown);
  recordGrant(state, limits, start, tokens, cooldown);
  return start;
}

/** The start `admitCall` would grant now, without granting it. */
export function plannedStart(
  state: AdmissionState,
  limits: AdmissionLimits,
  now: number,
  tokens: number,
  cooldown: Cooldown,
): number {
  prune(state, now);
  const requestLimit = limits.requestsPerMinute === undefined ? undefined : limits.requestsPerMinute * HEADROOM;
  const tokenLimit = limits.tokensPerMinute === undefined ? undefined : limits.tokensPerMinute * HEADROOM;
  const charged = chargedTokens(limits, tokens);
  let start = Math.max(now, cooldown.until);
  if (requestLimit !== undefined) {
    start = Math.max(start, state.nextRequestAt);
    // At most floor(limit) grants in any window: the one `limit` places back must have left it.
    const allowed = Math.max(1, Math.floor(requestLimit));
    const blocking = state.recent[state.recent.length - allowed];
    if (blocking) start = Math.max(start, blocking[0] + WINDOW_MS);
  }
  if (tokenLimit !== undefined) {
    start = Math.max(start, state.nextTokenAt);
    let held = state.recent.reduce((sum, [, grantTokens]) => sum + grantTokens, 0);
    for (const [grantStart, grantTokens] of state.recent) {
      if (held + charged <= tokenLimit) break;
      held -= grantTokens;
      start = Math.max(start, grantStart + WINDOW_MS);
    }
  }
  return start;
}

/** Records a grant of `start` (from plannedStart): pacing moves on, the window holds it. */
export function recordGrant(
  state: AdmissionState,
  limits: AdmissionLimits,
  start: number,
  tokens: number,
  cooldown: Cooldown,
  pacing: Pacing = EVEN,
): void {
  const charged = chargedTokens(limits, tokens);
  const slowdown = start < cooldown.until + cooldown.rampMs ? 2 : 1;
  if (limits.requestsPerMinute !== undefined)
    state.nextRequestAt = start + (WINDOW_MS / (limits.requestsPerMinute * HEADROOM * pacing.burst)) * slowdown;
  if (limits.tokensPerMinute !== undefined)
    state.nextTokenAt = start + ((charged * WINDOW_MS) / (limits.tokensPerMinute * HEADROOM)) * slowdown;
  state.recent.push([start, charged]);
  state.granted += 1;
  state.grantedTokens += charged;
}

/** A call larger than the whole token limit is charged the limit. */
function chargedTokens(limits: AdmissionLimits, tokens: number): number {
  const tokenLimit = limits.tokensPerMinute === undefined ? undefined : limits.tokensPerMinute * HEADROOM;
  return tokenLimit === undefined ? Math.max(0, tokens) : Math.min(Math.max(0, tokens), tokenLimit);
}

/**
 * A call used `extraTokens` more (or fewer, when negative) input tokens than it was admitted
 * with: later calls wait for (or gain) that much. An over-estimate only shortens pacing, never
 * the window record, so the window stays conservative.
 */
export function correctTokens(state: AdmissionState, limits: AdmissionLimits, now: number, extraTokens: number): void {
  if (limits.tokensPerMinute === undefined || extraTokens === 0) return;
  const perToken = WINDOW_MS / (limits.tokensPerMinute * HEADROOM);
  if (extraTokens > 0) {
    // Charged to the latest grant: the one that stays in the window longest.
    const last = state.recent.at(-1);
    if (last) last[1] += extraTokens;
    state.nextTokenAt = Math.max(state.nextTokenAt, now) + extraTokens * perToken;
    state.grantedTokens += extraTokens;
  } else {
    state.nextTokenAt = Math.max(now, state.nextTokenAt + extraTokens * perToken);
  }
}

/** Grants whose start is within the last 60 s, or later. */
export function windowGrants(state: AdmissionState, now: number): number {
  prune(state, now);
  return state.recent.length;
}

function prune(state: AdmissionState, now: number): void {
  let drop = 0;
  while (drop < state.recent.length && state.recent[drop]![0] + WINDOW_MS <= now) drop += 1;
  if (drop > 0) state.recent.splice(0, drop);
}
