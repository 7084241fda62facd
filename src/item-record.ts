/**
 * An item's record and its attempt records, built one way wherever an item ends: in its workflow
 * (workflows/item-finish.ts), or inside the local model call whose answer ends it
 * (activities/model-call.ts), which then writes the record itself and saves the item a second
 * local activity. Pure: no I/O and no clock (times come in as arguments), so the workflow rebuilds
 * exactly the record the activity wrote.
 */
import type { CallModelOutput, FailedCall } from '../activities/model-call';
import { roundUsd, usageCost, type Price } from './pricing';
import type { AttemptRecord, ItemError, ItemResult, ItemStatus, Usage } from './schemas';
import { emptyUsage } from './usage';

/** The stage call an attempt belongs to. */
export interface AttemptContext {
  /** Model calls the item made before this stage's call. */
  callsBefore: number;
  stage: number;
  mode: 'full' | 'partial';
  model: string;
  temperature: number;
  cachedContent?: string | undefined;
  /** When the stage's call began (ISO); an attempt that knows its own start keeps that. */
  startedAt: string;
  /** The model's price, when it has one: attempts are then priced. */
  price?: Price | undefined;
}

/** The attempt record of request `number` of the stage. */
export function attemptRecord(
  context: AttemptContext,
  number: number,
  fields: Pick<AttemptRecord, 'durationMs' | 'usage' | 'outcome'> &
    Pick<Partial<AttemptRecord>, 'metadata' | 'startedAt'> & { message?: string },
): AttemptRecord {
  return {
    call: context.callsBefore + number,
    stage: context.stage,
    mode: context.mode,
    model: context.model,
    temperature: context.temperature,
    startedAt: context.startedAt,
    ...(context.price ? { costUsd: usageCost(fields.usage, context.price) } : {}),
    ...(context.cachedContent ? { cachedContent: context.cachedContent } : {}),
    ...fields,
  };
}

/** A request that brought no answer. */
export function failedAttempt(context: AttemptContext, failure: FailedCall): AttemptRecord {
  return attemptRecord(context, failure.attempt, {
    durationMs: failure.durationMs,
    usage: emptyUsage(),
    outcome: failure.category,
    message: failure.message,
    // When the activity recorded it: each retry its own start, not the stage's.
    ...(failure.startedAt ? { startedAt: failure.startedAt } : {}),
  });
}

/** The attempts of a stage call that got an answer: the failed requests before it, then the answer's. */
export function answeredAttempts(context: AttemptContext, answer: CallModelOutput): AttemptRecord[] {
  const attempts = answer.previousFailures.map((failure) => failedAttempt(context, failure));
  attempts.push(
    attemptRecord(context, answer.activityAttempt, {
      durationMs: answer.durationMs,
      usage: answer.usage,
      metadata: answer.metadata,
      outcome: answer.kind === 'ok' ? 'ok' : answer.category,
      ...(answer.startedAt ? { startedAt: answer.startedAt } : {}),
      ...(answer.kind === 'unusable' ? { message: answer.message } : {}),
    }),
  );
  return attempts;
}

/** Everything an item's record is made of. */
export interface ItemRecordParts {
  batchId: string;
  itemId: string;
  index: number;
  model: string;
  status: ItemStatus;
  output?: unknown;
  error?: ItemError | undefined;
  /** The answer whose metadata the record carries: the accepted one, else the last. */
  answer?: CallModelOutput | undefined;
  stopReason?: string | undefined;
  usage: Usage;
  modelCalls: number;
  attempts: AttemptRecord[];
  startedAt: string;
  finishedAt: string;
}

export function itemRecord(parts: ItemRecordParts): ItemResult {
  const { status, output, error, answer, attempts, startedAt, finishedAt } = parts;
  const metadata = answer?.metadata;
  return {
    batchId: parts.batchId,
    itemId: parts.itemId,
    index: parts.index,
    status,
    ...(output !== undefined ? { output } : {}),
    ...(error ? { error } : {}),
    ...(metadata ? { metadata } : {}),
    ...(status === 'filtered' && answer?.filteredBy ? { filteredBy: answer.filteredBy } : {}),
    ...(answer?.rawResponse !== undefined ? { rawResponse: answer.rawResponse } : {}),
    ...(parts.stopReason ? { stopReason: parts.stopReason } : {}),
    model: parts.model,
    usage: parts.usage,
    costUsd: roundUsd(attempts.reduce((sum, attempt) => sum + (attempt.costUsd ?? 0), 0)),
    modelCalls: parts.modelCalls,
    attempts,
    startedAt,
    finishedAt,
    durationMs: Date.parse(finishedAt) - Date.parse(startedAt),
  };
}

/**
 * What the item's first (local) call is told when its answer, if valid, ends the item: the
 * call then writes the item's record itself (see CallModelInput.finishIfValid).
 */
export interface FinishIfValid {
  index: number;
  /** The item's model (its record's `model`), which a stage may override for the call. */
  itemModel: string;
  /** The item workflow's start (ISO). */
  itemStartedAt: string;
  attempt: AttemptContext;
}

/** The record of an item whose first call brought a valid answer: succeeded, or filtered by its safety thresholds. */
export function validFirstAnswerRecord(
  call: { batchId: string; itemId: string },
  finish: FinishIfValid,
  answer: CallModelOutput & { kind: 'ok' },
  finishedAt: string,
): ItemResult {
  return itemRecord({
    batchId: call.batchId,
    itemId: call.itemId,
    index: finish.index,
    model: finish.itemModel,
    status: answer.filteredBy ? 'filtered' : 'succeeded',
    output: answer.output,
    answer,
    usage: answer.usage,
    modelCalls: answer.activityAttempt,
    attempts: answeredAttempts(finish.attempt, answer),
    startedAt: finish.itemStartedAt,
    finishedAt,
  });
}
