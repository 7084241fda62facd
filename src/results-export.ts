/**
 * Shaping exported records for data work (`batch-llm results`): leave out the per-attempt safety
 * ratings unless asked, pick fields by dotted path, and write JSONL or CSV (RFC 4180). Pure: one
 * record in, one line out, so an export streams whatever its size.
 */
import type { ItemResult } from './schemas';

export const RESULT_FORMATS = ['jsonl', 'csv'] as const;
export type ResultFormat = (typeof RESULT_FORMATS)[number];

/** CSV columns when no --fields are given: the item, its outcome, its answer (as JSON) and its cost. */
export const DEFAULT_CSV_FIELDS = [
  'itemId',
  'index',
  'status',
  'error.category',
  'error.message',
  'output',
  'model',
  'usage.inputTokens',
  'usage.outputTokens',
  'costUsd',
  'modelCalls',
  'durationMs',
  'finishedAt',
] as const;

/** A dotted path: names (or array positions) joined by dots, e.g. `output.title`, `attempts.0.stage`. */
export const FIELD_PATH = /^[A-Za-z_$][\w$-]*(\.[\w$-]+)*$/;

/**
 * The record as exported by default: each attempt's `metadata` without its `safetyRatings` (every
 * call's ratings, repeated per attempt, made most of a line) and without its `usage` when that is a
 * copy of the attempt's own `usage`. The item's own `metadata` (its final answer's, ratings
 * included), `filteredBy`, and each attempt's outcome and message stay. `--full` skips this.
 */
export function compactRecord(record: ItemResult): ItemResult {
  if (!record.attempts?.some((attempt) => attempt.metadata)) return record;
  return {
    ...record,
    attempts: record.attempts.map((attempt) => {
      if (!attempt.metadata) return attempt;
      const { safetyRatings: _ratings, usage, ...metadata } = attempt.metadata;
      const kept = sameJson(usage, attempt.usage) ? metadata : { ...metadata, usage };
      return { ...attempt, metadata: kept as typeof attempt.metadata };
    }),
  };
}

function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** The value at a dotted path (undefined when any step is missing); a numeric step indexes an array. */
export function valueAt(value: unknown, path: string): unknown {
  let current = value;
  for (const step of path.split('.')) {
    if (current === null || typeof current !== 'object') return undefined;
    current = Array.isArray(current)
      ? /^\d+$/.test(step)
        ? current[Number(step)]
        : undefined
      : Object.hasOwn(current, step)
        ? (current as Record<string, unknown>)[step]
        : undefined;
  }
  return current;
}

/** A CSV field (RFC 4180): quoted when it holds a comma, a quote or a line break, quotes doubled. */
export function csvField(value: unknown): string {
  const text =
    value === undefined || value === null
      ? ''
      : typeof value === 'string'
        ? value
        : typeof value === 'object'
          ? JSON.stringify(value)
          : String(value);
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** One CSV record, CRLF-terminated as RFC 4180 has it. */
export function csvRecord(values: readonly unknown[]): string {
  return `${values.map(csvField).join(',')}\r\n`;
}

export interface ExportShape {
  format: ResultFormat;
  /** Dotted paths to keep (in this order); absent: the whole record (JSONL) or DEFAULT_CSV_FIELDS (CSV). */
  fields?: readonly string[] | undefined;
  /** Keep the per-attempt safety ratings. */
  full?: boolean | undefined;
  /** Records carry their input as `input` (CSV's default columns then end with it). */
  withInput?: boolean | undefined;
}

/** What an export writes: an optional header, then one line per record. */
export interface RecordFormatter {
  header: string | undefined;
  /** The record's line, newline included; `input` is added to it when given. */
  line(record: ItemResult, input?: unknown): string;
}

export function recordFormatter(shape: ExportShape): RecordFormatter {
  const fields =
    shape.fields ??
    (shape.format === 'csv' ? [...DEFAULT_CSV_FIELDS, ...(shape.withInput ? ['input'] : [])] : undefined);
  const shaped = (record: ItemResult, input: unknown): Record<string, unknown> => {
    const kept: Record<string, unknown> = shape.full ? { ...record } : { ...compactRecord(record) };
    if (shape.withInput) kept['input'] = input ?? null;
    return kept;
  };
  if (shape.format === 'csv') {
    const columns = fields ?? [];
    return {
      header: csvRecord(columns),
      line: (record, input) => {
        const value = shaped(record, input);
        return csvRecord(columns.map((path) => valueAt(value, path)));
      },
    };
  }
  return {
    header: undefined,
    line: (record, input) => {
      const value = shaped(record, input);
      if (!fields) return `${JSON.stringify(value)}\n`;
      const picked: Record<string, unknown> = {};
      for (const path of fields) picked[path] = valueAt(value, path) ?? null;
      return `${JSON.stringify(picked)}\n`;
    },
  };
}
