import type http from 'node:http';
import type { BatchJobLogEntry } from './batches';
import type { CachedContentResource } from './caches';
import { invalidArgument, routeNotFound } from './errors';
import { parseControlConfig } from './faults';
import type { QuotaStats } from './quota';
import type { EmulatorPatch } from './server';
import type { RequestLogEntry } from './types';
import { parseJson, sendJson } from './wire';

/** Path prefix of the endpoints through which other processes drive an emulator. */
export const CONTROL_PREFIX = '/_emulator/';

/** What the control endpoints need of an emulator: its public face. */
export interface ControlledEmulator {
  readonly log: readonly RequestLogEntry[];
  readonly inFlight: number;
  readonly maxInFlight: number;
  caches(): CachedContentResource[];
  batchJobs(): BatchJobLogEntry[];
  quotaStats(): QuotaStats;
  admittedTimestamps(): number[];
  configure(patch: EmulatorPatch): void;
  reset(): void;
}

/**
 * `GET /_emulator/log` → `{entries, maxInFlight, inFlight, quota}` (quota: the stats plus
 * `admittedTimestamps`); `GET /_emulator/caches` → `{cachedContents}` (the unexpired ones);
 * `GET /_emulator/batches` → `{jobs}` (the batch job log);
 * `POST /_emulator/config` with `{latency?, faults?, seed?, safetyRatings?, quota?, batch?, openai?}`;
 * `POST /_emulator/reset`. A responder cannot be set over HTTP.
 */
export function serveControl(
  emulator: ControlledEmulator,
  request: http.IncomingMessage,
  response: http.ServerResponse,
  path: string,
  body: string,
): void {
  if (request.method === 'GET' && path === `${CONTROL_PREFIX}log`) {
    const quota = { ...emulator.quotaStats(), admittedTimestamps: emulator.admittedTimestamps() };
    sendJson(response, 200, {
      entries: emulator.log,
      maxInFlight: emulator.maxInFlight,
      inFlight: emulator.inFlight,
      quota,
    });
  } else if (request.method === 'GET' && path === `${CONTROL_PREFIX}caches`) {
    sendJson(response, 200, { cachedContents: emulator.caches() });
  } else if (request.method === 'GET' && path === `${CONTROL_PREFIX}batches`) {
    sendJson(response, 200, { jobs: emulator.batchJobs() });
  } else if (request.method === 'POST' && path === `${CONTROL_PREFIX}config`) {
    try {
      const input = body.trim() === '' ? {} : parseJson(body);
      if (input === undefined) throw new Error('invalid emulator config: the body is not JSON');
      emulator.configure(parseControlConfig(input));
      sendJson(response, 200, { ok: true });
    } catch (error) {
      sendJson(response, 400, invalidArgument(error instanceof Error ? error.message : String(error)).body);
    }
  } else if (request.method === 'POST' && path === `${CONTROL_PREFIX}reset`) {
    emulator.reset();
    sendJson(response, 200, { ok: true });
  } else {
    sendJson(response, 404, routeNotFound(`${request.method ?? ''} ${path}`).body);
  }
}
