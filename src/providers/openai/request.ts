/** The one place a chat-completions request is built from a GenerateRequest. */
import type {
  ChatCompletionCreateParamsNonStreaming,
  ChatCompletionMessageParam,
} from 'openai/resources/chat/completions';
import type { GenerateRequest } from '../types';
import { toStrictSchema, type StrictSchema } from './strict-schema';

/**
 * How the answer's shape is asked for: `json_schema` (structured outputs, strict when the schema
 * allows), or `json_object` with the schema in the system prompt, for endpoints that refuse the former.
 */
export type OutputMode = 'json_schema' | 'json_object';

/** OpenAI's newer name for the output cap; other servers (vLLM, Ollama, DeepSeek…) know `max_tokens`. */
export type MaxTokensParameter = 'max_completion_tokens' | 'max_tokens';

export interface ChatRequest {
  body: ChatCompletionCreateParamsNonStreaming;
  /** Undoes what strict mode made of optional properties (json_schema, strict); identity otherwise. */
  restore: (value: unknown) => unknown;
}

/** Converted once per schema object: every full prompt of a task sends the same one. */
const strictForms = new WeakMap<object, StrictSchema | { notStrict: string }>();

function strictFormOf(schema: Record<string, unknown>): StrictSchema | { notStrict: string } {
  const known = strictForms.get(schema);
  if (known) return known;
  const converted = toStrictSchema(schema);
  strictForms.set(schema, converted);
  return converted;
}

/** OpenAI itself (and Azure) take `max_completion_tokens`; anything else gets the older `max_tokens`. */
export function maxTokensParameterFor(baseUrl: string): MaxTokensParameter {
  try {
    const host = new URL(baseUrl).hostname;
    return /(^|\.)openai\.com$|(^|\.)azure\.com$/.test(host) ? 'max_completion_tokens' : 'max_tokens';
  } catch {
    return 'max_tokens';
  }
}

/** The system prompt of a json_object request: the task's, then the schema the answer must follow. */
export function jsonObjectInstruction(systemInstruction: string | undefined, schema: Record<string, unknown>): string {
  const instruction =
    'Answer with one JSON object only (no prose, no code fences) that follows this JSON Schema:\n' +
    JSON.stringify(schema);
  return systemInstruction ? `${systemInstruction}\n\n${instruction}` : instruction;
}

/**
 * System and user messages, sampling settings and the response format. Gemini's `topK` and
 * `thinkingBudget` have no chat-completions parameter and are not sent; a context cache never
 * applies (this provider has none).
 */
/** What a chat request is built from: the prompt and its settings, not the transport (timeout, signal, item header). */
export type ChatRequestSource = Pick<
  GenerateRequest,
  'model' | 'prompt' | 'systemInstruction' | 'responseJsonSchema' | 'generation'
>;

export function chatRequestOf(
  request: ChatRequestSource,
  mode: OutputMode,
  maxTokens: MaxTokensParameter,
): ChatRequest {
  const settings = request.generation;
  let system = request.systemInstruction;
  let restore: ChatRequest['restore'] = (value) => value;
  let responseFormat: ChatCompletionCreateParamsNonStreaming['response_format'];
  if (mode === 'json_object') {
    system = jsonObjectInstruction(system, request.responseJsonSchema);
    responseFormat = { type: 'json_object' };
  } else {
    const strict = strictFormOf(request.responseJsonSchema);
    if ('schema' in strict) restore = strict.restore;
    responseFormat = {
      type: 'json_schema',
      json_schema: {
        name: 'output',
        strict: 'schema' in strict,
        schema: 'schema' in strict ? strict.schema : request.responseJsonSchema,
      },
    };
  }
  const messages: ChatCompletionMessageParam[] = [];
  if (system) messages.push({ role: 'system', content: system });
  messages.push({ role: 'user', content: request.prompt });
  const body: ChatCompletionCreateParamsNonStreaming = {
    model: request.model,
    messages,
    response_format: responseFormat,
  };
  if (settings.temperature !== undefined) body.temperature = settings.temperature;
  if (settings.topP !== undefined) body.top_p = settings.topP;
  if (settings.seed !== undefined) body.seed = settings.seed;
  if (settings.maxOutputTokens !== undefined) body[maxTokens] = settings.maxOutputTokens;
  return { body, restore };
}
