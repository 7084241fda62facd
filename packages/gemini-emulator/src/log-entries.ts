import type { CacheCreateView } from './cache-requests';
import { errorForFault, isErrorFault } from './errors';
import type { GoogleError } from './errors';
import { BATCH_ROUTES, CACHE_ROUTES } from './faults';
import type { BatchRoute, CacheRoute, FaultKind } from './faults';
import { promptTokens } from './request';
import type { GenerateRequestView } from './request';
import type { GenerateAnswer } from './responses';
import type { RequestLogEntry } from './types';

/** A fresh entry: what is known when a request arrives; the rest is filled in as it is served. */
export function newLogEntry(
  arrival: Pick<RequestLogEntry, 'seq' | 'route' | 'model' | 'itemKey' | 'attempt' | 'startedAtMs' | 'inFlightAtStart'>,
): RequestLogEntry {
  return {
    ...arrival,
    temperature: undefined,
    promptChars: 0,
    promptTokens: 0,
    systemInstructionChars: 0,
    cachedContent: undefined,
    hasResponseSchema: false,
    fault: undefined,
    status: 200,
    endedAtMs: undefined,
    outputText: undefined,
  };
}

export function describeRequest(entry: RequestLogEntry, view: GenerateRequestView): void {
  entry.temperature = view.temperature;
  entry.promptChars = view.promptText.length;
  entry.promptTokens = promptTokens(view.promptText, view.systemInstructionText);
  entry.systemInstructionChars = view.systemInstructionText.length;
  entry.cachedContent = view.cachedContent;
  entry.hasResponseSchema = view.responseSchema !== undefined;
}

/** Records how a 200 generateContent answer ended: its finish reason, or why the prompt was blocked. */
export function describeAnswer(entry: RequestLogEntry, answer: GenerateAnswer): void {
  const finishReason = answer.candidates?.[0]?.finishReason;
  const blockReason = answer.promptFeedback?.blockReason;
  if (finishReason !== undefined) entry.finishReason = finishReason;
  if (blockReason !== undefined) entry.blockReason = blockReason;
}

export function describeCacheCreate(entry: RequestLogEntry, view: CacheCreateView): void {
  entry.promptChars = view.promptChars;
  entry.promptTokens = view.tokens;
  entry.systemInstructionChars = view.systemInstructionChars;
}

export function isCacheRoute(route: RequestLogEntry['route']): route is CacheRoute {
  return (CACHE_ROUTES as readonly string[]).includes(route);
}

export function isBatchLogRoute(route: RequestLogEntry['route']): route is BatchRoute {
  return (BATCH_ROUTES as readonly string[]).includes(route);
}

export function plannedStatus(
  rejection: GoogleError | undefined,
  fault: FaultKind | undefined,
): RequestLogEntry['status'] {
  if (rejection !== undefined) return rejection.httpStatus;
  if (fault === undefined) return 200;
  if (fault === 'reset' || fault === 'hang') return fault;
  if (fault === 'reply_lost') return 'reset';
  return isErrorFault(fault) ? errorForFault[fault]({ model: '', retryDelaySeconds: 1 }).httpStatus : 200;
}
