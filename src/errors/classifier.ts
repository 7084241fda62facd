import { classifyDefault, type ErrorInfo } from './classify';

/**
 * A task's error classifier. Three extension points, run in this order:
 * 1. `classifyCustom(error)`: user rules first; return undefined to fall through;
 * 2. `classifyDefault(error)`: the built-in rules (Gemini `ApiError` bodies, network, timeouts);
 * 3. `postClassify(error, info)`: adjust whatever came out of 1 or 2.
 */
export interface ErrorClassifier {
  classifyCustom?: (error: unknown) => ErrorInfo | undefined;
  classifyDefault?: (error: unknown) => ErrorInfo;
  postClassify?: (error: unknown, info: ErrorInfo) => ErrorInfo;
}

/** Runs a classifier's extension points in order; with none given, the built-in rules alone. */
export function classifyError(error: unknown, classifier: ErrorClassifier = {}): ErrorInfo {
  const info = classifier.classifyCustom?.(error) ?? (classifier.classifyDefault ?? classifyDefault)(error);
  return classifier.postClassify ? classifier.postClassify(error, info) : info;
}
