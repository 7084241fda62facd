import { open, readFile, stat } from 'node:fs/promises';
import { INPUT_PAGE_SIZE } from '../src/constants';
import { ApplicationFailure } from '@temporalio/common';
import {
  checkItemsAgainstTask,
  findDuplicateIds,
  InputError,
  parseJsonlItems,
  parseJsonlPage,
  type InputProblem,
} from '../src/input';
import type { ResultReader } from '../src/results';
import { describeSelection, selectedItemIds } from '../src/rerun';
import type { RerunSelection, StagePlan, WorkItem } from '../src/schemas';
import type { TaskRegistry } from '../src/tasks/registry';
import { planCache } from '../src/caching/fingerprint';
import { applyCacheOverride, type CacheOverride, type CachePlan } from '../src/caching/spec';

export interface PrepareBatchInput {
  batchId: string;
  taskName: string;
  inputFile?: string | undefined;
  /** Inline items are checked in place and not echoed back (they are already in history). */
  items?: WorkItem[] | undefined;
  modelOverride?: string | undefined;
  cacheOverride?: CacheOverride | undefined;
  /** Files with more items than this are read by page; smaller ones come back whole. */
  pageSize?: number | undefined;
  /** A rerun: only the origin batch's items its results select (inline ones come back, selected). */
  rerunOf?: RerunSelection | undefined;
  /** The batch runs stage 1 through the provider's batch API (refused for a provider without one). */
  batchApi?: boolean | undefined;
  /** The batch's provider override (options.provider). */
  providerOverride?: string | undefined;
}

export interface PrepareBatchOutput {
  /** Items read from `inputFile` when they fit one page; absent for inline input and big files (read by page). */
  items?: WorkItem[];
  itemCount: number;
  /** Identifies the validated file's content, so a page read later can tell if it changed. */
  inputVersion?: string;
  /** The model items will use: batch override, else the task's, else the worker default. */
  model: string;
  /** The task's own stage plan, when it declares one. */
  stagePlan?: StagePlan;
  /** The task's context cache: who owns it and how to find it. */
  cachePlan?: CachePlan;
  /** Behaviour the workflows must know of (the task's code stays on the worker). */
  traits: { postProcess: boolean; safetyRetryTemperature?: number };
  /**
   * The workers admit model calls under RPM/TPM limits (all workers of a queue share them): calls
   * then wait for a start time, which only a regular activity may do.
   */
  admission: boolean;
}

/**
 * Checks everything before a single item starts: the task exists on this worker, the input
 * parses, ids are unique, every record satisfies the task's item schema. Problems become a
 * non-retryable failure naming lines and fields.
 */
export async function prepareBatchInput(
  input: PrepareBatchInput,
  tasks: TaskRegistry,
  defaultModel: string,
  admission = false,
  results?: ResultReader,
): Promise<PrepareBatchOutput> {
  const task = tasks.get(input.taskName);
  if (!task) {
    throw ApplicationFailure.nonRetryable(
      `unknown task "${input.taskName}"; this worker knows: ${tasks.names().join(', ')}. Register it with \`batch-llm worker --tasks <module>\`.`,
      'unknown_task',
    );
  }
  const source = input.inputFile ?? 'inline items';
  let items: WorkItem[] = input.items ?? [];
  let lines: number[] | undefined;
  try {
    if (input.inputFile !== undefined) {
      ({ items, lines } = parseJsonlItems(await readInputFile(input.inputFile), input.inputFile));
    }
    const problems: InputProblem[] = input.inputFile === undefined ? findDuplicateIds(items) : [];
    if (input.rerunOf) {
      const selected = await rerunItems(input.rerunOf, items, results);
      lines = lines && selected.positions.map((position) => lines?.[position] as number);
      items = selected.items;
    }
    if (items.length === 0) problems.push({ message: 'no items' });
    problems.push(...checkItemsAgainstTask(task, items, lines));
    if (problems.length > 0) throw new InputError(source, problems);
  } catch (error) {
    if (error instanceof InputError)
      throw ApplicationFailure.nonRetryable(error.message, 'invalid_input', error.problems);
    throw error;
  }
  const model = input.modelOverride ?? task.model ?? defaultModel;
  let cachePlan: CachePlan | undefined;
  try {
    cachePlan = task.cache
      ? planCache(task.name, model, applyCacheOverride(task.cache, input.cacheOverride), {
          systemInstruction: task.systemInstruction,
          contents: task.cache.contents,
        })
      : undefined;
    // The cache's owner asks the provider the batch's calls go to (one without caches: uncached).
    if (cachePlan && input.providerOverride) cachePlan = { ...cachePlan, provider: input.providerOverride };
  } catch (error) {
    throw ApplicationFailure.nonRetryable(`task "${task.name}": ${(error as Error).message}`, 'invalid_input');
  }
  return {
    ...(input.inputFile !== undefined ? { inputVersion: await fileVersion(input.inputFile) } : {}),
    ...(cachePlan ? { cachePlan } : {}),
    traits: {
      postProcess: task.postProcess !== undefined,
      ...(task.safetyRetry ? { safetyRetryTemperature: task.safetyRetry.temperature } : {}),
    },
    ...((input.inputFile !== undefined || input.rerunOf) && items.length <= (input.pageSize ?? INPUT_PAGE_SIZE)
      ? { items }
      : {}),
    itemCount: items.length,
    model,
    admission,
    ...(task.stagePlan ? { stagePlan: task.stagePlan } : {}),
  };
}

export interface ReadInputPageInput {
  inputFile: string;
  inputVersion: string;
  offset: number;
  limit: number;
  /** A rerun's pages count only its selected items. */
  rerunOf?: RerunSelection | undefined;
}

