/** Gemini's error answers (`ApiError` with Google's error body) classified; transport failures fall through to the shared rules. */
import { ApiError } from '@google/genai';
import { classifyTransportError, makeErrorInfo, type ErrorInfo } from '../../errors/classify';

/** Google's error body: `{error:{code,message,status,details}}`. */
interface GoogleErrorBody {
  code?: number;
  message?: string;
  status?: string;
  details?: Array<Record<string, unknown>>;
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

/** Classifies an `ApiError` thrown by `@google/genai`; undefined for anything else. */
export function classifyGeminiError(error: unknown): ErrorInfo | undefined {
  if (error instanceof ApiError) return classifyApiError(error.status, error.message);
  if (
    error instanceof Error &&
    error.name === 'ApiError' &&
    typeof (error as { status?: unknown }).status === 'number'
  ) {
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
      Array.isArray(violations) && violations.some((v) => isRecord(v) && /PerDay/i.test(String(v['quotaId'] ?? '')));
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
  if ((status === 400 || status === 422) && /input token count.*exceeds the maximum/i.test(message))
    return makeErrorInfo('context_too_long', message, extra);
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

/** Gemini's built-in rules: its API errors, then the transport rules. */
export function classifyGemini(error: unknown): ErrorInfo {
  return classifyGeminiError(error) ?? classifyTransportError(error);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
