import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { LogEntry } from '@temporalio/worker';
import { BatchLlmLogger } from '../../src/logging';

describe('worker logs', () => {
  test('an item that ended without success is one INFO line with its reason, not a WARN with a stack; other workflow failures stay WARN', () => {
    const entries: LogEntry[] = [];
    const logger = new BatchLlmLogger('INFO', (entry) => entries.push(entry));
    const stack = 'ApplicationFailure: …\n    at create (workflows/item.ts:302:50)';
    logger.log('WARN', 'Workflow failed', {
      workflowType: 'itemWorkflow',
      workflowId: 'b1/r2',
      error: { message: 'item "r2" failed (validation_error): stage plan exhausted', stack },
    });
    logger.log('WARN', 'Workflow failed', {
      workflowType: 'itemWorkflow',
      workflowId: 'b1/r3',
      error: { message: 'Cannot read properties of undefined', stack },
    });
    logger.log('WARN', 'Workflow failed', {
      workflowType: 'batchWorkflow',
      workflowId: 'b1',
      error: { message: 'item "x" failed: not an item workflow', stack },
    });
    assert.equal(entries.length, 3);
    assert.deepEqual(
      entries.map((entry) => [entry.level, entry.message]),
      [
        ['INFO', 'item ended without success'],
        ['WARN', 'Workflow failed'],
        ['WARN', 'Workflow failed'],
      ],
    );
    assert.equal(entries[0]?.meta?.['reason'], 'item "r2" failed (validation_error): stage plan exhausted');
    assert.equal(entries[0]?.meta?.['error'], undefined, 'no stack trace');
  });
});
