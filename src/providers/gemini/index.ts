/**
 * Gemini as a ModelProvider, through the real `@google/genai` client (v1beta): Google's API with
 * a key, or any Gemini-compatible endpoint (our emulator) by base URL.
 */
import type { GenerateContentConfig, GoogleGenAI } from '@google/genai';
import { ITEM_HEADER } from '../../constants';
import type { GenerateRequest, ModelProvider } from '../types';
import { answerOf } from './answers';
import { geminiBatchJobs } from './batch-jobs';
import { geminiCaches } from './caches';
import { createGeminiClient, describeGeminiTarget, type GeminiClientOptions } from './client';
import { classifyGemini } from './errors';
import { fingerprintOf, GEMINI_PROVIDER_NAME } from '../registry';
import { contentConfig, contentsOf } from './request';

export { createGeminiClient, describeGeminiTarget, type GeminiClientOptions } from './client';
export { classifyGemini } from './errors';

/** From settings (a key, or an emulator's URL), or around a client already made. */
export function createGeminiProvider(
  from: GeminiClientOptions | { client: GoogleGenAI; target?: string },
): ModelProvider {
  const client = 'client' in from ? from.client : createGeminiClient(from);
  const target = 'client' in from ? (from.target ?? 'Gemini') : describeGeminiTarget(from);
  return {
    name: GEMINI_PROVIDER_NAME,
    target,
    ...('client' in from ? {} : { quotaKey: fingerprintOf(from.apiKey ?? from.baseUrl ?? 'none') }),
    async generate(request) {
      const response = await client.models.generateContent({
        model: request.model,
        contents: contentsOf(request.prompt),
        config: requestConfig(request),
      });
      return answerOf(response);
    },
    async countTokens(model, text) {
      const counted = await client.models.countTokens({ model, contents: [{ role: 'user', parts: [{ text }] }] });
      return counted.totalTokens ?? 0;
    },
    classify(error) {
      const info = classifyGemini(error);
      return info.category === 'authentication'
        ? { ...info, hint: 'API key missing or invalid: check GEMINI_API_KEY (or GOOGLE_API_KEY) on the workers.' }
        : info;
    },
    caches: geminiCaches(client),
    batchJobs: geminiBatchJobs(client),
  };
}

/** The online request's config: the shared content config plus the transport (abort, timeout, item header). */
function requestConfig(request: GenerateRequest): GenerateContentConfig {
  return {
    ...contentConfig(request),
    abortSignal: request.signal,
    httpOptions: {
      // The SDK aborts a hung request itself, so it ends as `timeout` before Temporal's backstop.
      timeout: request.timeoutMs,
      headers: { [ITEM_HEADER]: request.itemKey },
    },
  };
}
