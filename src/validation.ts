import { ApplicationFailure } from '@temporalio/common';
import type { z } from 'zod';
import { describeZodError } from './schemas';

/** Validates a workflow's input (in an activity); a bad one fails the workflow at once, naming each field. */
export function parseWorkflowInput<T extends z.ZodType>(schema: T, raw: unknown, what: string): z.output<T> {
  const parsed = schema.safeParse(raw);
  if (parsed.success) return parsed.data;
  const issues = describeZodError(parsed.error);
  throw ApplicationFailure.nonRetryable(
    `invalid ${what}: ${issues.map((issue) => `${issue.path}: ${issue.message}`).join('; ')}`,
    'invalid_input',
    issues,
  );
}
