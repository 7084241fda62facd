/**
 * An offline Gemini API emulator for tests: point `@google/genai` at `GeminiEmulator.url`, or the
 * `openai` client at `${GeminiEmulator.url}/v1` (chat completions).
 */
export { GeminiEmulator } from './server';
export { ITEM_KEY_HEADER } from './item-header';
export type { EmulatorPatch } from './server';
export { BATCH_ROUTES, CACHE_ROUTES, FAULT_FLAG_FORM, FAULT_KINDS, FAULT_ROUTES, parseFaultFlag } from './faults';
export type { BatchRoute, CacheRoute, FaultKind, FaultRoute, FaultRule } from './faults';
export type { CachedContentResource } from './caches';
export { QuotaWindow } from './quota';
export type { QuotaLimits, QuotaStats } from './quota';
export type { EmulatedRequest, EmulatorOptions, LatencyConfig, RequestLogEntry, Responder } from './types';
export type { OpenAISettings } from './openai-settings';
export { HARM_CATEGORIES, HARM_PROBABILITIES, KNOWN_BLOCK_REASONS, KNOWN_FINISH_REASONS } from './safety';
export type { HarmCategory, HarmProbability, SafetyRatingSpec } from './safety';
export { countTextTokens } from './tokens';
export { synthesizeFromSchema } from './schema';
export { defaultResponder } from './responder';
export { BATCH_STATES } from './batches';
export type {
  BatchJobLogEntry,
  BatchOutcome,
  BatchOutcomeRule,
  BatchRequestFault,
  BatchSettings,
  BatchState,
} from './batches';
