import { closeSync, fstatSync, ftruncateSync, openSync, readSync, writeSync } from 'node:fs';
import { mkdir, open, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { withFileLock } from './file-lock';
import {
  findResult,
  finishOrderJsonl,
  indexLines,
  inputOrderJsonl,
  lineIdAt,
  readCompleteLines,
  readResultAt,
  resultLine,
} from './results-jsonl';
import type { ErrorCategory } from './errors/categories';
import { ResultLineIndex } from './results-line-index';
import type { CallMetadata, ItemResult, ItemStatus, Usage } from './schemas';

/** What a write did: where the records are, and how many of them were new. */
export interface RecordedResults {
  location: string;
  added: number;
}

/** What writing one item's record did: where it is, and the record kept when one was there first. */
export interface RecordedResult {
  location: string;
  /** The item's record as it was already stored (first write wins), when it differs from the one offered. */
  kept?: ItemResult;
}

/**
 * Where activities put finished items' records. Both writes must be idempotent by (batchId,
 * itemId): Temporal retries an activity whose worker died after the write but before the server
 * heard, so the same record arrives again. `FileResultStore` is the built-in sink; a database or
 * object-store sink implements these two methods (e.g. an upsert keyed by batch and item id).
 */
export interface ResultSink {
  /**
   * Records one finished item. A record already there for its item id is kept and returned: the
   * first record written is the item's final one, and its workflow reports that one.
   */
  write(result: ItemResult): Promise<RecordedResult>;
  /** Records many items of one batch (the ones a stopped batch never started) in one go. */
  writeMany(batchId: string, results: readonly ItemResult[]): Promise<RecordedResults>;
  /** Whether any record of this batch exists (a new batch must not reuse an id whose results remain). */
  hasResults(batchId: string): Promise<boolean>;
}

/**
 * How commands read a batch's results (results, report, rerun): the file store today; a database
 * store implements the same. One record per item, the first written.
 */
export interface ResultReader {
  /** The batch's records, one per item, streamed (never all in memory); only those `filter` keeps. */
  records(batchId: string, order?: ResultOrder, filter?: ResultFilter): AsyncIterable<ItemResult>;
  hasResults(batchId: string): Promise<boolean>;
  /** Where the records are, for messages (a directory, a database URL without its password). */
  describe(batchId: string): string;
}

/** Which records to read: any of these statuses, and any of these error categories (an absent list keeps all). */
export interface ResultFilter {
  statuses?: readonly ItemStatus[] | undefined;
  categories?: readonly string[] | undefined;
}

/** Whether `record` passes `filter`. A category filter keeps only records with an error of one of those categories. */
export function matchesFilter(record: Pick<ItemResult, 'status' | 'error'>, filter: ResultFilter | undefined): boolean {
  if (filter?.statuses && !filter.statuses.includes(record.status)) return false;
  if (filter?.categories && !(record.error && filter.categories.includes(record.error.category))) return false;
  return true;
}

/** The post-processing hooks' ledger: a completed hook's decision, by item. */
export interface PostProcessLedger {
  readPostProcessed<T>(batchId: string, itemId: string): Promise<T | undefined>;
  writePostProcessed(batchId: string, itemId: string, decision: unknown): Promise<string>;
}

/**
 * Batch Mode: one item's stage-1 answer from a provider job, staged by the job's download and read
 * by the item's own workflow (answers never pass through the batch's history). Provider-neutral:
 * the answer as the engine reads any answer, or the request's classified error.
 */
export interface StagedBatchAnswer {
  itemId: string;
  answer?: {
    text?: string | undefined;
    stopped?: { category: ErrorCategory; message: string };
    usage: Usage;
    metadata: CallMetadata;
    /** Only when the task sets includeRawResponse. */
    raw?: unknown;
  };
  error?: { category: ErrorCategory; message: string; retryable: boolean };
}

/** Where a batch job's answers wait for their items, keyed by batch, job number and item id. Writes replace (a retried download). */
export interface BatchAnswerStaging {
  stageBatchAnswers(batchId: string, job: number, answers: readonly StagedBatchAnswer[]): Promise<void>;
  readStagedAnswer(batchId: string, job: number, itemId: string): Promise<StagedBatchAnswer | undefined>;
  /** Removes every staged answer of the batch (it has ended). */
  clearStagedAnswers(batchId: string): Promise<void>;
}

/** Everything a worker's activities keep: results, the post-processing ledger, staged batch answers. */
export type WorkerStore = ResultSink & ResultReader & PostProcessLedger & BatchAnswerStaging;

/** Files written at once when staging a job's answers. */
const STAGING_WRITES = 32;

/** Past this many unindexed bytes the writer indexes them asynchronously instead of under the lock. */
const LOCKED_CATCH_UP_BYTES = 1 << 20;
/** Batches whose item ids a writer keeps in memory; an evicted batch is indexed from its file again. */
const INDEXED_BATCHES = 16;

/** `input`: by the items' position in the input; `finish`: as the items finished (the file's own order). */
export const RESULT_ORDERS = ['input', 'finish'] as const;
export type ResultOrder = (typeof RESULT_ORDERS)[number];

/** The item ids already in a batch's results file (by line offset), and how far into the file they were read. */
interface BatchIndex {
  lines: ResultLineIndex;
  indexedBytes: number;
  inode: number;
  catchingUp?: Promise<void>;
}

/**
 * The results of a batch in one JSONL file on the worker's disk, `<dir>/<batchId>/results.jsonl`,
 * one line per item, appended as items finish.
 *
 * Exactly one line per item id, whatever retries and crashes do: each append takes a lock shared by
 * the processes of the machine (`results.jsonl.lock`), first reads what others appended since this
 * process last looked, cuts a torn last line (an append cut short by a crash), and appends only the
 * ids not in the file yet. A later write for an id already there is a no-op — first write wins:
 * results are written once an item has ended, so a second write is a retry carrying the same record.
 * Readers also drop duplicate ids and a torn last line.
 */
export class FileResultStore implements ResultSink, ResultReader, PostProcessLedger, BatchAnswerStaging {
  private readonly indexes = new Map<string, BatchIndex>();

  constructor(readonly directory: string) {}

  /** The batch's results file. */
  resultsFile(batchId: string): string {
    return path.join(this.directory, batchId, 'results.jsonl');
  }

  async hasResults(batchId: string): Promise<boolean> {
    try {
      return (await stat(this.resultsFile(batchId))).size > 0;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw error;
    }
  }

  async write(result: ItemResult): Promise<RecordedResult> {
    const storedAt = new Map<string, number>();
    const { location, added } = await this.append(result.batchId, [result], storedAt);
    if (added > 0) return { location };
    // The stored line is where the index found it (one read); the whole file only if that line moved.
    const offset = storedAt.get(result.itemId);
    const atOffset = offset === undefined ? undefined : await readResultAt(location, offset);
    const kept = atOffset?.itemId === result.itemId ? atOffset : await findResult(location, result.itemId);
    return kept && !sameRecord(kept, result) ? { location, kept } : { location };
  }

  async writeMany(batchId: string, results: readonly ItemResult[]): Promise<RecordedResults> {
    return this.append(batchId, results);
  }

  /** writeMany, noting in `storedAt` where the line of each id already in the file starts. */
  private async append(
    batchId: string,
    results: readonly ItemResult[],
    storedAt?: Map<string, number>,
  ): Promise<RecordedResults> {
    const stranger = results.find((result) => result.batchId !== batchId);
    if (stranger)
      throw new Error(`writeMany for batch "${batchId}" got item "${stranger.itemId}" of batch "${stranger.batchId}"`);
    const file = this.resultsFile(batchId);
    for (;;) {
      const added = await withFileLock(`${file}.lock`, () => this.appendLocked(batchId, file, results, storedAt));
      if (added !== 'behind') return { location: file, added };
      await this.catchUp(batchId, file);
    }
  }

  /** Under the lock, synchronously: index what others appended, cut a torn line, append the new ids. */
  private appendLocked(
    batchId: string,
    file: string,
    results: readonly ItemResult[],
    storedAt?: Map<string, number>,
  ): number | 'behind' {
    const index = this.indexOf(batchId);
    const descriptor = openSync(file, 'a+');
    try {
      const { size, ino } = fstatSync(descriptor);
      if (ino !== index.inode || size < index.indexedBytes) resetIndex(index, ino); // replaced or emptied behind our back
      if (size - index.indexedBytes > LOCKED_CATCH_UP_BYTES) return 'behind';
      if (size > index.indexedBytes) {
        const unindexed = Buffer.alloc(size - index.indexedBytes);
        readFully(descriptor, unindexed, index.indexedBytes);
        const from = index.indexedBytes;
        index.indexedBytes += indexLines(unindexed, (itemId, start) => index.lines.add(itemId, from + start));
        if (index.indexedBytes < size) ftruncateSync(descriptor, index.indexedBytes);
      }
      const lines = new Map<string, string>();
      const written = (offset: number) => lineIdAt(descriptor, offset);
      for (const result of results) {
        if (lines.has(result.itemId)) continue;
        const stored = index.lines.offsetOf(result.itemId, written);
        if (stored === undefined) lines.set(result.itemId, resultLine(result));
        else storedAt?.set(result.itemId, stored);
      }
      if (lines.size === 0) return 0;
      const bytes = Buffer.from([...lines.values()].join(''));
      writeFully(descriptor, bytes);
      for (const [itemId, line] of lines) {
        index.lines.add(itemId, index.indexedBytes);
        index.indexedBytes += Buffer.byteLength(line);
      }
      return lines.size;
    } finally {
      closeSync(descriptor);
    }
  }

  /** Indexes a large unread part of the file (a restarted worker's first write) without holding the lock. */
  private async catchUp(batchId: string, file: string): Promise<void> {
    const index = this.indexOf(batchId);
    index.catchingUp ??= (async () => {
      const handle = await open(file, 'r');
      try {
        for (;;) {
          const { size, ino } = await handle.stat();
          if (ino !== index.inode || size < index.indexedBytes) resetIndex(index, ino);
          if (size - index.indexedBytes <= LOCKED_CATCH_UP_BYTES) return;
          const from = index.indexedBytes;
          const chunk = await readCompleteLines(handle, from, size);
          if (!chunk) return;
          // A locked append may have moved the index meanwhile: then this chunk is stale, read again.
          if (index.indexedBytes === from && index.inode === ino)
            index.indexedBytes += indexLines(chunk, (itemId, start) => index.lines.add(itemId, from + start));
        }
      } finally {
        await handle.close();
      }
    })().finally(() => delete index.catchingUp);
    await index.catchingUp;
  }

  private indexOf(batchId: string): BatchIndex {
    let index = this.indexes.get(batchId);
    if (index) this.indexes.delete(batchId); // re-inserted last: the map is in least-recently-used order
    index ??= { lines: new ResultLineIndex(), indexedBytes: 0, inode: -1 };
    this.indexes.set(batchId, index);
    for (const [oldest] of this.indexes) {
      if (this.indexes.size <= INDEXED_BATCHES) break;
      this.indexes.delete(oldest);
    }
    return index;
  }

  /**
   * The batch's results as JSONL, in chunks of whole lines, one line per item (its first):
   * `finish` streams the file as written — the order items finished — holding only the ids seen;
   * `input` sorts by `index` and holds each line's position, not the line.
   */
  async *jsonl(batchId: string, order: ResultOrder = 'input'): AsyncGenerator<Buffer> {
    const file = this.resultsFile(batchId);
    yield* order === 'finish' ? finishOrderJsonl(file) : inputOrderJsonl(file);
  }

  /** The batch's records, one per item, parsed (see jsonl for the orders); only those `filter` keeps. */
  async *records(batchId: string, order: ResultOrder = 'input', filter?: ResultFilter): AsyncGenerator<ItemResult> {
    for await (const chunk of this.jsonl(batchId, order)) {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (!line) continue;
        const record = JSON.parse(line) as ItemResult;
        if (matchesFilter(record, filter)) yield record;
      }
    }
  }

  describe(batchId: string): string {
    return this.resultsFile(batchId);
  }

  /** Nothing to release (files are opened per call); here so every store closes alike. */
  async close(): Promise<void> {}

  /** All results of a batch, one per item, in input order. */
  async readAll(batchId: string): Promise<ItemResult[]> {
    const results: ItemResult[] = [];
    for await (const record of this.records(batchId, 'finish')) results.push(record);
    return results.sort((a, b) => a.index - b.index);
  }

  /** The recorded decision of an item's post-processing hook, if it has completed. */
  async readPostProcessed<T>(batchId: string, itemId: string): Promise<T | undefined> {
    try {
      return JSON.parse(
        await readFile(path.join(this.postProcessDirectory(batchId), `${encodeURIComponent(itemId)}.json`), 'utf8'),
      ) as T;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  }

  /** Records that an item's hook completed, so a retried activity does not run it again. */
  async writePostProcessed(batchId: string, itemId: string, decision: unknown): Promise<string> {
    return writeAtomically(this.postProcessDirectory(batchId), itemId, decision);
  }

  /** One file per item under `<dir>/<batchId>/batch-answers/job-<n>/`, each written atomically. */
  async stageBatchAnswers(batchId: string, job: number, answers: readonly StagedBatchAnswer[]): Promise<void> {
    const directory = this.stagingDirectory(batchId, job);
    for (let start = 0; start < answers.length; start += STAGING_WRITES) {
      await Promise.all(
        answers.slice(start, start + STAGING_WRITES).map((answer) => writeAtomically(directory, answer.itemId, answer)),
      );
    }
  }

  async readStagedAnswer(batchId: string, job: number, itemId: string): Promise<StagedBatchAnswer | undefined> {
    try {
      const file = path.join(this.stagingDirectory(batchId, job), `${encodeURIComponent(itemId)}.json`);
      return JSON.parse(await readFile(file, 'utf8')) as StagedBatchAnswer;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  }

  async clearStagedAnswers(batchId: string): Promise<void> {
    await rm(path.join(this.directory, batchId, 'batch-answers'), { recursive: true, force: true });
  }

  private stagingDirectory(batchId: string, job: number): string {
    return path.join(this.directory, batchId, 'batch-answers', `job-${job}`);
  }

  private postProcessDirectory(batchId: string): string {
    return path.join(this.directory, batchId, 'post-processed');
  }
}

/** The same record, offered again (a retried write): JSON-equal, as it went through the file. */
function sameRecord(stored: ItemResult, offered: ItemResult): boolean {
  return resultLine(stored) === resultLine(JSON.parse(JSON.stringify(offered)) as ItemResult);
}

function resetIndex(index: BatchIndex, inode: number): void {
  index.lines.clear();
  index.indexedBytes = 0;
  index.inode = inode;
}

function readFully(descriptor: number, buffer: Buffer, position: number): void {
  for (let done = 0; done < buffer.length;) {
    const read = readSync(descriptor, buffer, done, buffer.length - done, position + done);
    if (read === 0) throw new Error('results file shrank while locked');
    done += read;
  }
}

function writeFully(descriptor: number, bytes: Buffer): void {
  for (let done = 0; done < bytes.length;) done += writeSync(descriptor, bytes, done);
}

let temporaryCount = 0;

async function writeAtomically(directory: string, itemId: string, value: unknown): Promise<string> {
  await mkdir(directory, { recursive: true });
  const file = path.join(directory, `${encodeURIComponent(itemId)}.json`);
  const temporary = `${file}.${process.pid}.${Date.now()}.${(temporaryCount += 1)}.tmp`;
  await writeFile(temporary, JSON.stringify(value));
  await rename(temporary, file);
  return file;
}
