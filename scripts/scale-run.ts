/**
 * Scale run (a script, not a test): N items (default 100,000) from a JSONL file through the dev
 * server (its history in a SQLite file, as `dev` runs it; `--in-memory` for the tests' kind), one
 * worker process and a fast emulator. Prints wall time, items/s, the worker's and the server's
 * peak RSS and CPU, the database size, the largest batch-run history, the number of runs, and
 * checks results count = input count. Growth per item: the worker's resident set and the
 * database's bytes when the results pass two marks (default 10,000 and 60,000 items), each the
 * mean of the samples taken within ±1,000 items of its mark, so that one garbage collection's
 * sawtooth does not decide the number.
 * `--server postgres` runs it on the real Temporal server on PostgreSQL instead (scripts/stack-postgres.ts,
 * a cluster of its own in the run's directory): the database is then the PostgreSQL data directory,
 * and the server's CPU that of the Temporal server and every PostgreSQL process.
 *   npm run scale -- [--items 100000] [--concurrency 200] [--latency-ms 5] [--events-per-run 7000] [--in-memory]
 *                    [--growth-from 10000] [--growth-to 60000] [--server dev|postgres]
 */
import { existsSync, lstatSync, mkdtempSync, readdirSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { type Client, Connection } from '@temporalio/client';
import { createTemporalClient } from '../src/temporal/connection';
import { BatchClient } from '../src/client/batch-client';
import { GeminiEmulator } from '@durable-batch-llm/gemini-emulator';
import { startDevServer } from '../src/temporal/dev-server';
import { cpuMsOf, devServerPid, peakRssMiB, rssBytes, treeCpuMs } from './process-stats';
import { countResultLines, GrowingLineCount, startWorkerProcess, writeItemsFile } from './run-support';
import { freePortRange, PostgresStack, STACK_PORT_SPAN } from './stack-postgres';
import { freePort } from '../test/helpers/ports';

Runtime.install({ logger: new DefaultLogger('ERROR') });

/** A mark's reading is the mean of the samples taken while the results count is this close to it. */
const MARK_WINDOW_ITEMS = 1_000;
const SAMPLE_EVERY_MS = 500;

/** What is sampled at a growth mark: the worker's resident set and the server's database, in bytes. */
interface MarkReading {
  rss: number[];
  database: number[];
}

const mean = (values: readonly number[]) => values.reduce((sum, value) => sum + value, 0) / values.length;

/** The SQLite database with its write-ahead log, in bytes. */
function sqliteBytes(dbFilename: string): number {
  const size = (file: string) => (existsSync(file) ? statSync(file).size : 0);
  return size(dbFilename) + size(`${dbFilename}-wal`);
}

/** Every file under a directory (PostgreSQL's databases), in bytes. */
function directoryBytes(directory: string): number {
  let total = 0;
  for (const entry of readdirSync(directory, { withFileTypes: true })) {
    const file = path.join(directory, entry.name);
    try {
      total += entry.isDirectory() ? directoryBytes(file) : lstatSync(file).size;
    } catch {
      // a file PostgreSQL removed between the listing and the stat: nothing to count
    }
  }
  return total;
}

/** The server the run measures: its address, a client, and what the report reads of it. */
interface ScaleServer {
  label: string;
  address: string;
  client: Client;
  cpuMs(): number | undefined;
  peakRssMiB(): number | undefined;
  /** Bytes on disk, or undefined for an in-memory dev server. */
  databaseBytes(): number | undefined;
  databaseLabel: string;
  teardown(): Promise<void>;
}

async function startScaleServer(shape: string, work: string, inMemory: boolean): Promise<ScaleServer> {
  if (shape === 'postgres') {
    const stack = new PostgresStack({
      // A directory of its own: PostgreSQL runs as another user when we are root, and must reach it.
      root: mkdtempSync(path.join(os.tmpdir(), 'scale-run-stack-')),
      port: await freePortRange(STACK_PORT_SPAN),
      postgresPort: await freePort(),
      log: (line) => console.error(line),
    });
    await stack.up();
    const connection = await Connection.connect({ address: stack.address });
    const temporalPid = stack.temporalPid();
    const postgresPid = stack.postgresPid();
    // The databases' tables and indexes; the write-ahead log (pg_wal) is recycled at max_wal_size (1 GB).
    const databases = path.join(stack.root, 'pgdata', 'base');
    return {
      label: `Temporal server v${stack.version} on PostgreSQL (${stack.shards} shards)`,
      address: stack.address,
      client: createTemporalClient(connection, 'default'),
      cpuMs: () => {
        const temporal = cpuMsOf(temporalPid);
        const postgres = treeCpuMs(postgresPid);
        return temporal === undefined || postgres === undefined ? undefined : temporal + postgres;
      },
      peakRssMiB: () => peakRssMiB(temporalPid),
      databaseBytes: () => directoryBytes(databases),
      databaseLabel: 'PostgreSQL tables and indexes, without the write-ahead log',
      teardown: async () => {
        await connection.close();
        await stack.down({ wipe: true });
      },
    };
  }
  // In memory, the dev server keeps every closed item's history, state and visibility rows in its
  // own heap (~0.1 MB an item, more with the Go heap's headroom): 100,000 items outgrow 24 GiB.
  const dbFilename = inMemory ? undefined : path.join(work, 'temporal.db');
  const env = await startDevServer(dbFilename ? { dbFilename } : {});
  const server = devServerPid();
  return {
    label: 'dev server',
    address: env.connection.options.address,
    client: createTemporalClient(env.connection, 'default'),
    cpuMs: () => cpuMsOf(server),
    peakRssMiB: () => peakRssMiB(server),
    databaseBytes: () => (dbFilename ? sqliteBytes(dbFilename) : undefined),
    databaseLabel: 'SQLite file and its WAL',
    teardown: () => env.teardown(),
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      items: { type: 'string' },
      concurrency: { type: 'string' },
      'latency-ms': { type: 'string' },
      'events-per-run': { type: 'string' },
      'in-memory': { type: 'boolean', default: false },
      'growth-from': { type: 'string' },
      'growth-to': { type: 'string' },
      server: { type: 'string', default: 'dev' },
    },
  });
  if (values.server !== 'dev' && values.server !== 'postgres')
    throw new Error(`--server ${values.server}: expected dev or postgres`);
  const total = Number(values.items ?? 100_000);
  const concurrency = Number(values.concurrency ?? 200);
  const latencyMs = Number(values['latency-ms'] ?? 5);
  const eventsPerRun = values['events-per-run'] ? Number(values['events-per-run']) : undefined;
  const marks = [Number(values['growth-from'] ?? 10_000), Number(values['growth-to'] ?? 60_000)] as const;
  const work = mkdtempSync(path.join(os.tmpdir(), 'scale-run-'));
  const inputFile = writeItemsFile(work, total);
  const resultsDirectory = path.join(work, 'results');

  const server = await startScaleServer(values.server ?? 'dev', work, values['in-memory'] ?? false);
  const emulator = await GeminiEmulator.start({ latency: { baseMs: latencyMs, jitterMs: latencyMs / 2 } });
  const taskQueue = `scale-${Date.now()}`;
  const worker = await startWorkerProcess({
    address: server.address,
    taskQueue,
    emulatorUrl: emulator.url,
    resultsDirectory,
  });
  const batchId = `scale-${total}-${Date.now()}`;
  let peak = 0;
  const finished = new GrowingLineCount(path.join(resultsDirectory, batchId, 'results.jsonl'));
  const readings = new Map<number, MarkReading>(marks.map((mark) => [mark, { rss: [], database: [] }]));
  const sampler = setInterval(() => {
    peak = Math.max(peak, peakRssMiB(worker.pid) ?? 0);
    const count = finished.now();
    for (const [mark, reading] of readings) {
      if (Math.abs(count - mark) > MARK_WINDOW_ITEMS) continue;
      const rss = rssBytes(worker.pid);
      if (rss !== undefined) reading.rss.push(rss);
      const database = server.databaseBytes();
      if (database !== undefined) reading.database.push(database);
    }
  }, SAMPLE_EVERY_MS);
  const cpuBefore = { worker: cpuMsOf(worker.pid) ?? 0, server: server.cpuMs() ?? 0 };
  const database = (): string => {
    const bytes = server.databaseBytes();
    return bytes === undefined ? '' : `, database ${(bytes / 2 ** 20).toFixed(0)} MiB`;
  };
  try {
    const batchClient = new BatchClient(server.client, { taskQueue, namespace: 'default', webUiUrl: '' });
    const began = Date.now();
    await batchClient.start({
      taskName: 'test-echo',
      batchId,
      inputFile,
      concurrency,
      ...(eventsPerRun ? { historyEventsPerRun: eventsPerRun } : {}),
    });
    const progressTimer = setInterval(() => {
      batchClient.progress(batchId).then(
        (progress) =>
          console.error(
            `  ${progress.succeeded + progress.failed}/${total} finished, run ${progress.runs} (largest finished run ${progress.largestRunEvents} events), ${((progress.succeeded + progress.failed) / ((Date.now() - began) / 1000)).toFixed(1)} items/s, worker peak RSS ${peak.toFixed(0)} MiB, server peak RSS ${(server.peakRssMiB() ?? 0).toFixed(0)} MiB; at ${finished.now()} results worker RSS ${((rssBytes(worker.pid) ?? 0) / 2 ** 20).toFixed(0)} MiB${database()}`,
          ),
        (error: unknown) => console.error(`  progress unavailable: ${String(error)}`),
      );
    }, 30_000);
    const summary = await batchClient.summary(batchId);
    clearInterval(progressTimer);
    const wallSeconds = (Date.now() - began) / 1000;
    let largest = 0;
    let runs = 0;
    for await (const execution of server.client.workflow.list({ query: `WorkflowId = "${batchId}"` })) {
      runs += 1;
      largest = Math.max(largest, execution.historyLength);
    }
    const results = await countResultLines(path.join(resultsDirectory, batchId, 'results.jsonl'));
    peak = Math.max(peak, peakRssMiB(worker.pid) ?? 0);
    const cpuPerItem = (now: number | undefined, before: number) =>
      `${(((now ?? before) - before) / total).toFixed(1)} ms`;
    const databaseNow = server.databaseBytes();
    const rows: Array<[string, string]> = [
      ['server', server.label],
      ['items', String(total)],
      ['succeeded / failed', `${summary.succeeded} / ${summary.failed}`],
      ['concurrency, emulator latency', `${concurrency}, ${latencyMs} ± ${latencyMs / 2} ms`],
      ['wall time (start → summary)', `${wallSeconds.toFixed(1)} s`],
      ['items/s', (total / wallSeconds).toFixed(1)],
      ['worker peak RSS, CPU per item', `${peak.toFixed(0)} MiB, ${cpuPerItem(cpuMsOf(worker.pid), cpuBefore.worker)}`],
      [
        'server peak RSS, CPU per item',
        `${(server.peakRssMiB() ?? 0).toFixed(0)} MiB, ${cpuPerItem(server.cpuMs(), cpuBefore.server)}`,
      ],
      [
        'server database',
        databaseNow !== undefined ? `${(databaseNow / 2 ** 20).toFixed(0)} MiB (${server.databaseLabel})` : 'in memory',
      ],
      ['batch runs (continue-as-new)', `${runs} (summary says ${summary.runs})`],
      ['largest batch-run history', `${largest} events`],
      [
        'results lines / distinct items',
        `${results.lines} / ${results.ids}${results.lines === total && results.ids === total ? ' = input count' : ' — MISMATCH'}`,
      ],
    ];
    rows.push(...growthRows(marks, readings, total, databaseNow));
    const width = Math.max(...rows.map(([name]) => name.length)) + 2;
    for (const [name, value] of rows) console.log(`${name.padEnd(width)}${value}`);
    if (results.lines !== total || results.ids !== total) process.exitCode = 1;
  } finally {
    clearInterval(sampler);
    worker.kill('SIGTERM');
    await emulator.stop();
    await server.teardown();
  }
}

