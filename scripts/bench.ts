/**
 * Throughput benchmark (a script, not a test): the same workload — N items of the fixture task
 * `test-echo` against the Gemini emulator — run (a) through this project (dev server, one worker,
 * one batch) and (b) as a plain in-process loop with a concurrency limiter calling the same
 * `@google/genai` client with the same prompt and config. Prints items/s for both and their ratio
 * at emulator latencies 50 ms and 1 s and concurrency 10 and 100, and what Temporal adds per item
 * at concurrency 1, and (f) Temporal's floor for the same shape: empty child workflows through the
 * same window (scripts/floor-workflows.ts). Asserts nothing about time.
 *
 *   npm run bench -- [--quick] [--items N] [--row 1000x100]… [--server dev|postgres|both]
 *                    [--max-activities N] [--max-workflow-tasks N] [--encrypt]
 *
 * A row is LATENCYxCONCURRENCY; `50x1` is the per-item overhead row. `--server postgres` runs the rows
 * on the real Temporal server on PostgreSQL (scripts/stack-postgres.ts, a throw-away cluster of its
 * own); `both` runs them on the dev server and then on it, in one report. The emulator runs in a
 * process of its own (scripts/emulator-process.ts), so this process's CPU is the worker's.
 * `--encrypt` adds (e): the project's rows again through a second worker and client that encrypt
 * every payload (src/privacy/: AES-256-GCM, failures' messages encoded), for what encryption costs.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import type { GenerateContentConfig, GoogleGenAI } from '@google/genai';
import { type Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { answerOf } from '../src/providers/gemini/answers';
import { judgeAnswer } from '../src/providers/judge';
import { fullPrompt } from '../src/providers/prompts';
import { BatchClient } from '../src/client/batch-client';
import { DEFAULT_CALL_TIMEOUT_MS, DEFAULT_MODEL, ITEM_HEADER } from '../src/constants';
import { createGeminiClient } from '../src/providers/gemini/client';
import { itemsFromRecords } from '../src/input';
import type { GenerationSettings, WorkItem } from '../src/schemas';
import { DEFAULT_STAGE_PLAN } from '../src/stages';
import { createTaskRegistry, type AnyTask } from '../src/tasks/registry';
import { startDevServer } from '../src/temporal/dev-server';
import { createTemporalClient } from '../src/temporal/connection';
import { DEFAULT_BLOB_THRESHOLD, type PayloadPrivacy } from '../src/privacy/data-converter';
import { randomBytes } from 'node:crypto';
import { createBatchWorker, type BatchWorkerOptions } from '../src/worker';
import { startEmulatorProcess, type EmulatorProcess } from './emulator-process';
import type { FloorActivities } from './floor-workflows';
import { cpuMsOf, devServerPid, treeCpuMs } from './process-stats';
import { freePortRange, PostgresStack, STACK_PORT_SPAN } from './stack-postgres';
import { freePort } from '../test/helpers/ports';

Runtime.install({ logger: new DefaultLogger('ERROR') });

const TASK_NAME = 'test-echo';

interface Row {
  latencyMs: number;
  concurrency: number;
  /** Sized for ~10–30 s on the project side on 2 cores (at 15–25 items/s), several windows' worth. */
  items: number;
}

const ROWS: Row[] = [
  { latencyMs: 50, concurrency: 10, items: 300 },
  { latencyMs: 50, concurrency: 100, items: 400 },
  { latencyMs: 1000, concurrency: 10, items: 150 },
  { latencyMs: 1000, concurrency: 100, items: 600 },
  { latencyMs: 50, concurrency: 1, items: 60 },
];

/** One side's run of one row. */
interface Run {
  wallMs: number;
  succeeded: number;
  /** Mean generateContent requests in flight at the emulator, time-weighted over the run. */
  meanInFlight: number;
  /** CPU time of this process (the worker, or the loop; and the client) per item. */
  cpuMsPerItem: number;
  /** CPU time of the Temporal server (and its database) per item (undefined where /proc is missing). */
  serverCpuMsPerItem?: number;
  /** Share of all cores busy during the run, whoever used them (the dev server, other programs). */
  machineBusy: number;
  /** The batch's own durationMs from its summary (project side only). */
  batchDurationMs?: number;
}

