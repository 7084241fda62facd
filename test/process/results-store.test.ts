import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { lockHolder } from '../../src/file-lock';
import { FileResultStore, type ResultOrder } from '../../src/results';
import { resultLine } from '../../src/results-jsonl';
import type { ItemResult } from '../../src/schemas';
import { cliEnv, REPO_ROOT, runCli } from '../helpers/cli';
import { sampleResult } from '../helpers/result-records';

const WRITER = path.join(REPO_ROOT, 'test', 'helpers', 'results-writer.ts');

function freshDirectory(): string {
  return mkdtempSync(path.join(os.tmpdir(), 'batch-llm-results-'));
}

/** The file's lines, parsed; throws on a line that is not JSON (a torn or interleaved write). */
function fileRecords(store: FileResultStore, batchId: string): ItemResult[] {
  const text = readFileSync(store.resultsFile(batchId), 'utf8');
  assert.ok(text.endsWith('\n'), 'the file ends with a whole line');
  return text
    .trimEnd()
    .split('\n')
    .map((line) => JSON.parse(line) as ItemResult);
}

function assertOneLinePerItem(records: ItemResult[], count: number): void {
  const ids = records.map((record) => record.itemId);
  assert.equal(new Set(ids).size, ids.length, 'no item id appears twice');
  assert.deepEqual([...ids].sort(), Array.from({ length: count }, (_, index) => `item-${index}`).sort());
}

interface Writer {
  child: ChildProcess;
  /** Its stdout so far, line by line. */
  lines: string[];
  /** Resolves once it has printed `line`. */
  printed(line: string): Promise<void>;
}

