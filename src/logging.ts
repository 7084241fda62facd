import { DefaultLogger, type LogLevel, type LogMetadata } from '@temporalio/worker';

/** The SDK's logger, minus one warning: the model-calls worker runs activities only, by design. */
export class BatchLlmLogger extends DefaultLogger {
  override log(level: LogLevel, message: string, meta?: LogMetadata): void {
    if (message === 'No workflows registered, not polling for workflow tasks') return;
    super.log(level, message, meta);
  }
}
