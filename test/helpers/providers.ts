/**
 * The providers the parametrised suites (fault matrix, stage machine) run against: each with the
 * fixture task that calls it, its model, where the emulator logs its calls, and a worker for it.
 */
import path from 'node:path';
import type { RequestLogEntry } from '@durable-batch-llm/gemini-emulator';
import { createOpenAIProvider } from '../../src/providers/openai/index';
import { createTaskRegistry } from '../../src/tasks/registry';
import type { RunningWorker, TestStack } from './stack';

export interface ProviderUnderTest {
  name: string;
  /** The fixture task whose calls go to this provider (test-echo's twin). */
  taskName: string;
  model: string;
  /** Two more models of this provider, for stage plans that escalate. */
  otherModels: [string, string];
  calls(stack: TestStack, itemKeyPrefix: string): RequestLogEntry[];
  startWorker(stack: TestStack, taskQueue: string): Promise<RunningWorker>;
}

export const PROVIDERS_UNDER_TEST: readonly ProviderUnderTest[] = [
  {
    name: 'gemini',
    taskName: 'test-echo',
    model: 'gemini-test-model',
    otherModels: ['gemini-3.5-flash-lite', 'gemini-3.5-flash'],
    calls: (stack, itemKeyPrefix) => stack.emulator.generateCalls({ itemKeyPrefix }),
    startWorker: (stack, taskQueue) => stack.startWorker(taskQueue),
  },
  {
    name: 'openai-compatible',
    taskName: 'test-openai-echo',
    model: 'gpt-test-mini',
    otherModels: ['gpt-test-small', 'gpt-test-large'],
    calls: (stack, itemKeyPrefix) => stack.emulator.chatCompletionCalls({ itemKeyPrefix }),
    startWorker: async (stack, taskQueue) =>
      stack.startWorker(taskQueue, {
        tasks: await createTaskRegistry([
          path.join(__dirname, '..', 'fixtures', 'tasks.ts'),
          path.join(__dirname, '..', 'fixtures', 'openai-tasks.ts'),
        ]),
        providers: [
          createOpenAIProvider({ apiKey: 'test-key', baseUrl: `${stack.emulator.url}/v1`, log: () => undefined }),
        ],
      }),
  },
];