/** Rows for the growth between the two marks: the worker's RSS and the database, per item; the database's bytes per item overall. */
function growthRows(
  [from, to]: readonly [number, number],
  readings: ReadonlyMap<number, MarkReading>,
  total: number,
  databaseNow: number | undefined,
): Array<[string, string]> {
  const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;
  const at = (mark: number, key: keyof MarkReading) => {
    const samples = readings.get(mark)?.[key] ?? [];
    return samples.length > 0 ? mean(samples) : undefined;
  };
  const span = `${from.toLocaleString('en')} → ${to.toLocaleString('en')} items`;
  const rows: Array<[string, string]> = [];
  const rssFrom = at(from, 'rss');
  const rssTo = at(to, 'rss');
  rows.push(
    rssFrom !== undefined && rssTo !== undefined
      ? [
          `worker RSS growth (${span})`,
          `${mib(rssFrom)} → ${mib(rssTo)}: ${((rssTo - rssFrom) / (to - from)).toFixed(0)} bytes/item`,
        ]
      : [`worker RSS growth (${span})`, 'not measured (fewer items than the marks)'],
  );
  if (databaseNow === undefined) return rows;
  const databaseFrom = at(from, 'database');
  const databaseTo = at(to, 'database');
  if (databaseFrom !== undefined && databaseTo !== undefined)
    rows.push([
      `server database growth (${span})`,
      `${mib(databaseFrom)} → ${mib(databaseTo)}: ${((databaseTo - databaseFrom) / (to - from) / 1024).toFixed(1)} KiB/item`,
    ]);
  rows.push(['server database per item (end)', `${(databaseNow / total / 1024).toFixed(1)} KiB`]);
  return rows;
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
