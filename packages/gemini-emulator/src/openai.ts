/**
 * The OpenAI-compatible side of the emulator: `POST /v1/chat/completions` answered in OpenAI's
 * shape, through the same latency, quota, fault rules, item header, responder and request log as
 * generateContent. A chat completion is the same model call as a generateContent: fault rules for
 * the generateContent route (the default) apply to it, and attempts are counted per item key
 * across both.
 */
import type http from 'node:http';
import { markCancelled, pause } from './exchange';
import type { Exchange } from './exchange';
import type { FaultKind, FaultRule } from './faults';
import { ITEM_KEY_HEADER } from './item-header';
import {
  chatErrorForFault,
  gatewayTimeout,
  incorrectApiKey,
  invalidUrl,
  isChatErrorFault,
  missingApiKey,
  openAIError,
  rateLimited,
} from './openai-errors';
import type { OpenAIErrorAnswer } from './openai-errors';
import { readChatRequest, refusalOf } from './openai-request';
import type { ChatRequestView } from './openai-request';
import type { PromptCache } from './openai-prompt-cache';
import type { OpenAISettings } from './openai-settings';
import type { QuotaRejection } from './quota';
import { promptTokens } from './request';
import { answerText } from './responder';
import { isRecord } from './schema';
import { countTextTokens } from './tokens';
import type { EmulatedRequest, RequestLogEntry, Responder } from './types';
import { parseJson } from './wire';

/** `…/chat/completions` under the base URLs clients use: `/v1`, the bare host, Gemini's `/v1beta/openai/`. */
const CHAT_PATH = /^(?:\/v1|\/v1beta\/openai|\/openai\/v1)?\/chat\/completions\/?$/;
const DEFAULT_HANG_MS = 10 * 60 * 1000;
/** What a json_object request without a schema in its prompt is answered from: `{"reply": "…"}`. */
const REPLY_SCHEMA = { type: 'object', properties: { reply: { type: 'string' } }, required: ['reply'] };
const REFUSAL = "I'm sorry, but I can't help with that request.";
/** A 200 body cut off mid-JSON. */
const MALFORMED_CHAT_BODY =
  '{"id": "chatcmpl-emulated", "object": "chat.completion", "choices": [{"index": 0, "message": {"role": "assistant", "content": "';
/** Gemini finish reasons a `finish` fault may name that OpenAI reports as `content_filter`. */
const FILTER_REASONS = new Set(['SAFETY', 'RECITATION', 'BLOCKLIST', 'PROHIBITED_CONTENT', 'SPII', 'IMAGE_SAFETY']);

/** True for the chat-completions path under any of the base URLs clients use. */
export function isChatCompletionsPath(path: string): boolean {
  return CHAT_PATH.test(path.replace(/\/{2,}/g, '/'));
}

/** What the route needs of the emulator: its shared machinery, read when a request arrives. */
export interface ChatCompletionHost {
  settings: OpenAISettings;
  responder: Responder;
  modelVersion: string | undefined;
  requiredApiKey: string | undefined;
  promptCache: PromptCache;
  now(): number;
  /** The next attempt number of this item key's model calls (shared with generateContent). */
  nextAttempt(itemKey: string | undefined): number;
  /** Logs the request as route `chatCompletions`. */
  openEntry(model: string, itemKey: string | undefined, attempt: number, startedAtMs: number): RequestLogEntry;
  /** The fault rule for this model call, as generateContent selects one. */
  selectFault(query: { model: string; itemKey: string | undefined; attempt: number }): FaultRule | undefined;
  /** The per-minute quota's verdict (admitted: undefined). */
  admit(promptTokens: number): QuotaRejection | undefined;
  latencyMs(itemKey: string | undefined, attempt: number): number;
  /** Counts the request in flight until the returned function is called. */
  enter(): () => void;
}

function itemKeyOf(request: http.IncomingMessage): string | undefined {
  const value = request.headers[ITEM_KEY_HEADER];
  const key = Array.isArray(value) ? value[0] : value;
  return key === undefined || key === '' ? undefined : key;
}

/** OpenAI's 401s: a Bearer key (or Azure's `api-key`), checked against `requiredApiKey` when set. */
function authError(request: http.IncomingMessage, requiredApiKey: string | undefined): OpenAIErrorAnswer | undefined {
  const bearer = /^Bearer\s+(.+)$/i.exec(request.headers.authorization ?? '')?.[1]?.trim();
  const azure = request.headers['api-key'];
  const key = bearer ?? (Array.isArray(azure) ? azure[0] : azure);
  if (key === undefined || key === '') return missingApiKey();
  return requiredApiKey !== undefined && key !== requiredApiKey ? incorrectApiKey(key) : undefined;
}

