import type { FaultKind } from './faults';

/** A Google API error as sent on the wire: HTTP status plus the `{error:{…}}` body. */
export interface GoogleError {
  httpStatus: number;
  body: {
    error: { code: number; message: string; status: string; details?: Array<Record<string, unknown>> };
  };
}

const RPC = 'type.googleapis.com/google.rpc.';
const QUOTA_METRIC = 'generativelanguage.googleapis.com/generate_content_free_tier_requests';
const QUOTA_HELP =
  'You exceeded your current quota, please check your plan and billing details. For more ' +
  'information on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits.';

export function googleError(
  httpStatus: number,
  status: string,
  message: string,
  details?: Array<Record<string, unknown>>,
): GoogleError {
  const error = { code: httpStatus, message, status };
  return { httpStatus, body: { error: details === undefined ? error : { ...error, details } } };
}

export function invalidArgument(message: string): GoogleError {
  return googleError(400, 'INVALID_ARGUMENT', message);
}

export function missingApiKey(): GoogleError {
  return googleError(
    403,
    'PERMISSION_DENIED',
    "Method doesn't allow unregistered callers (callers without established identity). " +
      'Please use API key or other form of API consumer identity to call this API.',
  );
}

export function invalidApiKey(): GoogleError {
  const message = 'API key not valid. Please pass a valid API key.';
  return googleError(400, 'INVALID_ARGUMENT', message, [
    {
      '@type': `${RPC}ErrorInfo`,
      reason: 'API_KEY_INVALID',
      domain: 'googleapis.com',
      metadata: { service: 'generativelanguage.googleapis.com' },
    },
    { '@type': `${RPC}LocalizedMessage`, locale: 'en-US', message },
  ]);
}

/** What Google answers for a context cache that does not exist (any more) or is not the caller's. */
export function cachedContentNotFound(): GoogleError {
  return googleError(404, 'NOT_FOUND', 'CachedContent not found (or permission denied)');
}

export function isGoogleError(value: object): value is GoogleError {
  return 'httpStatus' in value && 'body' in value;
}

export function routeNotFound(path: string): GoogleError {
  return googleError(404, 'NOT_FOUND', `Method not found: ${path}`);
}

/** What a request that outlived its deadline gets (also the end of a capped hang). */
export function deadlineExceeded(): GoogleError {
  return googleError(504, 'DEADLINE_EXCEEDED', 'Deadline expired before operation could complete.');
}

function quotaViolation(
  quotaId: string,
  model: string,
  quotaMetric = QUOTA_METRIC,
  limit = 10,
): Record<string, unknown> {
  return {
    '@type': `${RPC}QuotaFailure`,
    violations: [
      {
        quotaMetric,
        quotaId,
        quotaDimensions: { location: 'global', model },
        quotaValue: String(limit),
      },
    ],
  };
}

/** A per-minute quota a 429 names; without `retryDelaySeconds` the answer carries no RetryInfo. */
export interface RateLimitSpec {
  model: string;
  retryDelaySeconds: number | undefined;
  quotaId: string;
  quotaMetric: string;
  limit: number;
}

/** The 429 RESOURCE_EXHAUSTED of a per-minute quota: QuotaFailure plus RetryInfo. */
export function rateLimited({ model, retryDelaySeconds, quotaId, quotaMetric, limit }: RateLimitSpec): GoogleError {
  const retry = retryDelaySeconds === undefined ? '' : `\nPlease retry in ${retryDelaySeconds}s.`;
  const message = `${QUOTA_HELP}\n* Quota exceeded for metric: ${quotaMetric}, limit: ${limit}, model: ${model}${retry}`;
  const violation = quotaViolation(quotaId, model, quotaMetric, limit);
  return googleError(
    429,
    'RESOURCE_EXHAUSTED',
    message,
    retryDelaySeconds === undefined
      ? [violation]
      : [violation, { '@type': `${RPC}RetryInfo`, retryDelay: `${retryDelaySeconds}s` }],
  );
}

function dailyQuotaExhausted(model: string): GoogleError {
  const message = `${QUOTA_HELP}\n* Quota exceeded for metric: ${QUOTA_METRIC}, limit: 10, model: ${model}`;
  return googleError(429, 'RESOURCE_EXHAUSTED', message, [
    quotaViolation('GenerateRequestsPerDayPerProjectPerModel-FreeTier', model),
  ]);
}

/** Faults answered with a Google error body. */
export type ErrorFaultKind = Extract<
  FaultKind,
  | 'rate_limit'
  | 'quota_exhausted'
  | 'unauthenticated'
  | 'permission_denied'
  | 'invalid_request'
  | 'context_too_long'
  | 'not_found'
  | 'server_error'
  | 'overloaded'
  | 'deadline'
  | 'cache_expired'
>;

export interface ErrorFaultContext {
  model: string;
  retryDelaySeconds: number;
}

/** One table: error fault → the error Google sends for it. */
export const errorForFault: Record<ErrorFaultKind, (context: ErrorFaultContext) => GoogleError> = {
  rate_limit: ({ model, retryDelaySeconds }) =>
    rateLimited({
      model,
      retryDelaySeconds,
      quotaId: 'GenerateRequestsPerMinutePerProjectPerModel-FreeTier',
      quotaMetric: QUOTA_METRIC,
      limit: 10,
    }),
  quota_exhausted: ({ model }) => dailyQuotaExhausted(model),
  unauthenticated: () => invalidApiKey(),
  permission_denied: () => googleError(403, 'PERMISSION_DENIED', 'The caller does not have permission'),
  invalid_request: () => invalidArgument('Request contains an invalid argument.'),
  // What a prompt beyond the model's context window gets (Gemini 2.x: 1,048,576 tokens).
  context_too_long: () =>
    invalidArgument('The input token count (1048577) exceeds the maximum number of tokens allowed (1048576).'),
  not_found: ({ model }) =>
    googleError(
      404,
      'NOT_FOUND',
      `models/${model} is not found for API version v1beta, or is not supported for ` +
        'generateContent. Call ListModels to see the list of available models and their ' +
        'supported methods.',
    ),
  server_error: () =>
    googleError(
      500,
      'INTERNAL',
      'An internal error has occurred. Please retry or report in ' +
        'https://developers.generativeai.google/guide/troubleshooting',
    ),
  overloaded: () => googleError(503, 'UNAVAILABLE', 'The model is overloaded. Please try again later.'),
  deadline: () => deadlineExceeded(),
  // What generateContent answers when its cachedContent expired or was deleted.
  cache_expired: () => cachedContentNotFound(),
};

export function isErrorFault(kind: FaultKind): kind is ErrorFaultKind {
  return Object.hasOwn(errorForFault, kind);
}
