/**
 * Adaptive request rate of one quota scope (`--concurrency auto`): pure and deterministic, the
 * quota-scope workflow runs it. The scope admits calls at `rpm`, learned from what the provider
 * answers:
 * - fast start: the rate doubles every DOUBLING_MS while calls succeed, the workers want more and
 *   at least half of it is used;
 * - on a 429 the rate falls to a share of where the quota bit (CUBIC-like): the quota counts
 *   requests per minute, so the rate where it bit is the calls the scope let through in the last
 *   60 s. The first fall is gentle (×0.9); 429s with no success in between fall harder (×0.75, ×0.5);
 * - afterwards it climbs back along a cubic curve: quickly towards that ceiling, slowly near it,
 *   then faster again beyond it (the quota may have grown);
 * - a latency jump (recent median over twice the baseline) also lowers it, once per jump.
 * One fall per congestion event: a 429 of a call admitted before the last fall says nothing new.
 */
import type {
  AdaptiveRateState,
  AdmissionLimits,
  AdmissionState,
  AdmitCallsOutput,
  CallOutcomes,
} from '../src/contract/states';
import { plannedStart, recordGrant, WINDOW_MS, type Cooldown } from './admission';

export type { AdaptiveRateState, CallOutcomes } from '../src/contract/states';

/** Where the rate starts: one call a second. */
export const INITIAL_RPM = 60;
/** The rate never falls below one call a minute, so the scope keeps probing. */
export const MIN_RPM = 1;
/** Far above any quota: the rate stops growing here (the batch's item window bounds it anyway). */
export const MAX_RPM = 1_000_000;
/** Fast start: the rate doubles this often, until the first 429 or latency jump. */
export const DOUBLING_MS = 10_000;
/** Decrease factors: the first fall, then falls with no success in between. */
export const DECREASE_FACTORS = [0.9, 0.75, 0.5] as const;
/** Time the cubic climb takes from a first (×0.9) fall back to the ceiling. */
export const CLIMB_MS = 60_000;
/** A recent median latency above this multiple of the baseline is a latency jump. */
export const LATENCY_JUMP = 2;
/**
 * Start times are granted at most this far ahead: a fall of the rate then holds back every call
 * not yet granted, instead of letting a queue of grants at the old rate run into the quota.
 */
export const GRANT_HORIZON_MS = 250;
/** After the first fall, calls may come this many times faster than the rate while the window has room. */
export const CATCH_UP_BURST = 2;
/** In the fast start, the rate grows only while the calls granted in the last USE_SPAN_MS come to this share of it. */
export const USED_SHARE = 0.5;
const USE_SPAN_MS = 5_000;
/** A call not granted yet asks again within this long, so a rise of the rate reaches it. */
export const MAX_ASK_AGAIN_MS = 5_000;
/** Latencies kept (newest last) for the recent median; a jump is judged on at least half of them. */
const LATENCY_SAMPLES = 32;
/** 429 times kept (bounded state; beyond this many a minute the count is a floor). */
const MAX_RECENT_RATE_LIMITS = 500;
/** Beyond the ceiling the cubic climbs this many times faster than towards it. */
export const CONVEX_STEEPNESS = 4;
/** One fall takes the ceiling to no less than this share of the rate. */
export const MAX_CUT = 0.2;
/** Cubic coefficient (relative to the ceiling, per s³): a ×0.9 fall climbs back in CLIMB_MS. */
const CUBIC = (1 - DECREASE_FACTORS[0]) / (CLIMB_MS / 1000) ** 3;

export function newAdaptiveRate(now: number): AdaptiveRateState {
  return {
    rpm: INITIAL_RPM,
    decreasedAt: 0,
    climbFromRpm: INITIAL_RPM,
    fallsInARow: 0,
    grownAt: now,
    latenciesMs: [],
    recentRateLimits: [],
    succeeded: 0,
    rateLimited: 0,
    decreases: 0,
    latencyDecreases: 0,
  };
}

/**
 * Advances the rate to `now`. It grows only while the workers asked for more than it admits
 * (`demandExceeded`): a rate nobody uses proves nothing, so the climb waits meanwhile.
 */
export function growRate(state: AdaptiveRateState, now: number, demandExceeded: boolean): void {
  const elapsed = Math.max(0, now - state.grownAt);
  state.grownAt = now;
  if (!demandExceeded) {
    if (state.decreasedAt > 0) state.decreasedAt += elapsed; // the cubic clock stops too
    return;
  }
  if (state.ceilingRpm === undefined) {
    state.rpm = Math.min(MAX_RPM, state.rpm * 2 ** (elapsed / DOUBLING_MS));
    return;
  }
  state.rpm = Math.min(MAX_RPM, Math.max(state.rpm, cubicRate(state, now)));
}

/** The cubic climb: from `climbFromRpm` at the fall, flat at the ceiling, convex beyond it. */
function cubicRate(state: AdaptiveRateState, now: number): number {
  const ceiling = state.ceilingRpm ?? state.rpm;
  const seconds = (now - state.decreasedAt) / 1000;
  const depth = Math.max(0, 1 - state.climbFromRpm / ceiling);
  const plateauAt = Math.cbrt(depth / CUBIC);
  // Beyond the ceiling the climb is steeper: a quota that grew is found within a minute or two.
  const steepness = seconds > plateauAt ? CONVEX_STEEPNESS : 1;
  return ceiling * (1 + steepness * CUBIC * (seconds - plateauAt) ** 3);
}

/**
 * A call admitted at `admittedAt` was answered 429. `windowCalls`: calls the scope let start in
 * the last 60 s (granted ones not yet started included). Returns whether the rate fell.
 */
