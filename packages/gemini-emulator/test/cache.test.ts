import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ApiError, type GoogleGenAI } from '@google/genai';
import { countTextTokens, ITEM_KEY_HEADER } from '../src';
import { withEmulator } from './helpers/emulator';

delete process.env.GEMINI_API_KEY;
delete process.env.GOOGLE_API_KEY;
delete process.env.GOOGLE_GEMINI_BASE_URL;

const MODEL = 'gemini-2.5-flash';
const T0 = Date.parse('2026-11-01T10:00:00.000Z');
const SYSTEM = 'You grade essays against the rubric below.';

/** Text of exactly `tokens` emulator tokens. */
function textOfTokens(tokens: number, letter = 'r'): string {
  return letter.repeat(tokens * 4);
}

/** A clock the test moves by hand. */
function manualClock(): { now: () => number; advance: (seconds: number) => void } {
  let current = T0;
  return { now: () => current, advance: (seconds) => (current += seconds * 1000) };
}

async function apiErrorOf(promise: Promise<unknown>): Promise<{ status: number; message: string; rpcStatus: string }> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof ApiError, `expected ApiError, got ${String(error)}`);
    const body = JSON.parse(error.message) as { error: { message: string; status: string } };
    return { status: error.status, message: body.error.message, rpcStatus: body.error.status };
  }
  return assert.fail('expected the call to fail');
}

function createCache(
  ai: GoogleGenAI,
  config: { displayName?: string; ttl?: string; tokens?: number; model?: string } = {},
) {
  return ai.caches.create({
    model: config.model ?? MODEL,
    config: {
      ...(config.displayName === undefined ? {} : { displayName: config.displayName }),
      ...(config.ttl === undefined ? {} : { ttl: config.ttl }),
      systemInstruction: SYSTEM,
      contents: textOfTokens(config.tokens ?? 1100),
    },
  });
}

const iso = (ms: number): string => new Date(ms).toISOString();

