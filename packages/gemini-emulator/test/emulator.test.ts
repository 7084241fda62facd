import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ApiError, GoogleGenAI, Type } from '@google/genai';
import type { GenerateContentParameters } from '@google/genai';
import { z } from 'zod';
import { countTextTokens, GeminiEmulator, ITEM_KEY_HEADER, synthesizeFromSchema } from '../src';
import type { FaultKind } from '../src';
import { clientFor, failureOf, withEmulator } from './helpers/emulator';

delete process.env.GEMINI_API_KEY;
delete process.env.GOOGLE_API_KEY;
delete process.env.GOOGLE_GEMINI_BASE_URL;

const MODEL = 'gemini-2.5-flash';

const Address = z.object({ city: z.string(), zip: z.string().length(5) });
const Review = z.object({
  sentiment: z.enum(['positive', 'neutral', 'negative']),
  tags: z.array(z.string()).min(1).max(5),
  stars: z.int().min(1).max(5),
  score: z.number().positive().max(1),
  address: Address,
  shipping: Address,
  note: z.string().optional(),
  reviewer: z.string().nullable(),
  kind: z.literal('review'),
  email: z.email(),
  id: z.uuid(),
  at: z.iso.datetime(),
  site: z.url(),
  counts: z.record(z.enum(['likes', 'shares']), z.int().min(0)),
  pair: z.tuple([z.string(), z.boolean()]),
});
const reviewJsonSchema = z.toJSONSchema(Review, { reused: 'ref' });

function itemCall(
  itemKey: string | undefined,
  extra: Partial<GenerateContentParameters['config']> = {},
): GenerateContentParameters {
  return {
    model: MODEL,
    contents: `Review the product for ${itemKey ?? 'nobody'}`,
    config: {
      responseMimeType: 'application/json',
      responseJsonSchema: reviewJsonSchema,
      ...(itemKey === undefined ? {} : { httpOptions: { headers: { [ITEM_KEY_HEADER]: itemKey } } }),
      ...extra,
    },
  };
}

interface GoogleErrorBody {
  error: { code: number; message: string; status: string; details?: Array<Record<string, unknown>> };
}

async function apiErrorOf(promise: Promise<unknown>): Promise<{ status: number; body: GoogleErrorBody }> {
  const error = await failureOf(promise);
  assert.ok(error instanceof ApiError, `expected ApiError, got ${String(error)}`);
  return { status: error.status, body: JSON.parse(error.message) as GoogleErrorBody };
}

