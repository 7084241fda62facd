/** Where the CLI keeps local state (from BATCH_LLM_STATE_DIR / BATCH_LLM_RESULTS_DIR), read when a command runs. */
import path from 'node:path';
import { batchLlmSettings, stateDirectoryOf } from '../config';

/** The state directory: the flag, else BATCH_LLM_STATE_DIR, else ./.batch-llm. */
export function stateDirectory(flag?: string): string {
  return path.resolve(flag ?? stateDirectoryOf(batchLlmSettings()));
}

/** The results directory: the flag, else BATCH_LLM_RESULTS_DIR, else <state dir>/results. */
export function resultsDirectoryOf(flag: string | undefined): string {
  return path.resolve(flag ?? batchLlmSettings().BATCH_LLM_RESULTS_DIR ?? path.join(stateDirectory(), 'results'));
}
