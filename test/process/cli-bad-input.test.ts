/**
 * Bad input through the bin: `batch-llm start` names the problem and starts nothing. (Bad input
 * that reaches the batch workflow is in test/integration/bad-input.test.ts.)
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { EXIT_CODES } from '../../src/client/errors';
import { runCli } from '../helpers/cli';
import { startTestStack, uniqueName, type TestStack } from '../helpers/stack';

describe('bad input is refused by the CLI before anything starts', () => {
  let stack: TestStack;
  let directory: string;
  before(async () => {
    stack = await startTestStack();
    directory = mkdtempSync(path.join(os.tmpdir(), 'batch-llm-input-'));
  });
  after(async () => {
    await stack?.teardown();
  });

  async function workflowsOfBatch(batchId: string): Promise<string[]> {
    const ids: string[] = [];
    for await (const execution of stack.client.workflow.list({ query: `WorkflowId STARTS_WITH "${batchId}"` }))
      ids.push(execution.workflowId);
    return ids;
  }

  async function startThroughCli(lines: string[], task: string) {
    const file = path.join(directory, `${uniqueName('input')}.jsonl`);
    writeFileSync(file, lines.join('\n'));
    const batchId = uniqueName('bad');
    const run = await runCli(['start', '--input', file, '--task', task, '--batch-id', batchId], {
      TEMPORAL_ADDRESS: stack.address,
      TEMPORAL_TASK_QUEUE: uniqueName('tq'),
    });
    return { run, batchId };
  }

  test('a malformed JSONL line: the CLI names the line and starts nothing', async () => {
    const { run, batchId } = await startThroughCli(['{"id":"a"}', '{"id":"b"', '{"id":"c"}'], 'demo-enrichment');
    assert.equal(run.code, EXIT_CODES.input, run.stderr);
    assert.match(run.stderr, /line 2: not valid JSON/);
    assert.deepEqual(await workflowsOfBatch(batchId), []);
  });

  test('duplicate ids: the CLI names both lines and starts nothing', async () => {
    const { run, batchId } = await startThroughCli(['{"id":"a"}', '{"id":"b"}', '{"id":"a"}'], 'demo-enrichment');
    assert.equal(run.code, EXIT_CODES.input, run.stderr);
    assert.match(run.stderr, /line 3, item "a": duplicate id \(first seen on line 1\)/);
    assert.deepEqual(await workflowsOfBatch(batchId), []);
  });

  test('an unknown task: the CLI lists the known ones and starts nothing', async () => {
    const { run, batchId } = await startThroughCli(['{"id":"a"}'], 'no-such-task');
    assert.equal(run.code, EXIT_CODES.input, run.stderr);
    assert.match(run.stderr, /unknown task "no-such-task"; known tasks: demo-enrichment/);
    assert.deepEqual(await workflowsOfBatch(batchId), []);
  });
});
