import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { GenerateContentParameters } from '@google/genai';
import { z } from 'zod';
import { GeminiEmulator, ITEM_KEY_HEADER } from '../src';
import type { SafetyRatingSpec } from '../src';
import { withEmulator } from './helpers/emulator';

delete process.env.GEMINI_API_KEY;
delete process.env.GOOGLE_API_KEY;
delete process.env.GOOGLE_GEMINI_BASE_URL;

const MODEL = 'gemini-2.5-flash';

const Verdict = z.object({ label: z.enum(['ok', 'flagged']), score: z.number().min(0).max(1) });
const verdictJsonSchema = z.toJSONSchema(Verdict);

const FOUR_NEGLIGIBLE: SafetyRatingSpec[] = [
  { category: 'HARM_CATEGORY_HARASSMENT', probability: 'NEGLIGIBLE' },
  { category: 'HARM_CATEGORY_HATE_SPEECH', probability: 'NEGLIGIBLE' },
  { category: 'HARM_CATEGORY_SEXUALLY_EXPLICIT', probability: 'NEGLIGIBLE' },
  { category: 'HARM_CATEGORY_DANGEROUS_CONTENT', probability: 'NEGLIGIBLE' },
];

const HATE_MEDIUM: SafetyRatingSpec[] = [
  { category: 'HARM_CATEGORY_HATE_SPEECH', probability: 'MEDIUM' },
  { category: 'HARM_CATEGORY_CIVIC_INTEGRITY', probability: 'LOW' },
];

function itemCall(itemKey: string): GenerateContentParameters {
  return {
    model: MODEL,
    contents: `Judge the comment of ${itemKey}`,
    config: {
      responseMimeType: 'application/json',
      responseJsonSchema: verdictJsonSchema,
      httpOptions: { headers: { [ITEM_KEY_HEADER]: itemKey } },
    },
  };
}

/** The plain JSON of what the SDK hands the caller, without its class wrappers. */
function plain(value: unknown): unknown {
  return value === undefined ? undefined : (JSON.parse(JSON.stringify(value)) as unknown);
}

function postConfig(emulator: GeminiEmulator, body: unknown): Promise<Response> {
  return fetch(`${emulator.url}/_emulator/config`, { method: 'POST', body: JSON.stringify(body) });
}

describe('safety ratings on normal answers', () => {
  test('by default a normal answer carries four NEGLIGIBLE ratings', async () => {
    await withEmulator({}, async (_emulator, ai) => {
      const response = await ai.models.generateContent(itemCall('default'));
      assert.equal(response.candidates?.[0]?.finishReason, 'STOP');
      assert.deepEqual(plain(response.candidates?.[0]?.safetyRatings), FOUR_NEGLIGIBLE);
    });
  });

  test('safetyRatings: [] omits the field, at start, through configure() and over HTTP', async () => {
    await withEmulator({ safetyRatings: [] }, async (emulator, ai) => {
      const atStart = await ai.models.generateContent(itemCall('a'));
      assert.ok(Verdict.safeParse(JSON.parse(atStart.text ?? '')).success);
      assert.equal(atStart.candidates?.[0]?.safetyRatings, undefined);

      emulator.configure({ safetyRatings: FOUR_NEGLIGIBLE });
      assert.equal((await ai.models.generateContent(itemCall('b'))).candidates?.[0]?.safetyRatings?.length, 4);
      assert.equal((await postConfig(emulator, { safetyRatings: [] })).status, 200);
      assert.equal((await ai.models.generateContent(itemCall('c'))).candidates?.[0]?.safetyRatings, undefined);
    });
  });

  test('custom global ratings appear on every normal candidate exactly as given', async () => {
    await withEmulator({}, async (emulator, ai) => {
      emulator.configure({ safetyRatings: HATE_MEDIUM });
      for (const key of ['x', 'y']) {
        const response = await ai.models.generateContent(itemCall(key));
        assert.deepEqual(plain(response.candidates?.[0]?.safetyRatings), HATE_MEDIUM);
      }
      const civic: SafetyRatingSpec[] = [
        { category: 'HARM_CATEGORY_CIVIC_INTEGRITY', probability: 'HIGH', blocked: false },
      ];
      assert.equal((await postConfig(emulator, { safetyRatings: civic })).status, 200);
      assert.deepEqual(plain((await ai.models.generateContent(itemCall('z'))).candidates?.[0]?.safetyRatings), civic);
    });
  });
});

