/**
 * `results --with-input`: each item's input record, found by its position in the batch's input.
 * Inline items come with the batch's start; an input file is read from this machine's disk, where
 * only each item's line position is held in memory (two numbers per item), never the records, and
 * lines are read in windows, so exporting in input order reads the file once, front to back.
 */
import { createReadStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import type { BatchInput } from '../schemas';

export interface InputRecords {
  /** The input record (the JSONL line's object) of the item at `index` whose id is `itemId`. */
  record(itemId: string, index: number): Promise<unknown>;
  close(): Promise<void>;
}

/** Bytes read at once from the input file. */
const WINDOW_BYTES = 1 << 20;

export async function inputRecordsOf(batchId: string, input: BatchInput): Promise<InputRecords> {
  if (input.items) {
    const items = input.items;
    return {
      async record(itemId, index) {
        const item = items[index]?.id === itemId ? items[index] : items.find((candidate) => candidate.id === itemId);
        if (!item) throw new Error(`--with-input: item "${itemId}" is not in the input of batch "${batchId}"`);
        return item.data;
      },
      async close() {},
    };
  }
  const file = input.inputFile;
  if (!file) throw new Error(`--with-input: batch "${batchId}" has neither inline items nor an input file`);
  try {
    await stat(file);
  } catch (error) {
    throw new Error(
      `--with-input: the input file of batch "${batchId}", ${file}, is not readable from this machine (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}); run results where the file is, or put a copy at that path`,
      { cause: error },
    );
  }
  const lines = await itemLines(file);
  const handle = await open(file, 'r');
  let window: { start: number; bytes: Buffer } | undefined;
  const read = async (offset: number, length: number): Promise<Buffer> => {
    if (!window || offset < window.start || offset + length > window.start + window.bytes.length) {
      const bytes = Buffer.alloc(Math.max(length, WINDOW_BYTES));
      const { bytesRead } = await handle.read(bytes, 0, bytes.length, offset);
      window = { start: offset, bytes: bytes.subarray(0, bytesRead) };
    }
    return window.bytes.subarray(offset - window.start, offset - window.start + length);
  };
  return {
    async record(itemId, index) {
      const offset = lines.offsets[index];
      const length = lines.lengths[index];
      const changed = () =>
        new Error(
          `--with-input: ${file} no longer holds item "${itemId}" at position ${index}: the file changed after batch "${batchId}" started`,
        );
      if (offset === undefined || length === undefined || index >= lines.count) throw changed();
      let data: unknown;
      try {
        data = JSON.parse((await read(offset, length)).toString('utf8'));
      } catch {
        throw changed();
      }
      const id = (data as { id?: unknown } | null)?.id;
      if (id === undefined || id === null || String(id) !== itemId) throw changed();
      return data;
    },
    close: () => handle.close(),
  };
}

/**
 * Where each item's line is: the file's non-blank lines, in order (as the batch numbered its items).
 * A checked input line is a JSON object, so it holds a `{`; a line without one is blank.
 */
async function itemLines(file: string): Promise<{ offsets: number[]; lengths: number[]; count: number }> {
  const offsets: number[] = [];
  const lengths: number[] = [];
  let count = 0;
  let position = 0;
  let lineStart = 0;
  let hasBrace = false;
  const endLine = (end: number) => {
    if (hasBrace) {
      offsets.push(lineStart);
      lengths.push(end - lineStart);
      count++;
    }
    hasBrace = false;
  };
  const stream = createReadStream(file, { highWaterMark: WINDOW_BYTES });
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    let from = 0;
    for (let newline = chunk.indexOf(10); newline !== -1; newline = chunk.indexOf(10, from)) {
      if (!hasBrace) {
        const brace = chunk.indexOf(123, from); // `{`
        if (brace !== -1 && brace < newline) hasBrace = true;
      }
      endLine(position + newline);
      lineStart = position + newline + 1;
      from = newline + 1;
    }
    if (chunk.indexOf(123, from) !== -1) hasBrace = true;
    position += chunk.length;
  }
  endLine(position);
  return { offsets, lengths, count };
}