interface Measured {
  server: ServerShape;
  row: Row;
  project: Run;
  loop: Run;
  /** Temporal's own floor for the same shape: empty child workflows through the same window. */
  floor: Run;
  /** The floor's children each making the loop's model call as a local activity, and nothing else. */
  floorCall: Run;
  /** (e) The project with every payload encrypted (--encrypt). */
  encrypted?: Run;
}

type ServerShape = 'dev' | 'postgres';

/** One Temporal server the rows run on, and how to read its CPU time. */
interface Server {
  shape: ServerShape;
  client: Client;
  nativeConnection: NativeConnection;
  /** CPU time the server (and, on PostgreSQL, the database cluster) has spent so far, in ms. */
  cpuMs(): number | undefined;
  describe: string;
  teardown(): Promise<void>;
}

async function startServer(shape: ServerShape): Promise<Server> {
  if (shape === 'dev') {
    const env = await startDevServer();
    const pid = devServerPid();
    return {
      shape,
      client: createTemporalClient(env.connection, 'default'),
      nativeConnection: env.nativeConnection,
      cpuMs: () => cpuMsOf(pid),
      describe: 'the Temporal CLI dev server (one history shard, SQLite in memory)',
      teardown: () => env.teardown(),
    };
  }
  const root = mkdtempSync(path.join(os.tmpdir(), 'bench-stack-'));
  const stack = new PostgresStack({
    root,
    port: await freePortRange(STACK_PORT_SPAN),
    postgresPort: await freePort(),
    log: (line) => console.error(line),
  });
  try {
    await stack.up();
  } catch (error) {
    await stack.down({ wipe: true });
    throw error;
  }
  const connection = await Connection.connect({ address: stack.address });
  const nativeConnection = await NativeConnection.connect({ address: stack.address });
  const temporalPid = stack.temporalPid();
  const postgresPid = stack.postgresPid();
  return {
    shape,
    client: createTemporalClient(connection, 'default'),
    nativeConnection,
    cpuMs: () => {
      const temporal = cpuMsOf(temporalPid);
      const postgres = treeCpuMs(postgresPid);
      return temporal === undefined || postgres === undefined ? undefined : temporal + postgres;
    },
    describe: `Temporal server v${stack.version} on PostgreSQL (${stack.shards} history shards; CPU of the server and of every PostgreSQL process)`,
    teardown: async () => {
      await connection.close();
      await nativeConnection.close();
      await stack.down({ wipe: true });
    },
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      server: { type: 'string', default: 'dev' },
      items: { type: 'string' },
      row: { type: 'string', multiple: true },
      'max-activities': { type: 'string' },
      'max-workflow-tasks': { type: 'string' },
      encrypt: { type: 'boolean', default: false },
    },
  });
  const rows = selectRows(values.row, values.items, values.quick);
  const shapes: ServerShape[] =
    values.server === 'both' ? ['dev', 'postgres'] : values.server === 'postgres' ? ['postgres'] : ['dev'];
  if (!['dev', 'postgres', 'both'].includes(values.server ?? ''))
    throw new Error(`--server ${values.server}: expected dev, postgres or both`);
  const workerTuning: Pick<BatchWorkerOptions, 'maxConcurrentActivities' | 'maxConcurrentWorkflowTasks'> = {
    ...(values['max-activities'] ? { maxConcurrentActivities: Number(values['max-activities']) } : {}),
    ...(values['max-workflow-tasks'] ? { maxConcurrentWorkflowTasks: Number(values['max-workflow-tasks']) } : {}),
  };

  const loadAtStart = os.loadavg()[0] ?? 0;
  const emulator = await startEmulatorProcess({ latencyMs: 50 });
  const tasks = await createTaskRegistry([path.join(__dirname, '..', 'test', 'fixtures', 'tasks.ts')]);
  const task = tasks.get(TASK_NAME);
  if (!task) throw new Error(`fixture task ${TASK_NAME} not found`);
  const gemini = createGeminiClient({ apiKey: 'bench', baseUrl: emulator.url });
  const resultsDirectory = mkdtempSync(path.join(os.tmpdir(), 'bench-'));
  const runId = Date.now().toString(36);
  const measured: Measured[] = [];
  const servers: string[] = [];
  /** The loop does not depend on the server: it runs once per row, beside the first server's rows. */
  const loops = new Map<Row, Run>();
  try {
    for (const shape of shapes) {
      const server = await startServer(shape);
      servers.push(`${shape}: ${server.describe}`);
      // One worker for the project's rows and one for the floor's, each kept for all of this
      // server's rows (warm-up included), as a long-running worker process is: a fresh worker per
      // row would charge each row its new workflow thread's cold start.
      const taskQueue = `bench-${runId}-${shape}`;
      const projectWorker = await createBatchWorker({
        connection: server.nativeConnection,
        namespace: 'default',
        taskQueue,
        tasks,
        gemini,
        resultsDirectory,
        ...workerTuning,
      });
      const floorWorker = await Worker.create({
        connection: server.nativeConnection,
        namespace: 'default',
        taskQueue: `${taskQueue}-floor`,
        workflowsPath: require.resolve('./floor-workflows'),
        activities: floorActivities(gemini, task),
        // As the project's worker does (src/worker.ts): module scope evaluated once per thread, not per workflow.
        bundlerOptions: { preloadModules: [require.resolve('./floor-workflows')] },
        maxConcurrentWorkflowTaskExecutions: workerTuning.maxConcurrentWorkflowTasks ?? 100,
        maxCachedWorkflows: 2000,
      });
      // --encrypt: the same project on a queue of its own, every payload encrypted (a throw-away key).
      const privacy: PayloadPrivacy = {
        keys: [{ id: 'bench', key: randomBytes(32) }],
        blobDirectory: path.join(resultsDirectory, 'blobs'),
        blobThreshold: DEFAULT_BLOB_THRESHOLD,
      };
      const encryptingWorker = values.encrypt
        ? await createBatchWorker({
            connection: server.nativeConnection,
            namespace: 'default',
            taskQueue: `${taskQueue}-encrypted`,
            tasks,
            gemini,
            resultsDirectory,
            privacy,
            ...workerTuning,
          })
        : undefined;
      const workersRunning = Promise.all([projectWorker.run(), floorWorker.run(), encryptingWorker?.run()]);
      const batchClient = new BatchClient(server.client, { taskQueue, namespace: 'default', webUiUrl: '' });
      const encryptingClient = new BatchClient(createTemporalClient(server.nativeConnection, 'default', privacy), {
        taskQueue: `${taskQueue}-encrypted`,
        namespace: 'default',
        webUiUrl: '',
      });
      const project = (label: string, row: Row): Promise<Run> =>
        runProject(batchClient, emulator, server, `${taskQueue}-${label}-batch`, row);
      const encrypted = (label: string, row: Row): Promise<Run> =>
        runProject(encryptingClient, emulator, server, `${taskQueue}-${label}-encrypted-batch`, row);
      /** The floor: the same server, a worker with the project's workflow settings, empty children. */
      const floor = (label: string, row: Row, withCall = false): Promise<Run> =>
        runFloor(
          server,
          `${taskQueue}-floor`,
          `${taskQueue}-${label}-floor${withCall ? '-call' : ''}-batch`,
          row,
          withCall,
          emulator,
        );
      try {
        // Warm-up, untimed: bundle creation, the first workflows, the SDK's first connections.
        const warmUp: Row = { latencyMs: 50, concurrency: 10, items: 30 };
        await emulator.configure({ latency: { baseMs: warmUp.latencyMs, jitterMs: 0 } });
        await project('warm-up', warmUp);
        if (encryptingWorker) await encrypted('warm-up', warmUp);
        if (loops.size === 0) await runLoop(gemini, task, emulator, `bench-${runId}-warm-up-loop`, warmUp);
        await floor('warm-up', warmUp);
        await floor('warm-up', warmUp, true);

        for (const [index, row] of rows.entries()) {
          // A row may be asked for more than once (repeats): each run gets batch ids of its own.
          const label = `${row.latencyMs}ms-c${row.concurrency}-${index + 1}`;
          await emulator.configure({ latency: { baseMs: row.latencyMs, jitterMs: 0 } });
          const projectRun = await project(label, row);
          const encryptedRun = encryptingWorker ? await encrypted(label, row) : undefined;
          let loopRun = loops.get(row);
          if (!loopRun) {
            loopRun = await runLoop(gemini, task, emulator, `bench-${runId}-${label}-loop`, row);
            loops.set(row, loopRun);
          }
          const floorRun = await floor(label, row);
          const floorCallRun = await floor(label, row, true);
          measured.push({
            server: shape,
            row,
            project: projectRun,
            loop: loopRun,
            floor: floorRun,
            floorCall: floorCallRun,
            ...(encryptedRun ? { encrypted: encryptedRun } : {}),
          });
          console.error(
            `done: ${shape} ${label} (${row.items} items): project ${formatSeconds(projectRun.wallMs)}, loop ${formatSeconds(loopRun.wallMs)}, floor ${formatSeconds(floorRun.wallMs)}, floor + call ${formatSeconds(floorCallRun.wallMs)}`,
          );
        }
      } finally {
        projectWorker.shutdown();
        floorWorker.shutdown();
        encryptingWorker?.shutdown();
        await workersRunning;
        await server.teardown();
      }
    }
  } finally {
    await emulator.stop();
    rmSync(resultsDirectory, { recursive: true, force: true });
  }
  printReport(measured, servers, workerTuning, loadAtStart);
}

