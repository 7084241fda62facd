/**
 * A classified error as Temporal's retry policy reads it: the category is the failure type, the
 * classifier's retry decision its `nonRetryable`, the provider's suggested wait its next retry
 * delay. Every activity that turns an ErrorInfo into a failure goes through here.
 */
import { ApplicationFailure } from '@temporalio/common';
import type { ErrorInfo } from '../src/errors/classify';

export function classifiedFailure(
  info: ErrorInfo,
  extra: { message?: string; details?: unknown[]; cause?: unknown } = {},
): ApplicationFailure {
  return ApplicationFailure.create({
    type: info.category,
    message: extra.message ?? info.message,
    nonRetryable: !info.retryable,
    ...(extra.details ? { details: extra.details } : {}),
    ...(info.suggestedWaitMs !== undefined ? { nextRetryDelay: info.suggestedWaitMs } : {}),
    ...(extra.cause instanceof Error ? { cause: extra.cause } : {}),
  });
}
