import OpenAI from 'openai';

/** What the client is given as its key when the endpoint needs none (it insists on one). */
export const NO_KEY = 'no-key';

/** Where the `openai` client goes when no base URL is given. */
export const OPENAI_API_BASE_URL = 'https://api.openai.com/v1';

export interface OpenAIClientOptions {
  apiKey?: string | undefined;
  /** Base URL of an OpenAI-compatible endpoint (vLLM, Ollama, OpenRouter, our emulator's `…/v1`); OpenAI's when unset. */
  baseUrl?: string | undefined;
}

/** The base URL without credentials, query or fragment (some endpoints take a key there): safe for banners and logs. */
export function describeOpenAITarget(baseUrl: string): string {
  try {
    const url = new URL(baseUrl);
    url.username = '';
    url.password = '';
    url.search = '';
    url.hash = '';
    return url.toString().replace(/\/$/, '');
  } catch {
    return 'an OpenAI-compatible endpoint (unparsable base URL)';
  }
}

/**
 * The one place an `openai` client is made. Its retries stay off (`maxRetries: 0`): Temporal is
 * the only retry layer, so every physical call is counted. Key and base URL are always passed, so
 * the client never reads OPENAI_API_KEY or OPENAI_BASE_URL from the environment itself.
 */
export function createOpenAIClient(options: OpenAIClientOptions): OpenAI {
  if (!options.apiKey && !options.baseUrl) {
    throw new Error(
      'No OpenAI-compatible endpoint configured: set OPENAI_API_KEY to call OpenAI, or OPENAI_BASE_URL to another endpoint (vLLM, Ollama, OpenRouter, or the emulator at <emulator URL>/v1).',
    );
  }
  return new OpenAI({
    // Local servers (vLLM, Ollama, the emulator) need no key; the client insists on one.
    apiKey: options.apiKey || NO_KEY,
    baseURL: options.baseUrl ?? OPENAI_API_BASE_URL,
    maxRetries: 0,
  });
}
