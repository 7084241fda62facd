/**
 * Encryption keys as BATCH_LLM_ENCRYPTION_KEYS gives them (`id1:base64key,id2:base64key`): the
 * first encrypts, every one decrypts. Light on purpose (src/config.ts reads it for every command);
 * the codec is src/privacy/encryption.ts.
 */
import { randomBytes } from 'node:crypto';

export const KEY_BYTES = 32;

/** One key: its id (in every payload it encrypts) and its 32 bytes. */
export interface EncryptionKey {
  readonly id: string;
  readonly key: Buffer;
}

/** An id: what payload metadata, logs and messages show of a key. */
export const KEY_ID_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;

/**
 * Parses `id1:base64key,id2:base64key`: a list of problems (each naming the entry by position
 * and id, never the key), or the keys in order.
 */
export function parseEncryptionKeys(value: string): { keys: EncryptionKey[] } | { problems: string[] } {
  const problems: string[] = [];
  const keys: EncryptionKey[] = [];
  const entries = value.split(',').map((entry) => entry.trim());
  entries.forEach((entry, index) => {
    const where = `entry ${index + 1}`;
    const separator = entry.indexOf(':');
    if (separator <= 0) {
      problems.push(`${where} must be id:base64key (e.g. k1:<32 random bytes in base64>)`);
      return;
    }
    const id = entry.slice(0, separator);
    const encoded = entry.slice(separator + 1);
    if (!KEY_ID_PATTERN.test(id)) {
      problems.push(`${where}: the key id must be 1-64 letters, digits, '.', '_' or '-'`);
      return;
    }
    if (keys.some((key) => key.id === id)) {
      problems.push(`${where}: key id "${id}" appears twice`);
      return;
    }
    const key = /^[A-Za-z0-9+/_-]+={0,2}$/.test(encoded) ? Buffer.from(encoded, 'base64') : Buffer.alloc(0);
    if (key.length !== KEY_BYTES) {
      problems.push(
        `${where} (key id "${id}"): the key must be ${KEY_BYTES} bytes in base64 (got ${key.length === 0 ? 'no valid base64' : `${key.length} bytes`}); make one with \`batch-llm encryption-key\``,
      );
      return;
    }
    keys.push({ id, key });
  });
  return problems.length > 0 ? { problems } : { keys };
}

/** A new key line for BATCH_LLM_ENCRYPTION_KEYS: `id:base64`. */
export function newEncryptionKey(id: string): string {
  return `${id}:${randomBytes(KEY_BYTES).toString('base64')}`;
}

/** A payload could not be decrypted: the key id it names, and why. Retrying with the same keys will not help. */
export class PayloadDecryptionError extends Error {
  override readonly name = 'PayloadDecryptionError';
  constructor(
    readonly keyId: string,
    message: string,
  ) {
    super(message);
  }
}

/** The payload was encrypted with a key this process does not hold. */
export function missingKeyError(keyId: string, held: readonly EncryptionKey[]): PayloadDecryptionError {
  return new PayloadDecryptionError(
    keyId,
    `a payload is encrypted with key "${keyId}", which this process does not hold: ${
      held.length === 0
        ? 'BATCH_LLM_ENCRYPTION_KEYS is not set'
        : `BATCH_LLM_ENCRYPTION_KEYS holds ${held.map((key) => `"${key.id}"`).join(', ')}`
    } (add "${keyId}:<its key>" to BATCH_LLM_ENCRYPTION_KEYS, after the key that encrypts)`,
  );
}
