import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ApiError } from '@google/genai';
import { CATEGORY_TABLE, ERROR_CATEGORIES, NON_RETRYABLE_ERROR_TYPES } from '../../src/errors/categories';
import { makeErrorInfo } from '../../src/errors/classify';
import {
  classifyGemini as classifyDefault,
  parseGoogleErrorBody,
  parseRetryDelay,
} from '../../src/providers/gemini/errors';
import { classifyError } from '../../src/errors/classifier';

function apiError(status: number, error: Record<string, unknown>): ApiError {
  return new ApiError({ status, message: JSON.stringify({ error: { code: status, ...error } }) });
}

function networkError(code: string): TypeError {
  return new TypeError('fetch failed', { cause: Object.assign(new Error(`socket ${code}`), { code }) });
}

describe('error classification', () => {
  const cases: Array<[string, unknown, string, boolean]> = [
    [
      '429 with RetryInfo',
      apiError(429, {
        status: 'RESOURCE_EXHAUSTED',
        message: 'Quota exceeded. Please retry in 47.43s.',
        details: [{ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '47s' }],
      }),
      'rate_limit',
      true,
    ],
    [
      '429 daily quota',
      apiError(429, {
        status: 'RESOURCE_EXHAUSTED',
        message: 'Quota exceeded',
        details: [
          {
            '@type': 'type.googleapis.com/google.rpc.QuotaFailure',
            violations: [{ quotaId: 'GenerateRequestsPerDayPerProjectPerModel-FreeTier' }],
          },
        ],
      }),
      'quota_exhausted',
      false,
    ],
    [
      'bad API key',
      apiError(400, {
        status: 'INVALID_ARGUMENT',
        message: 'API key not valid. Please pass a valid API key.',
        details: [{ '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'API_KEY_INVALID' }],
      }),
      'authentication',
      false,
    ],
    ['401', apiError(401, { status: 'UNAUTHENTICATED', message: 'no credentials' }), 'authentication', false],
    ['403', apiError(403, { status: 'PERMISSION_DENIED', message: 'denied' }), 'permission_denied', false],
    ['400', apiError(400, { status: 'INVALID_ARGUMENT', message: 'bad schema' }), 'invalid_request', false],
    [
      '400 beyond the context window',
      apiError(400, {
        status: 'INVALID_ARGUMENT',
        message: 'The input token count (1048577) exceeds the maximum number of tokens allowed (1048576).',
      }),
      'context_too_long',
      false,
    ],
    [
      '404 model',
      apiError(404, { status: 'NOT_FOUND', message: 'models/x is not found for API version v1beta' }),
      'not_found',
      false,
    ],
    [
      '404 cachedContent',
      apiError(404, {
        status: 'NOT_FOUND',
        message: 'CachedContent not found (or permission denied) for cachedContents/abc',
      }),
      'cache_expired',
      false,
    ],
    [
      '403 cachedContent',
      apiError(403, { status: 'PERMISSION_DENIED', message: 'Permission denied on cachedContent cachedContents/abc' }),
      'cache_expired',
      false,
    ],
    ['500', apiError(500, { status: 'INTERNAL', message: 'internal' }), 'server_error', true],
    [
      '503',
      apiError(503, { status: 'UNAVAILABLE', message: 'The model is overloaded. Please try again later.' }),
      'server_overload',
      true,
    ],
    ['504', apiError(504, { status: 'DEADLINE_EXCEEDED', message: 'deadline' }), 'server_timeout', true],
    ['connection reset', networkError('ECONNRESET'), 'network_error', true],
    ['socket closed', networkError('UND_ERR_SOCKET'), 'network_error', true],
    ['connection refused', networkError('ECONNREFUSED'), 'network_error', true],
    ['abort', new DOMException('This operation was aborted', 'AbortError'), 'timeout', true],
    ['malformed body', new SyntaxError('Unexpected token < in JSON at position 0'), 'server_error', true],
    ['a bug that mentions 429', new TypeError("Cannot read properties of undefined (reading '429')"), 'unknown', false],
    ['an Error saying rate limit 429', new Error('429 rate limit exceeded'), 'unknown', false],
    ['not an Error', 'boom', 'unknown', false],
  ];
  for (const [name, error, category, retryable] of cases) {
    test(`${name} → ${category} (${retryable ? 'retried' : 'not retried'})`, () => {
      const info = classifyDefault(error);
      assert.equal(info.category, category);
      assert.equal(info.retryable, retryable);
      assert.equal(info.isRateLimit, category === 'rate_limit');
      assert.ok(info.hint.length > 0);
    });
  }

  test('the suggested wait comes from RetryInfo, else from "Please retry in Ns" in the message', () => {
    const fromRetryInfo = classifyDefault(
      apiError(429, {
        message: 'x',
        details: [{ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '1.5s' }],
      }),
    );
    assert.equal(fromRetryInfo.suggestedWaitMs, 1500);
    const fromMessage = classifyDefault(apiError(429, { message: 'Quota exceeded. Please retry in 2.25s.' }));
    assert.equal(fromMessage.suggestedWaitMs, 2250);
    assert.equal(classifyDefault(apiError(429, { message: 'slow down' })).suggestedWaitMs, undefined);
    assert.equal(parseRetryDelay('47s'), 47_000);
    assert.equal(parseRetryDelay('soon'), undefined);
  });

  test('a stream error body wrapped in a second JSON layer is unwrapped once', () => {
    const inner = JSON.stringify({ error: { code: 503, status: 'UNAVAILABLE', message: 'overloaded' } });
    assert.equal(parseGoogleErrorBody(JSON.stringify({ message: inner }))?.status, 'UNAVAILABLE');
    assert.equal(parseGoogleErrorBody('plain text'), undefined);
  });

  test('custom rules run first, fall through when they return nothing, and postClassify adjusts the result', () => {
    const classifier = {
      classifyCustom: (error: unknown) =>
        error instanceof Error && error.message.includes('flaky-proxy')
          ? makeErrorInfo('network_error', 'proxy hiccup')
          : undefined,
      postClassify: (_error: unknown, info: ReturnType<typeof makeErrorInfo>) =>
        info.category === 'invalid_request' ? { ...info, hint: 'check the prompt template' } : info,
    };
    assert.equal(
      classifyError(new Error('flaky-proxy dropped us'), classifier, classifyDefault).category,
      'network_error',
    );
    assert.equal(
      classifyError(apiError(503, { message: 'x' }), classifier, classifyDefault).category,
      'server_overload',
    );
    assert.equal(
      classifyError(apiError(400, { message: 'x' }), classifier, classifyDefault).hint,
      'check the prompt template',
    );
  });

  test('one table: every category has a decision, and exactly the retried ones are left out of nonRetryableErrorTypes', () => {
    for (const category of ERROR_CATEGORIES) {
      assert.equal(
        NON_RETRYABLE_ERROR_TYPES.includes(category),
        CATEGORY_TABLE[category].decision !== 'retry',
        category,
      );
    }
    assert.deepEqual(
      ERROR_CATEGORIES.filter((category) => CATEGORY_TABLE[category].decision === 'retry'),
      ['rate_limit', 'server_error', 'server_overload', 'server_timeout', 'network_error', 'timeout'],
    );
  });
});