function isErrorAnswer(value: object): value is OpenAIErrorAnswer {
  return 'httpStatus' in value;
}

function plannedStatus(
  refusal: OpenAIErrorAnswer | undefined,
  fault: FaultKind | undefined,
): RequestLogEntry['status'] {
  if (refusal !== undefined) return refusal.httpStatus;
  if (fault === 'reset' || fault === 'hang') return fault;
  if (fault !== undefined && isChatErrorFault(fault)) {
    return chatErrorForFault[fault]({ model: '', retryDelaySeconds: 1 }).httpStatus;
  }
  return 200;
}

/** Sends a JSON answer and records it, unless the client went away meanwhile. */
function send(
  exchange: Exchange,
  entry: RequestLogEntry,
  status: number,
  body: string,
  headers: Record<string, string> = {},
): void {
  if (exchange.cancel.signal.aborted) {
    markCancelled(exchange, entry);
    return;
  }
  entry.status = status;
  entry.endedAtMs = Date.now();
  exchange.response.writeHead(status, {
    'content-type': 'application/json',
    'x-request-id': `req_emulated_${entry.seq}`,
    ...headers,
  });
  exchange.response.end(body);
}

function sendError(exchange: Exchange, entry: RequestLogEntry, error: OpenAIErrorAnswer): void {
  send(exchange, entry, error.httpStatus, JSON.stringify(error.body), error.headers);
}

/** Serves one request on a chat-completions path (any method: only POST is answered). */
export async function serveChatCompletion(
  host: ChatCompletionHost,
  exchange: Exchange,
  arrival: { body: string; startedAtMs: number; path: string },
): Promise<void> {
  const itemKey = itemKeyOf(exchange.request);
  const method = exchange.request.method ?? 'GET';
  const attempt = method === 'POST' ? host.nextAttempt(itemKey) : 0;
  const body = parseJson(arrival.body);
  const view = method === 'POST' ? readChatRequest(body) : invalidUrl(method, arrival.path);
  const model = isRecord(body) && typeof body.model === 'string' ? body.model : '';
  const done = host.enter();
  const entry = host.openEntry(model, itemKey, attempt, arrival.startedAtMs);
  try {
    if (!isErrorAnswer(view)) describeChatRequest(entry, view);
    const rejection =
      authError(exchange.request, host.requiredApiKey) ?? (isErrorAnswer(view) ? view : refusalOf(view, host.settings));
    // Like generateContent: refused requests spend no rule, faulted ones do not count against the quota.
    const rule = rejection === undefined ? host.selectFault({ model, itemKey, attempt }) : undefined;
    entry.fault = rule?.fault;
    const overQuota = rejection === undefined && rule === undefined ? host.admit(entry.promptTokens) : undefined;
    if (overQuota !== undefined) entry.quotaRejected = true;
    const refusal = rejection ?? (overQuota === undefined ? undefined : rateLimited(model, overQuota));
    entry.status = plannedStatus(refusal, rule?.fault);
    if (!(await pause(exchange, host.latencyMs(itemKey, attempt)))) {
      markCancelled(exchange, entry);
    } else if (refusal !== undefined || isErrorAnswer(view)) {
      sendError(exchange, entry, refusal ?? (view as OpenAIErrorAnswer));
    } else if (rule !== undefined && isChatErrorFault(rule.fault)) {
      sendError(
        exchange,
        entry,
        chatErrorForFault[rule.fault]({ model, retryDelaySeconds: rule.retryDelaySeconds ?? 1 }),
      );
    } else {
      await answer(host, exchange, entry, { view, itemKey, attempt, rule, body });
    }
  } finally {
    done();
    entry.endedAtMs ??= Date.now();
  }
}

function describeChatRequest(entry: RequestLogEntry, view: ChatRequestView): void {
  entry.temperature = view.temperature;
  entry.promptChars = view.promptText.length;
  entry.promptTokens = promptTokens(view.promptText, view.systemInstructionText);
  entry.systemInstructionChars = view.systemInstructionText.length;
  entry.hasResponseSchema = view.responseFormat === 'json_schema';
  entry.responseFormat = view.responseFormat;
}

interface ChatCall {
  view: ChatRequestView;
  itemKey: string | undefined;
  attempt: number;
  rule: FaultRule | undefined;
  body: unknown;
}

/** The assistant message and finish reason of a 200 answer. */
interface ChatChoice {
  content: string | null;
  refusal: string | null;
  finishReason: string;
}

