import { z } from 'zod';
import type { CacheDeclaration } from '../caching/spec';
import { CacheDeclarationSchema } from '../caching/spec';
import type { ErrorClassifier } from '../errors/classifier';
import { PROVIDER_NAME_PATTERN } from '../constants';
import {
  GenerationSettingsSchema,
  HARM_PROBABILITIES,
  StagePlanSchema,
  TaskNameSchema,
  type CallMetadata,
  type GenerationSettings,
  type HarmProbability,
  type StagePlan,
} from '../schemas';

/**
 * A job a batch runs: how to turn one input record into a prompt, and what the answer must look
 * like. Tasks live in the worker (prompt builders and zod schemas are code, not data); batches
 * refer to them by name.
 */
export interface TaskDefinition<TItem = Record<string, unknown>, TOutput = unknown> {
  name: string;
  description?: string;
  /** Validates each input record before any prompt is built (optional). */
  itemSchema?: z.ZodType<TItem>;
  /** The answer's shape: sent to Gemini as a JSON schema, and the reply is validated with it. */
  outputSchema: z.ZodType<TOutput>;
  /**
   * Checks beyond the schema, on an answer that passed it (e.g. "the summary must name the
   * product"): each issue names a field path (`summary`, `specs.weight`; '' for the whole answer)
   * and what is wrong. Issues are validation failures: they move the item along its stage plan,
   * and a partial stage asks again for just the fields they name.
   */
  validate?: (output: TOutput, item: TItem) => ReadonlyArray<{ path: string; message: string }> | undefined;
  /** Builds the user prompt for one item. */
  prompt: (item: TItem) => string;
  systemInstruction?: string;
  /** A short description of the item for partial re-prompts (keep it brief: that is their point). */
  partialContext?: (item: TItem) => string;
  /** Validation-recovery stages for this task (a batch may override); DEFAULT_STAGE_PLAN otherwise. */
  stagePlan?: StagePlan;
  /** A context cache for the shared prefix (system instruction and/or reference contents). */
  cache?: CacheDeclaration;
  /** Default model for this task (a batch may override it). */
  model?: string;
  /**
   * Which configured provider its calls go to: `gemini` (the default) or `openai-compatible`
   * (OPENAI_API_KEY / OPENAI_BASE_URL on the workers: OpenAI, OpenRouter, DeepSeek, vLLM, Ollama).
   */
  provider?: string;
  generation?: GenerationSettings;
  /** Custom error rules for this task's model calls (see ErrorClassifier). */
  classifier?: ErrorClassifier;
  /**
   * Content filter: a parsed answer rated at or above a threshold ends `filtered` (output and
   * ratings kept), e.g. `{ HARM_CATEGORY_HATE_SPEECH: 'MEDIUM' }`.
   */
  safetyFilter?: Partial<Record<string, HarmProbability>>;
  /** A blocked answer is final unless this opts into one more try at another temperature. */
  safetyRetry?: { temperature: number };
  /** Keep the accepted call's raw response in the result (it bloats history: off by default). */
  includeRawResponse?: boolean;
  /**
   * Runs as an activity after the item's answer is accepted: may transform the output or reject
   * it. It may run again if its worker dies mid-hook, so side effects must be idempotent by
   * `idempotencyKey`; once it has completed for an item, it is not run again.
   */
  postProcess?: (input: PostProcessInput<TItem, TOutput>) => PostProcessDecision | Promise<PostProcessDecision>;
}

export interface PostProcessInput<TItem, TOutput> {
  item: TItem;
  output: TOutput;
  metadata: CallMetadata;
  batchId: string;
  itemId: string;
  /** `<batchId>/<itemId>`: key every side effect by it. */
  idempotencyKey: string;
}

/** Keep (optionally replacing the output) or reject the item. */
export type PostProcessDecision = { output?: unknown } | { reject: string };

/** Identity function that checks a task's static parts and keeps its types. */
export function defineTask<TItem, TOutput>(task: TaskDefinition<TItem, TOutput>): TaskDefinition<TItem, TOutput> {
  TaskNameSchema.parse(task.name);
  if (task.generation) GenerationSettingsSchema.parse(task.generation);
  if (task.stagePlan) StagePlanSchema.parse(task.stagePlan);
  if (task.cache) CacheDeclarationSchema.parse(task.cache);
  if (task.provider !== undefined && !PROVIDER_NAME_PATTERN.test(task.provider))
    throw new Error(`task "${task.name}": provider must be a provider name such as gemini or openai-compatible`);
  for (const [category, threshold] of Object.entries(task.safetyFilter ?? {})) {
    if (!/^HARM_CATEGORY_[A-Z_]+$/.test(category))
      throw new Error(`task "${task.name}": safetyFilter key "${category}" is not a HARM_CATEGORY_…`);
    if (!HARM_PROBABILITIES.includes(threshold as HarmProbability))
      throw new Error(`task "${task.name}": safetyFilter.${category} must be one of ${HARM_PROBABILITIES.join(', ')}`);
  }
  return task;
}

/** Converted once per output schema: every full prompt of a task sends the same one. */
const jsonSchemas = new WeakMap<z.ZodType, Record<string, unknown>>();

/**
 * The JSON schema Gemini receives as `responseJsonSchema` (shared: callers must not change it; a
 * deep copy is what the request serialises anyway).
 */
export function outputJsonSchema(task: Pick<TaskDefinition<never, unknown>, 'outputSchema'>): Record<string, unknown> {
  const known = jsonSchemas.get(task.outputSchema);
  if (known) return known;
  const schema = z.toJSONSchema(task.outputSchema, { unrepresentable: 'any' }) as Record<string, unknown>;
  delete schema['$schema'];
  jsonSchemas.set(task.outputSchema, schema);
  return schema;
}

export function isTaskDefinition(value: unknown): value is TaskDefinition<never, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const candidate = value as Record<string, unknown>;
  return (
    typeof candidate['name'] === 'string' &&
    typeof candidate['prompt'] === 'function' &&
    candidate['outputSchema'] instanceof z.ZodType
  );
}
