/**
 * The failure converter of an encrypting worker (src/privacy/data-converter.ts): a failure's
 * message and stack trace go into its encoded attributes, which the payload codec encrypts, so
 * an error message that quotes model output is not plain text in history. Compiled into the
 * workflow bundle when encryption is on, and loaded by the worker for its activities' failures.
 */
import { DefaultFailureConverter } from '@temporalio/common';

export const failureConverter = new DefaultFailureConverter({ encodeCommonAttributes: true });
