/**
 * A separate process writing results one by one, 8 at a time, as a worker's `recordItemResult`
 * does: `results-writer.ts --dir DIR --batch ID --from N --to M [--descending] [--note TEXT] [--wait-for-go]`
 * writes items N..M-1 and prints "wrote K" after each, so a test can kill it mid-way. With
 * --wait-for-go it prints "ready" and starts when a line arrives on stdin, so two writers overlap.
 */
import { createInterface } from 'node:readline';
import { once } from 'node:events';
import { parseArgs } from 'node:util';
import { FileResultStore } from '../../src/results';
import { sampleResult } from './result-records';

const { values } = parseArgs({
  options: {
    dir: { type: 'string' },
    batch: { type: 'string' },
    from: { type: 'string' },
    to: { type: 'string' },
    descending: { type: 'boolean' },
    note: { type: 'string' },
    'wait-for-go': { type: 'boolean' },
  },
});

async function main(): Promise<void> {
  const { dir, batch, from, to } = values;
  if (!dir || !batch || !from || !to) throw new Error('results-writer: --dir, --batch, --from and --to are required');
  const store = new FileResultStore(dir);
  const indexes = Array.from({ length: Number(to) - Number(from) }, (_, offset) => Number(from) + offset);
  if (values.descending) indexes.reverse();
  if (values['wait-for-go']) {
    process.stdout.write('ready\n');
    await once(createInterface({ input: process.stdin }), 'line');
  }
  let written = 0;
  const writeNext = async () => {
    for (let index = indexes.shift(); index !== undefined; index = indexes.shift()) {
      await store.write(sampleResult(batch, index, values.note ?? ''));
      process.stdout.write(`wrote ${++written}\n`);
    }
  };
  await Promise.all(Array.from({ length: 8 }, writeNext));
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`${String(error)}\n`);
    process.exit(1);
  },
);
