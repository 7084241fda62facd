import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { QuotaWindow } from '@durable-batch-llm/gemini-emulator';
import {
  admitUnderAdaptiveRate,
  DECREASE_FACTORS,
  INITIAL_RPM,
  newAdaptiveRate,
  rateLimited,
  recordOutcomes,
  growRate,
  type AdaptiveRateState,
} from '../../workflows/adaptive-rate';
import { emptyAdmission, windowGrants } from '../../workflows/admission';
import { ConcurrencyValue, flagValue, UsageError } from '../../src/cli/args';
import { BatchInputSchema } from '../../src/schemas';

interface Simulation {
  /** The emulator's quota (requests per minute) from each moment (s) on; the workers are not told. */
  quota: Array<[atSeconds: number, rpm: number]>;
  seconds: number;
  /** Items in flight at most (the batch's window). */
  window?: number;
  latencyMs?: number;
  /** An admission request's round trip, and a 429's way back to the scope. */
  roundTripMs?: number;
  /** From this moment (s) on, calls take this much longer (an overloaded provider). */
  slowdown?: { atSeconds: number; extraMs: number };
}

interface Outcome {
  rate: AdaptiveRateState;
  /** Calls the quota let through, by when they arrived (ms). */
  admittedAt: number[];
  rejected: number;
  /** The scope's rate over time: [ms, rpm], once a second. */
  rates: Array<[number, number]>;
}

const STEP_MS = 50;

/**
 * A quota scope against the emulator's sliding-window quota: `window` items always want a call;
 * each worker slot asks for admission, waits for its start, sends; a 429 reaches the scope one
 * round trip later (and the call retries after the delay the 429 suggests), a success reports its
 * latency with the next admission request, like QuotaGate does.
 */
function simulate({
  quota: schedule,
  seconds,
  window = 200,
  latencyMs = 200,
  roundTripMs = 50,
  slowdown,
}: Simulation): Outcome {
  const quota = new QuotaWindow();
  const admission = emptyAdmission();
  const rate = newAdaptiveRate(0);
  const noCooldown = { until: 0, rampMs: 0 };
  const slots = Array.from({ length: window }, () => ({ askAt: 0, startAt: Infinity, admittedAt: 0 }));
  const pendingLimits: Array<{ at: number; admittedAt: number }> = [];
  const finished: Array<{ at: number; latencyMs: number }> = [];
  const admittedAt: number[] = [];
  const rates: Array<[number, number]> = [];
  let rejected = 0;
  for (let now = 0; now <= seconds * 1000; now += STEP_MS) {
    const limit = schedule.filter(([at]) => at * 1000 <= now).at(-1)![1];
    quota.setLimits({ requestsPerMinute: limit });
    for (const signal of pendingLimits.filter(({ at }) => at <= now))
      rateLimited(rate, now, signal.admittedAt, windowGrants(admission, now));
    pendingLimits.splice(0, pendingLimits.length, ...pendingLimits.filter(({ at }) => at > now));
    const asking = slots.filter((slot) => slot.askAt <= now);
    if (asking.length > 0) {
      const done = finished.filter(({ at }) => at <= now);
      finished.splice(0, finished.length, ...finished.filter(({ at }) => at > now));
      recordOutcomes(rate, now, { succeeded: done.length, latenciesMs: done.map((call) => call.latencyMs).slice(-32) });
      const answer = admitUnderAdaptiveRate(
        admission,
        rate,
        {},
        now,
        asking.map(() => ({ tokens: 0 })),
        noCooldown,
      );
      asking.forEach((slot, index) => {
        const delay = answer.delaysMs[index]! + roundTripMs;
        if (answer.askAgain?.includes(index)) {
          slot.askAt = now + delay;
        } else {
          slot.askAt = Infinity;
          slot.startAt = now + delay;
          slot.admittedAt = now;
        }
      });
    }
    for (const slot of slots.filter((candidate) => candidate.startAt <= now)) {
      const sentAt = slot.startAt;
      slot.startAt = Infinity;
      const rejection = quota.admit(sentAt, 0);
      if (rejection) {
        rejected += 1;
        pendingLimits.push({ at: sentAt + roundTripMs, admittedAt: slot.admittedAt });
        slot.askAt = sentAt + roundTripMs + (rejection.retryDelayMs ?? 1_000);
      } else {
        admittedAt.push(sentAt);
        const took = latencyMs + (slowdown && sentAt >= slowdown.atSeconds * 1000 ? slowdown.extraMs : 0);
        finished.push({ at: sentAt + took, latencyMs: took });
        slot.askAt = sentAt + took; // the next item's call
      }
    }
    if (now % 1000 === 0) rates.push([now, rate.rpm]);
  }
  return { rate, admittedAt, rejected, rates };
}

/** Admitted calls in [fromS, toS) over what the quota allowed then (the quota in force at fromS, per minute). */
function shareUsed(outcome: Outcome, fromS: number, toS: number, rpm: number): number {
  const admitted = outcome.admittedAt.filter((at) => at >= fromS * 1000 && at < toS * 1000).length;
  return admitted / ((rpm * (toS - fromS)) / 60);
}

function rejectedShare(outcome: Outcome): number {
  return outcome.rejected / (outcome.rejected + outcome.admittedAt.length);
}

