/** `results`: export a batch's results from the workers' results directory; no Temporal needed. */
import { createWriteStream, type WriteStream } from 'node:fs';
import { once } from 'node:events';
import { finished } from 'node:stream/promises';
import { z } from 'zod';
import { BatchNotFoundError } from '../client/errors';
import { FileResultStore, RESULT_ORDERS } from '../results';
import { batchIdArgument, flagValue, parseCommandArgs } from './args';
import { resultsSpec } from './command-specs';
import { printHelp } from './help';
import { resultsDirectoryOf } from './state-directory';

export async function runResults(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(resultsSpec, argv);
  if (values.help) return printHelp(resultsSpec);
  const batchId = batchIdArgument(positionals, 'results');
  const order = flagValue('order', z.enum(RESULT_ORDERS), values.order ?? 'input');
  const directory = resultsDirectoryOf(values['results-dir']);
  const chunks = new FileResultStore(directory).jsonl(batchId, order);
  const first = await chunks.next();
  if (first.done)
    throw new BatchNotFoundError(
      `no results for batch "${batchId}" under ${directory} (wrong --results-dir, or nothing has finished yet)`,
    );
  const stream = values.out ? createWriteStream(values.out) : process.stdout;
  let count = 0;
  for (let chunk: IteratorResult<Buffer> = first; !chunk.done; chunk = await chunks.next()) {
    for (let at = chunk.value.indexOf(10); at !== -1; at = chunk.value.indexOf(10, at + 1)) count++;
    // Waits while the stream is full, so a big export never piles up in memory.
    if (!stream.write(chunk.value)) await once(stream, 'drain');
  }
  if (values.out) {
    await finished((stream as WriteStream).end());
    process.stderr.write(`Wrote ${count} results to ${values.out}\n`);
  }
  return 0;
}
