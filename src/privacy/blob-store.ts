/**
 * The claim check: payloads larger than a threshold travel by reference. Temporal refuses a
 * payload over 2 MB (and warns from 256 KB), while Gemini takes requests of up to 20 MB inline,
 * so a large item's record, and the model call's input that carries it, would not fit in history.
 *
 * The SDK's external storage (`ExternalStorage`, @temporalio/common 1.24) does the routing: it
 * runs after the payload codecs, so what reaches the store is the payload as the history would
 * hold it (encrypted when encryption is on), and history keeps a small reference that every
 * Temporal SDK can read. This driver keeps the payloads as files in a directory the workers
 * share, named by the SHA-256 of their bytes: writing the same bytes twice is one file, and a
 * read checks the bytes against the name. Another store (S3-compatible, …) is another
 * `StorageDriver` with the same two methods.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { type Payload, StorageDriverClaim, type StorageDriver } from '@temporalio/common';
import { temporal } from '@temporalio/proto';

const PayloadProto = temporal.api.common.v1.Payload;

export const BLOB_DRIVER_NAME = 'batch-llm-blobs';
const DIGEST = /^[0-9a-f]{64}$/;

/** A stored payload cannot be read back: missing from the directory, or not the bytes its name promises. */
export class BlobUnavailableError extends Error {
  override readonly name = 'BlobUnavailableError';
}

/** Payloads as files under `<directory>/<2 hex>/<sha256>`. */
export class DirectoryBlobDriver implements StorageDriver {
  readonly name = BLOB_DRIVER_NAME;
  readonly type = 'batch-llm.directory';

  constructor(readonly directory: string) {}

  async store(_context: unknown, payloads: Payload[]): Promise<StorageDriverClaim[]> {
    return Promise.all(
      payloads.map(async (payload) => {
        const bytes = PayloadProto.encode(payload).finish();
        const digest = createHash('sha256').update(bytes).digest('hex');
        const file = this.fileOf(digest);
        if (!(await exists(file))) {
          await mkdir(path.dirname(file), { recursive: true });
          // Written aside, then renamed: a reader never sees half a file, and two writers of the same bytes agree.
          const aside = `${file}.${randomBytes(6).toString('hex')}.part`;
          await writeFile(aside, bytes);
          await rename(aside, file);
        }
        return new StorageDriverClaim({ sha256: digest, bytes: String(bytes.length) });
      }),
    );
  }

  async retrieve(_context: unknown, claims: StorageDriverClaim[]): Promise<Payload[]> {
    return Promise.all(
      claims.map(async (claim) => {
        const digest = claim.claimData.sha256 ?? '';
        if (!DIGEST.test(digest))
          throw new BlobUnavailableError(
            `a payload reference names no valid blob (${JSON.stringify(claim.claimData)})`,
          );
        const file = this.fileOf(digest);
        let bytes: Buffer;
        try {
          bytes = await readFile(file);
        } catch (error) {
          throw new BlobUnavailableError(
            `large payload ${digest.slice(0, 12)}… is not in the blob directory ${this.directory} (${(error as NodeJS.ErrnoException).code ?? String(error)}): every worker and client must share that directory (BATCH_LLM_BLOB_DIR)`,
          );
        }
        if (createHash('sha256').update(bytes).digest('hex') !== digest)
          throw new BlobUnavailableError(
            `large payload ${digest.slice(0, 12)}… in ${file} is not the bytes that were stored (altered or truncated)`,
          );
        return PayloadProto.decode(bytes);
      }),
    );
  }

  private fileOf(digest: string): string {
    return path.join(this.directory, digest.slice(0, 2), digest);
  }
}

async function exists(file: string): Promise<boolean> {
  try {
    await stat(file);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
}
