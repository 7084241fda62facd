/**
 * How a failed model-call activity reads in the item workflow: its category, the requests it sent
 * (the activity's call ledger), and whether it may be called again. The activity's classifier
 * decided `retryable` once; it is carried in the failure's details and never derived again here.
 */
import { ActivityFailure, ApplicationFailure, isCancellation, TimeoutFailure } from '@temporalio/workflow';
import type { CallModelOutput, DeferredCall } from '../activities';
import type { CallFailureDetails, FailedCall } from '../activities/call-ledger';
import { isErrorCategory, type ErrorCategory } from '../src/errors/categories';

/** A call's outcome: an answer (or a deferral), or the activity's failure (its own error). */
export type CallOutcome =
  { answer: CallModelOutput | DeferredCall; failure?: never } | { failure: Error | undefined; answer?: never };

/** Waits for a call; cancellation (item deadline, batch cancel) is not a failure of the call and goes through. */
export async function outcomeOf(call: Promise<CallModelOutput | DeferredCall>): Promise<CallOutcome> {
  try {
    return { answer: await call };
  } catch (error) {
    if (isCancellation(error)) throw error;
    if (error instanceof ActivityFailure) return { failure: error.cause };
    // A local activity's failure arrives as the activity's own error, not wrapped in an ActivityFailure.
    if (error instanceof ApplicationFailure || error instanceof TimeoutFailure) return { failure: error };
    throw error;
  }
}

export interface DescribedFailure {
  category: ErrorCategory;
  message: string;
  /** Requests sent without an answer, as the activity recorded them. */
  failures: FailedCall[];
  /** The activity stopped because the stage's call budget is spent. */
  budgetSpent: boolean;
  /** Temporal's retry policy would call again. */
  retryable: boolean;
  /** The provider's suggested wait (Gemini's RetryInfo), when it gave one. */
  retryDelayMs?: number;
  /** Temporal timed the call out (a sent request whose answer never came back). */
  timedOut: boolean;
}

export function describeFailure(cause: Error | undefined): DescribedFailure {
  if (cause instanceof ApplicationFailure) {
    const details = cause.details?.[0] as CallFailureDetails | undefined;
    const category = isErrorCategory(cause.type) ? cause.type : 'unknown';
    const retryDelayMs = details?.error.suggestedWaitMs ?? undefined;
    return {
      category,
      message: cause.message,
      failures: details?.failures ?? [],
      budgetSpent: details?.budgetSpent === true,
      // The classifier's decision; a failure the activity did not classify (unknown task, a bug
      // in our own code) is not retried from here.
      retryable: details !== undefined && details.error.retryable && !cause.nonRetryable,
      ...(retryDelayMs !== undefined ? { retryDelayMs } : {}),
      timedOut: false,
    };
  }
  if (cause instanceof TimeoutFailure) {
    return {
      category: 'timeout',
      message: `model call exceeded Temporal's ${cause.timeoutType} timeout`,
      failures: [],
      budgetSpent: false,
      retryable: true,
      timedOut: true,
    };
  }
  return {
    category: 'unknown',
    message: cause?.message ?? 'the model call failed without a cause',
    failures: [],
    budgetSpent: false,
    retryable: false,
    timedOut: false,
  };
}
