import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ApiError } from '@google/genai';
import { GeminiEmulator, ITEM_KEY_HEADER } from '../src';
import type { QuotaStats } from '../src';
import { withEmulator } from './helpers/emulator';

delete process.env.GEMINI_API_KEY;
delete process.env.GOOGLE_API_KEY;
delete process.env.GOOGLE_GEMINI_BASE_URL;

const MODEL = 'gemini-2.5-flash';
const T0 = Date.parse('2026-11-01T10:00:00.000Z');

/** A clock the test moves by hand. */
function manualClock(): { now: () => number; advance: (ms: number) => void } {
  let current = T0;
  return { now: () => current, advance: (ms) => (current += ms) };
}

/** A call of exactly `tokens` emulator tokens (four characters each), optionally tagged with an item key. */
function call(tokens: number, itemKey?: string) {
  return {
    model: MODEL,
    contents: 'q'.repeat(tokens * 4),
    ...(itemKey === undefined ? {} : { config: { httpOptions: { headers: { [ITEM_KEY_HEADER]: itemKey } } } }),
  };
}

interface GoogleErrorBody {
  error: { code: number; message: string; status: string; details?: Array<Record<string, unknown>> };
}

async function apiErrorOf(promise: Promise<unknown>): Promise<{ status: number; body: GoogleErrorBody }> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof ApiError, `expected ApiError, got ${String(error)}`);
    return { status: error.status, body: JSON.parse(error.message) as GoogleErrorBody };
  }
  return assert.fail('expected the call to fail');
}

function detail(body: GoogleErrorBody, type: string): Record<string, unknown> | undefined {
  return body.error.details?.find((entry) => entry['@type'] === `type.googleapis.com/google.rpc.${type}`);
}

function quotaIdOf(body: GoogleErrorBody): unknown {
  const violations = detail(body, 'QuotaFailure')?.['violations'] as Array<Record<string, unknown>> | undefined;
  return violations?.[0]?.['quotaId'];
}

function counts(stats: QuotaStats): Pick<QuotaStats, 'admitted' | 'rejected'> {
  return { admitted: stats.admitted, rejected: stats.rejected };
}

