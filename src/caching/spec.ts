/**
 * Context caches: what a task declares, and how a cache is named so it can be found again.
 * Pure (imported by workflows): hashing lives in fingerprint.ts, on the activity side.
 */
import { z } from 'zod';

const TAG_TEXT = /^[A-Za-z0-9_.:-]{1,40}$/;

/**
 * What a task may declare about its cached prefix. The cache holds the task's system instruction
 * (a request with `cachedContent` may not carry one) and, optionally, shared reference contents.
 */
export const CacheDeclarationSchema = z
  .object({
    /** Shared reference text (documents, examples) placed in the cache before every item's prompt. */
    contents: z.string().min(1).optional(),
    ttlSeconds: z
      .number()
      .int()
      .min(1)
      .max(7 * 24 * 3600)
      .default(3600),
    /** Renew this long before expiry. */
    renewBeforeSeconds: z.number().int().min(1).default(300),
    /** Labels to find the cache by (Gemini has none: they go into displayName). */
    tags: z
      .record(
        z.string().regex(TAG_TEXT, 'tag keys: letters, digits, "_", ".", ":", "-" (max 40)'),
        z.string().regex(TAG_TEXT, 'tag values: letters, digits, "_", ".", ":", "-" (max 40)'),
      )
      .default({}),
    /** At the end of the last batch using it: keep it for reuse until its TTL ends, or delete it. */
    onEnd: z.enum(['keep', 'delete']).default('keep'),
  })
  .strict()
  .refine((cache) => cache.renewBeforeSeconds < cache.ttlSeconds, {
    message: 'renewBeforeSeconds must be shorter than ttlSeconds',
    path: ['renewBeforeSeconds'],
  });
export type CacheDeclaration = z.input<typeof CacheDeclarationSchema>;

/** What a batch may change of its task's cache declaration (tags are merged over the task's). */
export const CacheOverrideSchema = z
  .object({
    ttlSeconds: z
      .number()
      .int()
      .min(1)
      .max(7 * 24 * 3600)
      .optional(),
    renewBeforeSeconds: z.number().int().min(1).optional(),
    tags: z.record(z.string().regex(TAG_TEXT), z.string().regex(TAG_TEXT)).optional(),
    onEnd: z.enum(['keep', 'delete']).optional(),
  })
  .strict();
export type CacheOverride = z.infer<typeof CacheOverrideSchema>;

/** A task's declaration with a batch's override applied. */
export function applyCacheOverride(
  declaration: CacheDeclaration,
  override: CacheOverride | undefined,
): CacheDeclaration {
  if (!override) return declaration;
  const { tags, ...rest } = override;
  return { ...declaration, ...rest, tags: { ...declaration.tags, ...tags } };
}

/** Everything the workflows need to own, find and renew one cache: plain data. */
export interface CachePlan {
  taskName: string;
  model: string;
  tags: Record<string, string>;
  /** Hash of the cached content (system instruction + contents). */
  fingerprint: string;
  displayName: string;
  /** Deterministic: one owner workflow per (model, tags, content). */
  ownerWorkflowId: string;
  ttlSeconds: number;
  renewBeforeSeconds: number;
  onEnd: 'keep' | 'delete';
  /** The batch's provider override, when it has one (else the task's provider). */
  provider?: string;
}

/** What a batch learns from the owner. */
export type CacheGrant =
  { status: 'ready'; name: string; expireTime: string; tokenCount: number } | { status: 'uncached'; reason: string };

export const DISPLAY_NAME_PREFIX = 'dbl1';
export const MAX_DISPLAY_NAME_LENGTH = 128;

/** `dbl1 fp=<fingerprint> key=value …` (keys sorted). Throws when it exceeds Gemini's 128 characters. */
export function encodeDisplayName(fingerprint: string, tags: Record<string, string>): string {
  const parts = [
    DISPLAY_NAME_PREFIX,
    `fp=${fingerprint}`,
    ...Object.keys(tags)
      .sort()
      .map((key) => `${key}=${tags[key]}`),
  ];
  const displayName = parts.join(' ');
  if (displayName.length > MAX_DISPLAY_NAME_LENGTH) {
    throw new Error(
      `cache tags do not fit Gemini's ${MAX_DISPLAY_NAME_LENGTH}-character displayName (${displayName.length} characters: "${displayName}"); use fewer or shorter tags`,
    );
  }
  return displayName;
}

/** The fingerprint and tags of a displayName we wrote; undefined for anyone else's cache. */
export function decodeDisplayName(
  displayName: string | undefined,
): { fingerprint: string; tags: Record<string, string> } | undefined {
  const parts = (displayName ?? '').split(' ');
  if (parts[0] !== DISPLAY_NAME_PREFIX || !parts[1]?.startsWith('fp=')) return undefined;
  const tags: Record<string, string> = {};
  for (const part of parts.slice(2)) {
    const separator = part.indexOf('=');
    if (separator <= 0) return undefined;
    tags[part.slice(0, separator)] = part.slice(separator + 1);
  }
  return { fingerprint: parts[1].slice(3), tags };
}

/** True when a cache's tags include every wanted tag. */
export function tagsMatch(tags: Record<string, string>, wanted: Record<string, string>): boolean {
  return Object.entries(wanted).every(([key, value]) => tags[key] === value);
}
