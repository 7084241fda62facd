import { CACHE_NAME_PREFIX, cacheNameOf, readCacheCreate, readExpiration } from './cache-requests';
import type { CacheCall, CacheCreateView, Expiration } from './cache-requests';
import { cachedContentNotFound, invalidArgument, isGoogleError } from './errors';
import type { GoogleError } from './errors';
import { withoutModelsPrefix } from './faults';
import { isRecord } from './schema';
import { seededToken } from './seeded';

const DEFAULT_TTL_MS = 60 * 60 * 1000;
const DEFAULT_PAGE_SIZE = 10;
const MAX_PAGE_SIZE = 1000;
const PAGE_TOKEN_PREFIX = 'after-';

/** A context cache as get, list, create and update return it; contents are never returned. */
export interface CachedContentResource {
  name: string;
  /** With the `models/` prefix. */
  model: string;
  /** Absent when the cache was created without one, as Google omits empty fields. */
  displayName?: string;
  createTime: string;
  updateTime: string;
  expireTime: string;
  usageMetadata: { totalTokenCount: number };
}

/** How the store is set up; see `EmulatorOptions` for each field. */
export interface CacheSettings {
  now: () => number;
  minTokens: number;
  minTokensByModel: Record<string, number>;
  unknownNames: 'accept' | 'not_found';
}

/** What a generateContent naming a cache gets: its tokens, an error, or undefined for an accepted unknown name. */
export type CacheLookup = { tokens: number } | { error: GoogleError } | undefined;

interface StoredCache {
  name: string;
  model: string;
  displayName: string | undefined;
  tokens: number;
  /** Creation order, for listing and page tokens. */
  sequence: number;
  createdAtMs: number;
  updatedAtMs: number;
  expireAtMs: number;
}

/**
 * The emulator's context caches. Expiry is lazy: a cache whose expireTime is not after `now()`
 * is deleted the moment anything looks at it, so no timers run.
 */
export class CacheStore {
  private readonly entries = new Map<string, StoredCache>();
  /** Every name ever handed out, so a deleted or expired one is told apart from an invented one. */
  private readonly issued = new Set<string>();
  private created = 0;
  private readonly minTokensByModel: Map<string, number>;

  constructor(private readonly settings: CacheSettings) {
    this.minTokensByModel = new Map(
      Object.entries(settings.minTokensByModel).map(([model, tokens]) => [withoutModelsPrefix(model), tokens]),
    );
  }

  create(view: CacheCreateView, seed: number): CachedContentResource | GoogleError {
    const minimum = this.minTokensByModel.get(view.model) ?? this.settings.minTokens;
    if (view.tokens < minimum) {
      return invalidArgument(
        `Cached content is too small. total_token_count=${view.tokens}, min_total_token_count=${minimum}`,
      );
    }
    const now = this.settings.now();
    const expireAtMs = futureExpiry(view.expiration ?? { ttlMs: DEFAULT_TTL_MS }, now);
    if (typeof expireAtMs !== 'number') return expireAtMs;
    let name: string;
    do {
      this.created += 1;
      name = `${CACHE_NAME_PREFIX}${seededToken(12, 'cache', seed, this.created)}`;
    } while (this.issued.has(name));
    this.issued.add(name);
    const cache: StoredCache = {
      name,
      model: view.model,
      displayName: view.displayName,
      tokens: view.tokens,
      sequence: this.created,
      createdAtMs: now,
      updatedAtMs: now,
      expireAtMs,
    };
    this.entries.set(name, cache);
    return resourceOf(cache);
  }

  /**
   * Serves one cachedContents request. `cacheName` is the cache addressed, or the one created;
   * a delete answers `{}` as Google does (the SDK throws on an empty body).
   */
  answer(
    call: CacheCall & { query: URLSearchParams },
    body: unknown,
    seed: number,
  ): { outcome: GoogleError | { httpStatus: 200; body: object }; cacheName: string | undefined } {
    let result: object;
    let cacheName = call.name;
    switch (call.route) {
      case 'cacheCreate': {
        const view = readCacheCreate(body);
        const created = isGoogleError(view) ? view : this.create(view, seed);
        if (!isGoogleError(created)) cacheName = created.name;
        result = created;
        break;
      }
      case 'cacheList':
        result = this.list(call.query);
        break;
      case 'cacheGet':
        result = this.get(call.name);
        break;
      case 'cacheUpdate':
        result = this.update(call.name, body);
        break;
      case 'cacheDelete':
        result = this.delete(call.name) ?? {};
        break;
    }
    return { outcome: isGoogleError(result) ? result : { httpStatus: 200, body: result }, cacheName };
  }

  get(name: string): CachedContentResource | GoogleError {
    const cache = this.live(name);
    return cache === undefined ? cachedContentNotFound() : resourceOf(cache);
  }

