/**
 * OpenAI-compatible chat completions as a ModelProvider, through the real `openai` client: OpenAI
 * itself, or any endpoint that speaks its API (OpenRouter, DeepSeek, vLLM, Ollama, Gemini's
 * `…/v1beta/openai/`, our emulator's `…/v1`). No context caches and no batch jobs.
 */
import type OpenAI from 'openai';
import { ITEM_HEADER } from '../../constants';
import { fingerprintOf, OPENAI_PROVIDER_NAME } from '../registry';
import type { GenerateRequest, ModelAnswer, ModelProvider } from '../types';
import { answerOf } from './answers';
import { createOpenAIClient, describeOpenAITarget, NO_KEY } from './client';
import { classifyOpenAI, refusesJsonSchema } from './errors';
import { chatRequestOf, maxTokensParameterFor, type OutputMode } from './request';
import { countTextTokens } from './tokens';

export { createOpenAIClient, describeOpenAITarget, OPENAI_API_BASE_URL, type OpenAIClientOptions } from './client';
export { classifyOpenAI, classifyOpenAIError } from './errors';
export { countChatTokens, countPromptTokens, countTextTokens, encodingOf } from './tokens';

export { OPENAI_PROVIDER_NAME } from '../registry';

export interface OpenAIProviderOptions {
  apiKey?: string | undefined;
  /** e.g. `https://openrouter.ai/api/v1`, `http://localhost:11434/v1`; OpenAI's when unset. */
  baseUrl?: string | undefined;
  /** A client made elsewhere (its own retries should be off); apiKey and baseUrl are then unused. */
  client?: OpenAI | undefined;
  /** What the provider calls itself (e.g. a named endpoint); default `openai-compatible`. */
  name?: string | undefined;
  /** The variable its key comes from, named when the endpoint refuses the key; default OPENAI_API_KEY. */
  keyVariable?: string | undefined;
  /** Where the one-time json_object fallback notice goes; default console.warn. */
  log?: ((line: string) => void) | undefined;
}

/**
 * Base URL + model pairs that refused `response_format: json_schema`, for the life of the process:
 * every later request to them asks for json_object straight away.
 */
const jsonObjectOnly = new Set<string>();

export function createOpenAIProvider(options: OpenAIProviderOptions): ModelProvider {
  const client = options.client ?? createOpenAIClient(options);
  const name = options.name ?? OPENAI_PROVIDER_NAME;
  const target = describeOpenAITarget(client.baseURL);
  const log = options.log ?? ((line: string) => console.warn(line));
  const maxTokens = maxTokensParameterFor(client.baseURL);
  const keyVariable = options.keyVariable ?? 'OPENAI_API_KEY';
  // The account: its key when there is one, else the endpoint (a local server's quota is its own).
  const key = options.client ? client.apiKey : options.apiKey;
  const quotaKey = fingerprintOf(key && key !== NO_KEY ? key : client.baseURL);

  async function complete(request: GenerateRequest, mode: OutputMode): Promise<ModelAnswer> {
    const { body, restore } = chatRequestOf(request, mode, maxTokens);
    const completion = await client.chat.completions.create(body, {
      // The client aborts a hung request itself, so it ends as `timeout` before Temporal's backstop.
      timeout: request.timeoutMs,
      signal: request.signal,
      headers: { [ITEM_HEADER]: request.itemKey },
      maxRetries: 0,
    });
    return answerOf(completion, restore);
  }

  return {
    name,
    target,
    quotaKey,
    async generate(request) {
      const endpoint = `${client.baseURL}\u0000${request.model}`;
      if (jsonObjectOnly.has(endpoint)) return complete(request, 'json_object');
      try {
        return await complete(request, 'json_schema');
      } catch (error) {
        if (!refusesJsonSchema(error)) throw error;
        // Several calls may be refused at once: the notice is written by the first only.
        if (!jsonObjectOnly.has(endpoint)) {
          jsonObjectOnly.add(endpoint);
          log(
            `${name}: ${target} refused response_format json_schema for model ${request.model} ` +
              `(${(error as Error).message}); asking it for json_object with the schema in the system prompt ` +
              'from now on (until this process restarts).',
          );
        }
        return complete(request, 'json_object');
      }
    },
    // No counting route on this API: OpenAI's tokenizer, locally (an approximation for other models).
    async countTokens(model, text) {
      return countTextTokens(model, text);
    },
    classify(error) {
      const info = classifyOpenAI(error);
      return info.category === 'authentication'
        ? { ...info, hint: `API key missing or invalid: check ${keyVariable} on the workers (the key of ${target}).` }
        : info;
    },
  };
}