/** Everything that is not an error body: answers, broken answers, resets and hangs. */
async function answer(
  host: ChatCompletionHost,
  exchange: Exchange,
  entry: RequestLogEntry,
  call: ChatCall,
): Promise<void> {
  const fault = call.rule?.fault;
  if (fault === 'reset') {
    exchange.request.socket.destroy();
    return;
  }
  if (fault === 'hang') {
    if (await pause(exchange, call.rule?.hangMs ?? DEFAULT_HANG_MS)) sendError(exchange, entry, gatewayTimeout());
    else markCancelled(exchange, entry);
    return;
  }
  if (fault === 'malformed_json') {
    send(exchange, entry, 200, MALFORMED_CHAT_BODY);
    return;
  }
  let choice: ChatChoice;
  try {
    choice = await choiceFor(host, call);
  } catch (error) {
    sendError(exchange, entry, openAIError(500, 'server_error', `emulator responder failed: ${String(error)}`));
    return;
  }
  const reasoning = host.settings.reasoningTokens ?? 0;
  const completion = countTextTokens(choice.content ?? choice.refusal ?? '') + reasoning;
  const cached =
    host.settings.promptCaching === false
      ? 0
      : host.promptCache.use(call.view.model, call.view.transcript, entry.promptTokens);
  entry.outputText = choice.content ?? undefined;
  entry.finishReason = choice.finishReason;
  const completionBody = {
    id: `chatcmpl-emulated-${entry.seq}`,
    object: 'chat.completion',
    created: Math.floor(host.now() / 1000),
    model: host.modelVersion ?? call.view.model,
    choices: [
      {
        index: 0,
        message: { role: 'assistant', content: choice.content, refusal: choice.refusal, annotations: [] },
        logprobs: null,
        finish_reason: choice.finishReason,
      },
    ],
    usage: {
      prompt_tokens: entry.promptTokens,
      completion_tokens: completion,
      total_tokens: entry.promptTokens + completion,
      prompt_tokens_details: { cached_tokens: cached, audio_tokens: 0 },
      completion_tokens_details: {
        reasoning_tokens: reasoning,
        audio_tokens: 0,
        accepted_prediction_tokens: 0,
        rejected_prediction_tokens: 0,
      },
    },
    service_tier: 'default',
    system_fingerprint: 'fp_emulator',
  };
  send(exchange, entry, 200, JSON.stringify(completionBody));
}

/** What the model says: shaped by an answer fault, else the responder's text, cut at `max_tokens`. */
async function choiceFor(host: ChatCompletionHost, call: ChatCall): Promise<ChatChoice> {
  const { view, rule } = call;
  switch (rule?.fault) {
    case 'empty_response':
      return { content: '', refusal: null, finishReason: 'stop' };
    case 'safety':
    case 'recitation':
      return { content: null, refusal: null, finishReason: 'content_filter' };
    case 'blocked_prompt':
      return { content: null, refusal: REFUSAL, finishReason: 'stop' };
    case 'finish':
      return { content: null, refusal: null, finishReason: chatFinishReason(rule.finishReason ?? 'OTHER') };
    default:
      break;
  }
  const request: EmulatedRequest = {
    model: view.model,
    itemKey: call.itemKey,
    attempt: call.attempt,
    promptText: view.promptText,
    systemInstructionText: view.systemInstructionText,
    temperature: view.temperature,
    responseJsonSchema: view.responseSchema ?? (view.responseFormat === 'json_object' ? REPLY_SCHEMA : undefined),
    body: call.body,
  };
  const text = await answerText(host.responder, request, rule?.fault);
  if (rule?.fault === 'max_tokens') return { content: text, refusal: null, finishReason: 'length' };
  const budget = view.maxTokens === undefined ? undefined : view.maxTokens - (host.settings.reasoningTokens ?? 0);
  if (budget !== undefined && countTextTokens(text) > budget) {
    return { content: cutText(text, Math.max(0, budget) * 4), refusal: null, finishReason: 'length' };
  }
  return { content: text, refusal: null, finishReason: 'stop' };
}

/** The first `length` characters, made unparseable if the cut happens to be valid JSON. */
function cutText(text: string, length: number): string {
  const cut = text.slice(0, length);
  try {
    JSON.parse(cut);
    return `${cut},`;
  } catch {
    return cut;
  }
}

/** A `finish` fault's Gemini finish reason in OpenAI's words. */
function chatFinishReason(reason: string): string {
  if (reason === 'STOP') return 'stop';
  if (reason === 'MAX_TOKENS') return 'length';
  if (FILTER_REASONS.has(reason)) return 'content_filter';
  return reason.toLowerCase();
}
