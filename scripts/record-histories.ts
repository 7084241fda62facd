/**
 * Records workflow histories for the replay test (test/replay.test.ts): a stage walk, a transient
 * retry, a budget-exhausted item and the batch that ran them. Run after a deliberate, versioned
 * change to workflow code:  node --import tsx scripts/record-histories.ts
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
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
      records: [{ id: 'stage-walk' }, { id: 'transient' }, { id: 'budget' }],
      options: { maxModelCalls: 3 },
    });
    await batchClient.summary(batchId);
    const directory = path.join(__dirname, '..', 'test', 'fixtures', 'histories');
    for (const workflowId of [batchId, `${batchId}/stage-walk`, `${batchId}/transient`, `${batchId}/budget`]) {
      // The CLI writes the standard JSON form that historyFromJSON reads back.
      const json = execFileSync(locateTemporalCli(), ['workflow', 'show', '--workflow-id', workflowId, '--output', 'json', '--address', stack.address], { encoding: 'utf8' });
      const file = path.join(directory, `${workflowId.replace('/', '--')}.json`);
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
