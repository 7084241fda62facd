import type { FaultKind } from './faults';
import type { ErrorFaultKind } from './errors';
import type { QuotaRejection } from './quota';

/** An OpenAI API error as sent on the wire: HTTP status, extra headers and the `{error:{…}}` body. */
export interface OpenAIErrorAnswer {
  httpStatus: number;
  headers?: Record<string, string>;
  body: { error: { message: string; type: string; param: string | null; code: string | null } };
}

export function openAIError(
  httpStatus: number,
  type: string,
  message: string,
  detail: { code?: string | null; param?: string | null; headers?: Record<string, string> } = {},
): OpenAIErrorAnswer {
  const body = { error: { message, type, param: detail.param ?? null, code: detail.code ?? null } };
  return detail.headers === undefined ? { httpStatus, body } : { httpStatus, headers: detail.headers, body };
}

export function invalidRequest(
  message: string,
  param: string | null = null,
  code: string | null = null,
): OpenAIErrorAnswer {
  return openAIError(400, 'invalid_request_error', message, { param, code });
}

export function missingApiKey(): OpenAIErrorAnswer {
  return openAIError(
    401,
    'invalid_request_error',
    "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer " +
      'auth (i.e. Authorization: Bearer YOUR_KEY).',
  );
}

export function incorrectApiKey(key: string): OpenAIErrorAnswer {
  const shown = key.length > 8 ? `${key.slice(0, 4)}${'*'.repeat(8)}${key.slice(-4)}` : '****';
  return openAIError(
    401,
    'invalid_request_error',
    `Incorrect API key provided: ${shown}. You can find your API key at https://platform.openai.com/account/api-keys.`,
    { code: 'invalid_api_key' },
  );
}

/** Any path or method the emulator's OpenAI side does not serve. */
export function invalidUrl(method: string, path: string): OpenAIErrorAnswer {
  return invalidRequest(`Invalid URL (${method} ${path})`);
}

export function contextLengthExceeded(
  window: number,
  promptTokens: number,
  maxTokens: number | undefined,
): OpenAIErrorAnswer {
  const requested =
    maxTokens === undefined
      ? `your messages resulted in ${promptTokens} tokens. Please reduce the length of the messages.`
      : `you requested ${promptTokens + maxTokens} tokens (${promptTokens} in the messages, ${maxTokens} in the ` +
        'completion). Please reduce the length of the messages or completion.';
  return invalidRequest(
    `This model's maximum context length is ${window} tokens. However, ${requested}`,
    'messages',
    'context_length_exceeded',
  );
}

/** What an endpoint without structured outputs answers a `json_schema` response format. */
export function jsonSchemaUnsupported(): OpenAIErrorAnswer {
  return invalidRequest(
    "Invalid parameter: 'response_format' of type 'json_schema' is not supported with this model.",
    'response_format',
  );
}

/** `1.5s`, `20ms`, `6m0s`: how OpenAI's `x-ratelimit-reset-*` headers spell a wait. */
export function resetDuration(ms: number): string {
  const rounded = Math.max(0, Math.round(ms));
  if (rounded < 1000) return `${rounded}ms`;
  const minutes = Math.floor(rounded / 60_000);
  const seconds = (rounded - minutes * 60_000) / 1000;
  const secondsText = `${Number(seconds.toFixed(3))}s`;
  return minutes === 0 ? secondsText : `${minutes}m${secondsText}`;
}

/** The headers of a per-minute rate limit: `retry-after` (whole seconds, rounded up), `retry-after-ms`, `x-ratelimit-*`. */
export function rateLimitHeaders(
  limit: 'requests' | 'tokens',
  value: number,
  retryDelayMs: number | undefined,
): Record<string, string> {
  const headers: Record<string, string> = {
    [`x-ratelimit-limit-${limit}`]: String(value),
    [`x-ratelimit-remaining-${limit}`]: '0',
  };
  if (retryDelayMs === undefined) return headers;
  return {
    ...headers,
    [`x-ratelimit-reset-${limit}`]: resetDuration(retryDelayMs),
    'retry-after': String(Math.max(0, Math.ceil(retryDelayMs / 1000))),
    'retry-after-ms': String(Math.max(0, Math.round(retryDelayMs))),
  };
}

/** The 429 `rate_limit_exceeded` of a per-minute limit; without a delay the request alone exceeds the limit. */
export function rateLimited(model: string, rejection: QuotaRejection): OpenAIErrorAnswer {
  const unit = rejection.limit === 'requests' ? 'requests per min (RPM)' : 'tokens per min (TPM)';
  const { retryDelayMs } = rejection;
  const advice =
    retryDelayMs === undefined
      ? 'The request is larger than the limit.'
      : `Please try again in ${resetDuration(retryDelayMs)}.`;
  return openAIError(
    429,
    rejection.limit,
    `Rate limit reached for ${model} in organization org-emulator on ${unit}: Limit ${rejection.value}. ${advice} ` +
      'Visit https://platform.openai.com/account/rate-limits to learn more.',
    { code: 'rate_limit_exceeded', headers: rateLimitHeaders(rejection.limit, rejection.value, retryDelayMs) },
  );
}

/** Faults answered with an OpenAI error body: the same kinds the Gemini route answers with a Google one. */
export type ChatErrorFaultKind = ErrorFaultKind;

/** What the end of a capped `hang` and a `deadline` fault answer. */
export function gatewayTimeout(): OpenAIErrorAnswer {
  return openAIError(504, 'server_error', 'Gateway timeout: the request took too long to complete.', {
    code: 'gateway_timeout',
  });
}

/** One table: error fault → the error OpenAI sends for it. */
export const chatErrorForFault: Record<
  ChatErrorFaultKind,
  (context: { model: string; retryDelaySeconds: number }) => OpenAIErrorAnswer
> = {
  rate_limit: ({ model, retryDelaySeconds }) =>
    rateLimited(model, { limit: 'requests', value: 10, retryDelayMs: retryDelaySeconds * 1000 }),
  quota_exhausted: () =>
    openAIError(
      429,
      'insufficient_quota',
      'You exceeded your current quota, please check your plan and billing details. For more information on ' +
        'this error, read the docs: https://platform.openai.com/docs/guides/error-codes/api-errors.',
      { code: 'insufficient_quota' },
    ),
  unauthenticated: () => incorrectApiKey('sk-emulator-invalid-key'),
  permission_denied: ({ model }) =>
    openAIError(403, 'invalid_request_error', `Project \`proj_emulator\` does not have access to model \`${model}\``, {
      code: 'model_not_found',
    }),
  invalid_request: () =>
    invalidRequest("Invalid value for 'messages': the request is malformed.", 'messages', 'invalid_value'),
  context_too_long: () => contextLengthExceeded(128_000, 128_001, undefined),
  not_found: ({ model }) =>
    openAIError(
      404,
      'invalid_request_error',
      `The model \`${model}\` does not exist or you do not have access to it.`,
      {
        code: 'model_not_found',
      },
    ),
  server_error: () =>
    openAIError(500, 'server_error', 'The server had an error while processing your request. Sorry about that!'),
  overloaded: () => openAIError(503, 'server_error', 'The engine is currently overloaded, please try again later.'),
  deadline: () => gatewayTimeout(),
  // Chat completions have no context caches: the nearest thing is a resource that is gone.
  cache_expired: () =>
    openAIError(404, 'invalid_request_error', 'No such cached prompt (chat completions have no context caches).'),
};

export function isChatErrorFault(kind: FaultKind): kind is ChatErrorFaultKind {
  return Object.hasOwn(chatErrorForFault, kind);
}
