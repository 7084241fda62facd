import { parseArgs, type ParseArgsConfig } from 'node:util';
import { z } from 'zod';
import { BatchIdSchema } from '../schemas';

/** A usage error: printed with the command's help hint, exit code 2 (EXIT_CODES.usage). */
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
export function parseCommandArgs<Options extends NonNullable<ParseArgsConfig['options']>>(
  spec: CommandSpec<Options>,
  argv: string[],
) {
  try {
    return parseArgs({
      args: argv,
      options: { ...spec.options, help: { type: 'boolean', short: 'h' } },
      allowPositionals: true,
      strict: true,
    });
  } catch (error) {
    throw new UsageError(`${spec.name}: ${(error as Error).message}`);
  }
}

/**
 * Validates one flag's value with zod, naming the flag on failure. An upper-case name is a
 * positional (BATCH_ID, N) and is named as such: "N must be at least 1", not "--N: …".
 */
export function flagValue<T extends z.ZodType>(flag: string, schema: T, value: unknown): z.output<T> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const label = /^[A-Z][A-Z_]*$/.test(flag) ? flag : `--${flag}`;
    const message = parsed.error.issues[0]?.message ?? 'invalid value';
    throw new UsageError(
      `${label}${message.startsWith('must ') ? ' ' : ': '}${message} (got ${JSON.stringify(value)})`,
    );
  }
  return parsed.data;
}

const WholeNumber = z.coerce.number({ error: 'must be a number' }).int('must be a whole number');
export const PositiveInt = WholeNumber.min(1, 'must be at least 1');

/** `--concurrency`: items in flight at once, or `auto` (a request rate learned from the provider's answers). */
export const ConcurrencyValue = z.string().transform((value, context): number | 'auto' => {
  if (value === 'auto') return 'auto';
  const count = Number(value);
  if (value.trim() !== '' && Number.isInteger(count) && count >= 1 && count <= 10_000) return count;
  context.addIssue({ code: 'custom', message: 'must be auto or a whole number from 1 to 10000' });
  return z.NEVER;
});
export const NonNegativeInt = WholeNumber.min(0, 'must be 0 or more');
export const PortNumber = WholeNumber.min(0, 'must be a port number (0–65535)').max(
  65535,
  'must be a port number (0–65535)',
);

export function asStrings(value: string | boolean | (string | boolean)[] | undefined): string[] {
  if (value === undefined) return [];
  return (Array.isArray(value) ? value : [value]).filter((entry): entry is string => typeof entry === 'string');
}

/** The one BATCH_ID positional of `status` and `results`. */
export function batchIdArgument(positionals: string[], command: string): string {
  const [batchId, ...extra] = positionals;
  if (!batchId || extra.length > 0) throw new UsageError(`${command}: expected exactly one BATCH_ID`);
  return flagValue('BATCH_ID', BatchIdSchema, batchId);
}

/** A comma-separated flag (`--status failed,blocked`) into a checked list of `values`; unknown entries are named with the known ones. */
export function commaListOf<T extends string>(
  values: readonly [T, ...T[]],
  what: string,
  emptyMessage = `name at least one ${what}`,
) {
  return z
    .string()
    .transform((list) =>
      list
        .split(',')
        .map((entry) => entry.trim())
        .filter((entry) => entry.length > 0),
    )
    .pipe(
      z
        .array(
          z.enum(values, {
            error: (issue) => `unknown ${what} ${JSON.stringify(issue.input)}; known: ${values.join(', ')}`,
          }),
        )
        .min(1, emptyMessage),
    );
}

const SPAN_UNITS_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
const SPAN = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)$/;

/** A span of time with its unit (`500ms`, `30s`, `90m`, `24h`, `7d`) in milliseconds; undefined when `text` is not one. */
export function spanMs(text: string): number | undefined {
  const match = SPAN.exec(text.trim());
  return match ? Math.round(Number(match[1]) * SPAN_UNITS_MS[match[2] as keyof typeof SPAN_UNITS_MS]) : undefined;
}

/** A duration flag: a span with its unit (`500ms`, `30s`, `5m`, `1h`) or a bare number of milliseconds, within [min, max]. */
export function durationMs(minMs: number, maxMs: number) {
  const label = (ms: number) => {
    const unit = (['d', 'h', 'm', 's'] as const).find((name) => ms % SPAN_UNITS_MS[name] === 0) ?? 'ms';
    return `${ms / SPAN_UNITS_MS[unit]}${unit}`;
  };
  return z
    .string()
    .transform((value, context) => {
      const ms = /^\d+$/.test(value.trim()) ? Number(value.trim()) : spanMs(value);
      if (ms === undefined) {
        context.addIssue({ code: 'custom', message: 'expected a duration like 500ms, 30s, 5m or 1h, or milliseconds' });
        return z.NEVER;
      }
      return ms;
    })
    .pipe(
      z
        .number()
        .min(minMs, `must be at least ${label(minMs)}`)
        .max(maxMs, `must be at most ${label(maxMs)}`),
    );
}

/** A moment ahead: an ISO date/time, or a span from now (`90m`, `6h`, `2d`); as an ISO string. */
export const FutureTime = z.string().transform((value, context) => {
  const span = spanMs(value);
  const time = span !== undefined ? Date.now() + span : Date.parse(value);
  if (Number.isNaN(time)) {
    context.addIssue({ code: 'custom', message: 'expected an ISO date/time or a span from now like 90m, 6h, 2d' });
    return z.NEVER;
  }
  if (time <= Date.now()) {
    context.addIssue({ code: 'custom', message: 'must be in the future' });
    return z.NEVER;
  }
  return new Date(time).toISOString();
});
