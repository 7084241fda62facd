import assert from 'node:assert/strict';
import { ConfigError, endpointKeyVariable, openAIEndpointsFromEnv, openAIOptionsFromEnv } from '../../src/config';
import { after, before, describe, test } from 'node:test';
import { APIError } from 'openai';
import { z } from 'zod';
import { countTextTokens, defaultResponder, GeminiEmulator, type FaultRule } from '@durable-batch-llm/gemini-emulator';
import type { ErrorCategory } from '../../src/errors/categories';
import { estimateTokens } from '../../src/answer-size';
import { createOpenAIProvider } from '../../src/providers/openai';
import { countChatTokens, countTextTokens as countOpenAITokens, encodingOf } from '../../src/providers/openai/tokens';
import { parseResetDuration, refusesJsonSchema, retryDelayOf } from '../../src/providers/openai/errors';
import { maxTokensParameterFor } from '../../src/providers/openai/request';
import { toStrictSchema } from '../../src/providers/openai/strict-schema';
import type { GenerateRequest, ModelProvider } from '../../src/providers/types';
import { outputJsonSchema } from '../../src/tasks/task';
import { failureOf } from '../helpers/failures';

// The provider is always given its key and URL; nothing may come from the environment.
for (const name of ['OPENAI_API_KEY', 'OPENAI_BASE_URL']) delete process.env[name];

const Label = z.object({
  label: z.string().min(1),
  score: z.int().min(0).max(10),
  note: z.string().optional(),
  tags: z.array(z.object({ name: z.string(), weight: z.number().optional() })),
});
const labelSchema = outputJsonSchema({ outputSchema: Label });

let emulator: GeminiEmulator;
let provider: ModelProvider;
const logged: string[] = [];

before(async () => {
  emulator = await GeminiEmulator.start();
  provider = createOpenAIProvider({
    apiKey: 'test-key',
    baseUrl: `${emulator.url}/v1`,
    log: (line) => logged.push(line),
  });
});
after(async () => {
  await emulator?.stop();
});

function request(itemKey: string, overrides: Partial<GenerateRequest> = {}): GenerateRequest {
  return {
    model: 'gpt-test',
    prompt: `Label record ${itemKey} as JSON.`,
    systemInstruction: 'You label records.',
    responseJsonSchema: labelSchema,
    generation: { temperature: 0.3 },
    timeoutMs: 5000,
    signal: new AbortController().signal,
    itemKey,
    ...overrides,
  };
}

/** Runs `run` with `faults` installed, then puts the previous rules back. */
async function withFaults<T>(faults: FaultRule[], run: () => Promise<T>): Promise<T> {
  const previous = emulator.configure({ faults });
  try {
    return await run();
  } finally {
    emulator.configure(previous);
  }
}

