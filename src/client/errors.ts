/**
 * Errors the client API (and so the CLI) raises for conditions a user acts on, each with the
 * command-line exit code it maps to. Input problems are `InputError` (src/input.ts).
 */

/** Exit codes of the `batch-llm` command line (documented in the README). */
export const EXIT_CODES = {
  ok: 0,
  /** Something unexpected failed (the message says what). */
  error: 1,
  /** The command line itself is wrong: unknown flag, missing argument, bad flag value. */
  usage: 2,
  /** The input (file, records, item schema, batch options) is invalid; nothing was started. */
  input: 3,
  /** No such batch (or no results for it). */
  notFound: 4,
  /** The batch id is already taken by a running or finished batch; nothing was started. */
  conflict: 5,
  /** Temporal could not be reached. */
  connection: 6,
  /** `--wait` / `status`: the batch ended, and some items did not succeed. */
  itemsUnsuccessful: 10,
  /** `--wait` / `status`: the batch stopped early (cancelled, fail-fast, deadline, budget) or failed as a workflow. */
  batchStopped: 11,
} as const;

/** No batch (or nothing recorded for it) under that id. */
export class BatchNotFoundError extends Error {
  override readonly name = 'BatchNotFoundError';
}

/** A batch id already in use: starting it again would silently re-run (and re-pay) every item. */
export class BatchExistsError extends Error {
  override readonly name = 'BatchExistsError';
  constructor(
    readonly batchId: string,
    /** The existing run's status (RUNNING, COMPLETED, …). */
    readonly status: string,
    options?: ErrorOptions,
  ) {
    super(
      status === 'RUNNING'
        ? `batch "${batchId}" is already running; follow it with \`batch-llm status ${batchId} --watch\`, or start this input under another --batch-id`
        : `batch "${batchId}" already exists (${status}); nothing was started. Its summary: \`batch-llm status ${batchId}\`. To run items again, start them under a new --batch-id (ids are never reused, so results, status and the Web UI always describe one run)`,
      options,
    );
  }
}

/** A batch that must have ended first (a rerun's origin) is still running. */
export class BatchRunningError extends Error {
  override readonly name = 'BatchRunningError';
  constructor(readonly batchId: string) {
    super(
      `batch "${batchId}" is still running; rerun its items once it has ended (follow it with \`batch-llm status ${batchId} --watch\`, or stop it with \`batch-llm cancel ${batchId}\`)`,
    );
  }
}

/** The batch workflow itself failed (not an item: items end with a status, the batch with a summary). */
export class BatchFailedError extends Error {
  override readonly name = 'BatchFailedError';
}

/** Temporal did not answer at the configured address. */
export class TemporalUnreachableError extends Error {
  override readonly name = 'TemporalUnreachableError';
  constructor(
    readonly address: string,
    readonly namespace: string,
    detail: string,
  ) {
    super(
      `cannot reach Temporal at ${address} (namespace "${namespace}"): ${detail}. Start a local server with \`batch-llm dev\`, or point TEMPORAL_ADDRESS at your cluster`,
    );
  }
}
