import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { GenerateContentResponse } from '@google/genai';
import { answerOf, textOf } from '../../src/providers/gemini/answers';
import { judgeAnswer as judge, mergePartial, partialStateOf } from '../../src/providers/judge';
import { describeShape, fullPrompt, partialPrompt } from '../../src/providers/prompts';
import type { PartialState } from '../../src/stages';
import { ProductEnrichmentSchema, demoEnrichmentTask } from '../../src/tasks/demo-enrichment';
import type { AnyTask } from '../../src/tasks/registry';

const task = { outputSchema: ProductEnrichmentSchema };
const valid = {
  category: 'kitchen',
  summary: 'A kettle that boils water fast.',
  keywords: ['kettle'],
  audience: 'consumer',
  priceTier: 'mid',
};

function answer(text: string | undefined, finishReason = 'STOP'): GenerateContentResponse {
  return {
    candidates: [{ content: { role: 'model', parts: text === undefined ? [] : [{ text }] }, finishReason }],
    get text() {
      return text;
    },
  } as unknown as GenerateContentResponse;
}

/** A Gemini response as the activity judges it: read by the Gemini provider, then judged. */
const judgeAnswer = (t: typeof task, response: GenerateContentResponse, partial?: PartialState) =>
  judge(t, answerOf(response), partial);

describe('judging answers', () => {
  test('a valid answer is the output', () => {
    assert.deepEqual(judgeAnswer(task, answer(JSON.stringify(valid))), { kind: 'ok', output: valid });
  });

  test('an invalid field keeps the others as repair material', () => {
    const judged = judgeAnswer(task, answer(JSON.stringify({ ...valid, priceTier: 'cheap', keywords: [] })));
    assert.equal(judged.kind, 'unusable');
    assert.ok(judged.kind === 'unusable' && judged.partial);
    assert.equal(judged.category, 'validation_error');
    assert.deepEqual(judged.partial.failedFields.sort(), ['keywords', 'priceTier']);
    assert.deepEqual(judged.partial.kept, { category: 'kitchen', summary: valid.summary, audience: 'consumer' });
    assert.deepEqual(judged.partial.previous, { keywords: [], priceTier: 'cheap' });
  });

  test('a partial answer is merged over the kept fields and the whole validated again', () => {
    const partial = partialStateOf(
      ProductEnrichmentSchema,
      { ...valid, priceTier: 'cheap' },
      ProductEnrichmentSchema.safeParse({ ...valid, priceTier: 'cheap' }).error!,
    )!;
    const judged = judgeAnswer(task, answer(JSON.stringify({ priceTier: 'premium', category: 'toys' })), partial);
    assert.deepEqual(
      judged,
      { kind: 'ok', output: { ...valid, priceTier: 'premium' } },
      'only failed fields are taken from a partial answer',
    );
    assert.deepEqual(mergePartial(partial, { priceTier: 'budget' }), { ...valid, priceTier: 'budget' });
  });

  test('unparseable JSON, empty text, MAX_TOKENS, RECITATION, SAFETY and blocked prompts are named', () => {
    const categoryOf = (response: GenerateContentResponse) => {
      const judged = judgeAnswer(task, response);
      return judged.kind === 'unusable' ? judged.category : 'ok';
    };
    assert.equal(categoryOf(answer('{"category": "kit')), 'validation_error');
    assert.equal(categoryOf(answer(undefined)), 'empty_response');
    assert.equal(categoryOf(answer('{"category": "kit', 'MAX_TOKENS')), 'truncated');
    assert.equal(categoryOf(answer(undefined, 'RECITATION')), 'recitation');
    for (const reason of ['SAFETY', 'PROHIBITED_CONTENT', 'BLOCKLIST', 'SPII'])
      assert.equal(categoryOf(answer(undefined, reason)), 'safety_blocked');
    assert.equal(
      categoryOf({ promptFeedback: { blockReason: 'SAFETY' } } as unknown as GenerateContentResponse),
      'safety_blocked',
    );
  });

  test('no partial state when the answer is not an object or the error is at the root', () => {
    const error = ProductEnrichmentSchema.safeParse([1]).error!;
    assert.equal(partialStateOf(ProductEnrichmentSchema, [1], error), undefined);
  });

  test('shapes are described in a few words', () => {
    assert.equal(
      describeShape({
        type: 'array',
        items: { type: 'string', minLength: 2, maxLength: 40 },
        minItems: 1,
        maxItems: 5,
      }),
      'array of string, 2-40 chars, 1-5 items',
    );
    assert.equal(describeShape({ type: 'integer', minimum: 0 }), 'integer, in >= 0');
    assert.equal(describeShape({ enum: ['a', 'b'] }), 'one of "a"|"b"');
  });

  test('the partial prompt names only the failed fields and is a fraction of the full prompt', () => {
    const item = {
      id: 'p1',
      index: 0,
      data: {
        id: 'p1',
        name: 'Kettle',
        description:
          'A 1.7 litre electric kettle with auto shut-off and a limescale filter; boils in under three minutes.',
      },
    };
    const anyTask = demoEnrichmentTask as unknown as AnyTask;
    const invalid = { ...valid, priceTier: 'cheap' };
    const partial = partialStateOf(
      ProductEnrichmentSchema,
      invalid,
      ProductEnrichmentSchema.safeParse(invalid).error!,
    )!;
    const repair = partialPrompt(anyTask, item, partial);
    const full = fullPrompt(anyTask, item);
    assert.match(
      repair.prompt,
      /- priceTier \(was "cheap"\): Invalid option: expected one of "budget"\|"mid"\|"premium"/,
    );
    assert.doesNotMatch(repair.prompt, /summary/);
    assert.match(repair.prompt, /Item: Kettle$/);
    assert.ok(repair.prompt.length < (full.prompt.length + (full.systemInstruction?.length ?? 0)) * 0.3);
    assert.deepEqual(Object.keys(repair.responseJsonSchema['properties'] as object), ['priceTier']);
    assert.equal(repair.systemInstruction, undefined);
    assert.ok(full.systemInstruction && full.prompt.includes('Kettle'));
  });
});

describe('answers from plain response objects (Batch Mode)', () => {
  test('text is read from the first candidate’s parts as the SDK’s getter reads it: thoughts skipped, parts joined', () => {
    const plain = (parts: Array<{ text?: string; thought?: boolean }>) =>
      ({ candidates: [{ content: { role: 'model', parts }, finishReason: 'STOP' }] }) as GenerateContentResponse;
    assert.equal(
      answerOf(plain([{ text: 'thinking…', thought: true }, { text: '{"a":' }, { text: '1}' }])).text,
      '{"a":1}',
    );
    assert.equal(answerOf(plain([])).text, undefined);
    assert.equal(answerOf(plain([{ text: 'only a thought', thought: true }])).stopped?.category, 'empty_response');
    const real = Object.assign(new GenerateContentResponse(), {
      candidates: [{ content: { role: 'model', parts: [{ text: 'x', thought: true }, { text: '{}' }] } }],
    });
    assert.equal(answerOf(real).text, real.text);
    assert.equal(textOf(real), real.text);
  });
});