function selectRows(selected: string[] | undefined, items: string | undefined, quick: boolean | undefined): Row[] {
  const rows = selected?.length
    ? selected.map((spec) => {
        const match = /^(\d+)x(\d+)$/.exec(spec);
        const row =
          match &&
          ROWS.find(
            (candidate) => candidate.latencyMs === Number(match[1]) && candidate.concurrency === Number(match[2]),
          );
        if (!row)
          throw new Error(
            `--row ${spec}: expected one of ${ROWS.map((candidate) => `${candidate.latencyMs}x${candidate.concurrency}`).join(', ')}`,
          );
        return row;
      })
    : ROWS;
  return rows.map((row) => ({
    ...row,
    // --quick keeps the window full for a few rounds, no more.
    items:
      items !== undefined ? Number(items) : quick ? Math.max(row.concurrency * 2, Math.ceil(row.items / 5)) : row.items,
  }));
}

function recordsFor(prefix: string, count: number): unknown[] {
  return Array.from({ length: count }, (_, index) => ({ id: `${prefix}-${index}`, text: `record number ${index}` }));
}

/** Project side: wall time from `start` to the summary being available. */
async function runProject(
  batchClient: BatchClient,
  emulator: EmulatorProcess,
  server: Server,
  batchId: string,
  row: Row,
): Promise<Run> {
  await emulator.reset();
  const inFlight = await emulator.sampleInFlight();
  const cpu = measureCpu(server.cpuMs);
  const started = performance.now();
  await batchClient.start({
    taskName: TASK_NAME,
    batchId,
    records: recordsFor('r', row.items),
    concurrency: row.concurrency,
  });
  const summary = await batchClient.summary(batchId);
  const wallMs = performance.now() - started;
  return {
    wallMs,
    succeeded: summary.succeeded,
    meanInFlight: await inFlight.stop(),
    ...cpu.stop(row.items),
    batchDurationMs: summary.durationMs,
  };
}

