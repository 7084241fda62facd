import { z } from 'zod';
import type { PartialState } from '../src/stages';
import type { WorkItem } from '../src/schemas';
import type { AnyTask } from '../src/tasks/registry';
import { outputJsonSchema } from '../src/tasks/task';

/** What one model call sends, apart from transport settings. */
export interface PromptRequest {
  prompt: string;
  systemInstruction: string | undefined;
  responseJsonSchema: Record<string, unknown>;
}

/** The task's whole prompt, its system instruction and its output schema. */
export function fullPrompt(task: AnyTask, item: WorkItem): PromptRequest {
  return {
    prompt: (task.prompt as (data: unknown) => string)(itemData(task, item)),
    systemInstruction: task.systemInstruction,
    responseJsonSchema: outputJsonSchema(task),
  };
}

/**
 * The short repair prompt: only the failed fields, their previous values and errors, and the
 * shape of just those fields; the accepted fields travel as context, the full prompt does not.
 */
export function partialPrompt(task: AnyTask, item: WorkItem, partial: PartialState): PromptRequest {
  const schema = task.outputSchema as unknown as z.ZodObject;
  const mask = Object.fromEntries(partial.failedFields.map((field) => [field, true])) as Record<string, true>;
  const fieldSchema = outputJsonSchema({ outputSchema: schema.pick(mask) as unknown as z.ZodType });
  const properties = (fieldSchema['properties'] ?? {}) as Record<string, unknown>;
  const lines = partial.failedFields.map((field) => {
    const errors = partial.issues.filter((issue) => issue.path === field || issue.path.startsWith(`${field}.`)).map((issue) => issue.message);
    return `- "${field}": was ${JSON.stringify(partial.previous[field]) ?? 'missing'}; ${errors.join('; ')}; expected ${JSON.stringify(properties[field])}`;
  });
  const context = task.partialContext ? (task.partialContext as (data: unknown) => string)(itemData(task, item)) : undefined;
  return {
    prompt: [
      'Some fields of your JSON answer failed validation. Reply with a JSON object holding only these fields, corrected:',
      ...lines,
      ...(context ? [`Item: ${context}`] : []),
      `Accepted fields (keep consistent): ${truncate(JSON.stringify(partial.kept), 400)}`,
    ].join('\n'),
    systemInstruction: undefined,
    responseJsonSchema: fieldSchema,
  };
}

function itemData(task: AnyTask, item: WorkItem): unknown {
  // prepareBatch already checked item.data against task.itemSchema; parse applies its transforms.
  return task.itemSchema ? task.itemSchema.parse(item.data) : item.data;
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