describe('cachedContents through the real SDK', () => {
  test('create, get, update and delete: the resource shape, the clock-driven expiry and the log', async () => {
    const clock = manualClock();
    await withEmulator({ now: clock.now }, async (emulator, ai) => {
      const created = await createCache(ai, { displayName: 'rubric v1', ttl: '300s' });
      const tokens = 1100 + countTextTokens(SYSTEM);
      assert.match(created.name ?? '', /^cachedContents\/[a-z0-9]{12}$/);
      assert.deepEqual(
        { ...created },
        {
          name: created.name,
          model: `models/${MODEL}`,
          displayName: 'rubric v1',
          createTime: iso(T0),
          updateTime: iso(T0),
          expireTime: iso(T0 + 300_000),
          usageMetadata: { totalTokenCount: tokens },
        },
      );
      const name = created.name ?? '';
      assert.deepEqual({ ...(await ai.caches.get({ name })) }, { ...created });

      clock.advance(60);
      const updated = await ai.caches.update({ name, config: { ttl: '600s' } });
      assert.equal(updated.expireTime, iso(T0 + 660_000));
      assert.equal(updated.updateTime, iso(T0 + 60_000));
      assert.equal(updated.createTime, iso(T0));

      await ai.caches.delete({ name });
      const gone = await apiErrorOf(ai.caches.get({ name }));
      assert.deepEqual([gone.status, gone.rpcStatus], [404, 'NOT_FOUND']);
      assert.equal((await apiErrorOf(ai.caches.delete({ name }))).status, 404);
      assert.deepEqual(emulator.caches(), []);

      assert.deepEqual(
        emulator.cacheOperations().map((entry) => [entry.route, entry.status, entry.cacheName, entry.model]),
        [
          ['cacheCreate', 200, name, MODEL],
          ['cacheGet', 200, name, MODEL],
          ['cacheUpdate', 200, name, MODEL],
          ['cacheDelete', 200, name, MODEL],
          ['cacheGet', 404, name, ''],
          ['cacheDelete', 404, name, ''],
        ],
      );
      assert.equal(emulator.cacheOperations('cacheCreate')[0]?.promptTokens, tokens);
      assert.equal(emulator.generateCalls().length, 0);

      const lasting = await createCache(ai);
      assert.equal(lasting.expireTime, iso(T0 + 60_000 + 3_600_000), 'the default TTL is one hour');
      assert.equal(lasting.displayName, undefined);
    });
  });

  test(
    'list pages through five caches two at a time, stops after the last page, and skips expired ones',
    { timeout: 5000 },
    async () => {
      const clock = manualClock();
      await withEmulator({ now: clock.now }, async (emulator, ai) => {
        const names: string[] = [];
        for (let index = 0; index < 5; index += 1) {
          names.push(
            (await createCache(ai, { displayName: `cache ${index}`, ttl: index === 1 ? '30s' : '600s' })).name ?? '',
          );
        }
        const listed: string[] = [];
        for await (const cache of await ai.caches.list({ config: { pageSize: 2 } })) listed.push(cache.name ?? '');
        assert.deepEqual(listed, names);
        assert.equal(emulator.cacheOperations('cacheList').length, 3);

        const raw = async (query: string) =>
          (await (
            await fetch(`${emulator.url}/v1beta/cachedContents${query}`, { headers: { 'x-goog-api-key': 'k' } })
          ).json()) as {
            cachedContents: Array<{ name: string }>;
            nextPageToken?: string;
          };
        const lastPage = await raw('?pageSize=4');
        assert.ok(lastPage.nextPageToken !== undefined);
        assert.deepEqual(Object.keys(await raw(`?pageSize=4&pageToken=${lastPage.nextPageToken}`)), ['cachedContents']);

        clock.advance(30);
        const afterExpiry: string[] = [];
        for await (const cache of await ai.caches.list()) afterExpiry.push(cache.name ?? '');
        assert.deepEqual(
          afterExpiry,
          names.filter((_, index) => index !== 1),
        );
        assert.deepEqual(
          emulator.caches().map((cache) => cache.name),
          afterExpiry,
        );
        const control = (await (await fetch(`${emulator.url}/_emulator/caches`)).json()) as {
          cachedContents: Array<{ name: string }>;
        };
        assert.deepEqual(
          control.cachedContents.map((cache) => cache.name),
          afterExpiry,
        );

        emulator.reset();
        assert.deepEqual(emulator.caches(), []);
        assert.equal((await apiErrorOf(ai.caches.get({ name: names[0] ?? '' }))).status, 404);
      });
    },
  );

  test("a cache below the minimum is refused with Google's message; the minimum is configurable per model", async () => {
    await withEmulator({ minCacheTokensByModel: { 'models/gemini-2.5-flash-lite': 2048 } }, async (emulator, ai) => {
      const tooSmall = await apiErrorOf(createCache(ai, { tokens: 1000 }));
      const total = 1000 + countTextTokens(SYSTEM);
      assert.deepEqual(
        [tooSmall.status, tooSmall.rpcStatus, tooSmall.message],
        [
          400,
          'INVALID_ARGUMENT',
          `Cached content is too small. total_token_count=${total}, min_total_token_count=1024`,
        ],
      );
      await createCache(ai, { tokens: 1500 });
      const lite = await apiErrorOf(createCache(ai, { tokens: 1500, model: 'gemini-2.5-flash-lite' }));
      assert.match(lite.message, /^Cached content is too small\. total_token_count=\d+, min_total_token_count=2048$/);

      const longName = await apiErrorOf(createCache(ai, { displayName: 'd'.repeat(129) }));
      assert.deepEqual([longName.status, longName.rpcStatus], [400, 'INVALID_ARGUMENT']);
      await createCache(ai, { displayName: 'd'.repeat(128) });
      assert.deepEqual(
        emulator.cacheOperations('cacheCreate').map((entry) => entry.status),
        [400, 200, 400, 400, 200],
      );
      assert.equal(emulator.caches().length, 2);
    });
    await withEmulator({ minCacheTokens: 10 }, async (_emulator, ai) => {
      assert.equal((await createCache(ai, { tokens: 2 })).usageMetadata?.totalTokenCount, 2 + countTextTokens(SYSTEM));
    });
  });
});