/** Floor side: the same window over empty children (or children making one call), from start to the parent's result. */
async function runFloor(
  server: Server,
  taskQueue: string,
  batchId: string,
  row: Row,
  withCall: boolean,
  emulator: EmulatorProcess,
): Promise<Run> {
  if (withCall) await emulator.reset();
  const cpu = measureCpu(server.cpuMs);
  const started = performance.now();
  const { finished } = (await server.client.workflow.execute('floorBatchWorkflow', {
    taskQueue,
    workflowId: batchId,
    args: [{ batchId, items: row.items, concurrency: row.concurrency, withCall }],
  })) as { finished: number };
  const wallMs = performance.now() - started;
  return { wallMs, succeeded: finished, meanInFlight: 0, ...cpu.stop(row.items) };
}

/**
 * Loop side: what the project's stage-1 model call does — the same prompt (fullPrompt), the same
 * request config, the same answer judgement — with a plain limiter instead of Temporal.
 */
async function runLoop(
  gemini: GoogleGenAI,
  task: AnyTask,
  emulator: EmulatorProcess,
  batchId: string,
  row: Row,
): Promise<Run> {
  const items = itemsFromRecords(recordsFor('r', row.items));
  await emulator.reset();
  const inFlight = await emulator.sampleInFlight();
  const cpu = measureCpu(() => undefined);
  const started = performance.now();
  const outcomes = await mapWithLimit(items, row.concurrency, (item) => callLikeTheLoop(gemini, task, item, batchId));
  const wallMs = performance.now() - started;
  return {
    wallMs,
    succeeded: outcomes.filter((kind) => kind === 'ok').length,
    meanInFlight: await inFlight.stop(),
    ...cpu.stop(row.items),
  };
}