describe('OpenAI-compatible provider: answers', () => {
  test('a structured answer follows the task schema, with its usage and metadata, sent strict with the item header', async () => {
    const sent: unknown[] = [];
    const previous = emulator.configure({
      responder: (call) => {
        sent.push(call.body);
        return defaultResponder(call);
      },
    });
    try {
      const answer = await provider.generate(
        request('b1/ok', { generation: { temperature: 0.3, topP: 0.9, seed: 7 } }),
      );
      assert.equal(answer.stopped, undefined);
      const parsed = Label.safeParse(JSON.parse(answer.text ?? ''));
      assert.ok(parsed.success, JSON.stringify(parsed.error?.issues));

      const calls = emulator.chatCompletionCalls({ itemKeyPrefix: 'b1/ok' });
      assert.equal(calls.length, 1);
      const [call] = calls;
      assert.deepEqual([call?.status, call?.temperature, call?.responseFormat], [200, 0.3, 'json_schema']);
      const output = call?.outputText ?? '';
      const inputTokens = countTextTokens('Label record b1/ok as JSON.') + countTextTokens('You label records.');
      assert.deepEqual(answer.usage, {
        inputTokens,
        outputTokens: countTextTokens(output),
        cachedTokens: 0,
        thoughtsTokens: 0,
      });
      assert.equal(answer.metadata.finishReason, 'STOP', 'in the words Gemini uses');
      assert.equal(answer.metadata.modelVersion, 'gpt-test');
      assert.match(answer.metadata.responseId ?? '', /^chatcmpl-/);
      assert.deepEqual([answer.metadata.safetyRatings, answer.metadata.blockedCategories], [{}, []]);
      assert.deepEqual(answer.metadata.usage, answer.usage);
      const raw = answer.raw() as { object: string; choices: unknown[] };
      assert.equal(raw.object, 'chat.completion');

      assert.equal(sent.length, 1);
      const body = sent[0] as {
        messages: Array<{ role: string; content: string }>;
        top_p: number;
        seed: number;
        response_format: { type: string; json_schema: { strict: boolean; schema: { required: string[] } } };
      };
      assert.deepEqual(
        body.messages.map((message) => message.role),
        ['system', 'user'],
      );
      assert.deepEqual([body.top_p, body.seed], [0.9, 7]);
      assert.equal(body.response_format.type, 'json_schema');
      assert.equal(body.response_format.json_schema.strict, true);
      assert.deepEqual(body.response_format.json_schema.schema.required, ['label', 'score', 'note', 'tags']);
    } finally {
      emulator.configure(previous);
    }
  });

  test('optional properties are sent required-but-nullable and come back absent, so the answer validates', async () => {
    const previous = emulator.configure({
      responder: () => JSON.stringify({ label: 'cat', score: 3, note: null, tags: [{ name: 'a', weight: null }] }),
    });
    try {
      const answer = await provider.generate(request('b1/nulls'));
      assert.deepEqual(JSON.parse(answer.text ?? ''), { label: 'cat', score: 3, tags: [{ name: 'a' }] });
      assert.ok(Label.safeParse(JSON.parse(answer.text ?? '')).success);
    } finally {
      emulator.configure(previous);
    }
  });

  test('a schema strict mode cannot take (a record) is sent with strict: false, and still answered', async () => {
    const Tally = z.object({ counts: z.record(z.string(), z.int()) });
    const answer = await provider.generate(
      request('b1/record', { responseJsonSchema: outputJsonSchema({ outputSchema: Tally }) }),
    );
    assert.ok(Tally.safeParse(JSON.parse(answer.text ?? '')).success, answer.text);
    assert.deepEqual(toStrictSchema(outputJsonSchema({ outputSchema: Tally })), {
      notStrict: '/properties/counts allows additional properties (a record)',
    });
    const calls = emulator.chatCompletionCalls({ itemKeyPrefix: 'b1/record' });
    assert.equal(calls.length, 1);
    assert.equal(calls[0]?.status, 200);
  });

  test('unions and recursive definitions convert to a strict schema the endpoint accepts; tuples do not', async () => {
    interface Node {
      name: string;
      children?: Node[] | undefined;
    }
    const TreeNode: z.ZodType<Node> = z.lazy(() =>
      z.object({ name: z.string(), children: z.array(TreeNode).optional() }),
    );
    const Shape = z.object({
      tree: TreeNode,
      pick: z.discriminatedUnion('kind', [
        z.object({ kind: z.literal('a'), size: z.int().optional() }),
        z.object({ kind: z.literal('b') }),
      ]),
    });
    const schema = outputJsonSchema({ outputSchema: Shape });
    const strict = toStrictSchema(schema);
    assert.ok('schema' in strict, JSON.stringify(strict));
    assert.doesNotMatch(JSON.stringify(strict.schema), /oneOf/);
    assert.deepEqual(
      strict.restore({
        tree: { name: 'r', children: [{ name: 'c', children: null }] },
        pick: { kind: 'a', size: null },
      }),
      { tree: { name: 'r', children: [{ name: 'c' }] }, pick: { kind: 'a' } },
    );
    const answer = await provider.generate(request('b1/tree', { responseJsonSchema: schema }));
    assert.ok(Shape.safeParse(JSON.parse(answer.text ?? '')).success, answer.text);
    assert.deepEqual(toStrictSchema(outputJsonSchema({ outputSchema: z.object({ pair: z.tuple([z.string()]) }) })), {
      notStrict: '/properties/pair uses prefixItems',
    });
  });

  test('reasoning tokens are thoughts, not output; a repeated long prefix reports cached tokens', async () => {
    const previous = emulator.configure({ openai: { reasoningTokens: 30 } });
    try {
      const guide = 'Rule: label with care and never invent facts. '.repeat(120); // about 1,400 tokens
      const first = await provider.generate(request('b1/reason-1', { systemInstruction: guide }));
      const second = await provider.generate(request('b1/reason-2', { systemInstruction: guide }));
      const calls = emulator.chatCompletionCalls({ itemKeyPrefix: 'b1/reason-' });
      assert.equal(calls.length, 2);
      assert.equal(first.usage.thoughtsTokens, 30);
      assert.equal(first.usage.outputTokens, countTextTokens(calls[0]?.outputText ?? ''));
      assert.equal(first.usage.cachedTokens, 0);
      assert.ok(second.usage.cachedTokens >= 1024, `cached ${second.usage.cachedTokens}`);
      assert.ok(second.usage.cachedTokens <= second.usage.inputTokens);
    } finally {
      emulator.configure(previous);
    }
  });

  test('an endpoint refusing json_schema gets json_object with the schema in the system prompt, remembered and logged once', async () => {
    const previous = emulator.configure({ openai: { rejectJsonSchema: true } });
    try {
      const model = 'gpt-no-structured-outputs';
      const answers = await Promise.all(
        ['b2/a', 'b2/b'].map((itemKey) => provider.generate(request(itemKey, { model }))),
      );
      const third = await provider.generate(request('b2/c', { model }));
      for (const answer of [...answers, third]) {
        assert.equal(answer.stopped, undefined);
        assert.ok(Label.safeParse(JSON.parse(answer.text ?? '')).success, answer.text);
      }
      const fallbackLines = logged.filter((line) => line.includes(model));
      assert.equal(fallbackLines.length, 1, fallbackLines.join('\n'));
      assert.match(fallbackLines[0] ?? '', /refused response_format json_schema .*json_object/);
      assert.doesNotMatch(fallbackLines[0] ?? '', /test-key/);
      const calls = emulator.chatCompletionCalls({ itemKeyPrefix: 'b2/' });
      assert.deepEqual(
        calls.filter((call) => call.itemKey === 'b2/c').map((call) => [call.responseFormat, call.status]),
        [['json_object', 200]],
        'the third call asks for json_object straight away',
      );
      assert.equal(
        calls.filter((call) => call.status === 400).length,
        2,
        'each concurrent first call was refused once',
      );
    } finally {
      emulator.configure(previous);
    }
    // The memory is per base URL and model: another model on the same endpoint still asks for json_schema.
    await provider.generate(request('b2/other', { model: 'gpt-other' }));
    assert.deepEqual(
      emulator.chatCompletionCalls({ itemKeyPrefix: 'b2/other' }).map((call) => [call.responseFormat, call.status]),
      [['json_schema', 200]],
    );
  });
});

