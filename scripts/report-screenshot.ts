/**
 * A report of a real batch with faults, and a screenshot of its HTML (a script, not a test): N
 * products (default 1,000, the demo's 50 repeated) through the demo-enrichment task on an
 * in-memory dev server, one worker process and the Gemini emulator injecting rate limits, 503s,
 * answers that break the schema or stop at MAX_TOKENS (validation failures and repairs), refused
 * requests and blocked answers. Stages 3 and 4 escalate to a second model. Then, through the bin:
 * `batch-llm report BATCH_ID` (terminal tables, saved with --text) and `--html`, and headless
 * Chromium screenshots the HTML.
 *
 *   node --import tsx scripts/report-screenshot.ts [--items 1000] [--concurrency 12] [--latency-ms 400]
 *     [--png docs/report.png] [--preview docs/report-preview.png] [--html /tmp/report.html] [--text /tmp/report.txt] [--height 4000] [--keep]
 *
 * Needs `chromium` on PATH (Debian: apt-get install chromium) for the PNG; without it the script
 * still writes the HTML and the text. The PNG is 1280 px wide and the page's height (a window of
 * --height px, default 4000, cut under the page's end), stored with a 256-colour palette; --preview
 * writes its top (headline figures, status, categories, timeline) for the README.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { GeminiEmulator, type FaultRule } from '@durable-batch-llm/gemini-emulator';
import { BatchClient } from '../src/client/batch-client';
import { startDevServer } from '../src/temporal/dev-server';
import { chromiumPath, screenshot } from '../test/helpers/chromium';
import { readPng, topUntilGap, trimBottom, writePalettePng } from './png';

Runtime.install({ logger: new DefaultLogger('ERROR') });

const REPO_ROOT = path.resolve(__dirname, '..');
const BIN = path.join(REPO_ROOT, 'bin', 'batch-llm.js');

/** The faults of the pictured batch: each decided per (item, attempt) by the emulator's seeded hash. */
const FAULTS: FaultRule[] = [
  { fault: 'invalid_request', rate: 0.006, attempts: [1] },
  { fault: 'safety', rate: 0.006, attempts: [1] },
  { fault: 'rate_limit', rate: 0.015, retryDelaySeconds: 1 },
  { fault: 'overloaded', rate: 0.06 },
  { fault: 'server_error', rate: 0.01 },
  { fault: 'schema_invalid', rate: 0.25 },
  { fault: 'max_tokens', rate: 0.04 },
];

/** Cheap model first; stages 3 and 4 (the second round of repairs) escalate. */
const STAGE_PLAN = [
  { mode: 'full', temperature: 0 },
  { mode: 'partial', temperature: 0 },
  { mode: 'full', temperature: 0.25, model: 'gemini-2.5-flash' },
  { mode: 'partial', temperature: 0.25, model: 'gemini-2.5-flash' },
] as const;