/** The loop's model call for one item: the project's stage-1 request, the answer judged. */
async function callLikeTheLoop(gemini: GoogleGenAI, task: AnyTask, item: WorkItem, batchId: string): Promise<string> {
  const request = fullPrompt(task, item);
  const response = await gemini.models.generateContent({
    model: task.model ?? DEFAULT_MODEL,
    contents: [{ role: 'user', parts: [{ text: request.prompt }] }],
    config: stageOneConfig(
      request,
      { ...task.generation, temperature: DEFAULT_STAGE_PLAN[0]?.temperature ?? 0 },
      `${batchId}/${item.id}`,
    ),
  });
  return judgeAnswer(task, answerOf(response)).kind;
}

/** The floor worker's one activity (scripts/floor-workflows.ts): the loop's call for item `r-<n>`. */
function floorActivities(gemini: GoogleGenAI, task: AnyTask): FloorActivities {
  return {
    floorModelCall: async (itemId) => {
      const [item] = itemsFromRecords([{ id: itemId, text: `record number ${itemId.slice(2)}` }]);
      if (!item) throw new Error(`no item for ${itemId}`);
      return callLikeTheLoop(gemini, task, item, 'floor');
    },
  };
}

/**
 * What the Gemini provider's requestConfig (src/providers/gemini/index.ts) sends for a full, uncached prompt with
 * the settings test-echo uses (no topP, topK, seed or thinking budget).
 */
function stageOneConfig(
  request: ReturnType<typeof fullPrompt>,
  settings: GenerationSettings,
  itemKey: string,
): GenerateContentConfig {
  return {
    responseMimeType: 'application/json',
    responseJsonSchema: request.responseJsonSchema,
    abortSignal: new AbortController().signal,
    httpOptions: { timeout: DEFAULT_CALL_TIMEOUT_MS, headers: { [ITEM_HEADER]: itemKey } },
    ...(request.systemInstruction ? { systemInstruction: request.systemInstruction } : {}),
    ...(settings.temperature !== undefined ? { temperature: settings.temperature } : {}),
    ...(settings.maxOutputTokens !== undefined ? { maxOutputTokens: settings.maxOutputTokens } : {}),
  };
}

/** A tiny limiter: `limit` runners take the next item until none is left; results in input order. */
async function mapWithLimit<T, R>(items: readonly T[], limit: number, run: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const runner = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++;
      results[index] = await run(items[index] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, runner));
  return results;
}

/** This process's CPU per item, the server's, and how busy the whole machine was. */
function measureCpu(serverCpuMs: () => number | undefined): {
  stop: (items: number) => Pick<Run, 'cpuMsPerItem' | 'serverCpuMsPerItem' | 'machineBusy'>;
} {
  const ownBefore = process.cpuUsage();
  const serverBefore = serverCpuMs();
  const machineBefore = machineTimes();
  return {
    stop: (items) => {
      const own = process.cpuUsage(ownBefore);
      const serverAfter = serverCpuMs();
      const machine = machineTimes();
      const total = machine.total - machineBefore.total;
      return {
        cpuMsPerItem: (own.user + own.system) / 1000 / items,
        ...(serverAfter !== undefined && serverBefore !== undefined
          ? { serverCpuMsPerItem: (serverAfter - serverBefore) / items }
          : {}),
        machineBusy: total > 0 ? (machine.busy - machineBefore.busy) / total : 0,
      };
    },
  };
}

function machineTimes(): { busy: number; total: number } {
  let busy = 0;
  let total = 0;
  for (const { times } of os.cpus()) {
    const all = times.user + times.nice + times.sys + times.irq + times.idle;
    total += all;
    busy += all - times.idle;
  }
  return { busy, total };
}

