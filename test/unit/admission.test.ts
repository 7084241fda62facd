import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { QuotaWindow } from '@durable-batch-llm/gemini-emulator';
import {
  admitCall,
  correctTokens,
  emptyAdmission,
  HEADROOM,
  WINDOW_MS,
  type AdmissionLimits,
} from '../../workflows/admission';

const noCooldown = { until: 0, rampMs: 0 };

/** Most grants (and tokens) starting inside any 60-second window. */
function busiestWindow(grants: Array<{ start: number; tokens: number }>): { requests: number; tokens: number } {
  let requests = 0;
  let tokens = 0;
  for (const { start } of grants) {
    const inWindow = grants.filter((other) => other.start >= start && other.start < start + WINDOW_MS);
    requests = Math.max(requests, inWindow.length);
    tokens = Math.max(
      tokens,
      inWindow.reduce((sum, grant) => sum + grant.tokens, 0),
    );
  }
  return { requests, tokens };
}

/** Grants `count` calls that all ask at `askedAt` (a window full of waiting workers). */
function grantAll(limits: AdmissionLimits, count: number, tokensOf: (index: number) => number, askedAt = 1_000_000) {
  const state = emptyAdmission();
  const grants = Array.from({ length: count }, (_, index) => ({
    start: admitCall(state, limits, askedAt, tokensOf(index), noCooldown),
    tokens: tokensOf(index),
  }));
  return { state, grants };
}

describe('admission under RPM and TPM limits', () => {
  test('RPM: calls asked for at once are spread evenly, never more than the limit in a minute', () => {
    const { grants } = grantAll({ requestsPerMinute: 120 }, 300, () => 10);
    const interval = WINDOW_MS / (120 * HEADROOM);
    for (let index = 1; index < grants.length; index += 1) {
      const gap = grants[index]!.start - grants[index - 1]!.start;
      // One interval apart; a little more where the window check rounds the limit down.
      assert.ok(gap >= interval - 1e-6 && gap < interval * 2, `grant ${index} comes ${gap} ms after the previous`);
    }
    const busiest = busiestWindow(grants);
    assert.ok(busiest.requests <= 120, `${busiest.requests} grants in one minute`);
    assert.ok(busiest.requests >= 115, `only ${busiest.requests} grants in the busiest minute: the limit is wasted`);
  });

  test('RPM: the grant times, replayed into the emulator quota, are never refused', () => {
    const { grants } = grantAll({ requestsPerMinute: 60 }, 200, () => 10);
    const window = new QuotaWindow();
    window.setLimits({ requestsPerMinute: 60 });
    for (const grant of grants)
      assert.equal(window.admit(grant.start, grant.tokens), undefined, `grant at ${grant.start} refused`);
  });

  test('TPM: tokens are paced and every minute stays under the limit, for calls of any size', () => {
    const tokensOf = (index: number) => [100, 900, 250, 2_000, 40][index % 5]!;
    const { grants } = grantAll({ tokensPerMinute: 10_000 }, 200, tokensOf);
    const busiest = busiestWindow(grants);
    assert.ok(busiest.tokens <= 10_000, `${busiest.tokens} tokens in one minute`);
    assert.ok(busiest.tokens >= 9_000, `only ${busiest.tokens} tokens in the busiest minute`);
    const window = new QuotaWindow();
    window.setLimits({ tokensPerMinute: 10_000 });
    for (const grant of grants)
      assert.equal(window.admit(grant.start, grant.tokens), undefined, `grant at ${grant.start} refused`);
  });

  test('both limits: the tighter one governs', () => {
    // 600 RPM would allow 10 calls a second; 6,000 TPM at 100 tokens a call allows 1.
    const { grants } = grantAll({ requestsPerMinute: 600, tokensPerMinute: 6_000 }, 120, () => 100);
    const busiest = busiestWindow(grants);
    assert.ok(busiest.requests <= 60 && busiest.requests >= 55, `${busiest.requests} calls in the busiest minute`);
  });

  test('a call larger than the whole token limit is charged the limit, not queued forever', () => {
    const state = emptyAdmission();
    const first = admitCall(state, { tokensPerMinute: 1_000 }, 0, 5_000, noCooldown);
    const second = admitCall(state, { tokensPerMinute: 1_000 }, 0, 10, noCooldown);
    assert.equal(first, 0);
    assert.ok(second >= WINDOW_MS && second < WINDOW_MS * 1.1, `the next call waits one window, not five (${second})`);
  });

  test('calls asked for over time start at once while the scope has room', () => {
    const state = emptyAdmission();
    for (let second = 0; second < 30; second += 1) {
      const now = second * 1_000;
      assert.equal(
        admitCall(state, { requestsPerMinute: 120 }, now, 10, noCooldown),
        now,
        `a call a second under 2 a second waits at ${now}`,
      );
    }
  });

  test('a cooldown holds every grant until it ends, then pacing ramps back at half speed', () => {
    const state = emptyAdmission();
    const cooldown = { until: 10_000, rampMs: 5_000 };
    const starts = Array.from({ length: 20 }, () => admitCall(state, { requestsPerMinute: 120 }, 0, 10, cooldown));
    assert.equal(starts[0], 10_000);
    const interval = WINDOW_MS / (120 * HEADROOM);
    assert.ok(Math.abs(starts[1]! - starts[0]! - 2 * interval) < 1e-6, 'half speed while ramping');
    const afterRamp = starts.findIndex((start) => start >= 15_000);
    assert.ok(
      afterRamp > 0 && Math.abs(starts[afterRamp + 1]! - starts[afterRamp]! - interval) < 1e-6,
      'full speed after the ramp',
    );
  });

  test('a token under-estimate delays later calls; an over-estimate lets them start sooner', () => {
    const limits = { tokensPerMinute: 6_000 };
    const settled = (correction: number) => {
      const state = emptyAdmission();
      admitCall(state, limits, 0, 100, noCooldown);
      correctTokens(state, limits, 0, correction);
      return admitCall(state, limits, 0, 100, noCooldown);
    };
    const exact = settled(0);
    assert.ok(settled(500) > exact, 'a call that used 500 more tokens pushes the next one back');
    assert.ok(settled(-50) < exact, 'a call that used fewer tokens lets the next one start sooner');
    assert.equal(settled(-10_000), 0, 'never earlier than now');
  });
});