export function rateLimited(state: AdaptiveRateState, now: number, admittedAt: number, windowCalls: number): boolean {
  state.rateLimited += 1;
  state.recentRateLimits = state.recentRateLimits.filter((at) => at + WINDOW_MS > now);
  state.recentRateLimits.push(now);
  if (state.recentRateLimits.length > MAX_RECENT_RATE_LIMITS) state.recentRateLimits.shift();
  if (admittedAt <= state.decreasedAt) return false; // admitted before the last fall: the same event
  // What got through in the last minute is where the quota bit (the 429s did not count); but one
  // event never cuts deeper than MAX_CUT: a stray 429 (another client of the key, an overloaded
  // provider) early in a minute would otherwise take the rate near zero.
  const passed = windowCalls - state.recentRateLimits.length;
  decrease(state, now, Math.min(state.rpm, Math.max(passed, state.rpm * MAX_CUT)));
  return true;
}

/** What a worker's finished calls reported; a latency jump lowers the rate. Returns whether it fell. */
export function recordOutcomes(state: AdaptiveRateState, now: number, outcomes: CallOutcomes): boolean {
  state.succeeded += outcomes.succeeded;
  // Successes reported soon after a fall may be of calls sent before it.
  if (outcomes.succeeded > 0 && now - state.decreasedAt > 2 * (state.baselineLatencyMs ?? 1_000)) state.fallsInARow = 0;
  if (outcomes.latenciesMs.length === 0) return false;
  state.latenciesMs = [...state.latenciesMs, ...outcomes.latenciesMs].slice(-LATENCY_SAMPLES);
  if (state.latenciesMs.length < LATENCY_SAMPLES / 2) return false;
  const recent = median(state.latenciesMs);
  if (state.baselineLatencyMs === undefined || recent < state.baselineLatencyMs) {
    state.baselineLatencyMs = recent;
    return false;
  }
  if (recent <= LATENCY_JUMP * state.baselineLatencyMs) return false;
  // A jump lowers the rate once; the latencies after it are the new baseline (a slower model is not congestion twice).
  delete state.baselineLatencyMs;
  state.latenciesMs = [];
  state.latencyDecreases += 1;
  decrease(state, now, state.rpm);
  return true;
}

function decrease(state: AdaptiveRateState, now: number, ceiling: number): void {
  const factor = DECREASE_FACTORS[Math.min(state.fallsInARow, DECREASE_FACTORS.length - 1)]!;
  state.ceilingRpm = ceiling;
  state.rpm = Math.max(MIN_RPM, ceiling * factor);
  state.climbFromRpm = state.rpm;
  state.decreasedAt = now;
  state.grownAt = now;
  state.fallsInARow += 1;
  state.decreases += 1;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/**
 * Admits calls under the adaptive rate (and under `limits`, hard caps when the workers have them):
 * those that may start within GRANT_HORIZON_MS get their start; the others are told when to ask
 * again, roughly in the order they would start. Then the rate grows if the calls wanted more.
 */
export function admitUnderAdaptiveRate(
  admission: AdmissionState,
  rate: AdaptiveRateState,
  limits: AdmissionLimits,
  now: number,
  calls: Array<{ tokens: number }>,
  cooldown: Cooldown,
): AdmitCallsOutput {
  const effective: AdmissionLimits = {
    ...limits,
    requestsPerMinute: Math.min(limits.requestsPerMinute ?? Infinity, rate.rpm),
  };
  // Once the quota has bitten, the window check holds the rate; pacing only smooths bursts, and
  // may run ahead of the rate to use room in the window (calls that left it, a pause before).
  const pacing = { burst: rate.ceilingRpm === undefined ? 1 : CATCH_UP_BURST };
  const interval = WINDOW_MS / effective.requestsPerMinute!;
  const delaysMs: number[] = [];
  const askAgain: number[] = [];
  let waited = false;
  calls.forEach(({ tokens }, index) => {
    const start = plannedStart(admission, effective, now, tokens, cooldown);
    if (start > now) waited = true;
    if (start - now <= GRANT_HORIZON_MS) {
      recordGrant(admission, effective, start, tokens, cooldown, pacing);
      delaysMs.push(start - now);
      return;
    }
    // Not granted: it would start after the calls already told to ask again in this answer.
    const expected = start - now + askAgain.length * interval - GRANT_HORIZON_MS / 2;
    delaysMs.push(Math.round(Math.min(MAX_ASK_AGAIN_MS, Math.max(GRANT_HORIZON_MS, expected))));
    askAgain.push(index);
  });
  // The workers want more than the rate: some call had to wait. In the fast start the rate must
  // also be really used (the calls granted lately come near it), or it would double far past
  // what the workers reach. (Later the window check holds the calls to the rate of a minute ago.)
  const used = rate.ceilingRpm !== undefined || recentRpm(admission, now) >= USED_SHARE * rate.rpm;
  growRate(rate, now, waited && used);
  return { delaysMs, ...(askAgain.length > 0 ? { askAgain } : {}), rpm: Math.round(rate.rpm), admittedAt: now };
}

/** Calls granted to start in the last USE_SPAN_MS (or within the horizon), per minute. */
function recentRpm(admission: AdmissionState, now: number): number {
  let count = 0;
  for (let index = admission.recent.length - 1; index >= 0; index -= 1) {
    if (admission.recent[index]![0] <= now - USE_SPAN_MS) break;
    count += 1;
  }
  return count * (WINDOW_MS / USE_SPAN_MS);
}
