/** `cache list` and `cache delete`: the project's context caches on Gemini, found by their tags. */
import { decodeDisplayName, tagsMatch } from '../caching/spec';
import { geminiOptionsFromEnv } from '../config';
import { createGeminiProvider } from '../providers/gemini/index';
import type { CacheEntry, ContextCaches } from '../providers/types';
import { asStrings, parseCommandArgs, UsageError } from './args';
import { cacheSpec } from './command-specs';
import { printHelp } from './help';

const out = (line: string) => process.stdout.write(`${line}\n`);

function parseTags(values: string[]): Record<string, string> {
  const tags: Record<string, string> = {};
  for (const value of values) {
    const separator = value.indexOf('=');
    if (separator <= 0) throw new UsageError(`--tag: expected KEY=VALUE, got "${value}"`);
    tags[value.slice(0, separator)] = value.slice(separator + 1);
  }
  return tags;
}

interface ListedCache {
  cache: CacheEntry;
  tags?: Record<string, string>;
  fingerprint?: string;
}

function providerCaches(): ContextCaches {
  const caches = createGeminiProvider(geminiOptionsFromEnv()).caches;
  if (!caches) throw new Error('this provider has no context caches');
  return caches;
}

async function listCaches(
  caches: ContextCaches,
  wanted: Record<string, string>,
  includeForeign: boolean,
): Promise<ListedCache[]> {
  const found: ListedCache[] = [];
  for await (const cache of caches.list()) {
    const decoded = decodeDisplayName(cache.displayName);
    if (decoded ? tagsMatch(decoded.tags, wanted) : includeForeign && Object.keys(wanted).length === 0) {
      found.push({ cache, ...(decoded ? { tags: decoded.tags, fingerprint: decoded.fingerprint } : {}) });
    }
  }
  return found;
}

function describe(entry: ListedCache): string {
  const { cache } = entry;
  const tags = entry.tags
    ? Object.entries(entry.tags)
        .map(([key, value]) => `${key}=${value}`)
        .join(' ')
    : `(not ours: "${cache.displayName ?? ''}")`;
  return `${cache.name}  ${cache.model}  ${cache.tokenCount ?? '?'} tokens  expires ${cache.expireTime}  ${tags}${entry.fingerprint ? `  fp=${entry.fingerprint}` : ''}`;
}

export async function runCache(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(cacheSpec, argv);
  if (values.help) return printHelp(cacheSpec);
  const [action, ...names] = positionals;
  const wanted = parseTags(asStrings(values.tag));
  if (action === 'list') {
    if (names.length > 0) throw new UsageError('cache list: takes no names (filter with --tag)');
    const listed = await listCaches(providerCaches(), wanted, values.all === true);
    for (const entry of listed) out(describe(entry));
    out(`${listed.length} cache${listed.length === 1 ? '' : 's'}`);
    return 0;
  }
  if (action === 'delete') {
    if (names.length === 0 && Object.keys(wanted).length === 0)
      throw new UsageError('cache delete: give cache names or at least one --tag (refusing to delete everything)');
    if (names.length > 0 && Object.keys(wanted).length > 0)
      throw new UsageError('cache delete: give names or --tag, not both');
    const caches = providerCaches();
    const targets =
      names.length > 0
        ? names.map((name) => (name.startsWith('cachedContents/') ? name : `cachedContents/${name}`))
        : (await listCaches(caches, wanted, false)).map((entry) => entry.cache.name);
    for (const name of targets) {
      await caches.delete(name);
      out(`deleted ${name}`);
    }
    out(`${targets.length} deleted`);
    return 0;
  }
  throw new UsageError(`cache: expected "list" or "delete", got ${action ? `"${action}"` : 'nothing'}`);
}
