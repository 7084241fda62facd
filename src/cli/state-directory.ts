/** Where the CLI keeps local state by default: light on purpose, `--help` and `results` read it. */
import path from 'node:path';
import { DEFAULT_STATE_DIR } from '../constants';

export const DEFAULT_STATE_DIRECTORY = path.resolve(process.env['BATCH_LLM_STATE_DIR'] ?? DEFAULT_STATE_DIR);

/** The results directory: the flag, else BATCH_LLM_RESULTS_DIR, else <state dir>/results. */
export function resultsDirectoryOf(flag: string | undefined): string {
  return path.resolve(flag ?? process.env['BATCH_LLM_RESULTS_DIR'] ?? path.join(DEFAULT_STATE_DIRECTORY, 'results'));
}
