import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { z } from 'zod';
import { countTextTokens, GeminiEmulator, ITEM_KEY_HEADER } from '../src';
import type { EmulatorOptions, FaultKind } from '../src';

const MODEL = 'gpt-test-model';

const Review = z.object({
  sentiment: z.enum(['positive', 'neutral', 'negative']),
  stars: z.int().min(1).max(5),
  tags: z.array(z.string()).min(1).max(3),
  address: z.object({ city: z.string(), zip: z.string().length(5) }),
});
/** zod's JSON schema already closes every object and requires every property: strict as it is. */
const reviewSchema = z.toJSONSchema(Review) as Record<string, unknown>;

interface ChatCompletion {
  id: string;
  object: string;
  created: number;
  model: string;
  choices: Array<{
    index: number;
    message: { role: string; content: string | null; refusal: string | null };
    finish_reason: string;
  }>;
  usage: {
    prompt_tokens: number;
    completion_tokens: number;
    total_tokens: number;
    prompt_tokens_details: { cached_tokens: number };
    completion_tokens_details: { reasoning_tokens: number };
  };
}

interface OpenAIErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

interface Reply {
  status: number;
  headers: Headers;
  text: string;
}

async function withEmulator(options: EmulatorOptions, run: (emulator: GeminiEmulator) => Promise<void>): Promise<void> {
  const emulator = await GeminiEmulator.start(options);
  try {
    await run(emulator);
  } finally {
    await emulator.stop();
  }
}

function chatBody(prompt: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    model: MODEL,
    messages: [
      { role: 'system', content: 'You review products.' },
      { role: 'user', content: prompt },
    ],
    response_format: { type: 'json_schema', json_schema: { name: 'review', strict: true, schema: reviewSchema } },
    ...extra,
  };
}

async function post(
  emulator: GeminiEmulator,
  body: unknown,
  options: { itemKey?: string; key?: string | null; path?: string } = {},
): Promise<Reply> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (options.key !== null) headers.authorization = `Bearer ${options.key ?? 'sk-test'}`;
  if (options.itemKey !== undefined) headers[ITEM_KEY_HEADER] = options.itemKey;
  const response = await fetch(`${emulator.url}${options.path ?? '/v1/chat/completions'}`, {
    method: 'POST',
    headers,
    body: JSON.stringify(body),
  });
  return { status: response.status, headers: response.headers, text: await response.text() };
}

function completionOf(reply: Reply): ChatCompletion {
  assert.equal(reply.status, 200, reply.text);
  return JSON.parse(reply.text) as ChatCompletion;
}

function errorOf(reply: Reply): OpenAIErrorBody['error'] {
  const body = JSON.parse(reply.text) as OpenAIErrorBody;
  assert.deepEqual(Object.keys(body.error).sort(), ['code', 'message', 'param', 'type']);
  return body.error;
}

function onlyChoice(completion: ChatCompletion): ChatCompletion['choices'][number] {
  assert.equal(completion.choices.length, 1);
  return completion.choices[0] as ChatCompletion['choices'][number];
}