describe('adaptive request rate (--concurrency auto)', () => {
  for (const rpm of [300, 1200]) {
    test(`finds an untold quota of ${rpm} RPM: ≥ 90 % used in the second minute, < 2 % of calls answered 429`, () => {
      const outcome = simulate({ quota: [[0, rpm]], seconds: 120 });
      const used = shareUsed(outcome, 60, 120, rpm);
      const share = rejectedShare(outcome);
      assert.ok(used >= 0.9, `used ${(used * 100).toFixed(1)} % of ${rpm} RPM in the second minute`);
      assert.ok(share < 0.02, `${(share * 100).toFixed(2)} % of calls answered 429`);
    });
  }

  test('a small quota (60 RPM, where one 429 is 0.8 % of two minutes): ≥ 90 % used, < 2 % of calls answered 429 over five minutes', () => {
    const outcome = simulate({ quota: [[0, 60]], seconds: 300 });
    const used = shareUsed(outcome, 60, 300, 60);
    const share = rejectedShare(outcome);
    assert.ok(used >= 0.9, `used ${(used * 100).toFixed(1)} % of 60 RPM after the first minute`);
    assert.ok(share < 0.02, `${(share * 100).toFixed(2)} % of calls answered 429`);
  });

  test('follows the quota down and back up when the provider changes it mid-run', () => {
    const outcome = simulate({
      quota: [
        [0, 300],
        [180, 150],
        [360, 300],
      ],
      seconds: 600,
    });
    const low = shareUsed(outcome, 240, 360, 150);
    const back = shareUsed(outcome, 480, 600, 300);
    const share = rejectedShare(outcome);
    assert.ok(low >= 0.85 && low <= 1.01, `used ${(low * 100).toFixed(1)} % of 150 RPM after the drop`);
    assert.ok(back >= 0.85, `used ${(back * 100).toFixed(1)} % of 300 RPM after it came back`);
    assert.ok(share < 0.03, `${(share * 100).toFixed(2)} % of calls answered 429`);
  });

  test('a 429 of a call sent before the last fall does not lower the rate again', () => {
    const rate = newAdaptiveRate(0);
    rate.rpm = 600;
    assert.equal(rateLimited(rate, 10_000, 9_000, 301), true);
    const after = rate.rpm;
    // Where the quota bit: 301 calls in the last minute, less this 429.
    assert.equal(after, 300 * DECREASE_FACTORS[0]);
    assert.equal(rateLimited(rate, 10_100, 9_950, 300), false);
    assert.equal(rate.rpm, after);
    assert.equal(rate.rateLimited, 2);
  });

  test('429s with no success in between fall harder each time', () => {
    const rate = newAdaptiveRate(0);
    rate.rpm = 400;
    rateLimited(rate, 1_000, 1_000, 400);
    rateLimited(rate, 2_000, 1_500, 1_000);
    rateLimited(rate, 3_000, 2_500, 1_000);
    // Ceilings: 400 − 1 (its own 429), then the rates before each fall.
    const first = 399 * DECREASE_FACTORS[0];
    const second = first * DECREASE_FACTORS[1];
    assert.equal(rate.rpm, second * DECREASE_FACTORS[2]);
  });

  test('the rate grows only while the workers want more than it admits', () => {
    const rate = newAdaptiveRate(0);
    growRate(rate, 10_000, false);
    assert.equal(rate.rpm, INITIAL_RPM);
    growRate(rate, 20_000, true);
    assert.equal(rate.rpm, INITIAL_RPM * 2);
  });

  test('a latency jump lowers the rate once, and the slower latency becomes the baseline', () => {
    const outcome = simulate({
      quota: [[0, 100_000]],
      seconds: 90,
      window: 50,
      slowdown: { atSeconds: 60, extraMs: 600 },
    });
    assert.equal(outcome.rate.latencyDecreases, 1);
    assert.equal(outcome.rejected, 0);
    assert.equal(outcome.rate.baselineLatencyMs, 800, 'the latency after the jump');
  });
});

describe('concurrency auto: the inputs that ask for it', () => {
  test('--concurrency takes auto or 1–10000, and names the flag otherwise', () => {
    assert.equal(flagValue('concurrency', ConcurrencyValue, 'auto'), 'auto');
    assert.equal(flagValue('concurrency', ConcurrencyValue, '250'), 250);
    for (const bad of ['fast', '0', '10001', '2.5'])
      assert.throws(
        () => flagValue('concurrency', ConcurrencyValue, bad),
        (error: unknown) =>
          error instanceof UsageError &&
          error.message === `--concurrency must be auto or a whole number from 1 to 10000 (got "${bad}")`,
      );
  });

  test('the batch input takes concurrency "auto" with a cap, and refuses a cap on a fixed concurrency', () => {
    const base = { batchId: 'b1', taskName: 'test-echo', items: [{ id: 'a', index: 0, data: {} }] };
    const auto = BatchInputSchema.parse({ ...base, concurrency: 'auto', maxConcurrency: 50 });
    assert.equal(auto.concurrency, 'auto');
    assert.equal(auto.maxConcurrency, 50);
    const fixed = BatchInputSchema.safeParse({ ...base, concurrency: 10, maxConcurrency: 50 });
    assert.equal(fixed.success, false);
    assert.deepEqual(
      fixed.error?.issues.map((issue) => issue.path.join('.')),
      ['maxConcurrency'],
    );
    assert.equal(BatchInputSchema.safeParse({ ...base, concurrency: 'fast' }).success, false);
  });
});
