import { readFile } from 'node:fs/promises';
import { ApplicationFailure } from '@temporalio/common';
import { findDuplicateIds, InputError, parseJsonlItems, type InputProblem } from '../src/input';
import { describeZodError, type StagePlan, type WorkItem } from '../src/schemas';
import type { AnyTask, TaskRegistry } from '../src/tasks/registry';
import { planCache } from '../src/caching/fingerprint';
import { applyCacheOverride, type CacheOverride, type CachePlan } from '../src/caching/spec';

export interface PrepareBatchInput {
  batchId: string;
  taskName: string;
  inputFile?: string | undefined;
  /** Inline items are checked in place and not echoed back (they are already in history). */
  items?: WorkItem[] | undefined;
  modelOverride?: string | undefined;
  cacheOverride?: CacheOverride | undefined;
}

export interface PrepareBatchOutput {
  /** Items read from `inputFile`; absent for inline input. */
  items?: WorkItem[];
  itemCount: number;
  /** The model items will use: batch override, else the task's, else the worker default. */
  model: string;
  /** The task's own stage plan, when it declares one. */
  stagePlan?: StagePlan;
  /** The task's context cache: who owns it and how to find it. */
  cachePlan?: CachePlan;
  /** Behaviour the workflows must know of (the task's code stays on the worker). */
  traits: { postProcess: boolean; safetyRetryTemperature?: number };
}

/**
 * Checks everything before a single item starts: the task exists on this worker, the input
 * parses, ids are unique, every record satisfies the task's item schema. Problems become a
 * non-retryable failure naming lines and fields.
 */
export async function prepareBatchInput(
  input: PrepareBatchInput,
  tasks: TaskRegistry,
  defaultModel: string,
): Promise<PrepareBatchOutput> {
  const task = tasks.get(input.taskName);
  if (!task) {
    throw ApplicationFailure.nonRetryable(
      `unknown task "${input.taskName}"; this worker knows: ${tasks.names().join(', ')}. Register it with \`batch-llm worker --tasks <module>\`.`,
      'unknown_task',
    );
  }
  const source = input.inputFile ?? 'inline items';
  let items: WorkItem[] = input.items ?? [];
  let lines: number[] | undefined;
  try {
    if (input.inputFile !== undefined) {
      ({ items, lines } = parseJsonlItems(await readInputFile(input.inputFile), input.inputFile));
    }
    const problems: InputProblem[] = input.inputFile === undefined ? findDuplicateIds(items) : [];
    if (items.length === 0) problems.push({ message: 'no items' });
    problems.push(...checkItemsAgainstTask(task, items, lines));
    if (problems.length > 0) throw new InputError(source, problems);
  } catch (error) {
    if (error instanceof InputError) throw ApplicationFailure.nonRetryable(error.message, 'invalid_input', error.problems);
    throw error;
  }
  const model = input.modelOverride ?? task.model ?? defaultModel;
  let cachePlan: CachePlan | undefined;
  try {
    cachePlan = task.cache
      ? planCache(task.name, model, applyCacheOverride(task.cache, input.cacheOverride), { systemInstruction: task.systemInstruction, contents: task.cache.contents })
      : undefined;
  } catch (error) {
    throw ApplicationFailure.nonRetryable(`task "${task.name}": ${(error as Error).message}`, 'invalid_input');
  }
  return {
    ...(cachePlan ? { cachePlan } : {}),
    traits: {
      postProcess: task.postProcess !== undefined,
      ...(task.safetyRetry ? { safetyRetryTemperature: task.safetyRetry.temperature } : {}),
    },
    ...(input.inputFile !== undefined ? { items } : {}),
    itemCount: items.length,
    model,
    ...(task.stagePlan ? { stagePlan: task.stagePlan } : {}),
  };
}

/** Every record the task's item schema refuses, named by line (when known), item and field. */
export function checkItemsAgainstTask(task: AnyTask, items: readonly WorkItem[], lines?: readonly number[]): InputProblem[] {
  const problems: InputProblem[] = [];
  if (!task.itemSchema) return problems;
  for (const item of items) {
    const parsed = task.itemSchema.safeParse(item.data);
    if (parsed.success) continue;
    for (const issue of describeZodError(parsed.error)) {
      problems.push({ ...(lines ? { line: lines[item.index] ?? item.index + 1 } : {}), itemId: item.id, field: issue.path, message: issue.message });
    }
  }
  return problems;
}

async function readInputFile(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    throw new InputError(file, [{ message: `cannot read the input file on this worker: ${(error as Error).message}` }]);
  }
}