describe('generateContent with cachedContent', () => {
  test('the cached tokens are reported in cachedContentTokenCount and included in promptTokenCount', async () => {
    await withEmulator({}, async (emulator, ai) => {
      const cache = await createCache(ai);
      const cacheTokens = cache.usageMetadata?.totalTokenCount ?? 0;
      const prompt = 'Grade essay 17.';
      const response = await ai.models.generateContent({
        model: MODEL,
        contents: prompt,
        config: { cachedContent: cache.name ?? '' },
      });
      const promptTokens = countTextTokens(prompt) + cacheTokens;
      const outputTokens = countTextTokens(response.text ?? '');
      assert.deepEqual(
        { ...response.usageMetadata },
        {
          promptTokenCount: promptTokens,
          cachedContentTokenCount: cacheTokens,
          candidatesTokenCount: outputTokens,
          totalTokenCount: promptTokens + outputTokens,
        },
      );
      const [entry] = emulator.generateCalls();
      assert.deepEqual([entry?.cachedContent, entry?.promptTokens, entry?.status], [cache.name, promptTokens, 200]);

      const uncached = await ai.models.generateContent({ model: MODEL, contents: prompt });
      assert.equal(uncached.usageMetadata?.cachedContentTokenCount, undefined);
    });
  });

  test('a cache with systemInstruction in the request, or used with another model, is a 400', async () => {
    await withEmulator({}, async (emulator, ai) => {
      const name = (await createCache(ai)).name ?? '';
      const withSystem = await apiErrorOf(
        ai.models.generateContent({
          model: MODEL,
          contents: 'x',
          config: { cachedContent: name, systemInstruction: 'again' },
        }),
      );
      assert.deepEqual([withSystem.status, withSystem.rpcStatus], [400, 'INVALID_ARGUMENT']);
      assert.match(withSystem.message, /CachedContent can not be used/);
      const otherModel = await apiErrorOf(
        ai.models.generateContent({ model: 'gemini-2.5-pro', contents: 'x', config: { cachedContent: name } }),
      );
      assert.deepEqual([otherModel.status, otherModel.rpcStatus], [400, 'INVALID_ARGUMENT']);
      assert.match(otherModel.message, /models\/gemini-2\.5-pro.*models\/gemini-2\.5-flash.*has to be the same/);
      assert.deepEqual(emulator.expiredCacheErrors(), []);
    });
  });

  test('an expired or deleted cache answers 404 CachedContent not found; expiredCacheErrors lists those calls', async () => {
    const clock = manualClock();
    await withEmulator({ now: clock.now }, async (emulator, ai) => {
      const expiring = (await createCache(ai, { ttl: '300s' })).name ?? '';
      const deleted = (await createCache(ai, { ttl: '3600s' })).name ?? '';
      const ask = (cachedContent: string) =>
        ai.models.generateContent({ model: MODEL, contents: 'Grade it.', config: { cachedContent } });

      clock.advance(299);
      assert.ok((await ask(expiring)).text);
      clock.advance(1);
      const expired = await apiErrorOf(ask(expiring));
      assert.deepEqual([expired.status, expired.rpcStatus], [404, 'NOT_FOUND']);
      assert.match(expired.message, /^CachedContent not found/);
      assert.equal((await apiErrorOf(ai.caches.get({ name: expiring }))).status, 404);

      assert.ok((await ask(deleted)).text);
      assert.equal(emulator.deleteCacheBehindTheScenes(deleted), true);
      assert.equal(emulator.deleteCacheBehindTheScenes(deleted), false);
      assert.match((await apiErrorOf(ask(deleted))).message, /^CachedContent not found/);

      assert.deepEqual(
        emulator.expiredCacheErrors().map((entry) => entry.cachedContent),
        [expiring, deleted],
      );
      assert.deepEqual(
        emulator.generateCalls().map((entry) => entry.status),
        [200, 404, 200, 404],
      );
    });
  });

  test('a name the emulator never issued is accepted by default and a 404 with unknownCachedContent: not_found', async () => {
    await withEmulator({ unknownCachedContent: 'not_found' }, async (emulator, ai) => {
      const invented = await apiErrorOf(
        ai.models.generateContent({
          model: MODEL,
          contents: 'x',
          config: { cachedContent: 'cachedContents/invented' },
        }),
      );
      assert.equal(invented.status, 404);
      assert.equal(emulator.expiredCacheErrors().length, 1);
    });
    await withEmulator({}, async (_emulator, ai) => {
      const response = await ai.models.generateContent({
        model: MODEL,
        contents: 'x',
        config: { cachedContent: 'cachedContents/invented' },
      });
      assert.equal(response.usageMetadata?.cachedContentTokenCount, undefined);
    });
  });
});

