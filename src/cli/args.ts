import { parseArgs, type ParseArgsConfig } from 'node:util';
import { z } from 'zod';

/** A usage error: printed with the command's help hint, exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export interface CommandSpec<Options extends NonNullable<ParseArgsConfig['options']>> {
  name: string;
  summary: string;
  usage: string;
  options: Options;
  /** One line per option, for --help. */
  optionHelp: Array<[string, string]>;
}

/** Parses argv for one command; unknown flags and missing values are usage errors. */
export function parseCommandArgs<Options extends NonNullable<ParseArgsConfig['options']>>(spec: CommandSpec<Options>, argv: string[]) {
  try {
    return parseArgs({ args: argv, options: { ...spec.options, help: { type: 'boolean', short: 'h' } }, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError(`${spec.name}: ${(error as Error).message}`);
  }
}

export function commandHelp(spec: CommandSpec<NonNullable<ParseArgsConfig['options']>>): string {
  const width = Math.max(...spec.optionHelp.map(([flag]) => flag.length), 10);
  return [
    `batch-llm ${spec.name} — ${spec.summary}`,
    '',
    `Usage: ${spec.usage}`,
    '',
    'Options:',
    ...spec.optionHelp.map(([flag, text]) => `  ${flag.padEnd(width)}  ${text}`),
    `  ${'-h, --help'.padEnd(width)}  show this help`,
  ].join('\n');
}

/** Validates one flag's value with zod, naming the flag on failure. */
export function flagValue<T extends z.ZodType>(flag: string, schema: T, value: unknown): z.output<T> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new UsageError(`--${flag}: ${parsed.error.issues[0]?.message ?? 'invalid value'} (got ${JSON.stringify(value)})`);
  return parsed.data;
}

export const PositiveInt = z.coerce.number().int().positive();
export const NonNegativeInt = z.coerce.number().int().min(0);
export const PortNumber = z.coerce.number().int().min(0).max(65535);

export function asStrings(value: string | boolean | (string | boolean)[] | undefined): string[] {
  if (value === undefined) return [];
  return (Array.isArray(value) ? value : [value]).filter((entry): entry is string => typeof entry === 'string');
}