describe('safety and finish faults', () => {
  test('a ratings fault gives one item a normal, parseable answer with the rule ratings; other items keep the defaults', async () => {
    await withEmulator(
      { faults: [{ fault: 'ratings', itemKey: 'flagged', safetyRatings: HATE_MEDIUM }] },
      async (emulator, ai) => {
        const flagged = await ai.models.generateContent(itemCall('flagged'));
        const fine = await ai.models.generateContent(itemCall('fine'));
        assert.equal(flagged.candidates?.[0]?.finishReason, 'STOP');
        assert.ok(Verdict.safeParse(JSON.parse(flagged.text ?? '')).success, flagged.text);
        assert.ok((flagged.usageMetadata?.candidatesTokenCount ?? 0) > 0);
        assert.deepEqual(plain(flagged.candidates?.[0]?.safetyRatings), HATE_MEDIUM);
        assert.deepEqual(plain(fine.candidates?.[0]?.safetyRatings), FOUR_NEGLIGIBLE);
        assert.deepEqual(
          emulator.generateCalls().map((entry) => [entry.itemKey, entry.fault, entry.finishReason]),
          [
            ['flagged', 'ratings', 'STOP'],
            ['fine', undefined, 'STOP'],
          ],
        );
      },
    );
  });

  test('a finish fault answers that finishReason with no parts and no candidate tokens', async () => {
    const reasons = ['PROHIBITED_CONTENT', 'BLOCKLIST', 'SPII', 'LANGUAGE', 'OTHER'];
    const faults = reasons.map((finishReason) => ({ fault: 'finish' as const, itemKey: finishReason, finishReason }));
    await withEmulator({ faults }, async (emulator, ai) => {
      for (const reason of reasons) {
        const response = await ai.models.generateContent(itemCall(reason));
        assert.equal(response.candidates?.[0]?.finishReason, reason);
        assert.equal(response.text, undefined, reason);
        assert.equal(response.candidates?.[0]?.content?.parts, undefined);
        assert.equal(response.usageMetadata?.candidatesTokenCount, undefined);
        assert.equal(response.usageMetadata?.totalTokenCount, response.usageMetadata?.promptTokenCount);
        assert.ok(response.responseId);
      }
      assert.deepEqual(
        emulator.generateCalls().map((entry) => entry.finishReason),
        reasons,
      );
    });
  });

  test('a finish fault carries the rule ratings; an unlisted uppercase reason is accepted', async () => {
    const ratings: SafetyRatingSpec[] = [
      { category: 'HARM_CATEGORY_SEXUALLY_EXPLICIT', probability: 'HIGH', blocked: true },
    ];
    await withEmulator(
      {
        faults: [
          { fault: 'finish', itemKey: 'spii', finishReason: 'SPII', safetyRatings: ratings },
          { fault: 'finish', finishReason: 'FUTURE_REASON' },
        ],
      },
      async (_emulator, ai) => {
        const spii = await ai.models.generateContent(itemCall('spii'));
        assert.deepEqual(plain(spii.candidates?.[0]?.safetyRatings), ratings);
        const future = await ai.models.generateContent(itemCall('other'));
        assert.deepEqual(
          [future.candidates?.[0]?.finishReason, future.candidates?.[0]?.safetyRatings],
          ['FUTURE_REASON', undefined],
        );
      },
    );
  });

  test('blocked_prompt with blockReason and ratings: no candidates, the given feedback, prompt-only usage, a responseId', async () => {
    const ratings: SafetyRatingSpec[] = [
      { category: 'HARM_CATEGORY_HARASSMENT', probability: 'LOW' },
      { category: 'HARM_CATEGORY_HATE_SPEECH', probability: 'HIGH', blocked: true },
    ];
    const faults = [{ fault: 'blocked_prompt' as const, blockReason: 'PROHIBITED_CONTENT', safetyRatings: ratings }];
    await withEmulator({ faults }, async (emulator, ai) => {
      const response = await ai.models.generateContent(itemCall('blocked'));
      assert.equal(response.candidates, undefined);
      assert.equal(response.text, undefined);
      assert.equal(response.promptFeedback?.blockReason, 'PROHIBITED_CONTENT');
      assert.deepEqual(plain(response.promptFeedback?.safetyRatings), ratings);
      const promptTokenCount = response.usageMetadata?.promptTokenCount ?? 0;
      assert.ok(promptTokenCount > 0);
      assert.deepEqual(plain(response.usageMetadata), { promptTokenCount, totalTokenCount: promptTokenCount });
      assert.match(response.responseId ?? '', /\S/);
      assert.equal(response.modelVersion, MODEL);
      const [entry] = emulator.generateCalls();
      assert.deepEqual([entry?.blockReason, entry?.finishReason], ['PROHIBITED_CONTENT', undefined]);
    });
  });

  test('safety with custom ratings replaces the default blocked rating', async () => {
    const ratings: SafetyRatingSpec[] = [
      { category: 'HARM_CATEGORY_HARASSMENT', probability: 'MEDIUM', blocked: true },
    ];
    await withEmulator(
      { faults: [{ fault: 'safety', itemKey: 'custom', safetyRatings: ratings }, { fault: 'safety' }] },
      async (_emulator, ai) => {
        const custom = await ai.models.generateContent(itemCall('custom'));
        assert.deepEqual([custom.text, custom.candidates?.[0]?.finishReason], [undefined, 'SAFETY']);
        assert.deepEqual(plain(custom.candidates?.[0]?.safetyRatings), ratings);
        const standard = await ai.models.generateContent(itemCall('standard'));
        assert.deepEqual(plain(standard.candidates?.[0]?.safetyRatings?.filter((rating) => rating.blocked === true)), [
          { category: 'HARM_CATEGORY_DANGEROUS_CONTENT', probability: 'HIGH', blocked: true },
        ]);
      },
    );
  });

  test('rule ratings ride on every other answer fault too, and [] strips them from a blocked answer', async () => {
    const kinds = ['max_tokens', 'schema_invalid', 'empty_response', 'recitation'] as const;
    const faults = [
      ...kinds.map((fault) => ({ fault, itemKey: fault, safetyRatings: HATE_MEDIUM })),
      { fault: 'safety' as const, itemKey: 'bare-safety', safetyRatings: [] },
      { fault: 'blocked_prompt' as const, itemKey: 'bare-prompt', safetyRatings: [] },
    ];
    await withEmulator({ faults }, async (_emulator, ai) => {
      for (const kind of kinds) {
        const response = await ai.models.generateContent(itemCall(kind));
        assert.deepEqual(plain(response.candidates?.[0]?.safetyRatings), HATE_MEDIUM, kind);
      }
      const bareSafety = await ai.models.generateContent(itemCall('bare-safety'));
      assert.deepEqual(
        [bareSafety.candidates?.[0]?.finishReason, bareSafety.candidates?.[0]?.safetyRatings],
        ['SAFETY', undefined],
      );
      const barePrompt = await ai.models.generateContent(itemCall('bare-prompt'));
      assert.deepEqual(plain(barePrompt.promptFeedback), { blockReason: 'SAFETY' });
    });
  });

  test('every 200 answer, blocked or not, streamed or not, has its own responseId and the modelVersion', async () => {
    const kinds = [
      'ratings',
      'safety',
      'blocked_prompt',
      'recitation',
      'empty_response',
      'max_tokens',
      'schema_invalid',
      'finish',
    ] as const;
    await withEmulator({ faults: kinds.map((fault) => ({ fault, itemKey: fault })) }, async (_emulator, ai) => {
      const ids = new Set<string>();
      for (const kind of [...kinds, 'normal']) {
        const response = await ai.models.generateContent(itemCall(kind));
        assert.ok(response.responseId, kind);
        assert.equal(response.modelVersion, MODEL, kind);
        ids.add(response.responseId);
      }
      const chunks = [];
      for await (const chunk of await ai.models.generateContentStream(itemCall('blocked_prompt'))) chunks.push(chunk);
      assert.equal(chunks.length, 1);
      assert.equal(chunks[0]?.promptFeedback?.blockReason, 'SAFETY');
      assert.ok(chunks[0]?.responseId);
      ids.add(chunks[0].responseId);
      assert.equal(ids.size, kinds.length + 2);
    });
  });
});

