/**
 * Where a call goes and which account it is charged to: a task's provider, a batch's override,
 * the default provider's fingerprint, another provider's quota key and limits; and a provider
 * this worker lacks is plumbing (retried for another worker), never the item's outcome.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import { routeOfTask } from '../../activities';
import { NON_RETRYABLE_ERROR_TYPES } from '../../src/errors/categories';
import { providerNamed } from '../../src/providers/registry';
import type { ModelProvider } from '../../src/providers/types';
import { TaskRegistry, type AnyTask } from '../../src/tasks/registry';
import { openaiEchoTask } from '../fixtures/openai-tasks';
import { echoTask } from '../fixtures/tasks';

const fake = (name: string, quotaKey?: string): ModelProvider => ({
  name,
  target: `https://${name}.example/v1`,
  ...(quotaKey ? { quotaKey } : {}),
  generate: async () => {
    throw new Error('not called');
  },
  countTokens: async () => 0,
  classify: () => {
    throw new Error('not called');
  },
});

describe('provider routing', () => {
  const gemini = fake('gemini', 'gemini-key-hash-ignored');
  const openai = fake('openai-compatible', 'openaikey1');
  const local = fake('local');
  const deps = {
    tasks: new TaskRegistry([echoTask as unknown as AnyTask, openaiEchoTask as unknown as AnyTask]),
    provider: gemini,
    providers: [openai, local],
    keyFingerprint: 'geminifp01',
    providerLimits: { local: { requestsPerMinute: 60 } },
  };

  test("a task's provider, else the default; the default's account is the worker's fingerprint", () => {
    const onGemini = routeOfTask(deps, 'test-echo');
    assert.equal(onGemini.provider, gemini);
    assert.equal(onGemini.account, 'geminifp01');
    assert.equal(onGemini.limits, undefined, "the worker's limits apply");
    const onOpenAI = routeOfTask(deps, 'test-openai-echo');
    assert.equal(onOpenAI.provider, openai);
    assert.equal(onOpenAI.account, 'openaikey1');
  });

  test("a batch's override wins; an account without a quota key is the provider's name; its own limits come along", () => {
    const overridden = routeOfTask(deps, 'test-echo', 'local');
    assert.equal(overridden.provider, local);
    assert.equal(overridden.account, 'local');
    assert.deepEqual(overridden.limits, { requestsPerMinute: 60 });
    assert.equal(routeOfTask(deps, 'test-openai-echo', 'gemini').provider, gemini);
  });

  test('a provider this worker lacks: a retryable failure of a type the call policy retries', () => {
    assert.throws(
      () => routeOfTask(deps, 'test-echo', 'openrouter'),
      (error: unknown) =>
        error instanceof ApplicationFailure &&
        !error.nonRetryable &&
        error.type === 'provider_not_configured' &&
        !NON_RETRYABLE_ERROR_TYPES.includes(error.type) &&
        /task "test-echo" calls provider "openrouter", which this worker has not configured \(it has gemini, openai-compatible, local\); retried until a worker that has it takes the call/.test(
          error.message,
        ),
    );
  });

  test('providerNamed: undefined picks the first (the default); an unknown name finds nothing', () => {
    const all = [gemini, openai, local];
    assert.equal(providerNamed(all, undefined), gemini);
    assert.equal(providerNamed(all, 'local'), local);
    assert.equal(providerNamed(all, 'nope'), undefined);
  });
});