function printReport(measured: Measured[], servers: string[], workerTuning: object, loadAtStart: number): void {
  const throughputRows = measured.filter(({ row }) => row.concurrency > 1);
  const overheadRows = measured.filter(({ row }) => row.concurrency === 1);
  const lines: string[] = [];
  lines.push(
    `Machine: ${os.cpus().length} cores (${os.cpus()[0]?.model.trim() ?? 'unknown CPU'}), Node ${process.version}. One worker`,
    `per side kept for all rows, and a batch per row; 1-min load average at start ${loadAtStart.toFixed(1)}${Object.keys(workerTuning).length > 0 ? `, worker options ${JSON.stringify(workerTuning)}` : ', default worker options'}; an untimed warm-up batch first on each server.`,
    ...servers.map((server) => `Server ${server}.`),
    '(a) project: wall time from start to summary; (b) plain loop with a limiter, same client, prompt, config and judgement (run once per row).',
    'Worker CPU ms/item: this process (the worker and the client; the emulator runs in a process of its own); server CPU ms/item: the Temporal server (on PostgreSQL: and the database); machine busy: all cores, every process.',
    '(f) floor: the same window over empty child workflows (no activity, no model call) on the same server: Temporal’s own minimum for this shape.',
    '(g) floor + call: the floor’s children each making the loop’s model call as a local activity, nothing else: the least an item answered at once costs on Temporal.',
    '',
  );
  if (throughputRows.length > 0) {
    lines.push(
      '| server | latency | concurrency | items | (a) project items/s | (a) batch durationMs → items/s | (b) loop items/s | ratio a/b | mean calls in flight a / b | worker CPU ms/item a / b | server CPU ms/item a | machine busy a / b |',
      '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    );
    for (const { server, row, project, loop } of throughputRows) {
      const projectRate = itemsPerSecond(row.items, project.wallMs);
      const loopRate = itemsPerSecond(row.items, loop.wallMs);
      const batchRate =
        project.batchDurationMs !== undefined
          ? `${formatSeconds(project.batchDurationMs)} → ${itemsPerSecond(row.items, project.batchDurationMs).toFixed(1)}`
          : '';
      const target =
        row.latencyMs >= 1000 ? ` (target ≥ 0.9: ${projectRate / loopRate >= 0.9 ? 'met' : 'missed'})` : '';
      lines.push(
        `| ${server} | ${row.latencyMs} ms | ${row.concurrency} | ${row.items}${failures(row, project, loop)} | ${projectRate.toFixed(1)} | ${batchRate} | ${loopRate.toFixed(1)} | ${(projectRate / loopRate).toFixed(2)}${target} | ${project.meanInFlight.toFixed(1)} / ${loop.meanInFlight.toFixed(1)} | ${project.cpuMsPerItem.toFixed(1)} / ${loop.cpuMsPerItem.toFixed(1)} | ${formatMs(project.serverCpuMsPerItem)} | ${percent(project.machineBusy)} / ${percent(loop.machineBusy)} |`,
      );
    }
    lines.push('');
    lines.push(
      '| server | latency | concurrency | items | (a) project items/s | (f) floor items/s | ratio a/f | worker CPU ms/item a / f | server CPU ms/item a / f | items/s per worker core a / f | items/s per server core a / f |',
      '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    );
    for (const { server, row, project, floor } of throughputRows) {
      const projectRate = itemsPerSecond(row.items, project.wallMs);
      const floorRate = itemsPerSecond(row.items, floor.wallMs);
      const floorFailed = floor.succeeded === row.items ? '' : ` (floor finished ${floor.succeeded})`;
      lines.push(
        `| ${server} | ${row.latencyMs} ms | ${row.concurrency} | ${row.items}${floorFailed} | ${projectRate.toFixed(1)} | ${floorRate.toFixed(1)} | ${(projectRate / floorRate).toFixed(2)} | ${project.cpuMsPerItem.toFixed(1)} / ${floor.cpuMsPerItem.toFixed(1)} | ${formatMs(project.serverCpuMsPerItem)} / ${formatMs(floor.serverCpuMsPerItem)} | ${perCore(project.cpuMsPerItem)} / ${perCore(floor.cpuMsPerItem)} | ${perCore(project.serverCpuMsPerItem)} / ${perCore(floor.serverCpuMsPerItem)} |`,
      );
    }
    lines.push('');
    lines.push(
      '| server | latency | concurrency | items | (g) floor + call items/s | worker CPU ms/item a / g / f | a − g: the project’s own | g − f: the call as a local activity | server CPU ms/item a / g / f |',
      '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    );
    for (const { server, row, project, floor, floorCall } of throughputRows) {
      const failed = floorCall.succeeded === row.items ? '' : ` (floor + call finished ${floorCall.succeeded})`;
      lines.push(
        `| ${server} | ${row.latencyMs} ms | ${row.concurrency} | ${row.items}${failed} | ${itemsPerSecond(row.items, floorCall.wallMs).toFixed(1)} | ${project.cpuMsPerItem.toFixed(1)} / ${floorCall.cpuMsPerItem.toFixed(1)} / ${floor.cpuMsPerItem.toFixed(1)} | ${signedMs(project.cpuMsPerItem - floorCall.cpuMsPerItem)} | ${signedMs(floorCall.cpuMsPerItem - floor.cpuMsPerItem)} | ${formatMs(project.serverCpuMsPerItem)} / ${formatMs(floorCall.serverCpuMsPerItem)} / ${formatMs(floor.serverCpuMsPerItem)} |`,
      );
    }
    const encryptedRows = throughputRows.filter((measuredRow) => measuredRow.encrypted);
    if (encryptedRows.length > 0) {
      lines.push(
        '',
        '(e) project with every payload encrypted (AES-256-GCM, failures encoded), run right after (a) on the same worker settings:',
        '| server | latency | concurrency | items | (a) items/s | (e) encrypted items/s | worker CPU ms/item a / e | e − a | server CPU ms/item a / e |',
        '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
      );
      for (const { server, row, project, encrypted } of encryptedRows) {
        if (!encrypted) continue;
        const failed = encrypted.succeeded === row.items ? '' : ` (encrypted finished ${encrypted.succeeded})`;
        lines.push(
          `| ${server} | ${row.latencyMs} ms | ${row.concurrency} | ${row.items}${failed} | ${itemsPerSecond(row.items, project.wallMs).toFixed(1)} | ${itemsPerSecond(row.items, encrypted.wallMs).toFixed(1)} | ${project.cpuMsPerItem.toFixed(1)} / ${encrypted.cpuMsPerItem.toFixed(1)} | ${signedMs(encrypted.cpuMsPerItem - project.cpuMsPerItem)} | ${formatMs(project.serverCpuMsPerItem)} / ${formatMs(encrypted.serverCpuMsPerItem)} |`,
        );
      }
    }
    lines.push(
      'Targets (issue 16): a/f ≥ 0.9 at 1 s latency and concurrency 100; worker CPU ≤ floor + 5 ms; server CPU ≤ 1.1 × floor.',
      'Items/s per core = 1000 / CPU ms per item: what one fully busy core sustains on that side (sizing: items/s needed ÷ that = cores).',
      '',
    );
  }
  for (const { server, row, project, loop } of overheadRows) {
    const addedMs = (project.wallMs - loop.wallMs) / row.items;
    lines.push(
      `${server}: added wall time per item at concurrency 1, latency ${row.latencyMs} ms, ${row.items} items${failures(row, project, loop)}: (${formatSeconds(project.wallMs)} − ${formatSeconds(loop.wallMs)}) / ${row.items} = ${addedMs.toFixed(1)} ms (target ≤ 25 ms: ${addedMs <= 25 ? 'met' : 'missed'}; batch durationMs ${formatSeconds(project.batchDurationMs ?? 0)}).`,
    );
  }
  console.log(lines.join('\n'));
}

function perCore(cpuMsPerItem: number | undefined): string {
  return cpuMsPerItem === undefined || cpuMsPerItem <= 0 ? '?' : (1000 / cpuMsPerItem).toFixed(0);
}

/** Flags a run in which not every item succeeded: its rate would not be comparable. */
function failures(row: Row, project: Run, loop: Run): string {
  return project.succeeded === row.items && loop.succeeded === row.items
    ? ''
    : ` (succeeded: a ${project.succeeded}, b ${loop.succeeded})`;
}

function signedMs(ms: number): string {
  return `${ms >= 0 ? '+' : '−'}${Math.abs(ms).toFixed(1)}`;
}

function formatMs(ms: number | undefined): string {
  return ms === undefined ? '?' : ms.toFixed(1);
}

function percent(share: number): string {
  return `${Math.round(share * 100)} %`;
}

function itemsPerSecond(items: number, ms: number): number {
  return (items * 1000) / ms;
}

function formatSeconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
