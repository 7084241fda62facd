import { z } from 'zod';
import type { CacheDeclaration } from '../caching/spec';
import { CacheDeclarationSchema } from '../caching/spec';
import type { ErrorClassifier } from '../errors/classifier';
import { GenerationSettingsSchema, StagePlanSchema, TaskNameSchema, type GenerationSettings, type StagePlan } from '../schemas';

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
  generation?: GenerationSettings;
  /** Custom error rules for this task's model calls (see ErrorClassifier). */
  classifier?: ErrorClassifier;
}

/** Identity function that checks a task's static parts and keeps its types. */
export function defineTask<TItem, TOutput>(task: TaskDefinition<TItem, TOutput>): TaskDefinition<TItem, TOutput> {
  TaskNameSchema.parse(task.name);
  if (task.generation) GenerationSettingsSchema.parse(task.generation);
  if (task.stagePlan) StagePlanSchema.parse(task.stagePlan);
  if (task.cache) CacheDeclarationSchema.parse(task.cache);
  return task;
}

/** The JSON schema Gemini receives as `responseJsonSchema`. */
export function outputJsonSchema(task: Pick<TaskDefinition<never, unknown>, 'outputSchema'>): Record<string, unknown> {
  const schema = z.toJSONSchema(task.outputSchema, { unrepresentable: 'any' }) as Record<string, unknown>;
  delete schema['$schema'];
  return schema;
}

export function isTaskDefinition(value: unknown): value is TaskDefinition<never, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const candidate = value as Record<string, unknown>;
  return typeof candidate['name'] === 'string' && typeof candidate['prompt'] === 'function' && candidate['outputSchema'] instanceof z.ZodType;
}
