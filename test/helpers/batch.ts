/**
 * The two things most integration tests do: run a batch to its end and look at what it left
 * (summary, results file, the emulator's calls), and bend the emulator for the length of one test.
 * Both helpers undo nothing of the batch and everything of the emulator: faults and settings are
 * put back even when the test fails, so no test depends on what an earlier one left behind.
 */
import assert from 'node:assert/strict';
import type { EmulatorPatch, FaultRule, GeminiEmulator, RequestLogEntry } from '@durable-batch-llm/gemini-emulator';
import type { StartBatchOptions } from '../../src/client/batch-client';
import { FileResultStore } from '../../src/results';
import type { BatchSummary, ItemResult } from '../../src/schemas';
import { uniqueName, type TestStack } from './stack';

export interface BatchRun {
  batchId: string;
  summary: BatchSummary;
  /** One per item, in input order. */
  results: ItemResult[];
  /** The result of item `itemId`; fails the test when there is none. */
  result(itemId: string): ItemResult;
  /** The generateContent calls the emulator has seen for this batch, or for one of its items (read when called). */
  calls(itemId?: string): RequestLogEntry[];
}

export type RunBatchOptions = Partial<StartBatchOptions> & Pick<StartBatchOptions, 'records'>;

/**
 * Starts a batch on `taskQueue` (task `test-echo` and a fresh batch id unless given), waits for its
 * summary and reads its results from the stack's results directory.
 */
export async function runBatch(stack: TestStack, taskQueue: string, options: RunBatchOptions): Promise<BatchRun> {
  const batchId = options.batchId ?? uniqueName(options.taskName ?? 'batch');
  const batchClient = stack.batchClient(taskQueue);
  await batchClient.start({ taskName: 'test-echo', ...options, batchId });
  const summary = await batchClient.summary(batchId);
  return { batchId, summary, ...(await batchOutcome(stack, batchId)) };
}

/** The results of a batch that has ended, and the emulator's calls for it. */
export async function batchOutcome(
  stack: TestStack,
  batchId: string,
): Promise<Pick<BatchRun, 'results' | 'result' | 'calls'>> {
  const results = await new FileResultStore(stack.resultsDirectory).readAll(batchId);
  const byId = new Map(results.map((result) => [result.itemId, result]));
  return {
    results,
    result(itemId) {
      const result = byId.get(itemId);
      assert.ok(result, `item ${itemId} of ${batchId} has a result`);
      return result;
    },
    calls(itemId) {
      const calls = stack.emulator.generateCalls({ itemKeyPrefix: `${batchId}/` });
      return itemId === undefined ? calls : calls.filter((call) => call.itemKey === `${batchId}/${itemId}`);
    },
  };
}

/** Runs `run` with `rules` as the emulator's fault rules, and clears them afterwards, whatever happens. */
export async function withFaults<T>(emulator: GeminiEmulator, rules: FaultRule[], run: () => Promise<T>): Promise<T> {
  emulator.configure({ faults: rules });
  try {
    return await run();
  } finally {
    emulator.configure({ faults: [] });
  }
}

/** Runs `run` with `patch` applied to the emulator (latency, quota, responder…), and puts the previous settings back afterwards, whatever happens. */
export async function withEmulatorSettings<T>(
  emulator: GeminiEmulator,
  patch: Omit<EmulatorPatch, 'faults'>,
  run: () => Promise<T>,
): Promise<T> {
  const previous = emulator.configure(patch);
  try {
    return await run();
  } finally {
    emulator.configure(previous);
  }
}
