/** Where the CLI keeps local state (from BATCH_LLM_STATE_DIR / BATCH_LLM_RESULTS_DIR), read when a command runs. */
import path from 'node:path';
import { batchLlmSettings, ResultsUrlSchema, stateDirectoryOf, withoutPassword } from '../config';
import { openResultStore, resultStoreLocation, type ResultStore, type ResultStoreLocation } from '../results-store';
import { UsageError } from './args';

/** The state directory: the flag, else BATCH_LLM_STATE_DIR, else ./.batch-llm. */
export function stateDirectory(flag?: string): string {
  return path.resolve(flag ?? stateDirectoryOf(batchLlmSettings()));
}

/** The results directory: the flag, else BATCH_LLM_RESULTS_DIR, else <state dir>/results. */
export function resultsDirectoryOf(flag: string | undefined): string {
  return path.resolve(flag ?? batchLlmSettings().BATCH_LLM_RESULTS_DIR ?? path.join(stateDirectory(), 'results'));
}

/**
 * The results store of `worker`, `results` (and whatever reads results): `--results-url` or
 * `--results-dir`, else BATCH_LLM_RESULTS_URL or BATCH_LLM_RESULTS_DIR, else <state dir>/results.
 * A bad `--results-url` is a usage error that never repeats the password.
 */
export function resultStoreLocationOf(flags: {
  'results-url'?: string | undefined;
  'results-dir'?: string | undefined;
}): ResultStoreLocation {
  const url = flags['results-url'];
  if (url !== undefined && !ResultsUrlSchema.safeParse(url).success)
    throw new UsageError(
      `--results-url must be a PostgreSQL URL, e.g. postgres://user:password@host:5432/database (got ${JSON.stringify(withoutPassword(url))})`,
    );
  const settings = batchLlmSettings();
  return resultStoreLocation(
    { url, directory: flags['results-dir'] },
    settings,
    path.join(stateDirectory(), 'results'),
  );
}

/** Opens the store resultStoreLocationOf names; close it when done. */
export function openResultStoreOf(flags: {
  'results-url'?: string | undefined;
  'results-dir'?: string | undefined;
}): ResultStore {
  return openResultStore(resultStoreLocationOf(flags));
}
