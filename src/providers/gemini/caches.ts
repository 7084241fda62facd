/** Gemini's context caches (`cachedContents`) behind the provider's ContextCaches. */
import type { CachedContent, GoogleGenAI } from '@google/genai';
import type { CacheEntry, ContextCaches } from '../types';
import { classifyGemini } from './errors';

/** Gemini's answer when the contents are below the model's minimum cacheable size. */
const TOO_SMALL = /Cached content is too small/i;

export function geminiCaches(client: GoogleGenAI): ContextCaches {
  return {
    async *list() {
      for await (const cache of await client.caches.list({ config: { pageSize: 100 } })) {
        if (cache.name) yield entryOf(cache, cache.name);
      }
    },
    async create({ model, displayName, ttlSeconds, systemInstruction, contents }) {
      try {
        const cache = await client.caches.create({
          model,
          config: {
            displayName,
            ttl: `${ttlSeconds}s`,
            ...(systemInstruction ? { systemInstruction } : {}),
            ...(contents ? { contents: [{ role: 'user', parts: [{ text: contents }] }] } : {}),
          },
        });
        if (!cache.name) throw new Error('Gemini created a cache without a name');
        return entryOf(cache, cache.name);
      } catch (error) {
        const info = classifyGemini(error);
        if (info.category === 'invalid_request' && TOO_SMALL.test(info.message))
          return { tooSmall: `below Gemini's minimum cacheable size: ${info.message}` };
        throw error;
      }
    },
    async renew(name, ttlSeconds) {
      const cache = await client.caches.update({ name, config: { ttl: `${ttlSeconds}s` } });
      return { expireTime: cache.expireTime };
    },
    async delete(name) {
      await client.caches.delete({ name });
    },
  };
}

function entryOf(cache: CachedContent, name: string): CacheEntry {
  return {
    name,
    displayName: cache.displayName,
    model: cache.model?.replace(/^models\//, ''),
    expireTime: cache.expireTime,
    tokenCount: cache.usageMetadata?.totalTokenCount,
  };
}
