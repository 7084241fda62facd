import { type z } from 'zod';
import type { PartialState } from '../stages';
import type { WorkItem } from '../schemas';
import type { AnyTask } from '../tasks/registry';
import { outputJsonSchema } from '../tasks/task';

/** What one model call sends, apart from transport settings. */
export interface PromptRequest {
  prompt: string;
  systemInstruction: string | undefined;
  responseJsonSchema: Record<string, unknown>;
}

/**
 * The task's whole prompt and output schema. With a context cache, the system instruction and
 * the shared contents are in the cache; without one they travel with every request.
 */
export function fullPrompt(task: AnyTask, item: WorkItem, cached = false): PromptRequest {
  const itemPrompt = (task.prompt as (data: unknown) => string)(itemData(task, item));
  const shared = cached ? undefined : task.cache?.contents;
  return {
    prompt: shared ? `${shared}\n\n${itemPrompt}` : itemPrompt,
    systemInstruction: cached ? undefined : task.systemInstruction,
    responseJsonSchema: outputJsonSchema(task),
  };
}

/**
 * The short repair prompt: only the failed fields, each with its previous value, its errors and
 * its expected shape; a brief item context instead of the full prompt. The response schema holds
 * just those fields, so the answer is short too.
 */
export function partialPrompt(task: AnyTask, item: WorkItem, partial: PartialState): PromptRequest {
  const schema = task.outputSchema as unknown as z.ZodObject;
  const mask = Object.fromEntries(partial.failedFields.map((field) => [field, true])) as Record<string, true>;
  const fieldSchema = outputJsonSchema({ outputSchema: schema.pick(mask) as unknown as z.ZodType });
  const properties = (fieldSchema['properties'] ?? {}) as Record<string, Record<string, unknown>>;
  const lines = partial.failedFields.map((field) => {
    const errors = partial.issues
      .filter((issue) => issue.path === field || issue.path.startsWith(`${field}.`))
      .map((issue) => issue.message);
    const shape = describeShape(properties[field] ?? {});
    const said = errors.join('; ');
    // zod's enum errors already list the options; say the shape only when it adds something.
    return `- ${field} (was ${truncate(JSON.stringify(partial.previous[field]) ?? 'missing', 80)}): ${said}${shape && !said.includes(shape) ? `. Expected ${shape}.` : ''}`;
  });
  const context = task.partialContext
    ? (task.partialContext as (data: unknown) => string)(itemData(task, item))
    : `accepted fields ${truncate(JSON.stringify(partial.kept), 200)}`;
  return {
    prompt: ['Fix these fields of your JSON answer and reply with only them:', ...lines, `Item: ${context}`].join('\n'),
    systemInstruction: undefined,
    responseJsonSchema: fieldSchema,
  };
}

/** A few words for a JSON-schema fragment: "string, 10-200 chars", "array of string, 1-5 items". */
export function describeShape(schema: Record<string, unknown>): string {
  const parts: string[] = [];
  if (Array.isArray(schema['enum'])) return `one of ${schema['enum'].map((value) => JSON.stringify(value)).join('|')}`;
  const type = schema['type'];
  if (type === 'array') {
    const items = (schema['items'] ?? {}) as Record<string, unknown>;
    parts.push(`array of ${describeShape(items) || 'values'}`);
    const range = rangeText(schema['minItems'], schema['maxItems']);
    if (range) parts.push(`${range} items`);
  } else if (typeof type === 'string') {
    parts.push(type);
    const length = rangeText(schema['minLength'], schema['maxLength']);
    if (length) parts.push(`${length} chars`);
    const value = rangeText(schema['minimum'], schema['maximum']);
    if (value) parts.push(`in ${value}`);
  }
  return parts.join(', ');
}

function rangeText(min: unknown, max: unknown): string | undefined {
  if (typeof min === 'number' && typeof max === 'number') return `${min}-${max}`;
  if (typeof min === 'number') return `>= ${min}`;
  if (typeof max === 'number') return `<= ${max}`;
  return undefined;
}

function itemData(task: AnyTask, item: WorkItem): unknown {
  // prepareBatch already checked item.data against task.itemSchema; parse applies its transforms.
  return task.itemSchema ? task.itemSchema.parse(item.data) : item.data;
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
