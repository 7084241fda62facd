/**
 * What a 200 answer amounts to, whatever the provider: the provider may already have said it is
 * unusable (blocked, truncated); otherwise its text is parsed as JSON, merged over the kept fields
 * for a partial re-prompt, validated against the task's schema and checked by the task's own
 * `validate`. Issues name their fields, so a partial stage can repair only those. Also the
 * task's safety thresholds over the answer's ratings.
 */
import { z } from 'zod';
import type { ErrorCategory } from '../errors/categories';
import {
  describeZodError,
  formatIssue,
  HARM_PROBABILITIES,
  type CallMetadata,
  type FilterHit,
  type HarmProbability,
  type ValidationIssue,
} from '../schemas';
import type { PartialState } from '../stages';
import type { AnyTask } from '../tasks/registry';
import type { ModelAnswer } from './types';

/** What a 200 answer amounts to: a valid output, or why it cannot be used. */
export type Judgement =
  | { kind: 'ok'; output: unknown }
  | {
      kind: 'unusable';
      category: ErrorCategory;
      message: string;
      validationIssues?: ValidationIssue[];
      /** Present when the answer parsed and some fields validated: a partial stage can repair the rest. */
      partial?: PartialState;
    };

/**
 * Turns a 200 answer into an output. For a partial re-prompt, the answer holds only the failed
 * fields: they are merged over the kept ones and the whole is validated again.
 */
export function judgeAnswer(
  task: Pick<AnyTask, 'outputSchema' | 'validate'>,
  answer: Pick<ModelAnswer, 'text' | 'stopped'>,
  partial?: PartialState,
  item?: unknown,
): Judgement {
  if (answer.stopped) return { kind: 'unusable', ...answer.stopped };
  const text = answer.text;
  if (text === undefined || text.trim() === '')
    return { kind: 'unusable', category: 'empty_response', message: 'no text in the answer' };
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    const issues = [{ path: '(root)', message: `not valid JSON: ${(error as Error).message}` }];
    return { kind: 'unusable', category: 'validation_error', message: issues[0]!.message, validationIssues: issues };
  }
  const candidateOutput = partial && isPlainObject(parsed) ? mergePartial(partial, parsed) : parsed;
  const validated = task.outputSchema.safeParse(candidateOutput);
  if (!validated.success) {
    const issues = describeZodError(validated.error, candidateOutput);
    return invalid(
      issues,
      partialStateFromIssues(
        task.outputSchema,
        candidateOutput,
        validated.error.issues.map((issue) => issue.path),
        issues,
      ),
    );
  }
  // The task's own checks beyond the schema: their issues feed the stage plan like schema issues.
  const semantic = task.validate ? (task.validate(validated.data as never, item as never) ?? []) : [];
  if (semantic.length === 0) return { kind: 'ok', output: validated.data };
  const issues = semantic.map((issue) => describeSemanticIssue(issue, validated.data));
  return invalid(
    issues,
    partialStateFromIssues(
      task.outputSchema,
      validated.data,
      issues.map((issue) => (issue.path === '(root)' ? [] : issue.path.split('.'))),
      issues,
    ),
  );
}

function invalid(issues: ValidationIssue[], partial: PartialState | undefined): Judgement {
  return {
    kind: 'unusable',
    category: 'validation_error',
    message: issues.map(formatIssue).join('; '),
    validationIssues: issues,
    ...(partial ? { partial } : {}),
  };
}

/** A task's own issue, with the value it names (when its path leads to one). */
function describeSemanticIssue(issue: { path: string; message: string }, output: unknown): ValidationIssue {
  const path = issue.path.trim() === '' ? '(root)' : issue.path;
  let value: unknown = output;
  if (path !== '(root)')
    for (const key of path.split('.'))
      value = isPlainObject(value) || Array.isArray(value) ? (value as Record<string, unknown>)[key] : undefined;
  const shown = value === undefined ? undefined : JSON.stringify(value);
  return {
    path,
    message: issue.message,
    ...(shown !== undefined ? { value: shown.length > 80 ? `${shown.slice(0, 79)}…` : shown } : {}),
  };
}

/** The repaired fields replace the failed ones; anything else the model sent is ignored. */
export function mergePartial(partial: PartialState, answer: Record<string, unknown>): Record<string, unknown> {
  const merged: Record<string, unknown> = { ...partial.kept };
  for (const field of partial.failedFields) if (field in answer) merged[field] = answer[field];
  return merged;
}

/**
 * Splits an invalid object into fields that validated and fields that did not. Only for object
 * schemas, and only when every issue names a top-level field (otherwise there is nothing to keep).
 */
export function partialStateOf(schema: z.ZodType, value: unknown, error: z.ZodError): PartialState | undefined {
  return partialStateFromIssues(
    schema,
    value,
    error.issues.map((issue) => issue.path),
    describeZodError(error, value),
  );
}

/** As partialStateOf, for issues given by their paths (the task's own checks, or zod's). */
export function partialStateFromIssues(
  schema: z.ZodType,
  value: unknown,
  issuePaths: ReadonlyArray<readonly PropertyKey[]>,
  issues: ValidationIssue[],
): PartialState | undefined {
  if (!(schema instanceof z.ZodObject) || !isPlainObject(value)) return undefined;
  if (issuePaths.some((issuePath) => issuePath.length === 0)) return undefined;
  const failedFields = [...new Set(issuePaths.map((issuePath) => String(issuePath[0])))];
  const shapeKeys = Object.keys(schema.shape as Record<string, unknown>);
  if (failedFields.some((field) => !shapeKeys.includes(field))) return undefined;
  const kept: Record<string, unknown> = {};
  for (const key of shapeKeys) if (!failedFields.includes(key) && key in value) kept[key] = value[key];
  const previous: Record<string, unknown> = {};
  for (const field of failedFields) previous[field] = value[field];
  return { kept, failedFields, previous, issues };
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function rank(probability: string): number {
  return HARM_PROBABILITIES.indexOf(probability as HarmProbability);
}

/** Ratings at or above the task's thresholds (empty: the answer passes the filter). */
export function filterHits(
  metadata: CallMetadata,
  thresholds: Partial<Record<string, HarmProbability>> | undefined,
): FilterHit[] {
  const hits: FilterHit[] = [];
  for (const [category, threshold] of Object.entries(thresholds ?? {})) {
    const probability = metadata.safetyRatings[category];
    if (threshold && probability !== undefined && rank(probability) >= 0 && rank(probability) >= rank(threshold)) {
      hits.push({ category, probability, threshold });
    }
  }
  return hits;
}