/**
 * The items of a rerun, in input order: those the origin batch's final records select. The origin
 * has ended, so its records (and this selection) no longer change.
 */
async function rerunItems(
  selection: RerunSelection,
  items: WorkItem[],
  results: ResultReader | undefined,
): Promise<{ items: WorkItem[]; positions: number[] }> {
  if (!results || !(await results.hasResults(selection.batchId))) {
    throw new InputError('rerun', [
      { message: `no results of batch "${selection.batchId}" in this worker's results store` },
    ]);
  }
  // The store filters where it can (in SQL for PostgreSQL); the selection is checked again record by record.
  const ids = await selectedItemIds(results.records(selection.batchId, 'finish', selection), selection);
  const positions: number[] = [];
  items.forEach((item, position) => {
    if (ids.has(item.id)) positions.push(position);
  });
  if (positions.length === 0) throw new InputError('rerun', [{ message: `no ${describeSelection(selection)}` }]);
  return { items: positions.map((position) => items[position] as WorkItem), positions };
}

/** Positions (in the file) of a paged rerun's items, by file, version and selection, for a few reruns. */
const rerunPositions = new Map<string, Promise<number[]>>();

function rerunPositionsOf(input: ReadInputPageInput, results: ResultReader | undefined): Promise<number[]> {
  const selection = input.rerunOf as RerunSelection;
  const key = JSON.stringify([input.inputFile, input.inputVersion, selection]);
  let positions = rerunPositions.get(key);
  if (!positions) {
    positions = readInputFile(input.inputFile)
      .then((text) => rerunItems(selection, parseJsonlItems(text, input.inputFile).items, results))
      .then((selected) => selected.positions);
    positions.catch(() => rerunPositions.delete(key));
    rerunPositions.set(key, positions);
    for (const oldest of rerunPositions.keys()) {
      if (rerunPositions.size <= INDEXED_FILES) break;
      rerunPositions.delete(oldest);
    }
  }
  return positions;
}

/**
 * One page of an input file that prepareBatch already validated (and that has not changed since),
 * read from the page's own bytes: the worker indexes where each item's line starts once per file.
 */
export async function readInputPage(input: ReadInputPageInput, results?: ResultReader): Promise<WorkItem[]> {
  if (input.rerunOf) {
    const positions = (await rerunPositionsOf(input, results)).slice(input.offset, input.offset + input.limit);
    const pages = await Promise.all(
      positions.map((position) => readInputPage({ ...input, rerunOf: undefined, offset: position, limit: 1 })),
    );
    return pages.flat();
  }
  const changed = () =>
    ApplicationFailure.nonRetryable(
      `the input file ${input.inputFile} changed after the batch checked it; start a new batch`,
      'invalid_input',
    );
  if ((await fileVersion(input.inputFile)) !== input.inputVersion) throw changed();
  const starts = await itemLineStarts(input.inputFile, input.inputVersion);
  const count = starts.length - 1;
  const first = Math.min(input.offset, count);
  const end = Math.min(input.offset + input.limit, count);
  if (first >= end) return [];
  const begin = starts[first] as number;
  const bytes = Buffer.alloc((starts[end] as number) - begin);
  const file = await open(input.inputFile, 'r');
  try {
    await file.read(bytes, 0, bytes.length, begin);
  } finally {
    await file.close();
  }
  let items: WorkItem[];
  try {
    items = parseJsonlPage(bytes.toString('utf8'), input.inputFile, first);
  } catch (error) {
    if (error instanceof InputError) throw changed();
    throw error;
  }
  if (items.length !== end - first) throw changed();
  return items;
}

/** Byte offset where each item's line starts, then the file's length; by file and version, for a few files. */
const lineStartsByFile = new Map<string, Promise<number[]>>();
const INDEXED_FILES = 8;

function itemLineStarts(file: string, version: string): Promise<number[]> {
  const key = `${file}\0${version}`;
  let starts = lineStartsByFile.get(key);
  if (!starts) {
    starts = readFile(file).then(indexItemLines);
    starts.catch(() => lineStartsByFile.delete(key));
    lineStartsByFile.set(key, starts);
    for (const oldest of lineStartsByFile.keys()) {
      if (lineStartsByFile.size <= INDEXED_FILES) break;
      lineStartsByFile.delete(oldest);
    }
  }
  return starts;
}

/** Starts of the non-blank lines (the items, in order), as parseJsonlItems counts them, plus the end. */
function indexItemLines(bytes: Buffer): number[] {
  const starts: number[] = [];
  for (let lineStart = 0; lineStart < bytes.length;) {
    const newline = bytes.indexOf(10, lineStart);
    const lineEnd = newline === -1 ? bytes.length : newline;
    if (!isBlankLine(bytes, lineStart, lineEnd)) starts.push(lineStart);
    lineStart = lineEnd + 1;
  }
  starts.push(bytes.length);
  return starts;
}

/** As `line.trim() === ''`: ASCII whitespace is checked byte by byte; other bytes decide by decoding. */
function isBlankLine(bytes: Buffer, start: number, end: number): boolean {
  for (let position = start; position < end; position += 1) {
    const byte = bytes[position] as number;
    if (byte === 0x20 || (byte >= 0x09 && byte <= 0x0d)) continue;
    return byte >= 0x80 && bytes.toString('utf8', start, end).trim() === '';
  }
  return true;
}

async function fileVersion(file: string): Promise<string> {
  const details = await stat(file);
  return `${details.size}:${details.mtimeMs}`;
}

async function readInputFile(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    throw new InputError(file, [{ message: `cannot read the input file on this worker: ${(error as Error).message}` }]);
  }
}
