import { readSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import type { ItemResult } from './schemas';

/**
 * The results file's format: JSONL, one ItemResult per line, `itemId` and `index` first so that
 * indexing and sorting read them from the line's first bytes instead of parsing the whole record.
 */
export function resultLine(result: ItemResult): string {
  const { itemId, index, ...rest } = result;
  return `${JSON.stringify({ itemId, index, ...rest })}\n`;
}

export interface LineKey {
  itemId: string;
  index: number;
}

const LINE_KEY = /^\{"itemId":("(?:[^"\\]|\\.)*"),"index":(\d+)[,}]/;
/** Enough of a line for the key of any ordinary id; a longer one falls back to decoding the line. */
const KEY_PREFIX_BYTES = 256;
const READ_CHUNK_BYTES = 1 << 20;

/** The item id and index of the line `bytes[start, end)`; undefined when it is not a result record. */
export function lineKey(bytes: Buffer, start: number, end: number): LineKey | undefined {
  const head = LINE_KEY.exec(bytes.toString('utf8', start, Math.min(end, start + KEY_PREFIX_BYTES)));
  const match = head ?? LINE_KEY.exec(bytes.toString('utf8', start, end));
  if (match?.[1] && match[2]) return { itemId: JSON.parse(match[1]) as string, index: Number(match[2]) };
  try {
    const record = JSON.parse(bytes.toString('utf8', start, end)) as Partial<ItemResult> | null;
    return typeof record?.itemId === 'string' && typeof record.index === 'number'
      ? { itemId: record.itemId, index: record.index }
      : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Calls `onLine` with the item id and start (in `bytes`) of each complete line of `bytes`; returns
 * the length through the last newline.
 */
export function indexLines(bytes: Buffer, onLine: (itemId: string, start: number) => void): number {
  let start = 0;
  for (let end = bytes.indexOf(10); end !== -1; start = end + 1, end = bytes.indexOf(10, start)) {
    // A line that is not a record (damaged by hand) holds no id: a retry of its item appends again.
    const key = lineKey(bytes, start, end);
    if (key) onLine(key.itemId, start);
  }
  return start;
}

/**
 * The item id of the line that starts at `offset` in the open file, read synchronously (under the
 * results lock): the line's first bytes, or the whole line when its id is longer than they hold.
 */
export function lineIdAt(descriptor: number, offset: number): string | undefined {
  for (let length = KEY_PREFIX_BYTES; ; length *= 4) {
    const bytes = Buffer.alloc(length);
    const read = readSync(descriptor, bytes, 0, length, offset);
    const newline = bytes.subarray(0, read).indexOf(10);
    const end = newline === -1 ? read : newline;
    if (newline !== -1 || read < length) return lineKey(bytes, 0, end)?.itemId;
    const head = LINE_KEY.exec(bytes.toString('utf8', 0, end));
    if (head?.[1]) return JSON.parse(head[1]) as string;
  }
}

/** The bytes from `from` through the last newline before `size` (at least one line); undefined when there is none. */
export async function readCompleteLines(handle: FileHandle, from: number, size: number): Promise<Buffer | undefined> {
  for (let length = READ_CHUNK_BYTES; ; length *= 2) {
    const wanted = Math.min(length, size - from);
    if (wanted <= 0) return undefined;
    const buffer = Buffer.alloc(wanted);
    const { bytesRead } = await handle.read(buffer, 0, wanted, from);
    const last = buffer.lastIndexOf(10, bytesRead - 1);
    if (last !== -1) return buffer.subarray(0, last + 1);
    if (from + bytesRead >= size) return undefined; // only a torn or unfinished last line
  }
}

/** A line of a chunk: `[start, end)`, newline included. */
interface LineSpan {
  key: LineKey;
  start: number;
  end: number;
}

interface ScannedChunk {
  chunk: Buffer;
  /** The chunk's offset in the file. */
  position: number;
  lines: LineSpan[];
}

/**
 * A results file as it is when the scan starts, in chunks of complete lines; a last line without its
 * newline (being written, or torn by a crash) is left out. Throws on a line that is not a record.
 */
async function* scanResultChunks(file: string): AsyncGenerator<ScannedChunk> {
  let handle: FileHandle;
  try {
    handle = await open(file, 'r');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  try {
    const { size } = await handle.stat();
    let lineNumber = 0;
    for (let position = 0; ;) {
      const chunk = await readCompleteLines(handle, position, size);
      if (!chunk) return;
      const lines: LineSpan[] = [];
      for (let start = 0, end = chunk.indexOf(10); end !== -1; start = end + 1, end = chunk.indexOf(10, start)) {
        lineNumber++;
        const key = lineKey(chunk, start, end);
        if (!key)
          throw new Error(
            `${file}, line ${lineNumber}: not a result record (${chunk.toString('utf8', start, Math.min(end, start + 80))}…); fix or delete the line`,
          );
        lines.push({ key, start, end: end + 1 });
      }
      yield { chunk, position, lines };
      position += chunk.length;
    }
  } finally {
    await handle.close();
  }
}

/** The record on the line that starts at `offset`, if that line is one. */
export async function readResultAt(file: string, offset: number): Promise<ItemResult | undefined> {
  const handle = await open(file, 'r');
  try {
    for (let length = 4096; ; length *= 4) {
      const chunk = Buffer.alloc(length);
      const { bytesRead } = await handle.read(chunk, 0, length, offset);
      const end = chunk.subarray(0, bytesRead).indexOf(10);
      if (end === -1 && bytesRead === length) continue; // a longer line
      if (end === -1 || !lineKey(chunk, 0, end)) return undefined;
      return JSON.parse(chunk.toString('utf8', 0, end)) as ItemResult;
    }
  } finally {
    await handle.close();
  }
}

/** The first record of `itemId` in the file, if any. */
export async function findResult(file: string, itemId: string): Promise<ItemResult | undefined> {
  for await (const { chunk, lines } of scanResultChunks(file)) {
    const line = lines.find((candidate) => candidate.key.itemId === itemId);
    if (line) return JSON.parse(chunk.toString('utf8', line.start, line.end)) as ItemResult;
  }
  return undefined;
}

/** The file's lines in the order they were written, the first line of each item id, as JSONL chunks. */
export async function* finishOrderJsonl(file: string): AsyncGenerator<Buffer> {
  const seen = new Set<string>();
  for await (const { chunk, lines } of scanResultChunks(file)) {
    const kept = lines.filter((line) => !seen.has(line.key.itemId) && Boolean(seen.add(line.key.itemId)));
    if (kept.length === lines.length) yield chunk;
    else if (kept.length > 0) yield Buffer.concat(kept.map((line) => chunk.subarray(line.start, line.end)));
  }
}

/** Lines read together when exporting in input order (one read of their span when they lie close). */
const INPUT_ORDER_WINDOW = 2048;

interface LinePosition {
  index: number;
  offset: number;
  length: number;
}

/** The same lines sorted by `index` (input order); holds each line's position in memory, not the line. */
export async function* inputOrderJsonl(file: string): AsyncGenerator<Buffer> {
  const seen = new Set<string>();
  const positions: LinePosition[] = [];
  for await (const { position, lines } of scanResultChunks(file)) {
    for (const line of lines) {
      if (seen.has(line.key.itemId)) continue;
      seen.add(line.key.itemId);
      positions.push({ index: line.key.index, offset: position + line.start, length: line.end - line.start });
    }
  }
  if (positions.length === 0) return;
  positions.sort((a, b) => a.index - b.index);
  const handle = await open(file, 'r');
  try {
    for (let start = 0; start < positions.length; start += INPUT_ORDER_WINDOW)
      yield await readPositions(handle, positions.slice(start, start + INPUT_ORDER_WINDOW));
  } finally {
    await handle.close();
  }
}

/** The lines at `positions`, concatenated in that order: one read of their span when it is not much larger than they are. */
async function readPositions(handle: FileHandle, positions: readonly LinePosition[]): Promise<Buffer> {
  let from = Infinity;
  let to = 0;
  let total = 0;
  for (const { offset, length } of positions) {
    from = Math.min(from, offset);
    to = Math.max(to, offset + length);
    total += length;
  }
  const lines = Buffer.alloc(total);
  if (to - from <= 2 * total) {
    const span = Buffer.alloc(to - from);
    await handle.read(span, 0, span.length, from);
    let at = 0;
    for (const { offset, length } of positions) at += span.copy(lines, at, offset - from, offset - from + length);
    return lines;
  }
  let at = 0;
  const reads = positions.map(({ offset, length }) => {
    const read = handle.read(lines, at, length, offset);
    at += length;
    return read;
  });
  await Promise.all(reads);
  return lines;
}