describe('answers', () => {
  test('a structured answer satisfies the zod schema, is deterministic and has consistent usage', async () => {
    await withEmulator({}, async (emulator, ai) => {
      const call = itemCall('batch-1/0', { systemInstruction: 'You are a careful reviewer.', temperature: 0.3 });
      const first = await ai.models.generateContent(call);
      const second = await ai.models.generateContent(call);
      assert.ok(first.text !== undefined);
      const parsed = Review.safeParse(JSON.parse(first.text));
      assert.ok(parsed.success, JSON.stringify(parsed.error?.issues));
      assert.equal(second.text, first.text);
      const promptTokens =
        countTextTokens('Review the product for batch-1/0') + countTextTokens('You are a careful reviewer.');
      assert.deepEqual(
        { ...first.usageMetadata },
        {
          promptTokenCount: promptTokens,
          candidatesTokenCount: countTextTokens(first.text),
          totalTokenCount: promptTokens + countTextTokens(first.text),
        },
      );
      assert.equal(first.modelVersion, MODEL);
      assert.equal(first.candidates?.[0]?.finishReason, 'STOP');
      const [entry] = emulator.generateCalls();
      assert.equal(entry?.itemKey, 'batch-1/0');
      assert.equal(entry?.model, MODEL);
      assert.equal(entry?.temperature, 0.3);
      assert.equal(entry?.hasResponseSchema, true);
      assert.equal(entry?.promptTokens, promptTokens);
      assert.equal(entry?.systemInstructionChars, 'You are a careful reviewer.'.length);
      assert.equal(entry?.outputText, first.text);
      assert.deepEqual(
        emulator.generateCalls().map((logged) => logged.attempt),
        [1, 2],
      );
    });
  });

  test('the per-call x-batch-llm-item header arrives as the item key; without it the key is undefined', async () => {
    assert.equal(
      ITEM_KEY_HEADER,
      'x-batch-llm-item',
      'the header name is a wire contract with the model-call activity',
    );
    await withEmulator({}, async (emulator, ai) => {
      await ai.models.generateContent(itemCall('b/7'));
      await ai.models.generateContent(itemCall(undefined));
      await ai.models.generateContent(itemCall(undefined));
      assert.deepEqual(
        emulator.log.map((entry) => [entry.itemKey, entry.attempt]),
        [
          ['b/7', 1],
          [undefined, 1],
          [undefined, 2],
        ],
      );
      assert.equal(emulator.generateCalls({ itemKeyPrefix: 'b/' }).length, 1);
    });
  });

  test('plain text without a schema, a Gemini-form responseSchema, and the /v1 prefix', async () => {
    await withEmulator({}, async (emulator, ai) => {
      const plain = await ai.models.generateContent({ model: MODEL, contents: 'Say hi' });
      assert.match(plain.text ?? '', /^Emulated reply: /);
      const gemini = await ai.models.generateContent({
        model: `models/${MODEL}`,
        contents: 'List a colour',
        config: {
          responseMimeType: 'application/json',
          responseSchema: {
            type: Type.OBJECT,
            properties: {
              colour: { type: Type.STRING, enum: ['red', 'green'] },
              shades: { type: Type.ARRAY, items: { type: Type.INTEGER, minimum: 10, maximum: 12 }, minItems: '3' },
              hex: { type: Type.STRING, nullable: true, maxLength: '4' },
            },
            required: ['colour', 'shades'],
          },
        },
      });
      const value = JSON.parse(gemini.text ?? '') as { colour: string; shades: number[]; hex: string };
      assert.ok(['red', 'green'].includes(value.colour));
      assert.ok(
        value.shades.length >= 3 &&
          value.shades.every((shade) => Number.isInteger(shade) && shade >= 10 && shade <= 12),
      );
      assert.ok(typeof value.hex === 'string' && value.hex.length <= 4);
      assert.equal(emulator.log[1]?.model, MODEL);

      const v1 = new GoogleGenAI({ apiKey: 'k', apiVersion: 'v1', httpOptions: { baseUrl: emulator.url } });
      assert.match((await v1.models.generateContent({ model: MODEL, contents: 'x' })).text ?? '', /Emulated/);
    });
  });

  test('countTokens counts contents the same way usage does', async () => {
    await withEmulator({}, async (emulator, ai) => {
      const counted = await ai.models.countTokens({ model: MODEL, contents: 'seventeen chars!!' });
      assert.equal(counted.totalTokens, countTextTokens('seventeen chars!!'));
      assert.equal(counted.totalTokens, 5);
      assert.deepEqual([emulator.log[0]?.route, emulator.log[0]?.attempt], ['countTokens', 0]);
      assert.equal(emulator.generateCalls().length, 0);
    });
  });

  test('a streamed call yields the same answer in one SSE event', async () => {
    await withEmulator({}, async (_emulator, ai) => {
      const chunks: string[] = [];
      for await (const chunk of await ai.models.generateContentStream({ model: MODEL, contents: 'Say hi' })) {
        chunks.push(chunk.text ?? '');
      }
      const whole = await ai.models.generateContent({ model: MODEL, contents: 'Say hi' });
      assert.deepEqual(chunks, [whole.text]);
    });
  });

  test('cachedContent together with systemInstruction is rejected like Google does', async () => {
    await withEmulator({}, async (emulator, ai) => {
      const { status, body } = await apiErrorOf(
        ai.models.generateContent({
          model: MODEL,
          contents: 'x',
          config: { cachedContent: 'cachedContents/abc', systemInstruction: 'no' },
        }),
      );
      assert.equal(status, 400);
      assert.match(body.error.message, /CachedContent can not be used/);
      await ai.models.generateContent({ model: MODEL, contents: 'x', config: { cachedContent: 'cachedContents/abc' } });
      assert.equal(emulator.log[1]?.cachedContent, 'cachedContents/abc');
    });
  });
});

