/**
 * Which results store a worker writes and `results` reads: the JSONL directory (the embedded
 * default) or PostgreSQL (`BATCH_LLM_RESULTS_URL` / `--results-url`). One place decides, so the
 * worker and the CLI can never disagree about where a batch's results are.
 */
import path from 'node:path';
import { ConfigError, type BatchLlmSettings } from './config';
import { FileResultStore, type WorkerStore } from './results';

/** Where results live: a directory of JSONL files, or a PostgreSQL database. */
export type ResultStoreLocation = { kind: 'directory'; directory: string } | { kind: 'postgres'; url: string };

/** A store that can be written (workers), read (`results`, report, rerun) and closed. */
export type ResultStore = WorkerStore & {
  close(): Promise<void>;
  /** Checks the store answers (and prepares it), when that can fail: PostgreSQL's connection and tables. */
  ready?(): Promise<void>;
};

/**
 * The store from flags and settings: `--results-url` or `--results-dir` (not both), else
 * BATCH_LLM_RESULTS_URL or BATCH_LLM_RESULTS_DIR (not both), else `defaultDirectory`.
 */
export function resultStoreLocation(
  flags: { url?: string | undefined; directory?: string | undefined },
  settings: Pick<BatchLlmSettings, 'BATCH_LLM_RESULTS_URL' | 'BATCH_LLM_RESULTS_DIR'>,
  defaultDirectory: string,
): ResultStoreLocation {
  if (flags.url !== undefined && flags.directory !== undefined)
    throw new ConfigError('give --results-url or --results-dir, not both');
  if (flags.url !== undefined) return { kind: 'postgres', url: flags.url };
  if (flags.directory !== undefined) return { kind: 'directory', directory: path.resolve(flags.directory) };
  if (settings.BATCH_LLM_RESULTS_URL !== undefined && settings.BATCH_LLM_RESULTS_DIR !== undefined)
    throw new ConfigError(
      'both BATCH_LLM_RESULTS_URL and BATCH_LLM_RESULTS_DIR are set: set the one store results go to (or pass --results-url / --results-dir)',
    );
  if (settings.BATCH_LLM_RESULTS_URL !== undefined) return { kind: 'postgres', url: settings.BATCH_LLM_RESULTS_URL };
  return { kind: 'directory', directory: path.resolve(settings.BATCH_LLM_RESULTS_DIR ?? defaultDirectory) };
}

/** Opens the store at `location` (PostgreSQL's client is loaded only when it is used). */
export function openResultStore(location: ResultStoreLocation): ResultStore {
  if (location.kind === 'directory') return new FileResultStore(location.directory);
  const { PostgresResultStore } = require('./results-postgres') as typeof import('./results-postgres');
  return new PostgresResultStore(location.url);
}
