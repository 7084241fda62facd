/**
 * `results`: export a batch's results from the results store (the workers' results directory, or
 * PostgreSQL), as JSONL or CSV, filtered and trimmed for data work. Streams: an export of any size
 * holds one page of records at a time. Temporal is needed only for `--with-input`.
 */
import { type WriteStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { once } from 'node:events';
import { finished } from 'node:stream/promises';
import { z } from 'zod';
import { BatchClient } from '../client/batch-client';
import { BatchNotFoundError } from '../client/errors';
import { ERROR_CATEGORIES } from '../errors/categories';
import { FileResultStore, matchesFilter, RESULT_ORDERS, type ResultFilter, type ResultOrder } from '../results';
import { FIELD_PATH, RESULT_FORMATS, recordFormatter, type RecordFormatter } from '../results-export';
import { openResultStore, type ResultStore, type ResultStoreLocation } from '../results-store';
import { latestRecords } from '../rerun';
import { ITEM_STATUSES, type ItemResult } from '../schemas';
import type { TemporalConfig } from '../temporal/config';
import { batchIdArgument, flagValue, parseCommandArgs, UsageError } from './args';
import { resultsSpec } from './command-specs';
import { printHelp } from './help';
import { inputRecordsOf, type InputRecords } from './input-join';
import { temporalConfigOf } from './output';
import { resultStoreLocationOf } from './state-directory';

/** A comma-separated flag (`--status failed,blocked`), each entry checked; undefined when not given. */
function listFlag<T extends z.ZodType>(flag: string, entry: T, value: string | undefined): z.output<T>[] | undefined {
  if (value === undefined) return undefined;
  const entries = value
    .split(',')
    .map((part) => part.trim())
    .filter(Boolean);
  if (entries.length === 0) throw new UsageError(`--${flag}: give at least one value (got ${JSON.stringify(value)})`);
  return entries.map((part) => flagValue(flag, entry, part));
}

const oneOf = <T extends readonly [string, ...string[]]>(values: T) =>
  z.enum(values, { error: `must be one of ${values.join(', ')}` });

export async function runResults(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(resultsSpec, argv);
  if (values.help) return printHelp(resultsSpec);
  const batchId = batchIdArgument(positionals, 'results');
  const order = flagValue('order', oneOf(RESULT_ORDERS), values.order ?? 'input');
  const format = flagValue('format', oneOf(RESULT_FORMATS), values.format ?? 'jsonl');
  const statuses = listFlag('status', oneOf(ITEM_STATUSES), values.status);
  const categories = listFlag('category', oneOf(ERROR_CATEGORIES), values.category);
  const fields = listFlag(
    'fields',
    z.string().regex(FIELD_PATH, 'must be field names or dotted paths, e.g. itemId,status,output.title'),
    values.fields,
  );
  const withInput = values['with-input'] === true;
  const latest = values.latest === true;
  if (!withInput && fields?.some((field) => field === 'input' || field.startsWith('input.')))
    throw new UsageError('--fields: input fields need --with-input');
  const filter: ResultFilter = { ...(statuses ? { statuses } : {}), ...(categories ? { categories } : {}) };
  const formatter = recordFormatter({ format, fields, full: values.full, withInput });

  const location = resultStoreLocationOf(values);
  const store = openResultStore(location);
  try {
    if (!(await store.hasResults(batchId))) throw new BatchNotFoundError(notFoundMessage(batchId, location, store));
    const inputs = withInput ? await batchInputRecords(batchId, temporalConfigOf(values)) : undefined;
    const reruns = latest ? await rerunsOf(batchId, temporalConfigOf(values)) : [];
    if (latest) process.stderr.write(latestNote(batchId, reruns));
    const out = values.out ? await open(values.out, 'w') : undefined;
    const stream = out ? out.createWriteStream() : process.stdout;
    try {
      // The stored lines as they are (today's export, the fastest) when nothing is to be changed.
      const verbatim =
        store instanceof FileResultStore &&
        values.full &&
        format === 'jsonl' &&
        !fields &&
        !withInput &&
        !statuses &&
        !categories &&
        !latest;
      const count = verbatim
        ? await copyJsonl(store, batchId, order, stream)
        : await writeRecords(recordsOf(store, batchId, order, filter, reruns, latest), formatter, inputs, stream);
      if (out) {
        await finished((stream as WriteStream).end());
        process.stderr.write(`Wrote ${count} results to ${values.out}\n`);
      }
    } finally {
      await inputs?.close();
    }
  } finally {
    await store.close();
  }
  return 0;
}

function notFoundMessage(batchId: string, location: ResultStoreLocation, store: ResultStore): string {
  return location.kind === 'directory'
    ? `no results for batch "${batchId}" under ${location.directory} (wrong --results-dir, or nothing has finished yet)`
    : `no results for batch "${batchId}" in ${store.describe(batchId)} (wrong --results-url, or nothing has finished yet)`;
}

/** The batch's input records, from its start in Temporal (inline items) or its input file on this machine. */
async function batchInputRecords(batchId: string, config: TemporalConfig): Promise<InputRecords> {
  const client = await BatchClient.connect(config);
  try {
    return await inputRecordsOf(batchId, await client.originalInput(batchId));
  } finally {
    await client.client.connection.close();
  }
}

/** The reruns of a batch (and theirs), oldest first, from Temporal's visibility. */
async function rerunsOf(batchId: string, config: TemporalConfig): Promise<string[]> {
  const client = await BatchClient.connect(config);
  try {
    return await client.rerunsOf(batchId);
  } finally {
    await client.client.connection.close();
  }
}

function latestNote(batchId: string, reruns: string[]): string {
  return reruns.length === 0
    ? `batch "${batchId}" has no reruns: its own results\n`
    : `batch "${batchId}" and its reruns ${reruns.join(', ')}: each item's latest result\n`;
}

/**
 * The records to export: the batch's own, or with --latest each item's from the newest of the
 * batch and its reruns (the filter then applies to that latest record).
 */
async function* recordsOf(
  store: ResultStore,
  batchId: string,
  order: ResultOrder,
  filter: ResultFilter,
  reruns: string[],
  latest: boolean,
): AsyncGenerator<ItemResult> {
  if (!latest) {
    yield* store.records(batchId, order, filter);
    return;
  }
  const merged = latestRecords(
    store.records(batchId, order),
    reruns.map((rerun) => store.records(rerun, 'finish')),
  );
  for await (const record of merged) if (matchesFilter(record, filter)) yield record;
}

/** Writes text to the stream, waiting while it is full (a big export never piles up in memory). */
async function put(stream: NodeJS.WritableStream, text: string | Buffer): Promise<void> {
  if (!stream.write(text)) await once(stream, 'drain');
}

async function copyJsonl(
  store: FileResultStore,
  batchId: string,
  order: ResultOrder,
  stream: NodeJS.WritableStream,
): Promise<number> {
  let count = 0;
  for await (const chunk of store.jsonl(batchId, order)) {
    for (let at = chunk.indexOf(10); at !== -1; at = chunk.indexOf(10, at + 1)) count++;
    await put(stream, chunk);
  }
  return count;
}

/** Lines gathered before a write: fewer, larger writes. */
const WRITE_BYTES = 1 << 16;

async function writeRecords(
  records: AsyncIterable<ItemResult>,
  formatter: RecordFormatter,
  inputs: InputRecords | undefined,
  stream: NodeJS.WritableStream,
): Promise<number> {
  let pending = formatter.header ?? '';
  let count = 0;
  for await (const record of records) {
    pending += formatter.line(record, inputs ? await inputs.record(record.itemId, record.index) : undefined);
    count++;
    if (pending.length >= WRITE_BYTES) {
      await put(stream, pending);
      pending = '';
    }
  }
  if (pending) await put(stream, pending);
  return count;
}