function startWriter(args: string[]): Writer {
  const child = spawn(process.execPath, ['--import', 'tsx', WRITER, ...args], {
    cwd: REPO_ROOT,
    env: cliEnv({}),
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines: string[] = [];
  const reader = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  reader.on('line', (line) => lines.push(line));
  return {
    child,
    lines,
    async printed(line) {
      while (!lines.includes(line)) await once(reader, 'line');
    },
  };
}

async function exitCode(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
  const [code] = (await once(child, 'exit')) as [number | null];
  return code;
}

describe('the results file: one line per item whatever retries and crashes do', () => {
  test(
    'two processes writing the same ids at the same time leave exactly one line per id',
    { timeout: 120_000 },
    async () => {
      const directory = freshDirectory();
      const count = 5000;
      const writers = ['ascending', 'descending'].map((direction) =>
        startWriter([
          '--dir',
          directory,
          '--batch',
          'same-ids',
          '--from',
          '0',
          '--to',
          String(count),
          '--note',
          direction,
          '--wait-for-go',
          ...(direction === 'descending' ? ['--descending'] : []),
        ]),
      );
      for (const writer of writers) await writer.printed('ready');
      for (const writer of writers) writer.child.stdin?.write('go\n');
      assert.deepEqual(await Promise.all(writers.map((writer) => exitCode(writer.child))), [0, 0]);

      const records = fileRecords(new FileResultStore(directory), 'same-ids');
      assertOneLinePerItem(records, count);
      const byWriter = (note: string) =>
        records.filter((record) => (record.output as { summary: string }).summary.endsWith(note)).length;
      assert.ok(
        byWriter('ascending') > 0 && byWriter('descending') > 0,
        'both processes recorded items: they did run at the same time',
      );
    },
  );

  test(
    'a writer SIGKILLed mid-way and retried by another process leaves one line per item',
    { timeout: 120_000 },
    async () => {
      const directory = freshDirectory();
      const killed = startWriter([
        '--dir',
        directory,
        '--batch',
        'crash',
        '--from',
        '0',
        '--to',
        '20000',
        '--note',
        'first',
      ]);
      await killed.printed('wrote 300');
      killed.child.kill('SIGKILL');
      await exitCode(killed.child);
      const retry = startWriter([
        '--dir',
        directory,
        '--batch',
        'crash',
        '--from',
        '0',
        '--to',
        '1000',
        '--note',
        'retry',
      ]);
      assert.equal(await exitCode(retry.child), 0);

      const records = fileRecords(new FileResultStore(directory), 'crash');
      const ids = new Set(records.map((record) => record.itemId));
      assert.equal(ids.size, records.length, 'no item id appears twice');
      for (let index = 0; index < 1000; index++) assert.ok(ids.has(`item-${index}`), `item-${index} is recorded`);
      const firstRecorded = records.find((record) => record.itemId === 'item-0');
      assert.match(
        (firstRecorded?.output as { summary: string }).summary,
        /first$/,
        'an item the killed writer had recorded keeps its first record',
      );
    },
  );

  test('a lock left by a dead process is taken over; a live holder is waited for', { timeout: 20_000 }, async () => {
    const directory = freshDirectory();
    const store = new FileResultStore(directory);
    const lock = `${store.resultsFile('locks')}.lock`;
    mkdirSync(path.dirname(lock), { recursive: true });
    const dead = spawn(process.execPath, ['-e', '']);
    await once(dead, 'exit');
    writeFileSync(lock, lockHolder(dead.pid ?? 0));
    await store.write(sampleResult('locks', 0));
    assert.equal(existsSync(lock), false, "the dead process's lock was removed and ours released");

    const live = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60_000)']);
    try {
      writeFileSync(lock, lockHolder(live.pid ?? 0));
      let written = false;
      const write = store.write(sampleResult('locks', 1)).then(() => (written = true));
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.equal(written, false, 'no write while another live process holds the lock');
      unlinkSync(lock);
      await write;
    } finally {
      live.kill('SIGKILL');
    }
    assertOneLinePerItem(fileRecords(store, 'locks'), 2);
  });

  test('a torn last line (an append cut by a crash) is ignored by readers and cut before the next append', async () => {
    const directory = freshDirectory();
    const store = new FileResultStore(directory);
    await store.writeMany('torn', [sampleResult('torn', 0), sampleResult('torn', 1)]);
    appendFileSync(store.resultsFile('torn'), '{"itemId":"item-2","index":2,"batchId":"to');
    assert.deepEqual(
      (await store.readAll('torn')).map((result) => result.itemId),
      ['item-0', 'item-1'],
    );

    const retry = new FileResultStore(directory); // another process retrying item-2
    await retry.write(sampleResult('torn', 2));
    await store.write(sampleResult('torn', 3)); // the first process catches up with the repair
    assertOneLinePerItem(fileRecords(store, 'torn'), 4);
  });

  test('a second write of an item changes nothing: the first record stays, and the writer is handed it', async () => {
    const directory = freshDirectory();
    const store = new FileResultStore(directory);
    assert.equal(
      (await store.write(sampleResult('twice', 0, 'first'))).kept,
      undefined,
      'the first write is kept as offered',
    );
    assert.equal(
      (await store.write(sampleResult('twice', 0, 'first'))).kept,
      undefined,
      'the same record again (a retried write): nothing to report',
    );
    const second = await store.write(sampleResult('twice', 0, 'second'));
    assert.match(
      (second.kept?.output as { summary: string } | undefined)?.summary ?? '',
      /first$/,
      'a different record: the stored one comes back',
    );
    const fromAnother = await new FileResultStore(directory).write(sampleResult('twice', 0, 'from another process'));
    assert.match((fromAnother.kept?.output as { summary: string } | undefined)?.summary ?? '', /first$/);
    const skipped = await store.writeMany('twice', [
      sampleResult('twice', 0, 'again'),
      sampleResult('twice', 1),
      sampleResult('twice', 1, 'duplicate in one call'),
    ]);
    assert.equal(skipped.added, 1);

    const records = fileRecords(store, 'twice');
    assert.equal(records.length, 2);
    assert.match((records[0]?.output as { summary: string }).summary, /first$/);
    assert.doesNotMatch((records[1]?.output as { summary: string }).summary, /duplicate/);
  });

  test('readAll returns one result per item, in input order, even from a file with a duplicate line', async () => {
    const store = new FileResultStore(freshDirectory());
    for (const index of [5, 3, 9, 0, 3, 7]) await store.write(sampleResult('order', index));
    appendFileSync(store.resultsFile('order'), resultLine(sampleResult('order', 9, 'copied by hand')));
    const results = await store.readAll('order');
    assert.deepEqual(
      results.map((result) => result.index),
      [0, 3, 5, 7, 9],
    );
    assert.deepEqual(results[0], JSON.parse(JSON.stringify(sampleResult('order', 0))));
    assert.doesNotMatch(JSON.stringify(results), /copied by hand/, 'the first line of an item wins');
    const finishOrder: number[] = [];
    for await (const chunk of store.jsonl('order', 'finish'))
      finishOrder.push(
        ...chunk
          .toString('utf8')
          .trimEnd()
          .split('\n')
          .map((line) => (JSON.parse(line) as ItemResult).index),
      );
    assert.deepEqual(finishOrder, [5, 3, 9, 0, 7]);
    assert.deepEqual(await store.readAll('no-such-batch'), []);
  });

  test('a line that is not a result record stops the export, naming the line', async () => {
    const store = new FileResultStore(freshDirectory());
    await store.write(sampleResult('damaged', 0));
    appendFileSync(store.resultsFile('damaged'), 'not json\n');
    await assert.rejects(store.readAll('damaged'), /results\.jsonl, line 2: not a result record/);
  });
});

describe('exporting results', () => {
  test('`results --order finish` streams the order items finished; the default and `--order input` sort by input', async () => {
    const directory = freshDirectory();
    const store = new FileResultStore(directory);
    const finishOrder = [4, 0, 3, 1, 2];
    for (const index of finishOrder) await store.write(sampleResult('cli-export', index));
    const exported = async (extra: string[]) => {
      const run = await runCli(['results', 'cli-export', '--results-dir', directory, ...extra]);
      assert.equal(run.code, 0, run.stderr);
      return run.stdout
        .trimEnd()
        .split('\n')
        .map((line) => (JSON.parse(line) as ItemResult).index);
    };
    assert.deepEqual(await exported(['--order', 'finish']), finishOrder);
    assert.deepEqual(await exported(['--order', 'input']), [0, 1, 2, 3, 4]);
    assert.deepEqual(await exported([]), [0, 1, 2, 3, 4]);

    const out = path.join(directory, 'export.jsonl');
    // --full: the file's lines as written (by default each attempt's safety ratings are left out).
    const toFile = await runCli([
      'results',
      'cli-export',
      '--results-dir',
      directory,
      '--order',
      'finish',
      '--full',
      '--out',
      out,
    ]);
    assert.equal(toFile.code, 0, toFile.stderr);
    assert.match(toFile.stderr, /Wrote 5 results/);
    assert.equal(readFileSync(out, 'utf8'), readFileSync(store.resultsFile('cli-export'), 'utf8'));

    const badOrder = await runCli(['results', 'cli-export', '--results-dir', directory, '--order', 'alphabetical']);
    assert.equal(badOrder.code, 2);
    assert.match(badOrder.stderr, /--order/);
  });

  test('20,480 items written one by one, then exported in both orders', async () => {
    const store = new FileResultStore(freshDirectory());
    const count = 20_480;
    // Finish order: input order shuffled within windows of 64, as items in flight finish.
    const indexes = Array.from({ length: count }, (_, index) => index ^ 0b111111);
    let next = 0;
    await Promise.all(
      Array.from({ length: 64 }, async () => {
        for (let index = indexes[next++]; index !== undefined; index = indexes[next++])
          await store.write(sampleResult('big', index));
      }),
    );
    const exportedIndexes = async (order: ResultOrder) => {
      const indexes: number[] = [];
      for await (const chunk of store.jsonl('big', order)) {
        for (const line of chunk.toString('utf8').split('\n'))
          if (line) indexes.push((JSON.parse(line) as ItemResult).index);
      }
      return indexes;
    };
    const input = await exportedIndexes('input');
    assert.deepEqual(
      input,
      Array.from({ length: count }, (_, index) => index),
    );
    const finish = await exportedIndexes('finish');
    assert.deepEqual(
      finish,
      fileRecords(store, 'big').map((record) => record.index),
    );
    assert.notDeepEqual(finish, input);
    assert.equal((await store.readAll('big')).length, count);
  });
});
