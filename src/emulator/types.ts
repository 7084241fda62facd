import type { FaultKind, FaultRule } from './faults';

/** Fixed delay plus seeded jitter, uniform in [0, jitterMs], applied before every API answer. */
export interface LatencyConfig {
  baseMs: number;
  jitterMs: number;
}

/** What a responder sees of one generateContent request. */
export interface EmulatedRequest {
  /** Model name without the `models/` prefix. */
  model: string;
  itemKey: string | undefined;
  attempt: number;
  promptText: string;
  systemInstructionText: string;
  temperature: number | undefined;
  /** `generationConfig.responseJsonSchema`, or else the Gemini-form `responseSchema`. */
  responseJsonSchema: unknown | undefined;
  body: unknown;
}

/** Produces the candidate text for a request. */
export type Responder = (request: EmulatedRequest) => string | Promise<string>;

export interface EmulatorOptions {
  /** Default 0: an ephemeral port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  latency?: LatencyConfig;
  /** Seeds fault rates and latency jitter. Default 1. */
  seed?: number;
  faults?: FaultRule[];
  /** Default: JSON synthesized from the request's schema, or a short deterministic text. */
  responder?: Responder;
  /** Reported as `modelVersion`; default is the requested model name. */
  modelVersion?: string;
  /** When set, any other API key is answered like Google answers an invalid key. */
  requiredApiKey?: string;
}

/** One request as the emulator saw it; pushed on arrival, completed when the exchange ends. */
export interface RequestLogEntry {
  seq: number;
  route: 'generateContent' | 'countTokens' | 'other';
  model: string;
  itemKey: string | undefined;
  /** nth generateContent request for this item key (1-based); 0 for other routes. */
  attempt: number;
  temperature: number | undefined;
  promptChars: number;
  /** Tokens of contents plus system instruction. */
  promptTokens: number;
  systemInstructionChars: number;
  cachedContent: string | undefined;
  hasResponseSchema: boolean;
  fault: FaultKind | undefined;
  /** The planned outcome while the request is open (`endedAtMs` undefined), the final one after. */
  status: number | 'reset' | 'hang' | 'aborted';
  startedAtMs: number;
  endedAtMs: number | undefined;
  /** generateContent requests in flight when this one started, itself included. */
  inFlightAtStart: number;
  outputText: string | undefined;
}