describe('validation and the log', () => {
  test('a bad probability is refused by configure(), by start() and over HTTP, naming the field', async () => {
    const bad = [{ category: 'HARM_CATEGORY_HATE_SPEECH', probability: 'SEVERE' }] as unknown as SafetyRatingSpec[];
    await withEmulator({}, async (emulator, ai) => {
      assert.throws(() => emulator.configure({ safetyRatings: bad }), /safetyRatings\[0\]\.probability/);
      assert.throws(
        () => emulator.configure({ faults: [{ fault: 'ratings', safetyRatings: bad }] }),
        /faults\[0\]\.safetyRatings\[0\]\.probability/,
      );
      const response = await postConfig(emulator, { faults: [{ fault: 'safety', safetyRatings: bad }] });
      assert.equal(response.status, 400);
      const { error } = (await response.json()) as { error: { status: string; message: string } };
      assert.equal(error.status, 'INVALID_ARGUMENT');
      assert.match(error.message, /faults\[0\]\.safetyRatings\[0\]\.probability/);
      // Nothing was half-applied: answers keep the default ratings.
      assert.equal((await ai.models.generateContent(itemCall('after'))).candidates?.[0]?.safetyRatings?.length, 4);
    });
    const started = GeminiEmulator.start({ safetyRatings: bad });
    // Should start() accept the ratings after all, stop the emulator so the run does not hang.
    void started.then(
      (emulator) => emulator.stop(),
      () => undefined,
    );
    await assert.rejects(started, /safetyRatings\[0\]\.probability/);
  });

  test('reasons must be uppercase identifiers and belong to their fault; ratings only on answer faults', async () => {
    await withEmulator({}, async (emulator) => {
      const cases: Array<[unknown, RegExp]> = [
        [{ fault: 'finish', finishReason: 'prohibited content' }, /faults\[0\]\.finishReason/],
        [{ fault: 'blocked_prompt', blockReason: 'jailbreak' }, /faults\[0\]\.blockReason/],
        [
          { fault: 'safety', finishReason: 'SPII' },
          /finishReason applies to fault finish[\s\S]*faults\[0\]\.finishReason/,
        ],
        [{ fault: 'safety', blockReason: 'OTHER' }, /faults\[0\]\.blockReason/],
        [{ fault: 'overloaded', safetyRatings: [] }, /faults\[0\]\.safetyRatings/],
        [{ fault: 'ratings', route: 'cacheGet' }, /faults\[0\]\.fault/],
        [
          { fault: 'ratings', safetyRatings: [{ category: 'HARM_CATEGORY_JAILBREAK', probability: 'LOW' }] },
          /faults\[0\]\.safetyRatings\[0\]\.category/,
        ],
      ];
      for (const [rule, field] of cases) {
        const response = await postConfig(emulator, { faults: [rule] });
        assert.equal(response.status, 400, JSON.stringify(rule));
        assert.match(((await response.json()) as { error: { message: string } }).error.message, field);
      }
    });
  });

  test('log entries carry finishReason for candidates and blockReason for blocked prompts, also over HTTP', async () => {
    const faults = [
      { fault: 'max_tokens' as const, itemKey: 'max' },
      { fault: 'safety' as const, itemKey: 'safety' },
      { fault: 'blocked_prompt' as const, itemKey: 'jailbreak', blockReason: 'JAILBREAK' },
      { fault: 'finish' as const, itemKey: 'language', finishReason: 'LANGUAGE' },
      { fault: 'overloaded' as const, itemKey: 'overloaded' },
    ];
    await withEmulator({ faults }, async (emulator, ai) => {
      for (const key of ['normal', 'max', 'safety', 'jailbreak', 'language', 'overloaded']) {
        await ai.models.generateContent(itemCall(key)).catch(() => undefined);
      }
      const expected = [
        ['normal', 200, 'STOP', undefined],
        ['max', 200, 'MAX_TOKENS', undefined],
        ['safety', 200, 'SAFETY', undefined],
        ['jailbreak', 200, undefined, 'JAILBREAK'],
        ['language', 200, 'LANGUAGE', undefined],
        ['overloaded', 503, undefined, undefined],
      ];
      assert.deepEqual(
        emulator.generateCalls().map((entry) => [entry.itemKey, entry.status, entry.finishReason, entry.blockReason]),
        expected,
      );
      const overHttp = (await (await fetch(`${emulator.url}/_emulator/log`)).json()) as {
        entries: Array<{ itemKey: string; status: number; finishReason?: string; blockReason?: string }>;
      };
      assert.deepEqual(
        overHttp.entries.map((entry) => [entry.itemKey, entry.status, entry.finishReason, entry.blockReason]),
        expected,
      );
    });
  });
});
