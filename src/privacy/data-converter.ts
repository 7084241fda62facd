/**
 * What every Temporal client and worker of this project converts payloads with, built from the
 * settings in one place (src/temporal/connection.ts and src/worker.ts take it from here):
 *
 * - the encryption codec (keys from BATCH_LLM_ENCRYPTION_KEYS; without keys payloads pass plain,
 *   and an encrypted payload met without its key is an error naming the key id);
 * - with encryption on, failures' messages and stack traces go into their encoded attributes, so
 *   the codec encrypts them too (an error message can quote the model's output);
 * - the claim check: payloads of BATCH_LLM_BLOB_THRESHOLD or more (default 128 KiB) are kept in
 *   BATCH_LLM_BLOB_DIR (default <state dir>/blobs) and travel by reference.
 */
import { createHash } from 'node:crypto';
import path from 'node:path';
import {
  DefaultFailureConverter,
  defaultPayloadConverter,
  ExternalStorage,
  type DataConverter,
} from '@temporalio/common';
import type { LoadedDataConverter } from '@temporalio/common';
import { batchLlmSettings, stateDirectoryOf, type BatchLlmSettings } from '../config';
import { DirectoryBlobDriver } from './blob-store';
import { EncryptionCodec } from './encryption';
import type { EncryptionKey } from './keys';

/** Default claim-check threshold: well under Temporal's 256 KB warning and 2 MB limit per payload. */
export const DEFAULT_BLOB_THRESHOLD = 128 * 1024;

/** The workflow-side failure converter that moves messages and stack traces into encoded attributes. */
export const ENCODED_FAILURES_PATH = path.resolve(__dirname, '..', '..', 'workflows', 'encoded-failures.ts');

export interface PayloadPrivacy {
  keys: readonly EncryptionKey[];
  blobDirectory: string;
  blobThreshold: number;
}

/** The settings' encryption keys, blob directory and threshold. */
export function payloadPrivacyOf(settings: BatchLlmSettings = batchLlmSettings()): PayloadPrivacy {
  return {
    keys: settings.BATCH_LLM_ENCRYPTION_KEYS ?? [],
    blobDirectory: path.resolve(settings.BATCH_LLM_BLOB_DIR ?? path.join(stateDirectoryOf(settings), 'blobs')),
    blobThreshold: settings.BATCH_LLM_BLOB_THRESHOLD ?? DEFAULT_BLOB_THRESHOLD,
  };
}

/** Built once per process and settings: codecs hold no state beyond their keys. */
const converters = new Map<string, { codec: EncryptionCodec; externalStorage: ExternalStorage }>();

function partsOf(privacy: PayloadPrivacy) {
  // Keyed by a digest of the settings: the keys themselves never become a lookup string.
  const digest = createHash('sha256');
  for (const key of privacy.keys) digest.update(key.id).update('\u0000').update(key.key).update('\u0000');
  const cacheKey = `${digest.digest('hex')} ${privacy.blobThreshold} ${privacy.blobDirectory}`;
  let parts = converters.get(cacheKey);
  if (!parts) {
    parts = {
      codec: new EncryptionCodec(privacy.keys),
      externalStorage: new ExternalStorage({
        drivers: [new DirectoryBlobDriver(privacy.blobDirectory)],
        payloadSizeThreshold: privacy.blobThreshold,
      }),
    };
    converters.set(cacheKey, parts);
  }
  return parts;
}

/** Is encryption on (a key to encrypt with)? Then failures' messages are encoded too. */
export function encrypts(privacy: PayloadPrivacy): boolean {
  return privacy.keys.length > 0;
}

/** A client's data converter (loaded: no module paths to require). */
export function clientDataConverter(privacy: PayloadPrivacy = payloadPrivacyOf()): LoadedDataConverter {
  const { codec, externalStorage } = partsOf(privacy);
  return {
    payloadConverter: defaultPayloadConverter,
    failureConverter: new DefaultFailureConverter({ encodeCommonAttributes: encrypts(privacy) }),
    payloadCodecs: [codec],
    externalStorage,
  };
}

/**
 * A worker's data converter. The workflow side's failure converter is compiled into the bundle
 * (src/worker.ts gives the bundler ENCODED_FAILURES_PATH when encryption is on); the worker's own
 * side (activities' failures) loads the same module.
 */
export function workerDataConverter(privacy: PayloadPrivacy = payloadPrivacyOf()): DataConverter {
  const { codec, externalStorage } = partsOf(privacy);
  return {
    payloadCodecs: [codec],
    externalStorage,
    ...(encrypts(privacy) ? { failureConverterPath: ENCODED_FAILURES_PATH } : {}),
  };
}

/** The codec alone (the codec server, tests). */
export function encryptionCodecOf(privacy: PayloadPrivacy = payloadPrivacyOf()): EncryptionCodec {
  return partsOf(privacy).codec;
}

/** The external storage alone (the codec server resolves references with it). */
export function externalStorageOf(privacy: PayloadPrivacy = payloadPrivacyOf()): ExternalStorage {
  return partsOf(privacy).externalStorage;
}

/** For banners and logs: what is encrypted with which key id, where large payloads go. Never a key. */
export function describePrivacy(privacy: PayloadPrivacy): string {
  const encryption = encrypts(privacy)
    ? `payloads encrypted with key "${privacy.keys[0]?.id}"${
        privacy.keys.length > 1
          ? ` (decrypting also ${privacy.keys
              .slice(1)
              .map((key) => `"${key.id}"`)
              .join(', ')})`
          : ''
      }`
    : 'payloads not encrypted (set BATCH_LLM_ENCRYPTION_KEYS to encrypt)';
  return `${encryption}; payloads of ${Math.round(privacy.blobThreshold / 1024)} KiB or more kept in ${privacy.blobDirectory}`;
}
