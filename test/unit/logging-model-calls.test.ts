import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import type { LogEntry } from '@temporalio/worker';
import { BatchLlmLogger } from '../../src/logging';

function failure(type: string, options: { nonRetryable?: boolean; nextRetryDelay?: number; attempt?: number } = {}) {
  return ApplicationFailure.create({
    type,
    message: 'Resource has been exhausted\n(e.g. check quota).',
    nonRetryable: options.nonRetryable ?? false,
    details: [{ failures: [{ attempt: options.attempt ?? 1 }] }],
    ...(options.nextRetryDelay !== undefined ? { nextRetryDelay: options.nextRetryDelay } : {}),
  });
}

const meta = (error: ApplicationFailure, extra: Record<string, unknown> = {}) => ({
  activityType: 'callModel',
  workflowId: 'b1/r7',
  isLocal: false,
  attempt: 2,
  error,
  ...extra,
});

describe('failed model calls in the worker log', () => {
  test('one WARN line with item, category, attempt and wait; the full error only at DEBUG', () => {
    const atWarn: LogEntry[] = [];
    const atDebug: LogEntry[] = [];
    for (const [level, entries] of [
      ['WARN', atWarn],
      ['DEBUG', atDebug],
    ] as const) {
      const logger = new BatchLlmLogger(level, (entry) => entries.push(entry));
      logger.log('WARN', 'Activity failed', meta(failure('rate_limit', { nextRetryDelay: 30_000, attempt: 3 })));
      logger.log('WARN', 'Activity failed', meta(failure('server_overload'), { isLocal: true, attempt: 1 }));
      logger.log('WARN', 'Activity failed', meta(failure('authentication', { nonRetryable: true })));
    }
    assert.deepEqual(
      atWarn.map((entry) => [entry.level, entry.message, entry.meta]),
      [
        [
          'WARN',
          'model call failed, retrying in 30s: item b1/r7, rate_limit, attempt 3 (Resource has been exhausted (e.g. check quota).)',
          undefined,
        ],
        [
          'WARN',
          'model call failed, retrying in 1s: item b1/r7, server_overload, attempt 1 (Resource has been exhausted (e.g. check quota).)',
          undefined,
        ],
        [
          'WARN',
          'model call failed, not retried: item b1/r7, authentication, attempt 1 (Resource has been exhausted (e.g. check quota).)',
          undefined,
        ],
      ],
    );
    assert.equal(atDebug.length, 6);
    assert.deepEqual(
      atDebug.map((entry) => [entry.level, entry.message.split(':')[0]]),
      [
        ['WARN', 'model call failed, retrying in 30s'],
        ['DEBUG', 'Activity failed'],
        ['WARN', 'model call failed, retrying in 1s'],
        ['DEBUG', 'Activity failed'],
        ['WARN', 'model call failed, not retried'],
        ['DEBUG', 'Activity failed'],
      ],
    );
    assert.ok(atDebug[1]?.meta?.['error'] instanceof ApplicationFailure, 'the whole error, stack included, at DEBUG');
  });

  test("other activities' failures are logged as the SDK logs them", () => {
    const entries: LogEntry[] = [];
    const logger = new BatchLlmLogger('INFO', (entry) => entries.push(entry));
    logger.log('WARN', 'Activity failed', meta(failure('unknown'), { activityType: 'writeResult' }));
    assert.equal(entries.length, 1);
    assert.equal(entries[0]?.message, 'Activity failed');
    assert.equal(entries[0]?.level, 'WARN');
  });
});
