/**
 * A model call's side of admission: asking the quota scope whether a local call may start, waiting
 * for clearance (RPM/TPM, a 429 cooldown) with failures of our own plumbing waited out, and
 * reporting a 429 so every worker of the scope cools down together.
 */
import type { Context } from '@temporalio/activity';
import { CancelledFailure } from '@temporalio/common';
import type { DeferredCall } from './model-call';
import type { Clearance, QuotaGate } from './quota-gate';

/**
 * Why a local call should not start now. A scope that does not answer is our plumbing, not the
 * model: the call goes to a regular activity, which waits it out.
 */
export async function deferralOf(
  quota: QuotaGate,
  scope: string,
  context: Context,
  adaptive = false,
): Promise<DeferredCall['reason'] | undefined> {
  try {
    return await quota.deferralOf(scope, adaptive);
  } catch (error) {
    context.log.warn('quota scope did not answer; the call goes to a regular activity, which waits for it', {
      scope,
      error: String(error),
    });
    return 'scope_unreachable';
  }
}

/** Longest pause between tries at reaching a quota scope that does not answer. */
const PLUMBING_RETRY_MAX_MS = 5_000;

/**
 * Admission and cooldown, with failures of our own plumbing (the scope's workflow not answering,
 * its worker gone) waited out here, heartbeating: they are never a model call, nor an item's end.
 */
export async function waitForClearance(
  quota: QuotaGate,
  scope: string,
  context: Context,
  tokens: number,
  heartbeat: () => void,
  adaptive = false,
): Promise<Clearance> {
  const began = Date.now();
  for (let tries = 1; ; tries += 1) {
    try {
      const { admittedAt } = await quota.awaitClearance(scope, context, tokens, heartbeat, adaptive);
      return { waitedMs: Date.now() - began, ...(admittedAt !== undefined ? { admittedAt } : {}) };
    } catch (error) {
      if (context.cancellationSignal.aborted)
        throw new CancelledFailure(`model call cancelled: ${String(context.cancellationSignal.reason)}`);
      const waitMs = Math.min(PLUMBING_RETRY_MAX_MS, 500 * 2 ** Math.min(tries - 1, 4));
      context.log.warn('quota scope did not answer; waiting, then asking again (no model call is spent)', {
        scope,
        tries,
        waitMs,
        error: String(error),
      });
      await context.sleep(waitMs); // the attempt's heartbeat timer runs meanwhile
    }
  }
}

/** Tells the scope's workflow; a failure to do so must not hide the 429 itself. */
export async function reportRateLimit(
  quota: QuotaGate,
  scope: string,
  suggestedWaitMs: number | undefined,
  context: Context,
  admittedAt?: number,
): Promise<void> {
  try {
    await quota.reportRateLimit(scope, suggestedWaitMs, admittedAt);
  } catch (error) {
    context.log.warn('could not start the coordinated cooldown; this call still retries after its own delay', {
      scope,
      error: String(error),
    });
  }
}