describe('chat completions: answers', () => {
  test('a json_schema answer follows the schema, in the OpenAI shape, with usage counted like Gemini', async () => {
    await withEmulator({}, async (emulator) => {
      const body = chatBody('Review the kettle', { temperature: 0.2, seed: 7, top_p: 0.9 });
      const reply = await post(emulator, body, { itemKey: 'b1/a' });
      const completion = completionOf(reply);
      assert.match(completion.id, /^chatcmpl-/);
      assert.equal(completion.object, 'chat.completion');
      assert.equal(completion.model, MODEL);
      assert.ok(Math.abs(completion.created - Date.now() / 1000) < 60);
      const choice = onlyChoice(completion);
      assert.deepEqual(
        [choice.index, choice.message.role, choice.message.refusal, choice.finish_reason],
        [0, 'assistant', null, 'stop'],
      );
      const content = choice.message.content ?? '';
      const parsed = Review.safeParse(JSON.parse(content));
      assert.ok(parsed.success, JSON.stringify(parsed.error?.issues));
      const promptTokens = countTextTokens('Review the kettle') + countTextTokens('You review products.');
      assert.deepEqual(completion.usage, {
        prompt_tokens: promptTokens,
        completion_tokens: countTextTokens(content),
        total_tokens: promptTokens + countTextTokens(content),
        prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
        completion_tokens_details: {
          reasoning_tokens: 0,
          audio_tokens: 0,
          accepted_prediction_tokens: 0,
          rejected_prediction_tokens: 0,
        },
      });
      assert.ok(reply.headers.get('x-request-id'));

      // The same prompt and schema through generateContent give the same JSON.
      const gemini = await fetch(`${emulator.url}/v1beta/models/${MODEL}:generateContent`, {
        method: 'POST',
        headers: { 'x-goog-api-key': 'test-key' },
        body: JSON.stringify({
          contents: [{ role: 'user', parts: [{ text: 'Review the kettle' }] }],
          systemInstruction: { parts: [{ text: 'You review products.' }] },
          generationConfig: { responseMimeType: 'application/json', responseJsonSchema: reviewSchema },
        }),
      });
      const geminiAnswer = (await gemini.json()) as {
        candidates: Array<{ content: { parts: Array<{ text: string }> } }>;
      };
      assert.equal(geminiAnswer.candidates[0]?.content.parts[0]?.text, content);

      assert.equal(emulator.chatCompletionCalls().length, 1);
      assert.equal(emulator.generateCalls().length, 1);
      const [entry] = emulator.chatCompletionCalls();
      assert.deepEqual(
        [entry?.route, entry?.model, entry?.itemKey, entry?.attempt, entry?.status, entry?.temperature],
        ['chatCompletions', MODEL, 'b1/a', 1, 200, 0.2],
      );
      assert.deepEqual(
        [entry?.responseFormat, entry?.hasResponseSchema, entry?.finishReason],
        ['json_schema', true, 'stop'],
      );
      assert.equal(entry?.outputText, content);
      assert.equal(entry?.promptTokens, promptTokens);
    });
  });

  test('the route answers under /v1, the bare host and Gemini’s /v1beta/openai base URLs; other methods get a 4xx', async () => {
    await withEmulator({}, async (emulator) => {
      for (const path of ['/v1/chat/completions', '/chat/completions', '/v1beta/openai/chat/completions']) {
        assert.equal((await post(emulator, chatBody('x'), { path })).status, 200, path);
      }
      const get = await fetch(`${emulator.url}/v1/chat/completions`, { headers: { authorization: 'Bearer k' } });
      assert.equal(get.status, 400);
      assert.match(((await get.json()) as OpenAIErrorBody).error.message, /Invalid URL \(GET/);
    });
  });

  test('json_object answers from a schema found in the prompt, else with {"reply": …}; the prompt must say json', async () => {
    await withEmulator({}, async (emulator) => {
      const withSchema = await post(emulator, {
        model: MODEL,
        messages: [
          { role: 'system', content: `Answer in JSON following this schema:\n${JSON.stringify(reviewSchema)}` },
          { role: 'user', content: 'Review {"item": "kettle"}' },
        ],
        response_format: { type: 'json_object' },
      });
      const content = onlyChoice(completionOf(withSchema)).message.content ?? '';
      assert.ok(Review.safeParse(JSON.parse(content)).success, content);

      const bare = await post(emulator, {
        model: MODEL,
        messages: [{ role: 'user', content: 'Say hello in JSON.' }],
        response_format: { type: 'json_object' },
      });
      const reply = JSON.parse(onlyChoice(completionOf(bare)).message.content ?? '') as unknown;
      assert.deepEqual(Object.keys(reply as object), ['reply']);

      const noJsonWord = await post(emulator, {
        model: MODEL,
        messages: [{ role: 'user', content: 'Say hello.' }],
        response_format: { type: 'json_object' },
      });
      assert.equal(noJsonWord.status, 400);
      assert.match(errorOf(noJsonWord).message, /must contain the word 'json'/);
      assert.deepEqual(
        emulator.chatCompletionCalls().map((entry) => entry.responseFormat),
        ['json_object', 'json_object', 'json_object'],
      );
    });
  });

  test('a text request gets a short deterministic text', async () => {
    await withEmulator({}, async (emulator) => {
      const body = { model: MODEL, messages: [{ role: 'user', content: [{ type: 'text', text: 'Hi' }] }] };
      const first = onlyChoice(completionOf(await post(emulator, body))).message.content;
      const second = onlyChoice(completionOf(await post(emulator, body))).message.content;
      assert.match(first ?? '', /^Emulated reply: /);
      assert.equal(second, first);
      assert.equal(emulator.log[0]?.responseFormat, 'text');
    });
  });

  test('max_tokens below the answer cuts it: finish_reason length and JSON that does not parse', async () => {
    await withEmulator({}, async (emulator) => {
      const completion = completionOf(await post(emulator, chatBody('Review the lamp', { max_completion_tokens: 5 })));
      const choice = onlyChoice(completion);
      assert.equal(choice.finish_reason, 'length');
      assert.ok((choice.message.content ?? '').length <= 21);
      assert.throws(() => JSON.parse(choice.message.content ?? ''));
      assert.ok(completion.usage.completion_tokens <= 6);
    });
  });

  test('reasoning tokens count in completion_tokens; a long repeated prefix reports cached tokens in 128-token steps', async () => {
    await withEmulator({ openai: { reasoningTokens: 40 } }, async (emulator) => {
      const guide = 'Rule: label with care. '.repeat(300); // about 1,700 tokens
      const body = (prompt: string) => ({
        model: MODEL,
        messages: [
          { role: 'system', content: guide },
          { role: 'user', content: prompt },
        ],
      });
      const first = completionOf(await post(emulator, body('Label record 1.')));
      const second = completionOf(await post(emulator, body('Label record 2.')));
      const content = onlyChoice(first).message.content ?? '';
      assert.equal(first.usage.completion_tokens_details.reasoning_tokens, 40);
      assert.equal(first.usage.completion_tokens, countTextTokens(content) + 40);
      assert.equal(first.usage.prompt_tokens_details.cached_tokens, 0);
      const cached = second.usage.prompt_tokens_details.cached_tokens;
      assert.ok(cached >= 1024 && cached % 128 === 0 && cached <= second.usage.prompt_tokens, String(cached));

      emulator.configure({ openai: { promptCaching: false } });
      const third = completionOf(await post(emulator, body('Label record 3.')));
      assert.equal(third.usage.prompt_tokens_details.cached_tokens, 0);
      assert.equal(third.usage.completion_tokens_details.reasoning_tokens, 0);
    });
  });
});

describe('chat completions: refusals', () => {
  test('no key is a 401; a wrong key is 401 invalid_api_key when requiredApiKey is set', async () => {
    await withEmulator({ requiredApiKey: 'sk-right-key-123' }, async (emulator) => {
      const none = await post(emulator, chatBody('x'), { key: null });
      assert.equal(none.status, 401);
      assert.match(errorOf(none).message, /didn't provide an API key/);
      const wrong = await post(emulator, chatBody('x'), { key: 'sk-wrong-key-456' });
      assert.equal(wrong.status, 401);
      assert.equal(errorOf(wrong).code, 'invalid_api_key');
      assert.doesNotMatch(errorOf(wrong).message, /sk-wrong-key-456/, 'the key is masked');
      assert.equal((await post(emulator, chatBody('x'), { key: 'sk-right-key-123' })).status, 200);
    });
  });

  test('malformed requests are refused 400 before any fault rule is spent', async () => {
    await withEmulator({ faults: [{ fault: 'server_error', times: 1 }] }, async (emulator) => {
      const cases: Array<[unknown, RegExp, string | null]> = [
        [{ messages: [{ role: 'user', content: 'x' }] }, /you must provide a model parameter/, null],
        [{ model: MODEL }, /Missing required parameter: 'messages'/, 'messages'],
        [{ model: MODEL, messages: [] }, /too short/, 'messages'],
        [{ model: MODEL, messages: [{ role: 'robot', content: 'x' }] }, /Invalid value: 'robot'/, 'messages[0].role'],
        [chatBody('x', { temperature: 3 }), /Expected a value <= 2/, 'temperature'],
        [
          chatBody('x', { response_format: { type: 'yaml' } }),
          /Supported values are: 'json_object'/,
          'response_format.type',
        ],
        [
          chatBody('x', { response_format: { type: 'json_schema' } }),
          /response_format.json_schema'/,
          'response_format.json_schema',
        ],
        [chatBody('x', { stream: true }), /does not stream/, 'stream'],
      ];
      for (const [body, message, param] of cases) {
        const reply = await post(emulator, body);
        assert.equal(reply.status, 400, reply.text);
        const error = errorOf(reply);
        assert.match(error.message, message);
        assert.deepEqual([error.type, error.param], ['invalid_request_error', param]);
      }
      assert.equal((await post(emulator, chatBody('x'))).status, 500, 'the rule was still unspent');
    });
  });

  test('strict json_schema needs additionalProperties false and every property required on every object', async () => {
    await withEmulator({}, async (emulator) => {
      const open = { type: 'object', properties: { a: { type: 'string' } }, required: ['a'] };
      const partlyRequired = {
        type: 'object',
        properties: {
          inner: {
            type: 'object',
            properties: { a: { type: 'string' }, b: { type: 'string' } },
            required: ['a'],
            additionalProperties: false,
          },
        },
        required: ['inner'],
        additionalProperties: false,
      };
      const format = (schema: unknown, strict: boolean) => ({
        response_format: { type: 'json_schema', json_schema: { name: 'thing', strict, schema } },
      });
      const first = await post(emulator, chatBody('x', format(open, true)));
      assert.equal(first.status, 400);
      assert.equal(
        errorOf(first).message,
        "Invalid schema for response_format 'thing': In context=(), 'additionalProperties' is required to be supplied and to be false.",
      );
      const second = await post(emulator, chatBody('x', format(partlyRequired, true)));
      assert.match(
        errorOf(second).message,
        /In context=\('properties', 'inner'\), 'required' is required .* Missing 'b'\./,
      );
      assert.equal(
        (await post(emulator, chatBody('x', format(open, false)))).status,
        200,
        'strict: false takes any schema',
      );
    });
  });

  test('rejectJsonSchema refuses json_schema (set by option, configure or the control endpoint); json_object still works', async () => {
    await withEmulator({ openai: { rejectJsonSchema: true } }, async (emulator) => {
      const refused = await post(emulator, chatBody('x'));
      assert.equal(refused.status, 400);
      const error = errorOf(refused);
      assert.match(error.message, /'response_format' of type 'json_schema' is not supported/);
      assert.equal(error.param, 'response_format');
      const fallback = chatBody('Answer in JSON.', { response_format: { type: 'json_object' } });
      assert.equal((await post(emulator, fallback)).status, 200);

      const previous = emulator.configure({ openai: {} });
      assert.deepEqual(previous, { openai: { rejectJsonSchema: true } });
      assert.equal((await post(emulator, chatBody('x'))).status, 200);
      const control = await fetch(`${emulator.url}/_emulator/config`, {
        method: 'POST',
        body: JSON.stringify({ openai: { rejectJsonSchema: true } }),
      });
      assert.equal(control.status, 200);
      assert.equal((await post(emulator, chatBody('x'))).status, 400);
    });
  });

  test('a prompt beyond contextWindowTokens is 400 context_length_exceeded', async () => {
    await withEmulator({ openai: { contextWindowTokens: 50 } }, async (emulator) => {
      const reply = await post(emulator, chatBody('word '.repeat(200), { max_tokens: 10 }));
      assert.equal(reply.status, 400);
      const error = errorOf(reply);
      assert.deepEqual(
        [error.code, error.param, error.type],
        ['context_length_exceeded', 'messages', 'invalid_request_error'],
      );
      assert.match(
        error.message,
        /^This model's maximum context length is 50 tokens\. However, you requested \d+ tokens/,
      );
      assert.equal((await post(emulator, chatBody('short'))).status, 200);
    });
  });
});

describe('chat completions: faults, quota and the item header', () => {
  const errorCases: Array<[FaultKind, number, string, string | null]> = [
    ['rate_limit', 429, 'requests', 'rate_limit_exceeded'],
    ['quota_exhausted', 429, 'insufficient_quota', 'insufficient_quota'],
    ['unauthenticated', 401, 'invalid_request_error', 'invalid_api_key'],
    ['permission_denied', 403, 'invalid_request_error', 'model_not_found'],
    ['invalid_request', 400, 'invalid_request_error', 'invalid_value'],
    ['not_found', 404, 'invalid_request_error', 'model_not_found'],
    ['server_error', 500, 'server_error', null],
    ['overloaded', 503, 'server_error', null],
    ['deadline', 504, 'server_error', 'gateway_timeout'],
    ['cache_expired', 404, 'invalid_request_error', null],
  ];

  test('each error fault is an OpenAI error body with its status, type and code', async () => {
    await withEmulator({}, async (emulator) => {
      for (const [fault, status, type, code] of errorCases) {
        emulator.configure({ faults: [{ fault, itemKeyPrefix: 'e/' }] });
        const reply = await post(emulator, chatBody('x'), { itemKey: `e/${fault}` });
        const error = errorOf(reply);
        assert.deepEqual([fault, reply.status, error.type, error.code], [fault, status, type, code]);
        const logged = emulator.log.at(-1);
        assert.deepEqual([logged?.route, logged?.fault, logged?.status], ['chatCompletions', fault, status]);
      }
    });
  });

  test('rate_limit carries retry-after, retry-after-ms and x-ratelimit headers; insufficient_quota none', async () => {
    await withEmulator(
      {
        faults: [
          { fault: 'rate_limit', itemKey: 'r', retryDelaySeconds: 1.5 },
          { fault: 'quota_exhausted', itemKey: 'q' },
        ],
      },
      async (emulator) => {
        const limited = await post(emulator, chatBody('x'), { itemKey: 'r' });
        assert.deepEqual(
          ['retry-after', 'retry-after-ms', 'x-ratelimit-remaining-requests', 'x-ratelimit-reset-requests'].map(
            (name) => limited.headers.get(name),
          ),
          ['2', '1500', '0', '1.5s'],
        );
        assert.match(errorOf(limited).message, /Please try again in 1\.5s\./);
        const exhausted = await post(emulator, chatBody('x'), { itemKey: 'q' });
        assert.equal(exhausted.headers.get('retry-after'), null);
        assert.equal(exhausted.headers.get('retry-after-ms'), null);
      },
    );
  });

  test('the per-minute quota answers 429 with the wait until a slot frees, shared with generateContent', async () => {
    let now = 1_000_000;
    await withEmulator({ quota: { requestsPerMinute: 2 }, now: () => now }, async (emulator) => {
      assert.equal((await post(emulator, chatBody('a'))).status, 200);
      const gemini = await fetch(`${emulator.url}/v1beta/models/${MODEL}:generateContent`, {
        method: 'POST',
        headers: { 'x-goog-api-key': 'k' },
        body: JSON.stringify({ contents: [{ parts: [{ text: 'b' }] }] }),
      });
      assert.equal(gemini.status, 200);
      now += 20_000;
      const refused = await post(emulator, chatBody('c'));
      assert.equal(refused.status, 429);
      assert.equal(errorOf(refused).code, 'rate_limit_exceeded');
      assert.equal(refused.headers.get('retry-after-ms'), '40000');
      assert.equal(refused.headers.get('retry-after'), '40');
      assert.equal(refused.headers.get('x-ratelimit-reset-requests'), '40s');
      assert.equal(emulator.chatCompletionCalls().at(-1)?.quotaRejected, true);
      assert.deepEqual([emulator.quotaStats().admitted, emulator.quotaStats().rejected], [2, 1]);
      now += 40_000;
      assert.equal((await post(emulator, chatBody('c'))).status, 200);
    });
  });

  test('answer faults: content_filter, refusal, length, empty, schema-breaking and other finish reasons', async () => {
    await withEmulator(
      {
        faults: [
          { fault: 'safety', itemKey: 'safety' },
          { fault: 'recitation', itemKey: 'recitation' },
          { fault: 'blocked_prompt', itemKey: 'refusal' },
          { fault: 'max_tokens', itemKey: 'length' },
          { fault: 'empty_response', itemKey: 'empty' },
          { fault: 'schema_invalid', itemKey: 'invalid' },
          { fault: 'finish', itemKey: 'other', finishReason: 'LANGUAGE' },
          { fault: 'ratings', itemKey: 'ratings' },
        ],
      },
      async (emulator) => {
        const choiceFor = async (itemKey: string) =>
          onlyChoice(completionOf(await post(emulator, chatBody('Review the kettle'), { itemKey })));
        for (const key of ['safety', 'recitation']) {
          const filtered = await choiceFor(key);
          assert.deepEqual(
            [filtered.finish_reason, filtered.message.content, filtered.message.refusal],
            ['content_filter', null, null],
          );
        }
        const refusal = await choiceFor('refusal');
        assert.deepEqual([refusal.finish_reason, refusal.message.content], ['stop', null]);
        assert.match(refusal.message.refusal ?? '', /can't help/);
        const length = await choiceFor('length');
        assert.equal(length.finish_reason, 'length');
        assert.throws(() => JSON.parse(length.message.content ?? ''));
        const empty = await choiceFor('empty');
        assert.deepEqual([empty.finish_reason, empty.message.content], ['stop', '']);
        const invalid = await choiceFor('invalid');
        assert.equal(Review.safeParse(JSON.parse(invalid.message.content ?? '')).success, false);
        const other = await choiceFor('other');
        assert.deepEqual([other.finish_reason, other.message.content], ['language', null]);
        const ratings = await choiceFor('ratings');
        assert.ok(
          Review.safeParse(JSON.parse(ratings.message.content ?? '')).success,
          'OpenAI has no ratings: a normal answer',
        );
        assert.deepEqual(
          emulator.chatCompletionCalls().map((entry) => entry.finishReason),
          ['content_filter', 'content_filter', 'stop', 'length', 'stop', 'stop', 'language', 'stop'],
        );
      },
    );
  });

  test('reset cuts the connection, hang ends 504 after hangMs, malformed_json is a 200 that does not parse', async () => {
    await withEmulator(
      {
        faults: [
          { fault: 'reset', itemKey: 'reset' },
          { fault: 'hang', itemKey: 'hang', hangMs: 50 },
          { fault: 'malformed_json', itemKey: 'malformed' },
        ],
      },
      async (emulator) => {
        await assert.rejects(post(emulator, chatBody('x'), { itemKey: 'reset' }), /fetch failed/);
        const hung = await post(emulator, chatBody('x'), { itemKey: 'hang' });
        assert.equal(hung.status, 504);
        const malformed = await post(emulator, chatBody('x'), { itemKey: 'malformed' });
        assert.equal(malformed.status, 200);
        assert.throws(() => JSON.parse(malformed.text));
        assert.deepEqual(
          emulator.chatCompletionCalls().map((entry) => [entry.itemKey, entry.status]),
          [
            ['reset', 'reset'],
            ['hang', 504],
            ['malformed', 200],
          ],
        );
      },
    );
  });

  test('the item header keys faults and attempts, counted across generateContent and chat completions', async () => {
    await withEmulator({ faults: [{ fault: 'overloaded', itemKey: 'b/x', attempts: [1, 3] }] }, async (emulator) => {
      assert.equal((await post(emulator, chatBody('x'), { itemKey: 'b/x' })).status, 503);
      assert.equal((await post(emulator, chatBody('x'), { itemKey: 'b/y' })).status, 200, 'another item');
      const gemini = await fetch(`${emulator.url}/v1beta/models/${MODEL}:generateContent`, {
        method: 'POST',
        headers: { 'x-goog-api-key': 'k', [ITEM_KEY_HEADER]: 'b/x' },
        body: JSON.stringify({ contents: [{ parts: [{ text: 'x' }] }] }),
      });
      assert.equal(gemini.status, 200, 'attempt 2 of b/x');
      assert.equal((await post(emulator, chatBody('x'), { itemKey: 'b/x' })).status, 503, 'attempt 3 of b/x');
      assert.deepEqual(
        emulator.log.map((entry) => [entry.route, entry.itemKey, entry.attempt]),
        [
          ['chatCompletions', 'b/x', 1],
          ['chatCompletions', 'b/y', 1],
          ['generateContent', 'b/x', 2],
          ['chatCompletions', 'b/x', 3],
        ],
      );
      assert.deepEqual(emulator.chatCompletionCalls({ itemKeyPrefix: 'b/x' }).length, 2);
    });
  });

  test('a chat completion counts in flight with generateContent, and latency applies', async () => {
    await withEmulator({ latency: { baseMs: 60, jitterMs: 0 } }, async (emulator) => {
      const started = Date.now();
      await Promise.all([post(emulator, chatBody('a')), post(emulator, chatBody('b')), post(emulator, chatBody('c'))]);
      assert.ok(Date.now() - started >= 55);
      assert.equal(emulator.maxInFlight, 3);
      assert.equal(emulator.inFlight, 0);
    });
  });
});
