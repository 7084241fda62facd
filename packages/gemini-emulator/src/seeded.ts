import { createHash } from 'node:crypto';

/**
 * A number in [0, 1) that depends only on `parts`. Fault rates, latency jitter and synthesized
 * values all derive from it, so a run is reproducible whatever order requests arrive in.
 */
export function seededUnit(...parts: ReadonlyArray<string | number>): number {
  const digest = createHash('sha256').update(parts.join('\u0000')).digest();
  return digest.readUInt32BE(0) / 0x1_0000_0000;
}

/** An integer in [0, size) that depends only on `parts`. */
export function seededIndex(size: number, ...parts: ReadonlyArray<string | number>): number {
  return Math.min(size - 1, Math.floor(seededUnit(...parts) * size));
}

const TOKEN_ALPHABET = '0123456789abcdefghijklmnopqrstuvwxyz';

/** `length` (≤ 32) lowercase letters and digits that depend only on `parts`; looks like a Google resource id. */
export function seededToken(length: number, ...parts: ReadonlyArray<string | number>): string {
  const digest = createHash('sha256').update(parts.join('\u0000')).digest();
  return Array.from(digest.subarray(0, length), (byte) => TOKEN_ALPHABET[byte % TOKEN_ALPHABET.length]).join('');
}
