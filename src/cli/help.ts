/** Help text of the command line; loads nothing heavy, so `--help` answers at once. */
import type { ParseArgsConfig } from 'node:util';
import type { CommandSpec } from './args';

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

export function printHelp(spec: Parameters<typeof commandHelp>[0]): number {
  process.stdout.write(`${commandHelp(spec)}\n`);
  return 0;
}

/** True when argv asks for help (before a `--`): answered from the spec, without loading the command. */
export function asksForHelp(argv: readonly string[]): boolean {
  for (const arg of argv) {
    if (arg === '--') return false;
    if (arg === '--help' || arg === '-h') return true;
  }
  return false;
}
