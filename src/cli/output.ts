/** What commands share: where Temporal is (flags over the environment) and how to print (text or JSON). */
import { z } from 'zod';
import { temporalConfigWith } from '../config';
import type { TemporalConfig } from '../temporal/config';
import { flagValue, UsageError } from './args';

export type OutputFormat = 'text' | 'json';

/** `-o json` / `--output json` / `--json`; text by default. */
export function outputFormatOf(values: { output?: string | undefined; json?: boolean | undefined }): OutputFormat {
  const format = values.output === undefined ? 'text' : flagValue('output', z.enum(['text', 'json']), values.output);
  if (values.json && format === 'text' && values.output !== undefined)
    throw new UsageError('give --json or -o text, not both');
  return values.json ? 'json' : format;
}

/** One JSON document on standard output (scripts read it whole). */
export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

export function temporalConfigOf(values: {
  address?: string | undefined;
  namespace?: string | undefined;
}): TemporalConfig {
  return temporalConfigWith(values);
}
