import { createHash } from 'node:crypto';

const CACHE_MIN_TOKENS = 1024;
const CACHE_STEP_TOKENS = 128;
const MAX_CACHED_PREFIXES = 100_000;

/** OpenAI's automatic prompt caching, by prefix hashes at 1024 tokens and every 128 after (4 characters a token). */
export class PromptCache {
  private prefixes = new Set<string>();

  /** Tokens of the longest prefix of `transcript` seen before (0 below 1024), then remembers this one's prefixes. */
  use(model: string, transcript: string, tokens: number): number {
    const hash = createHash('sha256').update(`${model}\u0000`);
    let consumed = 0;
    let cached = 0;
    for (let boundary = CACHE_MIN_TOKENS; boundary <= tokens; boundary += CACHE_STEP_TOKENS) {
      const end = Math.min(boundary * 4, transcript.length);
      hash.update(transcript.slice(consumed, end));
      consumed = end;
      const key = hash.copy().digest('base64');
      if (this.prefixes.has(key)) cached = boundary;
      else this.remember(key);
    }
    return cached;
  }

  clear(): void {
    this.prefixes.clear();
  }

  private remember(key: string): void {
    this.prefixes.add(key);
    if (this.prefixes.size > MAX_CACHED_PREFIXES) {
      const oldest = this.prefixes.values().next().value;
      if (oldest !== undefined) this.prefixes.delete(oldest);
    }
  }
}
