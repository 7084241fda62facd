/**
 * An item's final record and the compact outcome its batch counts, and how an unsuccessful item
 * ends its workflow. Pure (no @temporalio import): the item workflow commits the record, then
 * reports exactly what was committed.
 */
import { batchSavingUsd, roundUsd } from '../src/pricing';
import type { ItemOutcome, ItemResult, ItemStatus } from '../src/schemas';

/** Statuses whose item workflow completes; the others fail it, so the Web UI lists them as failed. */
const COMPLETING = Object.freeze<ItemStatus[]>(['succeeded', 'filtered']);

/** What the batch counts of an item: its committed record without the model output. */
export function itemOutcomeOf(result: ItemResult): ItemOutcome {
  const unpricedModels = [
    ...new Set(result.attempts.filter((attempt) => attempt.costUsd === undefined).map((attempt) => attempt.model)),
  ];
  const metadata = result.metadata;
  const batchAttempts = result.attempts.filter((attempt) => attempt.via === 'batch');
  const batchCost = batchAttempts.reduce((sum, attempt) => sum + (attempt.costUsd ?? 0), 0);
  const savedUsd = roundUsd(batchSavingUsd(batchCost));
  const message = result.error?.message ?? result.stopReason;
  return {
    itemId: result.itemId,
    index: result.index,
    status: result.status,
    ...(result.error ? { category: result.error.category } : {}),
    ...(!COMPLETING.includes(result.status) && message ? { message } : {}),
    usage: result.usage,
    costUsd: result.costUsd,
    ...(unpricedModels.length > 0 ? { unpricedModels } : {}),
    modelCalls: result.modelCalls,
    durationMs: result.durationMs,
    ...(metadata?.finishReason
      ? { finishReason: metadata.finishReason }
      : metadata?.blockReason
        ? { finishReason: `PROMPT_BLOCKED_${metadata.blockReason}` }
        : {}),
    ...(metadata && Object.keys(metadata.safetyRatings).length > 0 ? { safety: metadata.safetyRatings } : {}),
    ...(batchAttempts.length > 0 ? { batchCalls: batchAttempts.length, savedUsd } : {}),
  };
}

/** How the item's workflow ends: completed with its outcome, or failed (type and message) carrying it. */
export type ItemEnding = { completes: true } | { completes: false; type: string; message: string };

export function endingOf(outcome: ItemOutcome): ItemEnding {
  if (COMPLETING.includes(outcome.status)) return { completes: true };
  const type =
    outcome.status === 'failed' || outcome.status === 'blocked' ? (outcome.category ?? outcome.status) : outcome.status;
  const reason = outcome.message ?? (outcome.category ? `${outcome.category}` : 'no reason recorded');
  return {
    completes: false,
    type,
    message: `item "${outcome.itemId}" ${outcome.status}${outcome.category && outcome.status === 'failed' ? ` (${outcome.category})` : ''}: ${reason}`,
  };
}

/** True for the details an item workflow's failure carries: its outcome, which the batch counts like a completed item's. */
export function isItemOutcome(value: unknown): value is ItemOutcome {
  if (typeof value !== 'object' || value === null) return false;
  const candidate = value as Partial<ItemOutcome>;
  return (
    typeof candidate.itemId === 'string' &&
    typeof candidate.status === 'string' &&
    typeof candidate.modelCalls === 'number' &&
    typeof candidate.usage === 'object'
  );
}
