/** `cache list` and `cache delete`: the project's context caches on Gemini, found by their tags. */
import type { CachedContent } from '@google/genai';
import { decodeDisplayName, tagsMatch } from '../caching/spec';
import { createGeminiClient, geminiOptionsFromEnv } from '../gemini';
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
  cache: CachedContent;
  tags?: Record<string, string>;
  fingerprint?: string;
}

async function listCaches(wanted: Record<string, string>, includeForeign: boolean): Promise<ListedCache[]> {
  const gemini = createGeminiClient(geminiOptionsFromEnv());
  const found: ListedCache[] = [];
  for await (const cache of await gemini.caches.list({ config: { pageSize: 100 } })) {
    const decoded = decodeDisplayName(cache.displayName);
    if (decoded ? tagsMatch(decoded.tags, wanted) : includeForeign && Object.keys(wanted).length === 0) {
      found.push({ cache, ...(decoded ? { tags: decoded.tags, fingerprint: decoded.fingerprint } : {}) });
    }
  }
  return found;
}

function describe(entry: ListedCache): string {
  const { cache } = entry;
  const tags = entry.tags ? Object.entries(entry.tags).map(([key, value]) => `${key}=${value}`).join(' ') : `(not ours: "${cache.displayName ?? ''}")`;
  return `${cache.name}  ${cache.model?.replace(/^models\//, '')}  ${cache.usageMetadata?.totalTokenCount ?? '?'} tokens  expires ${cache.expireTime}  ${tags}${entry.fingerprint ? `  fp=${entry.fingerprint}` : ''}`;
}

export async function runCache(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(cacheSpec, argv);
  if (values.help) return printHelp(cacheSpec);
  const [action, ...names] = positionals;
  const wanted = parseTags(asStrings(values.tag));
  if (action === 'list') {
    if (names.length > 0) throw new UsageError('cache list: takes no names (filter with --tag)');
    const caches = await listCaches(wanted, values.all === true);
    for (const entry of caches) out(describe(entry));
    out(`${caches.length} cache${caches.length === 1 ? '' : 's'}`);
    return 0;
  }
  if (action === 'delete') {
    if (names.length === 0 && Object.keys(wanted).length === 0) throw new UsageError('cache delete: give cache names or at least one --tag (refusing to delete everything)');
    if (names.length > 0 && Object.keys(wanted).length > 0) throw new UsageError('cache delete: give names or --tag, not both');
    const gemini = createGeminiClient(geminiOptionsFromEnv());
    const targets = names.length > 0 ? names.map((name) => (name.startsWith('cachedContents/') ? name : `cachedContents/${name}`)) : (await listCaches(wanted, false)).map((entry) => entry.cache.name ?? '');
    for (const name of targets) {
      await gemini.caches.delete({ name });
      out(`deleted ${name}`);
    }
    out(`${targets.length} deleted`);
    return 0;
  }
  throw new UsageError(`cache: expected "list" or "delete", got ${action ? `"${action}"` : 'nothing'}`);
}
