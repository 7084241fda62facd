import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { DeterminismViolationError } from '@temporalio/workflow';
import { DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { workflowBundle } from '../../src/worker';

Runtime.install({ logger: new DefaultLogger('ERROR') });

const DIRECTORY = path.join(__dirname, '..', 'fixtures', 'histories');
const FIXTURES = readdirSync(DIRECTORY).filter((name) => name.endsWith('.json'));

interface HistoryJson {
  events: Array<
    Record<string, unknown> & { activityTaskScheduledEventAttributes?: { activityType: { name: string } } }
  >;
}

function load(name: string): HistoryJson {
  return JSON.parse(readFileSync(path.join(DIRECTORY, name), 'utf8')) as HistoryJson;
}

describe('recorded histories replay against the current workflow code', () => {
  test('fixtures exist for batches, items that walked stages, retried and ran out of budget, called by regular activities only, answered at once, a cached item and a cache owner', () => {
    assert.deepEqual(FIXTURES.sort(), [
      'replay-activity-mode--a1.json',
      'replay-cache-owner.json',
      'replay-cached--c1.json',
      'replay-cached.json',
      'replay-fixture--answered.json',
      'replay-fixture--budget.json',
      'replay-fixture--stage-walk.json',
      'replay-fixture--transient.json',
      'replay-fixture.json',
    ]);
  });

  for (const name of FIXTURES) {
    test(`${name} replays without nondeterminism`, async () => {
      await Worker.runReplayHistory({ workflowBundle: await workflowBundle() }, historyFromJSON(load(name)), name);
    });
  }

  test('the replay check does catch a workflow that no longer matches its history', async () => {
    const history = load('replay-fixture--stage-walk.json');
    const scheduled = history.events.find((event) => event.activityTaskScheduledEventAttributes);
    assert.ok(scheduled?.activityTaskScheduledEventAttributes);
    scheduled.activityTaskScheduledEventAttributes.activityType.name = 'someOtherActivity';
    await assert.rejects(
      Worker.runReplayHistory({ workflowBundle: await workflowBundle() }, historyFromJSON(history), 'tampered'),
      (error: unknown) => error instanceof DeterminismViolationError,
    );
  });
});
