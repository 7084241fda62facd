/**
 * Payload encryption: AES-256-GCM over each serialized payload, keyed by id, so that item records,
 * prompts, model output and error messages never sit in plain text in Temporal's histories.
 *
 * Keys come from BATCH_LLM_ENCRYPTION_KEYS (`id1:base64key,id2:base64key`, read in src/config.ts):
 * the first encrypts, every one decrypts, so a new key goes first and the old ones stay listed
 * until nothing encrypted with them is left (running or retained workflows). The key id travels
 * in the payload's metadata (and as the cipher's additional data, so it cannot be swapped).
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { Payload, PayloadCodec } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { type EncryptionKey, missingKeyError, PayloadDecryptionError } from './keys';

export { type EncryptionKey, PayloadDecryptionError } from './keys';

const PayloadProto = temporal.api.common.v1.Payload;

export const ENCRYPTED_ENCODING = 'binary/encrypted';
export const KEY_ID_METADATA = 'encryption-key-id';
export const CIPHER_METADATA = 'encryption-cipher';
const CIPHER = 'AES-256-GCM';
const IV_BYTES = 12;
const TAG_BYTES = 16;
const byteArray = (text: string) => new TextEncoder().encode(text);
const text = (bytes: Uint8Array | null | undefined) => (bytes ? new TextDecoder().decode(bytes) : undefined);

/** Is this payload one of ours, encrypted? (Its key id, if so.) */
export function encryptedKeyId(payload: Payload): string | undefined {
  return text(payload.metadata?.encoding) === ENCRYPTED_ENCODING
    ? (text(payload.metadata?.[KEY_ID_METADATA]) ?? '')
    : undefined;
}

/**
 * The codec: encrypts every payload with the first key (none: payloads pass as they are) and
 * decrypts every encrypted payload with the key its id names.
 */
export class EncryptionCodec implements PayloadCodec {
  private readonly byId: ReadonlyMap<string, Buffer>;

  constructor(readonly keys: readonly EncryptionKey[]) {
    this.byId = new Map(keys.map((key) => [key.id, key.key]));
  }

  /** The id new payloads are encrypted with, if any. */
  get encryptingKeyId(): string | undefined {
    return this.keys[0]?.id;
  }

  async encode(payloads: Payload[]): Promise<Payload[]> {
    const current = this.keys[0];
    if (!current) return payloads;
    return payloads.map((payload) => this.encrypt(payload, current));
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => {
      const keyId = encryptedKeyId(payload);
      return keyId === undefined ? payload : this.decrypt(payload, keyId);
    });
  }

  private encrypt(payload: Payload, { id, key }: EncryptionKey): Payload {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', key, iv);
    cipher.setAAD(Buffer.from(id));
    const plain = PayloadProto.encode(payload).finish();
    const data = Buffer.concat([iv, cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
    return {
      metadata: {
        encoding: byteArray(ENCRYPTED_ENCODING),
        [KEY_ID_METADATA]: byteArray(id),
        [CIPHER_METADATA]: byteArray(CIPHER),
      },
      data,
    };
  }

  private decrypt(payload: Payload, keyId: string): Payload {
    const key = this.byId.get(keyId);
    if (!key) throw missingKeyError(keyId, this.keys);
    const data = Buffer.from(payload.data ?? new Uint8Array());
    try {
      if (data.length < IV_BYTES + TAG_BYTES) throw new Error('too short');
      const decipher = createDecipheriv('aes-256-gcm', key, data.subarray(0, IV_BYTES));
      decipher.setAAD(Buffer.from(keyId));
      decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
      const plain = Buffer.concat([
        decipher.update(data.subarray(IV_BYTES, data.length - TAG_BYTES)),
        decipher.final(),
      ]);
      return PayloadProto.decode(plain);
    } catch {
      throw new PayloadDecryptionError(
        keyId,
        `a payload encrypted with key "${keyId}" does not decrypt with the key of that id in BATCH_LLM_ENCRYPTION_KEYS: the key's bytes differ from the ones that encrypted it, or the payload was altered`,
      );
    }
  }
}