describe('per-minute quota', () => {
  test('requestsPerMinute 3: the 4th call is a 429 whose retryDelay is when the first leaves the window; later calls pass', async () => {
    const clock = manualClock();
    await withEmulator({ now: clock.now, quota: { requestsPerMinute: 3 } }, async (emulator, ai) => {
      await ai.models.generateContent(call(5));
      clock.advance(10_000);
      await ai.models.generateContent(call(5));
      await ai.models.generateContent(call(5));
      clock.advance(48_750);

      // The first call arrived at T0, leaves at T0 + 60 s: 1.25 s from now, rounded up to 1.3 s.
      const rejected = await apiErrorOf(ai.models.generateContent(call(5)));
      assert.equal(rejected.status, 429);
      assert.equal(rejected.body.error.status, 'RESOURCE_EXHAUSTED');
      assert.deepEqual(detail(rejected.body, 'RetryInfo')?.['retryDelay'], '1.3s');
      assert.equal(quotaIdOf(rejected.body), 'GenerateRequestsPerMinutePerProjectPerModel');
      assert.match(rejected.body.error.message, /Please retry in 1\.3s\.$/);

      clock.advance(1_249);
      assert.equal(
        (await apiErrorOf(ai.models.generateContent(call(5)))).status,
        429,
        'still inside the window 1 ms early',
      );
      clock.advance(1);
      const passed = await ai.models.generateContent(call(5));
      assert.ok(passed.text !== undefined);
      // The window now holds the calls of T0+10 s (×2) and this one: full again.
      assert.equal((await apiErrorOf(ai.models.generateContent(call(5)))).status, 429);

      assert.deepEqual(counts(emulator.quotaStats()), { admitted: 4, rejected: 3 });
      assert.deepEqual(emulator.admittedTimestamps(), [T0, T0 + 10_000, T0 + 10_000, T0 + 60_000]);
      assert.deepEqual(
        emulator.generateCalls().map((entry) => [entry.status, entry.fault, entry.quotaRejected]),
        [
          [200, undefined, undefined],
          [200, undefined, undefined],
          [200, undefined, undefined],
          [429, undefined, true],
          [429, undefined, true],
          [200, undefined, undefined],
          [429, undefined, true],
        ],
      );
    });
  });

  test('tokensPerMinute: a prompt larger than what remains is refused with the token quotaId, a smaller one passes', async () => {
    const clock = manualClock();
    await withEmulator({ now: clock.now, quota: { tokensPerMinute: 1000 } }, async (emulator, ai) => {
      await ai.models.generateContent(call(600));
      clock.advance(20_000);
      const rejected = await apiErrorOf(ai.models.generateContent(call(500)));
      assert.equal(rejected.status, 429);
      assert.equal(quotaIdOf(rejected.body), 'GenerateContentInputTokensPerModelPerMinute');
      assert.equal(detail(rejected.body, 'RetryInfo')?.['retryDelay'], '40s');
      await ai.models.generateContent(call(400));
      assert.deepEqual(emulator.quotaStats(), {
        admitted: 2,
        rejected: 1,
        rejectedForRequests: 0,
        rejectedForTokens: 1,
        requestsInWindow: 2,
        tokensInWindow: 1000,
      });
    });
  });

  test('fault rules are decided first and do not consume quota', async () => {
    const clock = manualClock();
    const faults = [
      { fault: 'overloaded' as const, itemKey: 'faulted' },
      { fault: 'rate_limit' as const, itemKey: 'limited', retryDelaySeconds: 7 },
    ];
    await withEmulator({ now: clock.now, quota: { requestsPerMinute: 1 }, faults }, async (emulator, ai) => {
      assert.equal((await apiErrorOf(ai.models.generateContent(call(5, 'faulted')))).status, 503);
      assert.equal((await apiErrorOf(ai.models.generateContent(call(5, 'faulted')))).status, 503);
      await ai.models.generateContent(call(5, 'plain'));
      // The window is full, yet the fault rule still answers, with its own body.
      const limited = await apiErrorOf(ai.models.generateContent(call(5, 'limited')));
      assert.equal(detail(limited.body, 'RetryInfo')?.['retryDelay'], '7s');
      assert.equal(quotaIdOf(limited.body), 'GenerateRequestsPerMinutePerProjectPerModel-FreeTier');
      assert.equal((await apiErrorOf(ai.models.generateContent(call(5, 'plain')))).status, 429);
      assert.deepEqual(counts(emulator.quotaStats()), { admitted: 1, rejected: 1 });
      assert.deepEqual(
        emulator.generateCalls().map((entry) => [entry.status, entry.fault, entry.quotaRejected]),
        [
          [503, 'overloaded', undefined],
          [503, 'overloaded', undefined],
          [200, undefined, undefined],
          [429, 'rate_limit', undefined],
          [429, undefined, true],
        ],
      );
    });
  });

  test('configure() and POST /_emulator/config refuse bad limits naming the field, and set good ones', async () => {
    const clock = manualClock();
    await withEmulator({ now: clock.now }, async (emulator, ai) => {
      assert.throws(() => emulator.configure({ quota: { requestsPerMinute: 0 } }), /quota\.requestsPerMinute/);
      assert.throws(() => emulator.configure({ quota: { tokensPerMinute: 2.5 } }), /quota\.tokensPerMinute/);
      await assert.rejects(GeminiEmulator.start({ quota: { requestsPerMinute: -1 } }), /quota\.requestsPerMinute/);

      const post = async (body: unknown) =>
        fetch(`${emulator.url}/_emulator/config`, { method: 'POST', body: JSON.stringify(body) });
      const bad = await post({ quota: { requestsPerMinute: 'ten' } });
      assert.equal(bad.status, 400);
      assert.match(((await bad.json()) as GoogleErrorBody).error.message, /quota\.requestsPerMinute/);

      // Unlimited until configured.
      await ai.models.generateContent(call(5));
      await ai.models.generateContent(call(5));
      assert.equal((await post({ quota: { requestsPerMinute: 2 } })).status, 200);
      assert.equal((await apiErrorOf(ai.models.generateContent(call(5)))).status, 429);
      emulator.configure({ quota: {} });
      await ai.models.generateContent(call(5));
    });
  });

  test('reset() empties the window and zeroes the counters; GET /_emulator/log reports them', async () => {
    const clock = manualClock();
    await withEmulator({ now: clock.now, quota: { requestsPerMinute: 1 } }, async (emulator, ai) => {
      await ai.models.generateContent(call(5));
      assert.equal((await apiErrorOf(ai.models.generateContent(call(5)))).status, 429);
      const overHttp = (await (await fetch(`${emulator.url}/_emulator/log`)).json()) as {
        quota: QuotaStats & { admittedTimestamps: number[] };
      };
      assert.deepEqual(
        [
          overHttp.quota.admitted,
          overHttp.quota.rejected,
          overHttp.quota.requestsInWindow,
          overHttp.quota.admittedTimestamps,
        ],
        [1, 1, 1, [T0]],
      );

      emulator.reset();
      assert.deepEqual(counts(emulator.quotaStats()), { admitted: 0, rejected: 0 });
      assert.deepEqual(emulator.admittedTimestamps(), []);
      await ai.models.generateContent(call(5));
      assert.deepEqual(emulator.admittedTimestamps(), [T0]);
    });
  });
});
