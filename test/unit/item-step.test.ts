/**
 * The item's stage machine, transition by transition, without a server: what `nextCall` asks for
 * in each state, and what `afterCall` makes of each kind of outcome.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ErrorCategory } from '../../src/errors/categories';
import { DEFAULT_STAGE_PLAN } from '../../src/stages';
import { emptyUsage } from '../../src/usage';
import { afterCall, nextCall, type CallResult, type StepState } from '../../workflows/item-step';

function state(overrides: Partial<StepState> = {}): StepState {
  return {
    status: 'running',
    stage: 1,
    stagePlan: DEFAULT_STAGE_PLAN,
    modelCalls: 0,
    maxModelCalls: 5,
    usage: emptyUsage(),
    attempts: [],
    cacheRefreshedAtStage: 0,
    safetyRetryTemperature: undefined,
    ...overrides,
  };
}

const partial = { kept: { a: 1 }, failedFields: ['b'], previous: { b: 'x' }, issues: [{ path: 'b', message: 'bad' }] };
const unusable = (
  category: ErrorCategory,
  extra: Partial<Extract<CallResult, { kind: 'unusable' }>> = {},
): CallResult => ({ kind: 'unusable', category, message: `${category} happened`, ...extra });
const error = (category: ErrorCategory): CallResult => ({
  kind: 'error',
  error: { category, message: `${category} happened` },
});

/** One call at the state's current stage, then the outcome folded in. */
function step(current: StepState, result: CallResult) {
  const call = nextCall(current);
  assert.equal(call.kind, 'call');
  if (call.kind !== 'call') throw new Error('unreachable');
  return { call, action: afterCall(current, call, result) };
}