describe('faults and raw requests on cache routes', () => {
  test('overloaded on the first two cacheCreate attempts (shared "" key without the item header), then success', async () => {
    await withEmulator(
      {
        faults: [
          { fault: 'overloaded', route: 'cacheCreate', attempts: [1, 2] },
          { fault: 'server_error', itemKey: 'essay/1' },
        ],
      },
      async (emulator, ai) => {
        assert.equal((await apiErrorOf(createCache(ai))).status, 503);
        assert.equal((await apiErrorOf(createCache(ai))).status, 503);
        const name = (await createCache(ai)).name ?? '';
        assert.deepEqual(
          emulator
            .cacheOperations('cacheCreate')
            .map((entry) => [entry.attempt, entry.fault, entry.status, entry.itemKey]),
          [
            [1, 'overloaded', 503, undefined],
            [2, 'overloaded', 503, undefined],
            [3, undefined, 200, undefined],
          ],
        );
        assert.equal(emulator.caches().length, 1, 'a faulted create leaves no cache behind');

        const headers = { [ITEM_KEY_HEADER]: 'essay/1' };
        assert.ok(
          await ai.caches.get({ name, config: { httpOptions: { headers } } }),
          'rules without route stay on generateContent',
        );
        const call = { model: MODEL, contents: 'x', config: { cachedContent: name, httpOptions: { headers } } };
        assert.equal((await apiErrorOf(ai.models.generateContent(call))).status, 500);

        // Attempts count per route and item key: this key's first create is attempt 1 again.
        emulator.configure({
          faults: [
            { fault: 'rate_limit', route: 'cacheCreate', attempts: [1] },
            { fault: 'cache_expired', route: 'cacheGet' },
          ],
        });
        const owner = { [ITEM_KEY_HEADER]: 'cache-owner/b1' };
        const created = () =>
          ai.caches.create({ model: MODEL, config: { contents: textOfTokens(1100), httpOptions: { headers: owner } } });
        assert.equal((await apiErrorOf(created())).status, 429);
        assert.ok((await created()).name);
        const getFault = await apiErrorOf(ai.caches.get({ name }));
        assert.deepEqual([getFault.status, getFault.message], [404, 'CachedContent not found (or permission denied)']);
        assert.equal(emulator.caches().length, 2, 'a faulted get deletes nothing');
        assert.deepEqual(
          emulator
            .cacheOperations()
            .slice(-3)
            .map((entry) => [entry.route, entry.itemKey, entry.attempt, entry.fault]),
          [
            ['cacheCreate', 'cache-owner/b1', 1, 'rate_limit'],
            ['cacheCreate', 'cache-owner/b1', 2, undefined],
            ['cacheGet', undefined, 1, 'cache_expired'],
          ],
        );
        assert.throws(
          () => emulator.configure({ faults: [{ fault: 'safety', route: 'cacheGet' }] }),
          /safety bends a model answer and cannot apply to route cacheGet\n.*faults\[0\]\.fault/,
        );
      },
    );
  });

  test('raw REST: /v1 prefix, API key check, PATCH with ?updateMask= or without expiry, DELETE answers {}', async () => {
    await withEmulator({ minCacheTokens: 1 }, async (emulator) => {
      const call = (method: string, path: string, body?: unknown, withKey = true) =>
        fetch(`${emulator.url}${path}`, {
          method,
          headers: withKey ? { 'x-goog-api-key': 'k' } : {},
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        });
      const created = await call('POST', '/v1/cachedContents', {
        model: `models/${MODEL}`,
        contents: [{ parts: [{ text: 'abcd' }] }],
      });
      assert.equal(created.status, 200);
      const { name } = (await created.json()) as { name: string };
      assert.equal((await call('GET', `/v1beta/${name}`, undefined, false)).status, 403);
      assert.equal((await call('PATCH', `/v1beta/${name}?updateMask=ttl`, { ttl: '120s' })).status, 200);
      assert.equal((await call('PATCH', `/v1beta/${name}`, { displayName: 'renamed' })).status, 400);
      assert.equal((await call('PATCH', `/v1beta/${name}`, { ttl: 'soon' })).status, 400);
      assert.equal((await call('PATCH', `/v1beta/${name}`, { expireTime: '2000-01-01T00:00:00Z' })).status, 400);
      const bothExpiries = { model: MODEL, contents: 'abcd', ttl: '1s', expireTime: '2030-01-01T00:00:00Z' };
      assert.equal((await call('POST', '/v1beta/cachedContents', bothExpiries)).status, 400);
      const deleted = await call('DELETE', `/v1beta/${name}`);
      assert.deepEqual([deleted.status, await deleted.text()], [200, '{}']);
      assert.equal((await call('PATCH', `/v1beta/${name}`, { ttl: '120s' })).status, 404);
      assert.equal((await call('POST', `/v1beta/${name}`, {})).status, 404);
      assert.deepEqual(
        emulator.log.map((entry) => [entry.route, entry.status]),
        [
          ['cacheCreate', 200],
          ['cacheGet', 403],
          ['cacheUpdate', 200],
          ['cacheUpdate', 400],
          ['cacheUpdate', 400],
          ['cacheUpdate', 400],
          ['cacheCreate', 400],
          ['cacheDelete', 200],
          ['cacheUpdate', 404],
          ['other', 404],
        ],
      );
    });
  });
});
