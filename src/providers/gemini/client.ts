import { GoogleGenAI } from '@google/genai';

export interface GeminiClientOptions {
  apiKey?: string | undefined;
  /** Base URL of a Gemini-compatible endpoint (our emulator); Google's when unset. */
  baseUrl?: string | undefined;
}

/** Where the worker's model calls go, for the start-up banner. Never includes the key. */
export function describeGeminiTarget(options: GeminiClientOptions): string {
  return options.baseUrl ? `Gemini emulator at ${options.baseUrl}` : 'Google Gemini API';
}

/**
 * The one place a `@google/genai` client is made. SDK retries stay off (no `retryOptions`):
 * Temporal is the only retry layer, so every physical call is counted.
 */
export function createGeminiClient(options: GeminiClientOptions): GoogleGenAI {
  if (!options.apiKey && !options.baseUrl) {
    throw new Error(
      'No Gemini endpoint configured: set GEMINI_API_KEY to call Google, or GOOGLE_GEMINI_BASE_URL to an emulator (`batch-llm emulator`, or `batch-llm dev` which starts one).',
    );
  }
  return new GoogleGenAI({
    // The emulator accepts any key; the SDK needs one or it falls back to Google default credentials.
    apiKey: options.apiKey ?? 'emulator-key',
    apiVersion: 'v1beta',
    ...(options.baseUrl ? { httpOptions: { baseUrl: options.baseUrl } } : {}),
  });
}
