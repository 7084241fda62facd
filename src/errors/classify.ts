import { ApiError } from '@google/genai';
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

/** Google's error body: `{error:{code,message,status,details}}`. */
interface GoogleErrorBody {
  code?: number;
  message?: string;
  status?: string;
  details?: Array<Record<string, unknown>>;
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

/** Parses "47s", "1.5s" (protobuf Duration JSON) into milliseconds. */
export function parseRetryDelay(value: unknown): number | undefined {
  if (typeof value !== 'string') return undefined;
  const match = /^(\d+(?:\.\d+)?)s$/.exec(value.trim());
  return match ? Math.round(Number(match[1]) * 1000) : undefined;
}

/**
 * `ApiError.message` is the Google error body as JSON text (for stream errors, JSON inside JSON:
 * unwrap once). Returns undefined when it is not such a body.
 */
export function parseGoogleErrorBody(message: string): GoogleErrorBody | undefined {
  const start = message.indexOf('{');
  if (start < 0) return undefined;
  try {
    let parsed: unknown = JSON.parse(message.slice(start));
    if (isRecord(parsed) && typeof parsed['message'] === 'string' && !isRecord(parsed['error'])) {
      const inner = parseGoogleErrorBody(parsed['message']);
      if (inner) return inner;
    }
    if (isRecord(parsed) && isRecord(parsed['error'])) parsed = parsed['error'];
    return isRecord(parsed) ? (parsed as GoogleErrorBody) : undefined;
  } catch {
    // Not JSON: the caller falls back to the status code alone.
    return undefined;
  }
}

/** Classifies an error thrown by `@google/genai` (or by fetch under it). */
export function classifyGeminiError(error: unknown): ErrorInfo | undefined {
  if (error instanceof ApiError) return classifyApiError(error.status, error.message);
  if (error instanceof Error && error.name === 'ApiError' && typeof (error as { status?: unknown }).status === 'number') {
    return classifyApiError((error as unknown as { status: number }).status, error.message);
  }
  return undefined;
}

function classifyApiError(status: number, rawMessage: string): ErrorInfo {
  const body = parseGoogleErrorBody(rawMessage);
  const message = body?.message ?? rawMessage;
  const details = body?.details ?? [];
  const statusName = body?.status ?? '';
  const extra = { httpStatus: status };
  const detailOf = (suffix: string) => details.find((d) => String(d['@type'] ?? '').endsWith(suffix));

  if (status === 429 || statusName === 'RESOURCE_EXHAUSTED') {
    const violations = detailOf('google.rpc.QuotaFailure')?.['violations'];
    const daily =
      Array.isArray(violations) &&
      violations.some((v) => isRecord(v) && /PerDay/i.test(String(v['quotaId'] ?? '')));
    if (daily) return makeErrorInfo('quota_exhausted', message, extra);
    const retryDelay =
      parseRetryDelay(detailOf('google.rpc.RetryInfo')?.['retryDelay']) ?? parseRetryInMessage(message);
    return makeErrorInfo('rate_limit', message, { ...extra, suggestedWaitMs: retryDelay });
  }
  const reasons = details.map((d) => String(d['reason'] ?? ''));
  if (status === 401 || statusName === 'UNAUTHENTICATED' || reasons.includes('API_KEY_INVALID')) {
    return makeErrorInfo('authentication', message, extra);
  }
  if (/cachedContent/i.test(message) && (status === 403 || status === 404)) {
    return makeErrorInfo('cache_expired', message, extra);
  }
  if (status === 403) return makeErrorInfo('permission_denied', message, extra);
  if (status === 404) return makeErrorInfo('not_found', message, extra);
  if (status === 400 || status === 422) return makeErrorInfo('invalid_request', message, extra);
  if (status === 503) return makeErrorInfo('server_overload', message, extra);
  if (status === 504) return makeErrorInfo('server_timeout', message, extra);
  if (status === 408) return makeErrorInfo('timeout', message, extra);
  if (status >= 500) return makeErrorInfo('server_error', message, extra);
  return makeErrorInfo('unknown', message, extra);
}

function parseRetryInMessage(message: string): number | undefined {
  const match = /retry in (\d+(?:\.\d+)?)s/i.exec(message);
  return match ? Math.round(Number(match[1]) * 1000) : undefined;
}

const NETWORK_CODES = new Set([
  'ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH',
  'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CLOSED',
]);

/** Built-in classification of everything that is not a Gemini API answer. */
export function classifyDefault(error: unknown): ErrorInfo {
  const gemini = classifyGeminiError(error);
  if (gemini) return gemini;
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