describe('synthesizeFromSchema', () => {
  test('zod 4 JSON Schema output with $defs, enums, bounds, optionals, nullables and formats validates for many seeds', () => {
    for (let seed = 0; seed < 40; seed += 1) {
      const value = synthesizeFromSchema(reviewJsonSchema, `seed-${seed}`);
      const parsed = Review.safeParse(value);
      assert.ok(parsed.success, `seed ${seed}: ${JSON.stringify(parsed.error?.issues)}`);
    }
    assert.deepEqual(synthesizeFromSchema(reviewJsonSchema, 'same'), synthesizeFromSchema(reviewJsonSchema, 'same'));
    assert.notDeepEqual(synthesizeFromSchema(reviewJsonSchema, 'one'), synthesizeFromSchema(reviewJsonSchema, 'two'));
  });

  test('recursive schemas, unions, arrays of objects and awkward numeric bounds', () => {
    interface Node {
      label: string;
      children: Node[];
    }
    const Tree: z.ZodType<Node> = z.object({
      label: z.string().min(12).max(14),
      get children() {
        return z.array(Tree);
      },
    });
    const Awkward = z.object({
      tree: Tree,
      choice: z.union([z.null(), z.object({ a: z.boolean() }), z.string()]),
      tiny: z.number().gt(0.1).lt(0.2),
      big: z.int().min(5000).max(5003),
      negative: z.int().max(-40),
      step: z.int().multipleOf(7).min(1).max(50),
      list: z
        .array(z.object({ n: z.number().min(-3).max(-2) }))
        .min(3)
        .max(3),
    });
    const value = synthesizeFromSchema(z.toJSONSchema(Awkward), 'x');
    const parsed = Awkward.safeParse(value);
    assert.ok(parsed.success, JSON.stringify(parsed.error?.issues));
  });
});

