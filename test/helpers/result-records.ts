import type { ItemResult } from '../../src/schemas';

/** A realistic record (about 1 KB: output, metadata, one attempt) of item `item-<n>` at input position n. */
export function sampleResult(batchId: string, index: number, note = ''): ItemResult {
  const usage = {
    inputTokens: 412 + (index % 50),
    outputTokens: 96 + (index % 17),
    cachedTokens: 0,
    thoughtsTokens: 0,
  };
  const metadata = {
    finishReason: 'STOP',
    safetyRatings: {
      HARM_CATEGORY_HATE_SPEECH: 'NEGLIGIBLE',
      HARM_CATEGORY_DANGEROUS_CONTENT: 'NEGLIGIBLE',
      HARM_CATEGORY_HARASSMENT: 'NEGLIGIBLE',
      HARM_CATEGORY_SEXUALLY_EXPLICIT: 'NEGLIGIBLE',
    },
    blockedCategories: [],
    modelVersion: 'gemini-3.5-flash',
    responseId: `resp-${index.toString(36)}-${batchId}`,
    usage,
  };
  const startedAt = new Date(Date.UTC(2026, 0, 1, 0, 0, 0, index)).toISOString();
  return {
    batchId,
    itemId: `item-${index}`,
    index,
    status: 'succeeded',
    output: {
      title: `Product ${index} — stainless steel kettle, 1.7 l`,
      category: ['kitchen', 'appliances', 'kettles'][index % 3],
      summary: `A 1.7 litre kettle with auto shut-off and a removable limescale filter; item ${index}. ${note}`,
      keywords: ['kettle', 'stainless', 'kitchen', 'fast boil'],
      priceBand: 'mid',
    },
    metadata,
    model: 'gemini-3.5-flash',
    usage,
    costUsd: 0.000123,
    modelCalls: 1,
    attempts: [
      {
        call: 1,
        stage: 1,
        mode: 'full',
        model: 'gemini-3.5-flash',
        temperature: 0,
        startedAt,
        durationMs: 812,
        usage,
        costUsd: 0.000123,
        metadata,
        outcome: 'ok',
      },
    ],
    startedAt,
    finishedAt: startedAt,
    durationMs: 815,
  };
}

/** sampleResult ending otherwise: without output, and with an error when failed (every 20th validation_error, else server_error). */
export function sampleResultWithStatus(
  batchId: string,
  index: number,
  status: ItemResult['status'] = 'succeeded',
  note = '',
): ItemResult {
  const record = sampleResult(batchId, index, note);
  if (status === 'succeeded') return record;
  const { output: _output, ...rest } = record;
  return {
    ...rest,
    status,
    ...(status === 'failed'
      ? { error: { category: index % 20 === 0 ? 'validation_error' : 'server_error', message: `failed ${note}` } }
      : {}),
  };
}