function runBin(args: string[], env: NodeJS.ProcessEnv): { code: number | null; stdout: string; stderr: string } {
  const run = spawnSync(process.execPath, [BIN, ...args], { cwd: REPO_ROOT, env, encoding: 'utf8' });
  return { code: run.status, stdout: run.stdout, stderr: run.stderr };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      items: { type: 'string' },
      concurrency: { type: 'string' },
      'latency-ms': { type: 'string' },
      png: { type: 'string' },
      preview: { type: 'string' },
      html: { type: 'string' },
      text: { type: 'string' },
      height: { type: 'string' },
      keep: { type: 'boolean', default: false },
    },
  });
  const total = Number(values.items ?? 1000);
  const concurrency = Number(values.concurrency ?? 12);
  const latencyMs = Number(values['latency-ms'] ?? 400);
  const work = mkdtempSync(path.join(os.tmpdir(), 'report-screenshot-'));
  const htmlFile = path.resolve(values.html ?? path.join(work, 'report.html'));
  const textFile = values.text ? path.resolve(values.text) : undefined;
  const products = readFileSync(path.join(REPO_ROOT, 'data', 'demo-products.jsonl'), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Record<string, unknown>);
  const inputFile = path.join(work, 'items.jsonl');
  writeFileSync(
    inputFile,
    Array.from({ length: total }, (_, index) =>
      JSON.stringify({ ...products[index % products.length], id: `p${String(index + 1).padStart(5, '0')}` }),
    ).join('\n') + '\n',
  );
  const resultsDirectory = path.join(work, 'results');

  const env = await startDevServer();
  const emulator = await GeminiEmulator.start({
    latency: { baseMs: latencyMs, jitterMs: latencyMs },
    faults: FAULTS,
    seed: 7,
  });
  const taskQueue = `report-${Date.now()}`;
  const childEnv: NodeJS.ProcessEnv = {
    ...process.env,
    TEMPORAL_ADDRESS: env.connection.options.address,
    TEMPORAL_TASK_QUEUE: taskQueue,
    GOOGLE_GEMINI_BASE_URL: emulator.url,
    BATCH_LLM_RESULTS_DIR: resultsDirectory,
    BATCH_LLM_LOG_LEVEL: 'ERROR',
  };
  const worker = spawn(process.execPath, [BIN, 'worker', '--results-dir', resultsDirectory], {
    cwd: REPO_ROOT,
    env: childEnv,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  await new Promise<void>((resolve, reject) => {
    worker.stderr?.on('data', (chunk: Buffer) => chunk.toString().includes('Worker on') && resolve());
    worker.once('exit', (code) => reject(new Error(`the worker exited (code ${code}) before it was ready`)));
  });
  try {
    const batchClient = new BatchClient(env.client, { taskQueue, namespace: 'default', webUiUrl: '' });
    const batchId = `enrich-${total}-${new Date().toISOString().slice(0, 10)}`;
    const began = Date.now();
    await batchClient.start({
      taskName: 'demo-enrichment',
      batchId,
      inputFile,
      concurrency,
      failFast: [],
      options: { model: 'gemini-2.5-flash-lite', stagePlan: [...STAGE_PLAN] },
    });
    const ticker = setInterval(() => {
      batchClient.progress(batchId).then(
        (progress) =>
          console.error(
            `  ${total - progress.pending - progress.running}/${total} finished (${progress.succeeded} succeeded), ${((Date.now() - began) / 1000).toFixed(0)} s`,
          ),
        () => undefined,
      );
    }, 10_000);
    const summary = await batchClient.summary(batchId);
    clearInterval(ticker);
    console.error(
      `batch ${batchId}: ${summary.succeeded} succeeded, ${summary.failed} failed, ${summary.blocked} blocked in ${(summary.durationMs / 1000).toFixed(1)} s`,
    );

    const text = runBin(['report', batchId], childEnv);
    if (text.code !== 0) throw new Error(`batch-llm report exited ${text.code}: ${text.stderr}`);
    process.stdout.write(text.stdout);
    if (textFile) writeFileSync(textFile, text.stdout);
    const html = runBin(['report', batchId, '--html', htmlFile], childEnv);
    if (html.code !== 0) throw new Error(`batch-llm report --html exited ${html.code}: ${html.stderr}`);
    console.error(`HTML report: ${htmlFile} (${(statSync(htmlFile).size / 1024).toFixed(0)} KiB)`);
    if (values.png) {
      const chromium = chromiumPath();
      if (!chromium) console.error('no chromium on PATH (apt-get install chromium): no screenshot');
      else {
        await screenshot(chromium, htmlFile, values.png, 1280, Number(values.height ?? 4000));
        // The window is taller than the page: cut the empty background under it, and store a palette PNG.
        const page = readPng(readFileSync(values.png));
        writeFileSync(values.png, writePalettePng(trimBottom(page)));
        // The preview: the headline figures and the timeline, down to the gap under the timeline's card.
        if (values.preview) writeFileSync(values.preview, writePalettePng(topUntilGap(page, 760)));
        console.error(`screenshot: ${values.png} (${(statSync(values.png).size / 1024).toFixed(0)} KiB)`);
        if (values.preview)
          console.error(`preview: ${values.preview} (${(statSync(values.preview).size / 1024).toFixed(0)} KiB)`);
      }
    }
    if (values.keep) console.error(`kept: ${work} (results under ${resultsDirectory})`);
  } finally {
    worker.kill('SIGTERM');
    await emulator.stop();
    await env.teardown();
    if (!values.keep) rmSync(work, { recursive: true, force: true });
  }
}

if (require.main === module)
  main().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
