/**
 * The `openai` client's errors classified: `APIError`s by status, `error.code` and headers; its
 * connection, timeout and abort errors; anything else falls through to the shared transport rules.
 */
import { APIConnectionError, APIConnectionTimeoutError, APIError, APIUserAbortError } from 'openai';
import { classifyTransportError, makeErrorInfo, type ErrorInfo } from '../../errors/classify';

/** `1s`, `20ms`, `6m0s`, `1h2m3.5s`: how OpenAI's `x-ratelimit-reset-*` headers spell a wait. */
export function parseResetDuration(value: string | null | undefined): number | undefined {
  if (!value) return undefined;
  const text = value.trim();
  if (/^\d+(?:\.\d+)?$/.test(text)) return Math.round(Number(text) * 1000);
  const parts = [...text.matchAll(/(\d+(?:\.\d+)?)(ms|h|m|s)/g)];
  if (parts.length === 0 || parts.map((part) => part[0]).join('') !== text) return undefined;
  const unitMs: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1000, ms: 1 };
  return Math.round(parts.reduce((total, [, amount, unit]) => total + Number(amount) * (unitMs[unit ?? ''] ?? 0), 0));
}

/**
 * The wait a 429 asks for, in ms: `retry-after-ms`, else `retry-after` (seconds or an HTTP date),
 * else the reset of the exhausted `x-ratelimit-*` window (the longest, when none says it is
 * exhausted), else "try again in 1.5s" in the message.
 */
export function retryDelayOf(headers: Headers | undefined, message: string): number | undefined {
  const milliseconds = Number.parseFloat(headers?.get('retry-after-ms') ?? '');
  if (Number.isFinite(milliseconds) && milliseconds >= 0) return Math.round(milliseconds);
  const retryAfter = headers?.get('retry-after')?.trim();
  if (retryAfter) {
    const seconds = Number(retryAfter);
    if (Number.isFinite(seconds) && seconds >= 0) return Math.round(seconds * 1000);
    const date = Date.parse(retryAfter);
    if (Number.isFinite(date)) return Math.max(date - Date.now(), 0);
  }
  const windows = (['requests', 'tokens'] as const).map((limit) => ({
    exhausted: headers?.get(`x-ratelimit-remaining-${limit}`)?.trim() === '0',
    resetMs: parseResetDuration(headers?.get(`x-ratelimit-reset-${limit}`)),
  }));
  const exhausted = windows.filter((window) => window.exhausted && window.resetMs !== undefined);
  const candidates = (exhausted.length > 0 ? exhausted : windows).flatMap((window) =>
    window.resetMs === undefined ? [] : [window.resetMs],
  );
  if (candidates.length > 0) return Math.max(...candidates);
  return parseResetDuration(/try again in (\d+(?:\.\d+)?(?:ms|s|m))/i.exec(message)?.[1]);
}

function isContextLengthError(error: APIError): boolean {
  return (
    error.code === 'context_length_exceeded' ||
    /maximum context length|context[ _-]length|context window/i.test(error.message)
  );
}

/**
 * An endpoint saying it does not do `response_format: json_schema` (a 400 or 422 naming
 * response_format or json_schema), as opposed to refusing this schema or this prompt: the
 * provider then asks for `json_object` instead.
 */
export function refusesJsonSchema(error: unknown): boolean {
  if (!(error instanceof APIError) || (error.status !== 400 && error.status !== 422)) return false;
  if (error.code === 'invalid_json_schema' || /invalid schema/i.test(error.message) || isContextLengthError(error)) {
    return false;
  }
  return error.param === 'response_format' || /response_format|json_schema/i.test(error.message);
}

/** Classifies an error thrown by the `openai` client; undefined for anything else. */
export function classifyOpenAIError(error: unknown): ErrorInfo | undefined {
  if (error instanceof APIUserAbortError) return makeErrorInfo('timeout', `model call aborted: ${error.message}`);
  if (error instanceof APIConnectionTimeoutError)
    return makeErrorInfo('timeout', `model call timed out: ${error.message}`);
  if (error instanceof APIConnectionError) {
    const cause = classifyTransportError(error.cause);
    const category = cause.category === 'timeout' ? 'timeout' : 'network_error';
    return makeErrorInfo(category, `connection error: ${cause.category === 'unknown' ? error.message : cause.message}`);
  }
  if (!(error instanceof APIError) || error.status === undefined) return undefined;
  const { status, message } = error;
  const extra = { httpStatus: status };
  if (status === 429) {
    if (error.code === 'insufficient_quota' || error.type === 'insufficient_quota') {
      return makeErrorInfo('quota_exhausted', message, extra);
    }
    return makeErrorInfo('rate_limit', message, { ...extra, suggestedWaitMs: retryDelayOf(error.headers, message) });
  }
  if (status === 401) return makeErrorInfo('authentication', message, extra);
  if (status === 403) return makeErrorInfo('permission_denied', message, extra);
  if (status === 404) return makeErrorInfo('not_found', message, extra);
  if (status === 400 || status === 413 || status === 422) {
    return makeErrorInfo(isContextLengthError(error) ? 'context_too_long' : 'invalid_request', message, extra);
  }
  if (status === 408) return makeErrorInfo('timeout', message, extra);
  if (status === 503 || status === 529) return makeErrorInfo('server_overload', message, extra);
  if (status === 504) return makeErrorInfo('server_timeout', message, extra);
  // 409 is a lock timeout on OpenAI's side (its client retries it), as transient as a 500.
  if (status >= 500 || status === 409) return makeErrorInfo('server_error', message, extra);
  return makeErrorInfo('unknown', message, extra);
}

/** The OpenAI-compatible provider's built-in rules: its client's errors, then the transport rules. */
export function classifyOpenAI(error: unknown): ErrorInfo {
  return classifyOpenAIError(error) ?? classifyTransportError(error);
}
