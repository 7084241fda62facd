import { createHash } from 'node:crypto';
import { CacheDeclarationSchema, encodeDisplayName, type CacheDeclaration, type CachePlan } from './spec';

function hash(value: unknown, length: number): string {
  return createHash('sha256').update(JSON.stringify(value)).digest('hex').slice(0, length);
}

/** The cached prefix of a task: what goes into the cache. */
export interface CachedPrefix {
  systemInstruction: string | undefined;
  contents: string | undefined;
}

/**
 * Resolves a task's cache declaration into a plan: the fingerprint covers the cached content,
 * the owner id covers model + tags + fingerprint, so any difference means another cache.
 */
export function planCache(
  taskName: string,
  model: string,
  declaration: CacheDeclaration,
  prefix: CachedPrefix,
): CachePlan {
  const parsed = CacheDeclarationSchema.parse(declaration);
  const fingerprint = hash(
    { systemInstruction: prefix.systemInstruction ?? null, contents: prefix.contents ?? null },
    16,
  );
  const displayName = encodeDisplayName(fingerprint, parsed.tags);
  const ownerKey = hash({ model, tags: Object.entries(parsed.tags).sort(), fingerprint }, 20);
  return {
    taskName,
    model,
    tags: parsed.tags,
    fingerprint,
    displayName,
    ownerWorkflowId: `cache/${model}/${ownerKey}`,
    ttlSeconds: parsed.ttlSeconds,
    renewBeforeSeconds: parsed.renewBeforeSeconds,
    onEnd: parsed.onEnd,
  };
}
