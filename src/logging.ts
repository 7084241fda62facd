import { Context } from '@temporalio/activity';
import { ApplicationFailure, type RetryPolicy } from '@temporalio/common';
import { msToNumber } from '@temporalio/common/lib/time';
import { DefaultLogger, type LogLevel, type LogMetadata } from '@temporalio/worker';

/**
 * The SDK's logger, with two of its messages put in their place: the model-calls worker runs
 * activities only, by design (dropped); and an item that did not succeed fails its workflow on
 * purpose (workflows/item-result.ts), which is an item outcome, not a worker problem: one INFO
 * line with the reason instead of a WARN with a stack trace. A failed model call (a 503 that will be
 * retried, say) is one WARN line — item, category, attempt, wait — and its stack only at DEBUG.
 */
export class BatchLlmLogger extends DefaultLogger {
  override log(level: LogLevel, message: string, meta?: LogMetadata): void {
    if (message === 'No workflows registered, not polling for workflow tasks') return;
    const error = meta?.['error'];
    if (
      message === 'Activity failed' &&
      meta?.['activityType'] === 'callModel' &&
      error instanceof ApplicationFailure
    ) {
      super.log(level === 'DEBUG' ? 'DEBUG' : 'WARN', failedCallLine(error, meta));
      super.log('DEBUG', message, meta);
      return;
    }
    if (message === 'Workflow failed' && meta?.['workflowType'] === 'itemWorkflow' && carriesItemOutcome(error)) {
      const { error: _stack, ...rest } = meta;
      super.log('INFO', 'item ended without success', { ...rest, reason: error.message });
      return;
    }
    super.log(level, message, meta);
  }
}

/**
 * The failure an item workflow ends with on purpose (workflows/item-result.ts `endingOf`), known by
 * its message: it reaches the logger through a worker thread, which keeps an error's message and
 * stack but not its class or details.
 */
function carriesItemOutcome(error: unknown): error is { message: string } {
  const message = typeof error === 'object' && error !== null ? (error as { message?: unknown }).message : undefined;
  return typeof message === 'string' && ITEM_ENDING.test(message);
}

const ITEM_ENDING = /^item ".*" (failed|blocked|cancelled|deadline_exceeded)\b/s;

/**
 * "model call failed, retrying in 1s: item b1/p014, server_overload, attempt 1 (The model is
 * overloaded…)". The attempt is the request's number within the item's stage (local call and
 * regular activity counted together); the wait is the one the item will make: the provider's
 * suggestion, else the retry policy's backoff (1 s after a local call, which the workflow retries).
 */
function failedCallLine(error: ApplicationFailure, meta: LogMetadata): string {
  const failures = (error.details?.[0] as { failures?: Array<{ attempt?: unknown }> } | undefined)?.failures;
  const lastAttempt = failures?.[failures.length - 1]?.attempt;
  const attempt = typeof lastAttempt === 'number' ? lastAttempt : meta['attempt'];
  const what = `item ${String(meta['workflowId'] ?? meta['activityId'])}, ${error.type ?? 'unknown'}, attempt ${String(attempt)}`;
  const reason = oneLine(error.message, 160);
  if (error.nonRetryable) return `model call failed, not retried: ${what} (${reason})`;
  const waitMs = retryWaitMs(error, meta);
  return `model call failed, retrying${waitMs === undefined ? '' : ` in ${seconds(waitMs)}`}: ${what} (${reason})`;
}

/** The wait before the next try, as Temporal (or, after a local call, the item workflow) will make it. */
function retryWaitMs(error: ApplicationFailure, meta: LogMetadata): number | undefined {
  if (error.nextRetryDelay !== undefined && error.nextRetryDelay !== null) return msToNumber(error.nextRetryDelay);
  if (meta['isLocal'] === true) return LOCAL_RETRY_DELAY_MS;
  const policy = currentRetryPolicy();
  if (!policy?.initialInterval) return undefined;
  const attempt = typeof meta['attempt'] === 'number' ? meta['attempt'] : 1;
  const backoff = msToNumber(policy.initialInterval) * (policy.backoffCoefficient ?? 2) ** (attempt - 1);
  return policy.maximumInterval ? Math.min(backoff, msToNumber(policy.maximumInterval)) : backoff;
}

/** The workflow's wait after a failed local call without a suggested delay (workflows/item-call.ts). */
const LOCAL_RETRY_DELAY_MS = 1_000;

/** The failing activity's retry policy: the SDK logs its failure from inside the activity's context. */
function currentRetryPolicy(): RetryPolicy | undefined {
  try {
    return Context.current().info.retryPolicy;
  } catch {
    return undefined; // not inside an activity (a test, or a future SDK logging elsewhere)
  }
}

function seconds(ms: number): string {
  return ms < 10_000 ? `${(ms / 1000).toFixed(ms % 1000 === 0 ? 0 : 1)}s` : `${Math.round(ms / 1000)}s`;
}

function oneLine(text: string, max: number): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length <= max ? flat : `${flat.slice(0, max - 1)}…`;
}