describe('faults', () => {
  const errorCases: Array<[FaultKind, number, string]> = [
    ['rate_limit', 429, 'RESOURCE_EXHAUSTED'],
    ['quota_exhausted', 429, 'RESOURCE_EXHAUSTED'],
    ['unauthenticated', 400, 'INVALID_ARGUMENT'],
    ['permission_denied', 403, 'PERMISSION_DENIED'],
    ['invalid_request', 400, 'INVALID_ARGUMENT'],
    ['not_found', 404, 'NOT_FOUND'],
    ['server_error', 500, 'INTERNAL'],
    ['overloaded', 503, 'UNAVAILABLE'],
    ['deadline', 504, 'DEADLINE_EXCEEDED'],
  ];

  test('each error fault surfaces as an ApiError with the Google status and body', async () => {
    await withEmulator({}, async (emulator, ai) => {
      for (const [fault, status, rpcStatus] of errorCases) {
        emulator.configure({ faults: [{ fault, retryDelaySeconds: 1.5 }] });
        const error = await apiErrorOf(ai.models.generateContent(itemCall(`e/${fault}`)));
        assert.deepEqual(
          [fault, error.status, error.body.error.code, error.body.error.status],
          [fault, status, status, rpcStatus],
        );
        const logged = emulator.log.at(-1);
        assert.deepEqual([logged?.fault, logged?.status], [fault, status]);
      }
    });
  });

  test('rate_limit carries RetryInfo and a per-minute quota; quota_exhausted a per-day quota and no RetryInfo', async () => {
    await withEmulator(
      {
        faults: [
          { fault: 'rate_limit', itemKey: 'r', retryDelaySeconds: 1.5 },
          { fault: 'quota_exhausted', itemKey: 'q' },
        ],
      },
      async (_emulator, ai) => {
        const limited = await apiErrorOf(ai.models.generateContent(itemCall('r')));
        const details = limited.body.error.details ?? [];
        assert.deepEqual(
          details.find((detail) => String(detail['@type']).endsWith('RetryInfo')),
          {
            '@type': 'type.googleapis.com/google.rpc.RetryInfo',
            retryDelay: '1.5s',
          },
        );
        assert.match(JSON.stringify(details), /PerMinute/);
        assert.match(limited.body.error.message, /Please retry in 1\.5s\.$/);

        const exhausted = await apiErrorOf(ai.models.generateContent(itemCall('q')));
        const quota = JSON.stringify(exhausted.body.error.details);
        assert.match(quota, /"quotaId":"GenerateRequestsPerDayPerProjectPerModel-FreeTier"/);
        assert.doesNotMatch(quota, /RetryInfo/);
      },
    );
  });

  test('unauthenticated carries API_KEY_INVALID, as does a wrong key when requiredApiKey is set; no key is a 403', async () => {
    await withEmulator({ requiredApiKey: 'right-key' }, async (emulator) => {
      const wrong = await apiErrorOf(
        clientFor(emulator, { apiKey: 'wrong-key' }).models.generateContent(itemCall('a')),
      );
      assert.equal(wrong.status, 400);
      assert.equal(wrong.body.error.message, 'API key not valid. Please pass a valid API key.');
      assert.match(JSON.stringify(wrong.body.error.details), /"reason":"API_KEY_INVALID"/);
      const right = await clientFor(emulator, { apiKey: 'right-key' }).models.generateContent(itemCall('a'));
      assert.ok(right.text);
      const response = await fetch(`${emulator.url}/v1beta/models/${MODEL}:generateContent`, {
        method: 'POST',
        body: JSON.stringify({ contents: [{ parts: [{ text: 'x' }] }] }),
      });
      assert.equal(response.status, 403);
      assert.match(((await response.json()) as GoogleErrorBody).error.message, /unregistered callers/);
    });
  });

  test('reset destroys the socket: the SDK throws TypeError fetch failed', async () => {
    await withEmulator({ faults: [{ fault: 'reset' }] }, async (emulator, ai) => {
      const error = await failureOf(ai.models.generateContent(itemCall('x')));
      assert.ok(error instanceof TypeError);
      assert.equal(error.message, 'fetch failed');
      const cause = (error as TypeError & { cause?: { code?: string } }).cause;
      assert.ok(['ECONNRESET', 'UND_ERR_SOCKET'].includes(cause?.code ?? ''), `cause ${String(cause?.code)}`);
      assert.equal(emulator.log[0]?.status, 'reset');
    });
  });

  test('malformed_json is a 200 whose body the SDK cannot parse', async () => {
    await withEmulator({ faults: [{ fault: 'malformed_json' }] }, async (emulator, ai) => {
      const error = await failureOf(ai.models.generateContent(itemCall('x')));
      assert.ok(error instanceof SyntaxError, String(error));
      assert.equal(emulator.log[0]?.status, 200);
    });
  });

  test('hang is released when the caller aborts, and logged as aborted', async () => {
    await withEmulator({ faults: [{ fault: 'hang' }] }, async (emulator, ai) => {
      const controller = new AbortController();
      const pending = failureOf(ai.models.generateContent(itemCall('h', { abortSignal: controller.signal })));
      await new Promise((resolve) => setTimeout(resolve, 100));
      assert.equal(emulator.inFlight, 1);
      controller.abort();
      const error = await pending;
      assert.equal((error as Error).name, 'AbortError');
      for (let waited = 0; emulator.inFlight > 0 && waited < 2000; waited += 10) {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      assert.equal(emulator.log[0]?.status, 'aborted');
      assert.equal(emulator.inFlight, 0);
    });
  });

  test('a hang with hangMs ends in 504 DEADLINE_EXCEEDED', async () => {
    await withEmulator({ faults: [{ fault: 'hang', hangMs: 150 }] }, async (emulator, ai) => {
      const started = Date.now();
      const { status } = await apiErrorOf(ai.models.generateContent(itemCall('h')));
      assert.equal(status, 504);
      assert.ok(Date.now() - started >= 140);
      assert.equal(emulator.log[0]?.status, 504);
    });
  });

  test('configure returns the settings it replaced, only those named, so they can be put back', async () => {
    const responder = () => 'custom';
    await withEmulator(
      {
        latency: { baseMs: 7, jitterMs: 3 },
        faults: [{ fault: 'overloaded', itemKey: 'a' }],
        quota: { requestsPerMinute: 50 },
      },
      async (emulator, ai) => {
        const previous = emulator.configure({
          latency: { baseMs: 0, jitterMs: 0 },
          faults: [],
          quota: {},
          responder,
          seed: 9,
        });
        assert.deepEqual(Object.keys(previous).sort(), ['faults', 'latency', 'quota', 'responder', 'seed']);
        assert.deepEqual(previous.latency, { baseMs: 7, jitterMs: 3 });
        assert.deepEqual(previous.faults, [{ fault: 'overloaded', itemKey: 'a' }]);
        assert.deepEqual(previous.quota, { requestsPerMinute: 50 });
        assert.equal(previous.seed, 1);
        assert.deepEqual(emulator.configure({ seed: 2 }), { seed: 9 });
        assert.equal((await ai.models.generateContent(itemCall('a'))).text, 'custom');
        emulator.configure(previous);
        assert.equal(
          (await apiErrorOf(ai.models.generateContent(itemCall('a')))).status,
          503,
          'the fault rule is back',
        );
        assert.deepEqual(emulator.configure({ quota: {} }).quota, { requestsPerMinute: 50 });
      },
    );
  });

  test('schema_invalid parses as JSON but fails the schema on exactly the first required property', async () => {
    await withEmulator({}, async (emulator, ai) => {
      const normal = JSON.parse((await ai.models.generateContent(itemCall('s'))).text ?? '') as Record<string, unknown>;
      emulator.configure({ faults: [{ fault: 'schema_invalid' }] });
      const broken = JSON.parse((await ai.models.generateContent(itemCall('s'))).text ?? '') as Record<string, unknown>;
      assert.equal(Review.safeParse(broken).success, false);
      assert.deepEqual({ ...broken, sentiment: normal.sentiment }, normal);
      assert.equal(broken.sentiment, '__not_in_enum__');
      const plain = await ai.models.generateContent({ model: MODEL, contents: 'no schema' });
      assert.equal(plain.text, '{"unexpected":true}');
    });
  });

  test('content faults: empty, safety, blocked prompt, recitation, max tokens', async () => {
    await withEmulator(
      {
        faults: [
          { fault: 'empty_response', itemKey: 'empty' },
          { fault: 'safety', itemKey: 'safety' },
          { fault: 'blocked_prompt', itemKey: 'blocked' },
          { fault: 'recitation', itemKey: 'recitation' },
          { fault: 'max_tokens', itemKey: 'max' },
        ],
      },
      async (_emulator, ai) => {
        const empty = await ai.models.generateContent(itemCall('empty'));
        assert.deepEqual(
          [empty.text, empty.candidates?.[0]?.finishReason, empty.candidates?.[0]?.content?.parts],
          [undefined, 'STOP', undefined],
        );

        const safety = await ai.models.generateContent(itemCall('safety'));
        assert.equal(safety.text, undefined);
        assert.equal(safety.candidates?.[0]?.finishReason, 'SAFETY');
        assert.deepEqual(
          safety.candidates?.[0]?.safetyRatings
            ?.filter((rating) => rating.blocked === true)
            .map((rating) => rating.probability),
          ['HIGH'],
        );

        const blocked = await ai.models.generateContent(itemCall('blocked'));
        assert.equal(blocked.candidates, undefined);
        assert.equal(blocked.promptFeedback?.blockReason, 'SAFETY');
        assert.ok((blocked.promptFeedback?.safetyRatings?.length ?? 0) > 0);

        const recitation = await ai.models.generateContent(itemCall('recitation'));
        assert.deepEqual([recitation.text, recitation.candidates?.[0]?.finishReason], [undefined, 'RECITATION']);

        const truncated = await ai.models.generateContent(itemCall('max'));
        assert.equal(truncated.candidates?.[0]?.finishReason, 'MAX_TOKENS');
        assert.ok((truncated.text ?? '').startsWith('{"'));
        assert.throws(() => JSON.parse(truncated.text ?? ''), SyntaxError);
      },
    );
  });

  test('attempts: [1, 2] fails the first two attempts of an item, then it succeeds; other items are untouched', async () => {
    await withEmulator(
      { faults: [{ fault: 'overloaded', itemKeyPrefix: 'batch-9/', attempts: [1, 2] }] },
      async (emulator, ai) => {
        assert.equal((await apiErrorOf(ai.models.generateContent(itemCall('batch-9/1')))).status, 503);
        assert.ok((await ai.models.generateContent(itemCall('batch-8/1'))).text);
        assert.equal((await apiErrorOf(ai.models.generateContent(itemCall('batch-9/1')))).status, 503);
        assert.ok((await ai.models.generateContent(itemCall('batch-9/1'))).text);
        assert.deepEqual(
          emulator
            .generateCalls({ itemKeyPrefix: 'batch-9/' })
            .map((entry) => [entry.attempt, entry.fault, entry.status]),
          [
            [1, 'overloaded', 503],
            [2, 'overloaded', 503],
            [3, undefined, 200],
          ],
        );
        emulator.reset();
        assert.equal(emulator.log.length, 0);
        assert.equal((await apiErrorOf(ai.models.generateContent(itemCall('batch-9/1')))).status, 503);
      },
    );
  });

  test('times spends a rule; a model filter skips other models', async () => {
    await withEmulator(
      {
        faults: [
          { fault: 'server_error', model: 'gemini-2.5-pro' },
          { fault: 'server_error', times: 2 },
        ],
      },
      async (emulator, ai) => {
        const outcomes: Array<number> = [];
        for (let index = 0; index < 4; index += 1) {
          try {
            await ai.models.generateContent(itemCall(`t/${index}`));
            outcomes.push(200);
          } catch (error) {
            outcomes.push((error as ApiError).status);
          }
        }
        assert.deepEqual(outcomes, [500, 500, 200, 200]);
        emulator.reset();
        assert.equal(
          (await apiErrorOf(ai.models.generateContent({ ...itemCall('p'), model: 'gemini-2.5-pro' }))).status,
          500,
        );
      },
    );
  });

  test('rate faults depend on the seed and item key, not on arrival order', async () => {
    const keys = Array.from({ length: 24 }, (_, index) => `rate/${index}`);
    async function faultedKeys(seed: number, order: string[]): Promise<string[]> {
      let faulted: string[] = [];
      await withEmulator({ seed, faults: [{ fault: 'overloaded', rate: 0.5 }] }, async (emulator, ai) => {
        await Promise.allSettled(order.map((key) => ai.models.generateContent(itemCall(key))));
        faulted = emulator
          .generateCalls()
          .filter((entry) => entry.fault === 'overloaded')
          .map((entry) => entry.itemKey ?? '')
          .sort();
      });
      return faulted;
    }
    const forward = await faultedKeys(7, keys);
    const backward = await faultedKeys(7, [...keys].reverse());
    const otherSeed = await faultedKeys(8, keys);
    assert.deepEqual(backward, forward);
    assert.ok(forward.length > 4 && forward.length < 20, `faulted ${forward.length} of 24`);
    assert.notDeepEqual(otherSeed, forward);
  });
});

describe('latency, concurrency and lifecycle', () => {
  test('latency delays every answer and five parallel calls are in flight together', async () => {
    await withEmulator({ latency: { baseMs: 200, jitterMs: 50 } }, async (emulator, ai) => {
      const started = Date.now();
      await Promise.all(Array.from({ length: 5 }, (_, index) => ai.models.generateContent(itemCall(`p/${index}`))));
      const elapsed = Date.now() - started;
      assert.ok(elapsed >= 200 && elapsed < 700, `elapsed ${elapsed}`);
      assert.equal(emulator.maxInFlight, 5);
      assert.equal(emulator.inFlight, 0);
      assert.deepEqual(emulator.log.map((entry) => entry.inFlightAtStart).sort(), [1, 2, 3, 4, 5]);
      for (const entry of emulator.log) {
        const took = (entry.endedAtMs ?? 0) - entry.startedAtMs;
        assert.ok(took >= 195 && took <= 300, `took ${took}`);
      }
      emulator.reset();
      assert.equal(emulator.maxInFlight, 0);
    });
  });

  test('control endpoints configure faults, validate input, expose the log and reset', async () => {
    await withEmulator({}, async (emulator, ai) => {
      const post = (path: string, body: unknown): Promise<Response> =>
        fetch(`${emulator.url}/_emulator/${path}`, { method: 'POST', body: JSON.stringify(body) });
      assert.equal((await post('config', { faults: [{ fault: 'overloaded', itemKey: 'c' }], seed: 3 })).status, 200);
      assert.equal((await apiErrorOf(ai.models.generateContent(itemCall('c')))).status, 503);

      const bad = await post('config', { faults: [{ fault: 'meltdown', rate: 2 }] });
      assert.equal(bad.status, 400);
      const message = ((await bad.json()) as GoogleErrorBody).error.message;
      assert.match(message, /faults\[0\]\.fault/);
      assert.match(message, /faults\[0\]\.rate/);

      const log = (await (await fetch(`${emulator.url}/_emulator/log`)).json()) as {
        entries: Array<{ itemKey: string; status: number }>;
        maxInFlight: number;
        inFlight: number;
      };
      assert.deepEqual(
        [log.entries.length, log.entries[0]?.itemKey, log.entries[0]?.status, log.maxInFlight, log.inFlight],
        [1, 'c', 503, 1, 0],
      );

      assert.equal((await post('reset', {})).status, 200);
      assert.equal(emulator.log.length, 0);
      const unknown = await fetch(`${emulator.url}/v1beta/models/${MODEL}:embedContent`, {
        method: 'POST',
        headers: { 'x-goog-api-key': 'k' },
        body: '{}',
      });
      assert.equal(unknown.status, 404);
      assert.equal(((await unknown.json()) as GoogleErrorBody).error.status, 'NOT_FOUND');
      assert.equal(emulator.log[0]?.route, 'other');
    });
  });

  test(
    'stop() returns promptly with a hanging request open, and the caller sees the connection drop',
    { timeout: 3000 },
    async () => {
      const emulator = await GeminiEmulator.start({ faults: [{ fault: 'hang' }] });
      const pending = failureOf(clientFor(emulator).models.generateContent(itemCall('h')));
      await new Promise((resolve) => setTimeout(resolve, 100));
      const started = Date.now();
      await emulator.stop();
      assert.ok(Date.now() - started < 500, `stop took ${Date.now() - started} ms`);
      const error = await pending;
      assert.ok(error instanceof TypeError, String(error));
      assert.equal(emulator.log[0]?.status, 'hang');
      assert.notEqual(emulator.log[0]?.endedAtMs, undefined);
    },
  );
});
