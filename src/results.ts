import { mkdir, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { ItemResult } from './schemas';

/**
 * Results written as items finish: one JSON file per item under `<dir>/<batchId>/items/`, written
 * atomically (temp file + rename), so a retried or replayed write replaces instead of duplicating.
 * The directory must be shared by all workers and the CLI (a local disk in dev; a shared volume
 * in a multi-machine deployment).
 */
export class FileResultStore {
  constructor(readonly directory: string) {}

  batchDirectory(batchId: string): string {
    return path.join(this.directory, batchId, 'items');
  }

  async write(result: ItemResult): Promise<string> {
    return writeAtomically(this.batchDirectory(result.batchId), result.itemId, result);
  }

  /** The recorded decision of an item's post-processing hook, if it has completed. */
  async readPostProcessed<T>(batchId: string, itemId: string): Promise<T | undefined> {
    try {
      return JSON.parse(await readFile(path.join(this.postProcessDirectory(batchId), `${encodeURIComponent(itemId)}.json`), 'utf8')) as T;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  }

  /** Records that an item's hook completed, so a retried activity does not run it again. */
  async writePostProcessed(batchId: string, itemId: string, decision: unknown): Promise<string> {
    return writeAtomically(this.postProcessDirectory(batchId), itemId, decision);
  }

  private postProcessDirectory(batchId: string): string {
    return path.join(this.directory, batchId, 'post-processed');
  }

  /** All results of a batch, in input order. */
  async readAll(batchId: string): Promise<ItemResult[]> {
    const directory = this.batchDirectory(batchId);
    let names: string[];
    try {
      names = await readdir(directory);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
    const results = await Promise.all(
      names
        .filter((name) => name.endsWith('.json'))
        .map(async (name) => JSON.parse(await readFile(path.join(directory, name), 'utf8')) as ItemResult),
    );
    return results.sort((a, b) => a.index - b.index);
  }
}

async function writeAtomically(directory: string, itemId: string, value: unknown): Promise<string> {
  await mkdir(directory, { recursive: true });
  const file = path.join(directory, `${encodeURIComponent(itemId)}.json`);
  const temporary = `${file}.${process.pid}.${Date.now()}.tmp`;
  await writeFile(temporary, JSON.stringify(value));
  await rename(temporary, file);
  return file;
}
