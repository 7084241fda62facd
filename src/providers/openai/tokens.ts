/**
 * Chat completions have no token-counting route: prompts are counted here, with OpenAI's own
 * tokenizers (the `gpt-tokenizer` package: o200k_base for the gpt-4o/4.1/5 and o-series models,
 * cl100k_base for gpt-4 and gpt-3.5). Other models (Llama, Qwen, DeepSeek behind vLLM, Ollama,
 * OpenRouter) have tokenizers of their own: o200k_base is then an approximation, and says so.
 * Loaded on first use (its tables take ~0.3 s and ~30 MB): the worker never needs it.
 */
import type { ChatCompletionCreateParamsNonStreaming } from 'openai/resources/chat/completions';
import type { GenerateRequest } from '../types';
import { chatRequestOf } from './request';

export type OpenAIEncoding = 'o200k_base' | 'cl100k_base';

/** Which tokenizer a model uses, and whether it is that model's own (else an approximation). */
export function encodingOf(model: string): { encoding: OpenAIEncoding; exact: boolean } {
  const name = model.replace(/^(openai\/|models\/)/, '');
  if (/^(gpt-4o|gpt-4\.1|gpt-4\.5|gpt-5|gpt-oss|chatgpt-4o|o1|o3|o4)(\b|-|$)/.test(name))
    return { encoding: 'o200k_base', exact: true };
  if (/^(gpt-4|gpt-3\.5)(\b|-|$)/.test(name)) return { encoding: 'cl100k_base', exact: true };
  return { encoding: 'o200k_base', exact: false };
}

interface Tokenizer {
  countTokens(text: string): number;
}

const tokenizers = new Map<OpenAIEncoding, Tokenizer>();

function tokenizerOf(encoding: OpenAIEncoding): Tokenizer {
  let tokenizer = tokenizers.get(encoding);
  if (!tokenizer) {
    tokenizer = (
      encoding === 'o200k_base'
        ? require('gpt-tokenizer/cjs/encoding/o200k_base')
        : require('gpt-tokenizer/cjs/encoding/cl100k_base')
    ) as Tokenizer;
    tokenizers.set(encoding, tokenizer);
  }
  return tokenizer;
}

/** Tokens of a plain text in a model's tokenizer (or o200k_base). */
export function countTextTokens(model: string, text: string): number {
  return text ? tokenizerOf(encodingOf(model).encoding).countTokens(text) : 0;
}

/** What OpenAI adds around each message (`<|start|>role…<|end|>`) and to prime the reply. */
const TOKENS_PER_MESSAGE = 3;
const REPLY_PRIMING_TOKENS = 3;

/**
 * The prompt tokens a chat request will be charged, as OpenAI counts them: every message with its
 * framing, and the response format's JSON schema (structured outputs put it in the model's context).
 * Within a few tokens for OpenAI's models; an approximation for others.
 */
export function countChatTokens(body: ChatCompletionCreateParamsNonStreaming): number {
  let tokens = REPLY_PRIMING_TOKENS;
  for (const message of body.messages) {
    const content = message.content;
    const text =
      typeof content === 'string'
        ? content
        : Array.isArray(content)
          ? content.map((part) => ('text' in part && typeof part.text === 'string' ? part.text : '')).join('')
          : '';
    tokens += TOKENS_PER_MESSAGE + countTextTokens(body.model, message.role) + countTextTokens(body.model, text);
  }
  const format = body.response_format;
  if (format?.type === 'json_schema' && format.json_schema.schema)
    tokens += countTextTokens(body.model, JSON.stringify(format.json_schema.schema));
  return tokens;
}

/**
 * A full prompt's tokens as the endpoint will charge them (messages with their framing and the
 * json_schema), counted locally: what `start --dry-run` counts for this provider's tasks.
 */
export function countPromptTokens(
  request: Pick<GenerateRequest, 'model' | 'prompt' | 'systemInstruction' | 'responseJsonSchema'>,
): number {
  const { body } = chatRequestOf({ ...request, generation: {} }, 'json_schema', 'max_tokens');
  return countChatTokens(body);
}
