/** What we know about a failure, and the provider-neutral rules (network, timeouts, malformed bodies). */
import { CATEGORY_TABLE, type ErrorCategory } from './categories';

/** What we know about one failure: how to name it and what to do next. */
export interface ErrorInfo {
  category: ErrorCategory;
  retryable: boolean;
  isRateLimit: boolean;
  /** Wait suggested by the provider (RetryInfo.retryDelay or Retry-After), in milliseconds. */
  suggestedWaitMs: number | undefined;
  /** HTTP status when the failure came from an HTTP answer. */
  httpStatus: number | undefined;
  message: string;
  hint: string;
}

export function makeErrorInfo(
  category: ErrorCategory,
  message: string,
  extra: { suggestedWaitMs?: number | undefined; httpStatus?: number | undefined } = {},
): ErrorInfo {
  return {
    category,
    retryable: CATEGORY_TABLE[category].decision === 'retry',
    isRateLimit: category === 'rate_limit',
    suggestedWaitMs: extra.suggestedWaitMs,
    httpStatus: extra.httpStatus,
    message,
    hint: CATEGORY_TABLE[category].hint,
  };
}

const NETWORK_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'EPIPE',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_CLOSED',
]);

/**
 * Failures below any provider's API: network errors, timeouts and aborts, a malformed body, and
 * anything else (`unknown`). A provider's classify tries its own API errors first, then this.
 */
export function classifyTransportError(error: unknown): ErrorInfo {
  if (!(error instanceof Error)) return makeErrorInfo('unknown', String(error));
  const message = error.message;
  if (error.name === 'AbortError' || error.name === 'TimeoutError') {
    return makeErrorInfo('timeout', `model call timed out or was aborted: ${message}`);
  }
  // fetch failures are TypeErrors with a network cause; any other TypeError is a bug, whatever it says.
  if (error instanceof TypeError && message === 'fetch failed') {
    const code = networkCode(error.cause);
    if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') {
      return makeErrorInfo('timeout', `fetch failed: ${code}`);
    }
    return makeErrorInfo('network_error', `fetch failed${code ? `: ${code}` : ''}`);
  }
  const code = networkCode(error);
  if (code && NETWORK_CODES.has(code)) return makeErrorInfo('network_error', `${code}: ${message}`);
  // A 200 answer whose body is not JSON: the provider's fault, worth another try.
  if (error instanceof SyntaxError) return makeErrorInfo('server_error', `malformed response body: ${message}`);
  return makeErrorInfo('unknown', `${error.name}: ${message}`);
}

function networkCode(value: unknown): string | undefined {
  if (!isRecord(value)) return undefined;
  if (typeof value['code'] === 'string') return value['code'];
  return networkCode(value['cause']);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
