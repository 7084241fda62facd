/**
 * Reading and checking batch input (JSONL or inline items). Pure: no file I/O here, so the client,
 * the CLI and the prepareBatch activity share one set of rules and one wording of errors.
 */
import type { z } from 'zod';
import { describeZodError, ItemIdSchema, type WorkItem } from './schemas';

export interface InputProblem {
  /** 1-based line number in the source, when the input came from a file. */
  line?: number;
  itemId?: string;
  field?: string;
  message: string;
}

/** Bad input: names every problem found (up to a limit), with line numbers. Nothing was started. */
export class InputError extends Error {
  override readonly name = 'InputError';
  constructor(
    readonly source: string,
    readonly problems: InputProblem[],
    options?: ErrorOptions,
  ) {
    super(formatProblems(source, problems), options);
  }
}

const MAX_REPORTED_PROBLEMS = 20;

function formatProblems(source: string, problems: InputProblem[]): string {
  const lines = problems.slice(0, MAX_REPORTED_PROBLEMS).map((problem) => {
    const where = [
      problem.line !== undefined ? `line ${problem.line}` : undefined,
      problem.itemId !== undefined ? `item "${problem.itemId}"` : undefined,
      problem.field !== undefined ? `field "${problem.field}"` : undefined,
    ]
      .filter(Boolean)
      .join(', ');
    return `  - ${where ? `${where}: ` : ''}${problem.message}`;
  });
  const more =
    problems.length > MAX_REPORTED_PROBLEMS ? `\n  … and ${problems.length - MAX_REPORTED_PROBLEMS} more` : '';
  return `invalid input in ${source} (${problems.length} problem${problems.length === 1 ? '' : 's'}); nothing was started:\n${lines.join('\n')}${more}`;
}

/** Items parsed from JSONL, with the 1-based source line of each (`lines[item.index]`). */
export interface ParsedInput {
  items: WorkItem[];
  lines: number[];
}

/**
 * Parses JSONL text into work items. Every non-blank line must be a JSON object with an `id`
 * (string, or integer which becomes a string); ids must be unique. Throws InputError listing
 * every problem with its line number.
 */
export function parseJsonlItems(text: string, source: string): ParsedInput {
  const items: WorkItem[] = [];
  const lines: number[] = [];
  const problems: InputProblem[] = [];
  const firstLineOfId = new Map<string, number>();
  text.split(/\r?\n/).forEach((rawLine, lineIndex) => {
    const line = lineIndex + 1;
    if (rawLine.trim() === '') return;
    let parsed: unknown;
    try {
      parsed = JSON.parse(rawLine);
    } catch (error) {
      problems.push({ line, message: `not valid JSON (${(error as Error).message})` });
      return;
    }
    const checked = checkRecord(parsed);
    if ('problem' in checked) {
      problems.push({ line, ...checked.problem });
      return;
    }
    const previous = firstLineOfId.get(checked.id);
    if (previous !== undefined) {
      problems.push({ line, itemId: checked.id, message: `duplicate id (first seen on line ${previous})` });
      return;
    }
    firstLineOfId.set(checked.id, line);
    items.push({ id: checked.id, index: items.length, data: checked.data });
    lines.push(line);
  });
  if (problems.length > 0) throw new InputError(source, problems);
  if (items.length === 0) throw new InputError(source, [{ message: 'no items (the input is empty)' }]);
  return { items, lines };
}

/**
 * Parses a page of JSONL already checked whole by parseJsonlItems (so no duplicate-id check): its
 * non-blank lines become items numbered from `firstIndex`. A line that no longer parses means the
 * text changed; that throws InputError.
 */
export function parseJsonlPage(text: string, source: string, firstIndex: number): WorkItem[] {
  const items: WorkItem[] = [];
  for (const rawLine of text.split(/\r?\n/)) {
    if (rawLine.trim() === '') continue;
    let checked: ReturnType<typeof checkRecord>;
    try {
      checked = checkRecord(JSON.parse(rawLine));
    } catch (error) {
      throw new InputError(source, [
        { message: `item ${firstIndex + items.length} is no longer valid JSON (${(error as Error).message})` },
      ]);
    }
    if ('problem' in checked)
      throw new InputError(source, [{ message: `item ${firstIndex + items.length}: ${checked.problem.message}` }]);
    items.push({ id: checked.id, index: firstIndex + items.length, data: checked.data });
  }
  return items;
}

/** Checks inline records (objects with an `id`) the same way as JSONL lines, numbering them from 1. */
export function itemsFromRecords(records: readonly unknown[], source = 'inline items'): WorkItem[] {
  return parseJsonlItems(records.map((record) => JSON.stringify(record) ?? 'undefined').join('\n'), source).items;
}

/** Duplicate ids in already-built items (e.g. inline items given to the workflow directly). */
export function findDuplicateIds(items: readonly Pick<WorkItem, 'id'>[]): InputProblem[] {
  const seen = new Map<string, number>();
  const problems: InputProblem[] = [];
  items.forEach((item, position) => {
    const previous = seen.get(item.id);
    if (previous !== undefined) {
      problems.push({ itemId: item.id, message: `duplicate id (items[${previous}] and items[${position}])` });
    } else {
      seen.set(item.id, position);
    }
  });
  return problems;
}

function checkRecord(
  parsed: unknown,
): { id: string; data: Record<string, unknown> } | { problem: Omit<InputProblem, 'line'> } {
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    return { problem: { message: 'each line must be a JSON object' } };
  }
  const data = parsed as Record<string, unknown>;
  const rawId = data['id'];
  if (rawId === undefined || rawId === null) return { problem: { field: 'id', message: 'missing "id"' } };
  const idText = typeof rawId === 'number' && Number.isInteger(rawId) ? String(rawId) : rawId;
  const id = ItemIdSchema.safeParse(idText);
  if (!id.success) {
    return {
      problem: {
        field: 'id',
        message:
          typeof idText === 'string'
            ? (id.error.issues[0]?.message ?? 'invalid id')
            : 'id must be a string or an integer',
      },
    };
  }
  return { id: id.data, data };
}

/**
 * Every record a task's item schema refuses, named by line (when known), item and field, with the
 * value refused: the CLI runs it before starting a batch, the batch's first activity again.
 */
export function checkItemsAgainstTask(
  task: { itemSchema?: z.ZodType<unknown> | undefined },
  items: readonly WorkItem[],
  lines?: readonly number[],
): InputProblem[] {
  const problems: InputProblem[] = [];
  if (!task.itemSchema) return problems;
  for (const item of items) {
    const parsed = task.itemSchema.safeParse(item.data);
    if (parsed.success) continue;
    for (const issue of describeZodError(parsed.error, item.data)) {
      problems.push({
        ...(lines ? { line: lines[item.index] ?? item.index + 1 } : {}),
        itemId: item.id,
        field: issue.path,
        message: issue.value !== undefined ? `${issue.message} (got ${issue.value})` : issue.message,
      });
    }
  }
  return problems;
}
