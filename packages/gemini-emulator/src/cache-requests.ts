import { invalidArgument, isGoogleError } from './errors';
import type { GoogleError } from './errors';
import { withoutModelsPrefix } from './faults';
import { promptTokens, textOfContents } from './request';
import { isRecord } from './schema';

const CACHE_PATH = /^\/(?:v1beta|v1)\/cachedContents(?:\/([^/:]+))?$/;
export const CACHE_NAME_PREFIX = 'cachedContents/';
const MAX_DISPLAY_NAME_CHARS = 128;

/** One request on a cachedContents route. */
export type CacheCall =
  | { route: 'cacheCreate' | 'cacheList'; name: undefined }
  | { route: 'cacheGet' | 'cacheUpdate' | 'cacheDelete'; name: string };

/** The cache route `method path` addresses, or undefined when it is none. */
export function cacheCallOf(method: string, path: string): CacheCall | undefined {
  const match = CACHE_PATH.exec(path);
  if (match === null) return undefined;
  const id = match[1];
  if (id === undefined) {
    if (method === 'POST') return { route: 'cacheCreate', name: undefined };
    if (method === 'GET') return { route: 'cacheList', name: undefined };
    return undefined;
  }
  const name = `${CACHE_NAME_PREFIX}${id}`;
  if (method === 'GET') return { route: 'cacheGet', name };
  if (method === 'PATCH') return { route: 'cacheUpdate', name };
  if (method === 'DELETE') return { route: 'cacheDelete', name };
  return undefined;
}

/** `cachedContents/<id>` whether or not the caller wrote the prefix. */
export function cacheNameOf(name: string): string {
  return name.startsWith(CACHE_NAME_PREFIX) ? name : `${CACHE_NAME_PREFIX}${name}`;
}

/** When a cache should expire, as a request put it. */
export type Expiration = { ttlMs: number } | { expireAtMs: number };

/** The parts of a cacheCreate body the emulator acts on. */
export interface CacheCreateView {
  /** Without the `models/` prefix. */
  model: string;
  displayName: string | undefined;
  promptChars: number;
  systemInstructionChars: number;
  /** Contents plus system instruction, counted like a prompt. */
  tokens: number;
  expiration: Expiration | undefined;
}

/** Reads `{model, displayName?, systemInstruction?, contents?, ttl? | expireTime?}`, or says what Google would reject. */
export function readCacheCreate(body: unknown): CacheCreateView | GoogleError {
  if (!isRecord(body)) return invalidArgument('Invalid JSON payload received. Expected an object.');
  const { model, displayName, contents, systemInstruction } = body;
  if (typeof model !== 'string' || withoutModelsPrefix(model) === '') {
    return invalidArgument('* CreateCachedContentRequest.cached_content.model: model is not specified\n');
  }
  if (displayName !== undefined && (typeof displayName !== 'string' || displayName.length > MAX_DISPLAY_NAME_CHARS)) {
    return invalidArgument(
      `* CreateCachedContentRequest.cached_content.display_name: must be a string of at most ${MAX_DISPLAY_NAME_CHARS} characters\n`,
    );
  }
  const expiration = readExpiration(body);
  if (expiration !== undefined && isGoogleError(expiration)) return expiration;
  const promptText = textOfContents(contents);
  const systemText = textOfContents(systemInstruction);
  return {
    model: withoutModelsPrefix(model),
    displayName,
    promptChars: promptText.length,
    systemInstructionChars: systemText.length,
    tokens: promptTokens(promptText, systemText),
    expiration,
  };
}

/** `ttl` ("300s", protobuf Duration JSON) or `expireTime` (RFC 3339); at most one of them. */
export function readExpiration(body: Record<string, unknown>): Expiration | GoogleError | undefined {
  const { ttl, expireTime } = body;
  if (ttl !== undefined && expireTime !== undefined) {
    return invalidArgument('ttl and expire_time are one expiration: set only one of them.');
  }
  if (ttl !== undefined) {
    const match = typeof ttl === 'string' ? /^(\d+(?:\.\d{1,9})?)s$/.exec(ttl) : null;
    if (match === null) {
      return invalidArgument(
        `Invalid value at 'cached_content.ttl' (type.googleapis.com/google.protobuf.Duration), ${JSON.stringify(ttl)}`,
      );
    }
    return { ttlMs: Math.round(Number(match[1]) * 1000) };
  }
  if (expireTime !== undefined) {
    const expireAtMs =
      typeof expireTime === 'string' && /^\d{4}-\d\d-\d\dT/.test(expireTime) ? Date.parse(expireTime) : Number.NaN;
    if (Number.isNaN(expireAtMs)) {
      return invalidArgument(
        `Invalid value at 'cached_content.expire_time' (type.googleapis.com/google.protobuf.Timestamp), ${JSON.stringify(expireTime)}`,
      );
    }
    return { expireAtMs };
  }
  return undefined;
}