describe('OpenAI-compatible provider: unusable answers', () => {
  const cases: Array<[string, FaultRule['fault'], ErrorCategory, RegExp]> = [
    ['a refusal', 'blocked_prompt', 'safety_blocked', /^the model refused: /],
    ['content_filter', 'safety', 'safety_blocked', /content_filter/],
    ['length', 'max_tokens', 'truncated', /truncated/],
    ['empty content', 'empty_response', 'empty_response', /no text/],
  ];
  for (const [name, fault, category, message] of cases) {
    test(`${name} is stopped as ${category}`, async () => {
      const itemKey = `b3/${fault}`;
      const answer = await withFaults([{ fault, itemKey }], () => provider.generate(request(itemKey)));
      assert.equal(answer.stopped?.category, category);
      assert.match(answer.stopped?.message ?? '', message);
    });
  }

  test('maxOutputTokens is sent as max_tokens to a non-OpenAI host, and an answer cut by it is truncated', async () => {
    const answer = await provider.generate(request('b3/cap', { generation: { maxOutputTokens: 4 } }));
    assert.equal(answer.stopped?.category, 'truncated');
    assert.equal(answer.metadata.finishReason, 'MAX_TOKENS');
    assert.equal(maxTokensParameterFor(`${emulator.url}/v1`), 'max_tokens');
    assert.equal(maxTokensParameterFor('https://api.openai.com/v1'), 'max_completion_tokens');
  });
});

