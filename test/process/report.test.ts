/**
 * `batch-llm report` through the bin, on a real batch run against the emulator with faults (503s,
 * a rate limit, answers that break the schema and get repaired, refused requests): the JSON agrees
 * with the results file, the tables fit 100 columns, and the HTML page, opened in headless
 * Chromium, shows the numbers and the charts without running anything from the records.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { EXIT_CODES } from '../../src/client/errors';
import type { BatchReport } from '../../src/report/stats';
import { FileResultStore } from '../../src/results';
import type { ItemResult } from '../../src/schemas';
import { PostgresResultStore } from '../../src/results-postgres';
import { withFaults } from '../helpers/batch';
import { chromiumPath, dumpDom, screenshot } from '../helpers/chromium';
import { runCli } from '../helpers/cli';
import { PG_PASSWORD, postgresUnavailable, startTestPostgres, type TestPostgres } from '../helpers/postgres';
import { sampleResult } from '../helpers/result-records';
import { startTestStack, uniqueName, type RunningWorker, type TestStack } from '../helpers/stack';

/** An item id that is markup: the page must show it as text, never make it an element. */
const HOSTILE_ID = '<img src=x onerror=alert(1)>';
const ITEMS = 40;

describe('report: a real batch with faults, through the bin', () => {
  let stack: TestStack;
  let worker: RunningWorker;
  let directory: string;
  let batchId: string;
  let records: ItemResult[];
  const taskQueue = uniqueName('tq');

  const env = () => ({
    TEMPORAL_ADDRESS: stack.address,
    TEMPORAL_TASK_QUEUE: taskQueue,
    BATCH_LLM_RESULTS_DIR: stack.resultsDirectory,
  });
  const cli = (args: string[]) => runCli(args, env());

  before(async () => {
    stack = await startTestStack({ latency: { baseMs: 20, jitterMs: 30 } });
    worker = await stack.startWorker(taskQueue);
    directory = mkdtempSync(path.join(os.tmpdir(), 'batch-llm-report-'));
    batchId = uniqueName('report');
    const input = path.join(directory, 'items.jsonl');
    const ids = [...Array.from({ length: ITEMS }, (_, index) => `r${index}`), HOSTILE_ID];
    writeFileSync(input, ids.map((id) => JSON.stringify({ id, text: `record ${id}` })).join('\n'));
    const started = await withFaults(
      stack.emulator,
      [
        // Refused for good (a 400 is not retried): two failed items, one with the hostile id.
        { fault: 'invalid_request', itemKey: `${batchId}/r7` },
        { fault: 'invalid_request', itemKey: `${batchId}/${HOSTILE_ID}` },
        { fault: 'overloaded', rate: 0.25, attempts: [1] },
        { fault: 'rate_limit', times: 1, retryDelaySeconds: 1 },
        { fault: 'schema_invalid', rate: 0.3, attempts: [1, 2] },
      ],
      () =>
        cli([
          'start',
          '--input',
          input,
          '--task',
          'test-echo',
          '--tasks',
          'test/fixtures/tasks.ts',
          '--model',
          'gemini-2.5-flash-lite',
          '--batch-id',
          batchId,
          '--no-fail-fast',
          '--wait',
        ]),
    );
    assert.equal(started.code, EXIT_CODES.itemsUnsuccessful, `${started.stdout}\n${started.stderr}`);
    records = await new FileResultStore(stack.resultsDirectory).readAll(batchId);
  });
  after(async () => {
    await worker?.stop();
    await stack?.teardown();
  });

  test('-o json: the counts, calls, cost and errors of the results file, and the batch state from Temporal', async () => {
    const run = await cli(['report', batchId, '-o', 'json']);
    assert.equal(run.code, 0, run.stderr);
    const report = JSON.parse(run.stdout) as BatchReport;
    assert.equal(records.length, ITEMS + 1);
    assert.equal(report.format, 1);
    assert.equal(report.items, ITEMS + 1);
    assert.equal(report.batch?.state, 'completed_with_failures');
    assert.equal(report.batch?.total, ITEMS + 1);
    assert.equal(report.byStatus.failed, 2);
    assert.equal(report.byStatus.succeeded, ITEMS - 1);
    const calls = records.reduce((sum, record) => sum + record.attempts.length, 0);
    assert.equal(report.calls, calls);
    assert.ok(calls > ITEMS + 1, `faults made retries and repairs (${calls} calls)`);
    assert.equal(
      report.callsPerItem.reduce((sum, row) => sum + row.items, 0),
      ITEMS + 1,
    );
    const cost = records.reduce((sum, record) => sum + record.costUsd, 0);
    assert.ok(Math.abs(report.spend.total.costUsd - cost) < 1e-9, `${report.spend.total.costUsd} vs ${cost}`);
    assert.ok(report.spend.total.costUsd > 0, 'a priced model');
    assert.ok(report.spend.notAccepted.costUsd > 0, 'rejected answers cost something');
    assert.equal(report.spend.byStage[0]?.stage, 1);
    assert.ok(
      report.spend.byStage.some((row) => row.stage === 2),
      'validation failures were repaired in stage 2',
    );
    const outcomes = new Map(report.callsByOutcome.map((row) => [row.outcome, row.calls]));
    assert.ok((outcomes.get('server_overload') ?? 0) > 0, JSON.stringify(report.callsByOutcome));
    assert.ok((outcomes.get('validation_error') ?? 0) > 0, JSON.stringify(report.callsByOutcome));
    assert.equal(outcomes.get('ok'), ITEMS - 1);
    assert.deepEqual(report.byCategory, [{ category: 'invalid_request', items: 2 }]);
    const refused = report.topErrors[0];
    assert.equal(refused?.category, 'invalid_request');
    assert.equal(refused?.count, 2);
    assert.deepEqual([...(refused?.exampleItemIds ?? [])].sort(), [HOSTILE_ID, 'r7'].sort());
    assert.ok(report.latency.byStage.length >= 2);
    assert.equal(
      report.timeline.buckets.reduce((sum, bucket) => sum + bucket.finished, 0),
      ITEMS + 1,
    );
  });

  test('the terminal tables: every section, at most 100 columns', async () => {
    const run = await cli(['report', batchId]);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stderr, '', 'Temporal answered: nothing to warn about');
    assert.match(run.stdout, new RegExp(`^Report of batch ${batchId} — completed_with_failures \\(task test-echo\\)`));
    for (const title of [
      'Items by status',
      'Unsuccessful items by error category',
      'Most frequent errors of unsuccessful items',
      'Spend by stage',
      'Spend by model',
      'Spend by call outcome',
      'Latency of calls by stage',
      'Calls per item',
      'Last stage reached',
      'Throughput and errors over the run',
    ])
      assert.ok(run.stdout.includes(`\n${title}`), `a "${title}" section`);
    const lines = run.stdout.split('\n');
    const wide = lines.filter((line) => [...line].length > 100 && !line.includes('records: '));
    assert.deepEqual(wide, []);
  });

  test('--html: one self-contained page that Chromium renders with the numbers and charts, the hostile id as text', async (t) => {
    const file = path.join(directory, 'report.html');
    const run = await cli(['report', batchId, '--html', file, '--offline', '--json']);
    assert.equal(run.code, 0, run.stderr);
    assert.ok(existsSync(file));
    const html = readFileSync(file, 'utf8');
    // Without a browser: the data is there, and nothing runs or loads.
    assert.ok(!/<script|<img|<link|<iframe|@import|url\(|(src|href)=["']?https?:/i.test(html));
    assert.ok(html.includes('&#60;img src=x onerror=alert(1)&#62;'), 'the hostile id, escaped');
    assert.match(html, new RegExp(`<div class="kpi-value">${ITEMS + 1}</div>`));
    const charts = html.match(/<svg /g) ?? [];
    assert.equal(charts.length, 12);

    const chromium = chromiumPath();
    if (!chromium) {
      t.skip('chromium is not installed (apt-get install chromium): the page was checked without a browser');
      return;
    }
    const dom = await dumpDom(chromium, file);
    assert.ok(dom.includes('</svg>'), 'Chromium parsed the page');
    assert.equal((dom.match(/<svg /g) ?? []).length, 12, 'every chart rendered as SVG');
    assert.ok(!/<img|<script/i.test(dom), 'no element made from the records');
    assert.ok(dom.includes('&lt;img src=x onerror=alert(1)&gt;'), 'the hostile id shown as text');
    const kpi = (key: string) =>
      new RegExp(`data-key="${key}"><div class="kpi-label">[^<]*</div><div class="kpi-value">([^<]*)<`).exec(dom)?.[1];
    assert.equal(kpi('items'), String(ITEMS + 1));
    assert.equal(kpi('succeeded'), `${((100 * (ITEMS - 1)) / (ITEMS + 1)).toFixed(1)}%`);
    assert.equal(kpi('calls'), String(records.reduce((sum, record) => sum + record.attempts.length, 0)));
    const png = path.join(directory, 'report.png');
    await screenshot(chromium, file, png, 1280, 1600);
    assert.equal(readFileSync(png).subarray(1, 4).toString(), 'PNG');
    assert.ok(statSync(png).size > 20_000, `a picture with something in it (${statSync(png).size} bytes)`);
  });

  test('usage and missing batches', async () => {
    assert.equal((await cli(['report'])).code, EXIT_CODES.usage);
    assert.equal((await cli(['report', batchId, '-o', 'yaml'])).code, EXIT_CODES.usage);
    const missing = await cli(['report', 'no-such-batch', '--offline']);
    assert.equal(missing.code, EXIT_CODES.notFound);
    assert.match(missing.stderr, /no results for batch "no-such-batch"/);
  });
});

const noPostgres = postgresUnavailable();

describe('report: from the PostgreSQL results store', noPostgres ? { skip: noPostgres } : {}, () => {
  let postgres: TestPostgres;
  let url: string;
  before(async () => {
    postgres = await startTestPostgres();
    url = await postgres.createDatabase('report');
  });
  after(async () => {
    await postgres?.teardown();
  });

  test('--results-url: the records of the database, and the password in no output', async () => {
    const batchId = uniqueName('pg-report');
    const records = Array.from({ length: 30 }, (_, index) => sampleResult(batchId, index));
    for (const record of records.slice(0, 3)) {
      record.status = 'failed';
      record.error = { category: 'invalid_request', message: `request ${record.index} refused` };
    }
    const store = new PostgresResultStore(url);
    try {
      await store.writeMany(batchId, records);
    } finally {
      await store.close();
    }
    const run = await runCli(['report', batchId, '--results-url', url, '--offline', '--json'], {});
    assert.equal(run.code, 0, run.stderr);
    const report = JSON.parse(run.stdout) as BatchReport;
    assert.equal(report.items, 30);
    assert.equal(report.byStatus.succeeded, 27);
    assert.equal(report.byStatus.failed, 3);
    assert.equal(report.topErrors.length, 1);
    assert.deepEqual(report.topErrors[0]?.exampleItemIds, ['item-0', 'item-1', 'item-2']);
    assert.equal(report.topErrors[0]?.message, 'request # refused');
    const text = await runCli(['report', batchId, '--results-url', url, '--offline'], {});
    assert.equal(text.code, 0, text.stderr);
    for (const output of [run.stdout, run.stderr, text.stdout, text.stderr]) assert.ok(!output.includes(PG_PASSWORD));
  });
});