  /** One page in creation order; `pageToken` names the last cache of the previous page. */
  list(query: URLSearchParams): { cachedContents: CachedContentResource[]; nextPageToken?: string } | GoogleError {
    const pageSize = Number(query.get('pageSize') ?? '0');
    if (!Number.isInteger(pageSize) || pageSize < 0)
      return invalidArgument(`Invalid page_size: ${query.get('pageSize') ?? ''}`);
    const token = query.get('pageToken') ?? '';
    const after = token === '' ? 0 : Number(token.slice(PAGE_TOKEN_PREFIX.length));
    if (token !== '' && (!token.startsWith(PAGE_TOKEN_PREFIX) || !Number.isInteger(after))) {
      return invalidArgument(`Invalid page_token: ${token}`);
    }
    const remaining = this.all().filter((cache) => cache.sequence > after);
    const page = remaining.slice(0, pageSize === 0 ? DEFAULT_PAGE_SIZE : Math.min(pageSize, MAX_PAGE_SIZE));
    const last = page.at(-1);
    const cachedContents = page.map(resourceOf);
    // An empty nextPageToken would make the SDK's pager ask again forever: omit it on the last page.
    return last === undefined || remaining.length === page.length
      ? { cachedContents }
      : { cachedContents, nextPageToken: `${PAGE_TOKEN_PREFIX}${last.sequence}` };
  }

  /** Only the expiry can change: `{ttl}` or `{expireTime}`; other fields are ignored. */
  update(name: string, body: unknown): CachedContentResource | GoogleError {
    const expiration = isRecord(body) ? readExpiration(body) : undefined;
    if (expiration === undefined)
      return invalidArgument('Set ttl or expire_time: only the expiration of a cached content can be updated.');
    if (isGoogleError(expiration)) return expiration;
    const cache = this.live(name);
    if (cache === undefined) return cachedContentNotFound();
    const now = this.settings.now();
    const expireAtMs = futureExpiry(expiration, now);
    if (typeof expireAtMs !== 'number') return expireAtMs;
    cache.expireAtMs = expireAtMs;
    cache.updatedAtMs = now;
    return resourceOf(cache);
  }

  /** Deletes a live cache; an error when there is none. */
  delete(name: string): GoogleError | undefined {
    if (this.live(name) === undefined) return cachedContentNotFound();
    this.entries.delete(name);
    return undefined;
  }

  /** Removes a cache without a request, as if someone else deleted it. True when it was live. */
  remove(name: string): boolean {
    return this.delete(cacheNameOf(name)) === undefined;
  }

  /** The model (without `models/`) of a live cache. */
  modelOf(name: string): string | undefined {
    return this.live(name)?.model;
  }

  /** What generateContent on `model` gets for naming cache `name`. */
  lookup(name: string, model: string): CacheLookup {
    const normalized = cacheNameOf(name);
    const cache = this.live(normalized);
    if (cache === undefined) {
      const invented = !this.issued.has(normalized);
      return invented && this.settings.unknownNames === 'accept' ? undefined : { error: cachedContentNotFound() };
    }
    if (cache.model !== model) {
      return {
        error: invalidArgument(
          `Model used by GenerateContent request (models/${model}) and CachedContent (models/${cache.model}) has to be the same.`,
        ),
      };
    }
    return { tokens: cache.tokens };
  }

  /** Live caches in creation order. */
  resources(): CachedContentResource[] {
    return this.all().map(resourceOf);
  }

  /** Forgets every cache; issued names stay known so that stale ones are still 404. */
  clear(): void {
    this.entries.clear();
  }

  private live(name: string): StoredCache | undefined {
    const cache = this.entries.get(name);
    if (cache === undefined) return undefined;
    if (cache.expireAtMs > this.settings.now()) return cache;
    this.entries.delete(name);
    return undefined;
  }

  private all(): StoredCache[] {
    return [...this.entries.keys()]
      .map((name) => this.live(name))
      .filter((cache): cache is StoredCache => cache !== undefined)
      .sort((left, right) => left.sequence - right.sequence);
  }
}

/** When the cache expires; an error for a moment not after `now` (unsure what Google says: a cache born expired would only confuse). */
function futureExpiry(expiration: Expiration, now: number): number | GoogleError {
  const expireAtMs = 'ttlMs' in expiration ? now + expiration.ttlMs : expiration.expireAtMs;
  return expireAtMs > now ? expireAtMs : invalidArgument('expire_time must be in the future.');
}

function resourceOf(cache: StoredCache): CachedContentResource {
  return {
    name: cache.name,
    model: `models/${cache.model}`,
    ...(cache.displayName === undefined ? {} : { displayName: cache.displayName }),
    createTime: new Date(cache.createdAtMs).toISOString(),
    updateTime: new Date(cache.updatedAtMs).toISOString(),
    expireTime: new Date(cache.expireAtMs).toISOString(),
    usageMetadata: { totalTokenCount: cache.tokens },
  };
}