describe('OpenAI-compatible provider: classify', () => {
  const cases: Array<[string, Omit<FaultRule, 'itemKey'>, ErrorCategory, number | undefined]> = [
    ['429 rate limit', { fault: 'rate_limit', retryDelaySeconds: 2.5 }, 'rate_limit', 429],
    ['429 insufficient_quota', { fault: 'quota_exhausted' }, 'quota_exhausted', 429],
    ['401', { fault: 'unauthenticated' }, 'authentication', 401],
    ['403', { fault: 'permission_denied' }, 'permission_denied', 403],
    ['404 model', { fault: 'not_found' }, 'not_found', 404],
    ['400', { fault: 'invalid_request' }, 'invalid_request', 400],
    ['400 context_length_exceeded', { fault: 'context_too_long' }, 'context_too_long', 400],
    ['500', { fault: 'server_error' }, 'server_error', 500],
    ['503', { fault: 'overloaded' }, 'server_overload', 503],
    ['504', { fault: 'deadline' }, 'server_timeout', 504],
    ['connection reset', { fault: 'reset' }, 'network_error', undefined],
    ['a 200 that is not JSON', { fault: 'malformed_json' }, 'server_error', undefined],
  ];
  for (const [name, rule, category, httpStatus] of cases) {
    test(`${name} → ${category}`, async () => {
      const itemKey = `b4/${rule.fault}`;
      const error = await withFaults([{ ...rule, itemKey }], () => failureOf(provider.generate(request(itemKey))));
      const info = provider.classify(error);
      assert.deepEqual([info.category, info.httpStatus], [category, httpStatus], info.message);
      assert.equal(emulator.chatCompletionCalls({ itemKeyPrefix: itemKey }).length, 1, 'no retry inside the client');
      if (category === 'rate_limit') {
        assert.equal(info.suggestedWaitMs, 2500, 'the wait of retry-after-ms');
        assert.equal(info.isRateLimit, true);
      }
    });
  }

  test('a hang past the call timeout → timeout; an aborted call → timeout too', async () => {
    const hung = await withFaults([{ fault: 'hang', itemKeyPrefix: 'b5/', hangMs: 10_000 }], async () => {
      const timedOut = await failureOf(provider.generate(request('b5/slow', { timeoutMs: 200 })));
      const controller = new AbortController();
      setTimeout(() => controller.abort(), 100);
      const aborted = await failureOf(provider.generate(request('b5/cancelled', { signal: controller.signal })));
      return [timedOut, aborted];
    });
    assert.equal(hung.length, 2);
    assert.deepEqual(
      hung.map((error) => provider.classify(error).category),
      ['timeout', 'timeout'],
    );
    assert.match(provider.classify(hung[0]).message, /timed out/);
    assert.match(provider.classify(hung[1]).message, /aborted/);
  });

  test("a prompt beyond the context window → context_too_long (not retried), with the endpoint's words", async () => {
    const previous = emulator.configure({ openai: { contextWindowTokens: 20 } });
    try {
      const error = await failureOf(provider.generate(request('b6/long', { prompt: 'word '.repeat(100) })));
      const info = provider.classify(error);
      assert.equal(info.category, 'context_too_long');
      assert.equal(info.retryable, false);
      assert.match(info.message, /^400 This model's maximum context length is 20 tokens/);
      assert.equal(refusesJsonSchema(error), false, 'not taken for a json_schema refusal');
    } finally {
      emulator.configure(previous);
    }
  });

  test("the emulator's per-minute quota → rate_limit with the wait its headers give", async () => {
    const previous = emulator.configure({ quota: { requestsPerMinute: 1 } });
    try {
      emulator.reset();
      await provider.generate(request('b7/first'));
      const error = await failureOf(provider.generate(request('b7/second')));
      const info = provider.classify(error);
      assert.equal(info.category, 'rate_limit');
      assert.ok(info.suggestedWaitMs !== undefined && info.suggestedWaitMs > 55_000 && info.suggestedWaitMs <= 60_000);
    } finally {
      emulator.configure(previous);
      emulator.reset();
    }
  });

  test('429 waits: retry-after-ms first, then retry-after, then the exhausted x-ratelimit window, then the message', () => {
    const headers = (entries: Record<string, string>) => new Headers(entries);
    assert.equal(retryDelayOf(headers({ 'retry-after-ms': '1200', 'retry-after': '9' }), ''), 1200);
    assert.equal(retryDelayOf(headers({ 'retry-after': '3' }), ''), 3000);
    assert.equal(
      retryDelayOf(
        headers({
          'x-ratelimit-remaining-requests': '5',
          'x-ratelimit-reset-requests': '1s',
          'x-ratelimit-remaining-tokens': '0',
          'x-ratelimit-reset-tokens': '6m0s',
        }),
        '',
      ),
      360_000,
    );
    assert.equal(retryDelayOf(headers({}), 'Rate limit reached. Please try again in 20ms. Visit …'), 20);
    assert.equal(retryDelayOf(undefined, 'no hint'), undefined);
    assert.deepEqual(['1s', '20ms', '6m0s', '1h2m3.5s', '2.5', 'soon'].map(parseResetDuration), [
      1000,
      20,
      360_000,
      3_723_500,
      2500,
      undefined,
    ]);
    const schemaError = APIError.generate(
      400,
      {
        error: {
          message: "Invalid schema for response_format 'output': …",
          type: 'invalid_request_error',
          param: 'response_format',
          code: null,
        },
      },
      undefined,
      new Headers(),
    );
    assert.equal(refusesJsonSchema(schemaError), false, 'a bad schema is not an endpoint without json_schema');
    assert.equal(provider.classify(schemaError).category, 'invalid_request');
  });
});

describe('OpenAI-compatible provider: the rest of the seam', () => {
  test('its target is the base URL without credentials or query; its name is openai-compatible unless given', () => {
    const remote = createOpenAIProvider({ apiKey: 'sk-secret', baseUrl: 'https://user:pw@example.com/v1?api-key=zzz' });
    assert.equal(remote.target, 'https://example.com/v1');
    assert.equal(remote.name, 'openai-compatible');
    assert.equal(createOpenAIProvider({ apiKey: 'sk-secret' }).target, 'https://api.openai.com/v1');
    assert.equal(createOpenAIProvider({ baseUrl: emulator.url, name: 'local-vllm' }).name, 'local-vllm');
    assert.equal(provider.caches, undefined);
    assert.equal(provider.batchJobs, undefined);
    assert.throws(() => createOpenAIProvider({}), /No OpenAI-compatible endpoint configured/);
  });

  test("each endpoint's account is its own: the quota key is a fingerprint of its key (else its URL), never the key", () => {
    const a = createOpenAIProvider({ apiKey: 'sk-account-a', baseUrl: 'https://openrouter.ai/api/v1' });
    const b = createOpenAIProvider({ apiKey: 'sk-account-b', baseUrl: 'https://openrouter.ai/api/v1' });
    const local = createOpenAIProvider({ baseUrl: 'http://127.0.0.1:11434/v1' });
    const other = createOpenAIProvider({ baseUrl: 'http://127.0.0.1:8000/v1' });
    const keys = [a, b, local, other].map((each) => each.quotaKey ?? '');
    assert.equal(keys.length, 4);
    assert.equal(new Set(keys).size, 4, 'no two accounts share a quota scope');
    for (const key of keys) assert.match(key, /^[0-9a-f]{10}$/);
    assert.equal(
      createOpenAIProvider({ apiKey: 'sk-account-a', baseUrl: 'https://example.com/v1' }).quotaKey,
      a.quotaKey,
    );
  });

  test('a refused key names the variable it came from', async () => {
    const named = createOpenAIProvider({
      apiKey: 'sk-wrong',
      baseUrl: `${emulator.url}/v1`,
      name: 'openrouter',
      keyVariable: 'OPENROUTER_API_KEY',
    });
    const error = await withFaults([{ fault: 'unauthenticated', itemKey: 'b9/key' }], () =>
      failureOf(named.generate(request('b9/key'))),
    );
    const info = named.classify(error);
    assert.equal(info.category, 'authentication');
    assert.match(info.hint, /check OPENROUTER_API_KEY on the workers/);
    assert.doesNotMatch(info.hint, /GEMINI/);
    assert.doesNotMatch(JSON.stringify(info), /sk-wrong/);
  });

  test("countTokens counts with OpenAI's tokenizer, locally (the API has no counting route)", async () => {
    const before = emulator.log.length;
    assert.equal(await provider.countTokens('gpt-4.1-mini', 'Hello world, this is a test.'), 8);
    assert.equal(await provider.countTokens('gpt-4.1-mini', ''), 0);
    assert.equal(estimateTokens('x'.repeat(41)), 11, 'admission still estimates ~4 characters a token');
    assert.equal(emulator.log.length, before, 'no request');
    assert.deepEqual(encodingOf('gpt-4.1-mini'), { encoding: 'o200k_base', exact: true });
    assert.deepEqual(encodingOf('openai/gpt-5-mini'), { encoding: 'o200k_base', exact: true });
    assert.deepEqual(encodingOf('gpt-4-turbo'), { encoding: 'cl100k_base', exact: true });
    assert.deepEqual(encodingOf('deepseek-chat'), { encoding: 'o200k_base', exact: false });
    assert.deepEqual(encodingOf('gpt-test-mini'), { encoding: 'o200k_base', exact: false });
  });

  test("a chat request's prompt tokens: each message framed, the json_schema counted too", () => {
    const body = {
      model: 'gpt-4.1-mini',
      messages: [
        { role: 'system' as const, content: 'Be brief.' },
        { role: 'user' as const, content: 'Hello world, this is a test.' },
      ],
    };
    const plain = countChatTokens(body);
    // 3 to prime the reply; per message 3 + its role + its text.
    const expected =
      3 +
      (3 + countOpenAITokens('gpt-4.1-mini', 'system') + countOpenAITokens('gpt-4.1-mini', 'Be brief.')) +
      (3 + countOpenAITokens('gpt-4.1-mini', 'user') + 8);
    assert.equal(plain, expected);
    const schema = { type: 'object', properties: { label: { type: 'string' } } };
    const withSchema = countChatTokens({
      ...body,
      response_format: { type: 'json_schema', json_schema: { name: 'output', schema } },
    });
    assert.equal(withSchema, plain + countOpenAITokens('gpt-4.1-mini', JSON.stringify(schema)));
  });
});

describe('OPENAI_API_KEY and OPENAI_BASE_URL, and named endpoints', () => {
  test('BATCH_LLM_OPENAI_ENDPOINTS: each entry a provider of its name, its key from <NAME>_API_KEY', () => {
    const endpoints = openAIEndpointsFromEnv({
      OPENAI_API_KEY: 'sk-openai',
      BATCH_LLM_OPENAI_ENDPOINTS: 'openrouter=https://openrouter.ai/api/v1, my-vllm=http://127.0.0.1:8000/v1',
      OPENROUTER_API_KEY: 'sk-or',
    });
    assert.deepEqual(endpoints, [
      { name: 'openai-compatible', apiKey: 'sk-openai', keyVariable: 'OPENAI_API_KEY' },
      {
        name: 'openrouter',
        baseUrl: 'https://openrouter.ai/api/v1',
        apiKey: 'sk-or',
        keyVariable: 'OPENROUTER_API_KEY',
      },
      { name: 'my-vllm', baseUrl: 'http://127.0.0.1:8000/v1', keyVariable: 'MY_VLLM_API_KEY' },
    ]);
    assert.deepEqual(openAIEndpointsFromEnv({}), []);
    assert.deepEqual(
      openAIEndpointsFromEnv({ BATCH_LLM_OPENAI_ENDPOINTS: 'deepseek=https://api.deepseek.com ; rpm=200 ;tpm=400000' }),
      [
        {
          name: 'deepseek',
          baseUrl: 'https://api.deepseek.com',
          keyVariable: 'DEEPSEEK_API_KEY',
          limits: { requestsPerMinute: 200, tokensPerMinute: 400000 },
        },
      ],
    );
    assert.equal(endpointKeyVariable('deep-seek'), 'DEEP_SEEK_API_KEY');
  });

  test('a bad BATCH_LLM_OPENAI_ENDPOINTS entry is named, with every problem at once, no key echoed', () => {
    const cases: Array<[string, RegExp]> = [
      ['openrouter', /entry 1: must be name=url/],
      ['Open_Router=https://x.example/v1', /entry 1 \("Open_Router"\): the name must be lower-case/],
      ['gemini=https://x.example/v1', /entry 1 \("gemini"\): "gemini" is taken/],
      ['openai-compatible=https://x.example/v1', /is taken \(the endpoint of OPENAI_API_KEY/],
      ['a=https://x.example/v1,a=https://y.example/v1', /entry 2 \("a"\): "a" is named twice/],
      ['a=ftp://x.example/v1', /entry 1 \("a"\): "ftp:\/\/x.example\/v1" is not an http\(s\) URL/],
      ['a=https://x.example/v1;rpm=lots', /entry 1 \("a"\): "rpm=lots" must be rpm=N or tpm=N/],
      ['a=https://x.example/v1;burst=3', /entry 1 \("a"\): "burst=3" must be rpm=N or tpm=N/],
      ['a=not a url,b', /entry 1 \("a"\).*not an http\(s\) URL; BATCH_LLM_OPENAI_ENDPOINTS entry 2: must be name=url/],
    ];
    assert.equal(cases.length, 9);
    for (const [value, expected] of cases)
      assert.throws(
        () => openAIEndpointsFromEnv({ BATCH_LLM_OPENAI_ENDPOINTS: value, A_API_KEY: 'sk-never-shown' }),
        (error: unknown) =>
          error instanceof ConfigError && expected.test(error.message) && !error.message.includes('sk-never-shown'),
        value,
      );
  });

  test('read and checked in src/config.ts; unset means not configured; a bad URL is named, the key never shown', () => {
    assert.equal(openAIOptionsFromEnv({}), undefined);
    assert.deepEqual(openAIOptionsFromEnv({ OPENAI_API_KEY: 'sk-test', OPENAI_BASE_URL: 'http://127.0.0.1:8000/v1' }), {
      apiKey: 'sk-test',
      baseUrl: 'http://127.0.0.1:8000/v1',
    });
    assert.throws(
      () => openAIOptionsFromEnv({ OPENAI_API_KEY: 'sk-secret-value', OPENAI_BASE_URL: 'not a url' }),
      (error: unknown) =>
        error instanceof ConfigError &&
        /OPENAI_BASE_URL: must be a URL/.test(error.message) &&
        !error.message.includes('sk-secret-value'),
    );
  });
});
