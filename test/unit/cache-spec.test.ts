import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { planCache } from '../../src/caching/fingerprint';
import { applyCacheOverride, decodeDisplayName, encodeDisplayName, tagsMatch } from '../../src/caching/spec';
import { cacheHitRate, cacheStorageCost, effectiveInputTokens, priceFor, usageCost } from '../../src/pricing';

describe('cache identity', () => {
  test('displayName carries the fingerprint and the sorted tags, and decodes back', () => {
    const name = encodeDisplayName('abc123', { purpose: 'enrich', dataset: 'q3' });
    assert.equal(name, 'dbl1 fp=abc123 dataset=q3 purpose=enrich');
    assert.deepEqual(decodeDisplayName(name), { fingerprint: 'abc123', tags: { dataset: 'q3', purpose: 'enrich' } });
    assert.equal(decodeDisplayName("someone else's cache"), undefined);
    assert.equal(decodeDisplayName(undefined), undefined);
  });

  test('tags that do not fit 128 characters are refused with the length and the name', () => {
    const tags = Object.fromEntries(Array.from({ length: 6 }, (_, index) => [`key${index}`, 'v'.repeat(20)]));
    assert.throws(
      () => encodeDisplayName('f'.repeat(16), tags),
      /do not fit Gemini's 128-character displayName \(\d+ characters/,
    );
  });

  test('the fingerprint follows the content; the owner id follows model, tags and content', () => {
    const base = planCache(
      't',
      'gemini-3.5-flash',
      { tags: { a: '1' } },
      { systemInstruction: 'guide', contents: undefined },
    );
    const same = planCache(
      't',
      'gemini-3.5-flash',
      { tags: { a: '1' } },
      { systemInstruction: 'guide', contents: undefined },
    );
    const otherContent = planCache(
      't',
      'gemini-3.5-flash',
      { tags: { a: '1' } },
      { systemInstruction: 'guide v2', contents: undefined },
    );
    const otherTags = planCache(
      't',
      'gemini-3.5-flash',
      { tags: { a: '2' } },
      { systemInstruction: 'guide', contents: undefined },
    );
    const otherModel = planCache(
      't',
      'gemini-3.5-flash-lite',
      { tags: { a: '1' } },
      { systemInstruction: 'guide', contents: undefined },
    );
    assert.deepEqual(same, base);
    assert.notEqual(otherContent.fingerprint, base.fingerprint);
    assert.equal(otherTags.fingerprint, base.fingerprint);
    assert.equal(new Set([base, otherContent, otherTags, otherModel].map((plan) => plan.ownerWorkflowId)).size, 4);
    assert.match(base.ownerWorkflowId, /^cache\/gemini-3\.5-flash\/[0-9a-f]{20}$/);
    assert.deepEqual(
      { ttl: base.ttlSeconds, renew: base.renewBeforeSeconds, onEnd: base.onEnd },
      { ttl: 3600, renew: 300, onEnd: 'keep' },
    );
  });

  test('a batch override merges tags and replaces TTL and end policy; a renewal buffer longer than the TTL is refused', () => {
    assert.deepEqual(applyCacheOverride({ tags: { a: '1' }, ttlSeconds: 600 }, { tags: { b: '2' }, onEnd: 'delete' }), {
      tags: { a: '1', b: '2' },
      ttlSeconds: 600,
      onEnd: 'delete',
    });
    assert.throws(
      () =>
        planCache(
          't',
          'm',
          { ttlSeconds: 60, renewBeforeSeconds: 60 },
          { systemInstruction: 'x', contents: undefined },
        ),
      /renewBeforeSeconds/,
    );
    assert.ok(tagsMatch({ a: '1', b: '2' }, { a: '1' }));
    assert.ok(!tagsMatch({ a: '1' }, { a: '1', b: '2' }));
  });
});

describe('cost accounting', () => {
  test('prices by model name, versioned names included; unknown models have none', () => {
    assert.equal(priceFor('gemini-2.5-flash')?.input, 0.3);
    assert.equal(priceFor('models/gemini-2.5-flash-lite-001')?.input, 0.1, 'longest matching family wins');
    assert.equal(priceFor('gemini-unknown'), undefined);
    assert.equal(
      priceFor('gemini-unknown', {
        'gemini-unknown': { input: 1, output: 2, cachedInput: 0.1, cacheStoragePerHour: 1 },
      })?.output,
      2,
    );
  });

  test('cached input is billed at the cached rate, thoughts as output', () => {
    const price = { input: 1, output: 10, cachedInput: 0.1, cacheStoragePerHour: 2 };
    const usage = { inputTokens: 1_000_000, cachedTokens: 900_000, outputTokens: 100_000, thoughtsTokens: 100_000 };
    assert.equal(usageCost(usage, price), 0.1 + 0.09 + 2);
    assert.equal(cacheHitRate(usage), 0.9);
    assert.equal(effectiveInputTokens(usage, price), 100_000 + 90_000);
    assert.equal(cacheStorageCost(500_000, 2, price), 2);
    assert.equal(cacheHitRate({ inputTokens: 0, cachedTokens: 0, outputTokens: 0, thoughtsTokens: 0 }), 0);
  });
});
