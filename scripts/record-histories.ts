/**
 * Records workflow histories for the replay test (test/unit/replay.test.ts): a stage walk, a transient
 * retry, a budget-exhausted item and the batch that ran them, an item whose calls are all regular
 * activities, an item answered at once (its call recorded it), a cached batch and its cache owner.
 * Run after a deliberate, versioned change to workflow code:  node --import tsx scripts/record-histories.ts
 * `--new-only` writes only fixtures not there yet: the older ones keep the shapes that workers
 * still meet in running batches (an answered item before the call recorded it had two local activities).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { locateTemporalCli } from '../src/temporal/dev-server';
import { startTestStack } from '../test/helpers/stack';

async function main(): Promise<void> {
  const stack = await startTestStack();
  const taskQueue = 'record-histories';
  const worker = await stack.startWorker(taskQueue);
  try {
    const batchId = 'replay-fixture';
    stack.emulator.configure({
      faults: [
        { fault: 'schema_invalid', itemKey: `${batchId}/stage-walk`, attempts: [1, 2] },
        { fault: 'overloaded', itemKey: `${batchId}/transient`, attempts: [1] },
        { fault: 'overloaded', itemKey: `${batchId}/budget` },
      ],
    });
    const batchClient = stack.batchClient(taskQueue);
    await batchClient.start({
      taskName: 'test-echo',
      batchId,
      records: [{ id: 'stage-walk' }, { id: 'transient' }, { id: 'budget' }, { id: 'answered' }],
      options: { maxModelCalls: 3 },
    });
    await batchClient.summary(batchId);

    // An item whose every call is a regular activity (callMode: activity, as under admission).
    const activityBatchId = 'replay-activity-mode';
    await batchClient.start({
      taskName: 'test-echo',
      batchId: activityBatchId,
      records: [{ id: 'a1' }],
      options: { callMode: 'activity' },
    });
    await batchClient.summary(activityBatchId);

    // A cached batch, and the cache owner it leased from (it ends once the lease is released).
    const cachedBatchId = 'replay-cached';
    await batchClient.start({
      taskName: 'test-cached',
      batchId: cachedBatchId,
      records: [{ id: 'c1' }, { id: 'c2' }],
      options: { cache: { tags: { run: 'replay' } } },
    });
    await batchClient.summary(cachedBatchId);
    const owners: string[] = [];
    for await (const execution of stack.client.workflow.list({ query: 'WorkflowType = "cacheOwnerWorkflow"' }))
      owners.push(execution.workflowId);
    const [ownerId] = owners;
    if (!ownerId) throw new Error('no cache owner workflow ran');
    await stack.client.workflow.getHandle(ownerId).result();

    const directory = path.join(__dirname, '..', 'test', 'fixtures', 'histories');
    const fixtures: Array<[string, string]> = [
      [batchId, 'replay-fixture.json'],
      [`${batchId}/stage-walk`, 'replay-fixture--stage-walk.json'],
      [`${batchId}/transient`, 'replay-fixture--transient.json'],
      [`${batchId}/budget`, 'replay-fixture--budget.json'],
      [`${batchId}/answered`, 'replay-fixture--answered.json'],
      [`${activityBatchId}/a1`, 'replay-activity-mode--a1.json'],
      [cachedBatchId, 'replay-cached.json'],
      [`${cachedBatchId}/c1`, 'replay-cached--c1.json'],
      [ownerId, 'replay-cache-owner.json'],
    ];
    for (const [workflowId, fileName] of fixtures) {
      if (process.argv.includes('--new-only') && existsSync(path.join(directory, fileName))) continue;
      // The CLI writes the standard JSON form that historyFromJSON reads back.
      const json = execFileSync(
        locateTemporalCli(),
        ['workflow', 'show', '--workflow-id', workflowId, '--output', 'json', '--address', stack.address],
        { encoding: 'utf8' },
      );
      const file = path.join(directory, fileName);
      writeFileSync(file, json);
      console.log(`wrote ${file} (${(JSON.parse(json) as { events: unknown[] }).events.length} events)`);
    }
  } finally {
    await worker.stop();
    await stack.teardown();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
