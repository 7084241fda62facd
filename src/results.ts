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
    const directory = this.batchDirectory(result.batchId);
    await mkdir(directory, { recursive: true });
    const file = path.join(directory, `${encodeURIComponent(result.itemId)}.json`);
    const temporary = `${file}.${process.pid}.${Date.now()}.tmp`;
    await writeFile(temporary, JSON.stringify(result));
    await rename(temporary, file);
    return file;
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
