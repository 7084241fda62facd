import { DefaultLogger, type LogLevel, type LogMetadata } from '@temporalio/worker';

/**
 * The SDK's logger, with two of its messages put in their place: the model-calls worker runs
 * activities only, by design (dropped); and an item that did not succeed fails its workflow on
 * purpose (workflows/item-result.ts), which is an item outcome, not a worker problem: one INFO
 * line with the reason instead of a WARN with a stack trace.
 */
export class BatchLlmLogger extends DefaultLogger {
  override log(level: LogLevel, message: string, meta?: LogMetadata): void {
    if (message === 'No workflows registered, not polling for workflow tasks') return;
    const error = meta?.['error'];
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
