/**
 * The call ledger: the one record of the requests a stage sent. The model-call activity keeps it
 * in its heartbeat details (so it survives retries and crashed workers), counts a request left in
 * flight as lost, refuses to send past the stage's budget, and hands it to the workflow in the
 * answer or in the failure's details — with the classifier's retry decision, made once.
 */
import type { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { LOST_IN_CRASH } from '../src/constants';
import type { ErrorCategory } from '../src/errors/categories';
import { makeErrorInfo, type ErrorInfo } from '../src/errors/classify';
import { classifiedFailure } from './failures';

/**
 * A request sent to the model that brought no answer: it failed, or its answer was lost with the
 * worker that sent it (`lost_in_crash`). Every one counts against the item's call budget.
 */
export interface FailedCall {
  /** 1-based request number within the stage. */
  attempt: number;
  category: ErrorCategory | typeof LOST_IN_CRASH;
  message: string;
  durationMs: number;
  /** When the request was sent (ISO); absent in records written before it was kept. */
  startedAt?: string;
}

/** What a failed callModel carries in its ApplicationFailure details. */
export interface CallFailureDetails {
  error: ErrorInfo;
  failures: FailedCall[];
  /** The stage's call budget is spent: no request may follow. */
  budgetSpent?: boolean;
}

/**
 * The stage's record of requests sent, kept in heartbeat details so that it survives a retry or a
 * crashed worker: failures so far, and the request in flight (set just before it is sent). An
 * attempt that never reached the model leaves it as it was, so it costs nothing.
 */
export interface CallLedger {
  failures: FailedCall[];
  sending?: { call: number; startedAt: number };
}

/** The ledger as the previous attempt left it (else the local call's failures), a request left in flight counted as lost. */
export function ledgerOf(context: Context, priorFailures: FailedCall[] | undefined): CallLedger {
  const details = context.info.heartbeatDetails as Partial<CallLedger> | undefined;
  const failures = [...(Array.isArray(details?.failures) ? details.failures : (priorFailures ?? []))];
  const sending = details?.sending;
  if (sending && !failures.some((failure) => failure.attempt === sending.call)) {
    failures.push({
      attempt: sending.call,
      category: LOST_IN_CRASH,
      message: 'the request was sent, but its answer was never recorded (its worker stopped, or the attempt timed out)',
      durationMs: Math.max(0, Date.now() - sending.startedAt),
      startedAt: new Date(sending.startedAt).toISOString(),
    });
  }
  return { failures };
}

/** The stage may send no more requests: a non-retryable failure of the last request's category. */
export function budgetSpent(failures: FailedCall[], cause?: unknown): ApplicationFailure {
  const last = failures[failures.length - 1];
  const category: ErrorCategory = last && last.category !== LOST_IN_CRASH ? last.category : 'unknown';
  const details: CallFailureDetails = {
    error: makeErrorInfo(category, last?.message ?? 'no request could be sent'),
    failures,
    budgetSpent: true,
  };
  return ApplicationFailure.create({
    type: category,
    message: last?.message ?? 'call budget spent',
    nonRetryable: true,
    details: [details],
    ...(cause instanceof Error ? { cause } : {}),
  });
}

export function toApplicationFailure(info: ErrorInfo, failures: FailedCall[], cause: unknown): ApplicationFailure {
  const details: CallFailureDetails = { error: info, failures };
  return classifiedFailure(info, { details: [details], cause });
}
