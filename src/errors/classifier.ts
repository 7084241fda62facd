import type { ErrorInfo } from './classify';

/**
 * A task's error classifier. Three extension points, run in this order:
 * 1. `classifyCustom(error)`: user rules first; return undefined to fall through;
 * 2. `classifyDefault(error)`: replaces the provider's built-in rules (for Gemini: `ApiError`
 *    bodies, then network errors and timeouts);
 * 3. `postClassify(error, info)`: adjust whatever came out of 1 or 2.
 */
export interface ErrorClassifier {
  classifyCustom?: (error: unknown) => ErrorInfo | undefined;
  classifyDefault?: (error: unknown) => ErrorInfo;
  postClassify?: (error: unknown, info: ErrorInfo) => ErrorInfo;
}

/** Runs a task's classifier around the provider's built-in rules: the one place a failure's category and retry decision are made. */
export function classifyError(
  error: unknown,
  classifier: ErrorClassifier | undefined,
  builtIn: (error: unknown) => ErrorInfo,
): ErrorInfo {
  const info = classifier?.classifyCustom?.(error) ?? (classifier?.classifyDefault ?? builtIn)(error);
  return classifier?.postClassify ? classifier.postClassify(error, info) : info;
}