describe('the item stage machine', () => {
  test('nextCall follows the plan: full, then partial once there is repair material, temperatures as planned', () => {
    const expected = [
      [1, 'full', 0, undefined],
      [2, 'full', 0, undefined], // a partial stage with nothing to repair sends the full prompt
      [2, 'partial', 0, partial],
      [3, 'full', 0.25, partial],
      [4, 'partial', 0.25, partial],
    ] as const;
    assert.equal(expected.length, 5);
    for (const [stage, mode, temperature, repair] of expected) {
      const next = nextCall(state({ stage, ...(repair ? { partial: repair } : {}) }));
      assert.deepEqual(
        next.kind === 'call' ? [next.mode, next.stage.temperature, next.safetyRetry] : next,
        [mode, temperature, false],
        `stage ${stage}`,
      );
    }
  });

  test('nextCall ends the item when the plan is exhausted (naming it and the last answer) or the budget is spent', () => {
    const exhausted = state({
      stage: 5,
      modelCalls: 4,
      lastError: { category: 'validation_error', message: 'b: bad (got "x")' },
    });
    assert.deepEqual(nextCall(exhausted), { kind: 'end' });
    assert.equal(exhausted.status, 'failed');
    assert.equal(exhausted.lastError?.category, 'validation_error');
    assert.equal(
      exhausted.lastError?.message,
      'stage plan exhausted after 4 stages (4 model calls); the last answer: b: bad (got "x")',
    );

    const spent = state({
      stage: 2,
      modelCalls: 5,
      lastError: { category: 'server_overload', message: '503', validationIssues: [{ path: 'b', message: 'bad' }] },
    });
    assert.deepEqual(nextCall(spent), { kind: 'end' });
    assert.equal(spent.lastError?.category, 'prompt_budget_exhausted');
    assert.match(
      spent.lastError?.message ?? '',
      /model-call cap of 5 reached at stage 2; last error server_overload: 503/,
    );
    assert.deepEqual(spent.lastError?.validationIssues, [{ path: 'b', message: 'bad' }]);

    assert.deepEqual(nextCall(state({ status: 'succeeded' })), { kind: 'end' }, 'an ended item calls nothing');
  });

  test('an answer ends the item succeeded, or filtered when the task set it aside', () => {
    for (const [filtered, status] of [
      [false, 'succeeded'],
      [true, 'filtered'],
    ] as const) {
      const current = state();
      assert.deepEqual(step(current, { kind: 'answer', filtered }).action, { kind: 'end' });
      assert.equal(current.status, status);
    }
  });

  test("every 'stage' category moves to the next stage, keeping the last repair material when the answer did not parse", () => {
    const stageCategories: ErrorCategory[] = ['validation_error', 'empty_response', 'recitation', 'truncated'];
    assert.equal(stageCategories.length, 4);
    for (const category of stageCategories) {
      const current = state({ partial });
      const { action } = step(current, unusable(category));
      assert.equal(action.kind, 'continue', category);
      assert.equal(current.stage, 2, category);
      assert.equal(current.lastError?.category, category);
      assert.deepEqual(current.partial, partial, `${category}: the repair material stays`);
    }
    const parsed = state();
    step(parsed, unusable('validation_error', { partial, validationIssues: [{ path: 'b', message: 'bad' }] }));
    assert.deepEqual(parsed.partial, partial, 'an answer that parsed brings new repair material');
    assert.deepEqual(parsed.lastError?.validationIssues, [{ path: 'b', message: 'bad' }]);
  });

  test('a safety block ends the item blocked, unless the task opted into one retry at another temperature — used once', () => {
    const plain = state();
    assert.deepEqual(step(plain, unusable('safety_blocked')).action, { kind: 'end' });
    assert.equal(plain.status, 'blocked');
    assert.equal(plain.lastError?.category, 'safety_blocked');

    const optedIn = state({ safetyRetryTemperature: 0.7 });
    assert.equal(step(optedIn, unusable('safety_blocked')).action.kind, 'continue');
    assert.equal(optedIn.stage, 1, 'the same stage');
    const retry = nextCall(optedIn);
    assert.ok(
      retry.kind === 'call' && retry.safetyRetry && retry.stage.temperature === 0.7,
      'the retry runs at the task temperature',
    );
    assert.deepEqual(step(optedIn, unusable('safety_blocked')).action, { kind: 'end' });
    assert.equal(optedIn.status, 'blocked', 'a second block is final');
    assert.equal(optedIn.safetyRetryTemperature, undefined);
  });

  test('a vanished context cache is replaced once per stage, then the same stage runs again; a second loss fails the item', () => {
    const cached = state({ cache: { name: 'cachedContents/a', ownerWorkflowId: 'owner', model: 'm' } });
    assert.deepEqual(step(cached, error('cache_expired')).action, { kind: 'refreshCache' });
    assert.equal(cached.stage, 1);
    assert.equal(cached.status, 'running');
    assert.deepEqual(step(cached, error('cache_expired')).action, { kind: 'end' });
    assert.equal(cached.status, 'failed');

    const uncached = state();
    assert.deepEqual(
      step(uncached, error('cache_expired')).action,
      { kind: 'end' },
      'nothing to refresh without a cache',
    );
    assert.equal(uncached.lastError?.category, 'cache_expired');
  });

  test("errors that reach the stage logic end the item failed with their category: 'fail' categories, and 'retry' ones whose retries ended", () => {
    const categories: ErrorCategory[] = [
      'authentication',
      'quota_exhausted',
      'invalid_request',
      'not_found',
      'unknown',
      'prompt_budget_exhausted',
      'server_overload',
      'rate_limit',
    ];
    assert.equal(categories.length, 8);
    for (const category of categories) {
      const current = state();
      assert.deepEqual(step(current, error(category)).action, { kind: 'end' }, category);
      assert.equal(current.status, 'failed', category);
      assert.equal(current.lastError?.category, category);
    }
    const unusableFail = state();
    assert.deepEqual(
      step(unusableFail, unusable('invalid_request')).action,
      { kind: 'end' },
      "an unusable answer of a 'fail' category ends the item",
    );
    assert.equal(unusableFail.status, 'failed');
  });
});
