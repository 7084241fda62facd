import type http from 'node:http';
import { setTimeout as delay } from 'node:timers/promises';
import { deadlineExceeded } from './errors';
import type { GoogleError } from './errors';
import type { FaultRule } from './faults';
import { MALFORMED_BODY } from './responses';
import type { RequestLogEntry } from './types';
import { sendJson, sendRaw } from './wire';

const DEFAULT_HANG_MS = 10 * 60 * 1000;

/** One HTTP exchange; `cancel` fires when the client goes away or the emulator stops. */
export interface Exchange {
  request: http.IncomingMessage;
  response: http.ServerResponse;
  cancel: AbortController;
  /** True once the emulator is stopping, so a hang it cuts short is not taken for an abort. */
  emulatorStopping: () => boolean;
}

/**
 * How an exchange ends when it is answered at all: an error, a JSON body, a raw JSON (or one
 * server-sent event) body, or bytes with the given headers (file downloads, upload steps).
 */
export type Outcome =
  | GoogleError
  | { httpStatus: 200; body: object }
  | { httpStatus: 200; raw: string; stream: boolean }
  | { httpStatus: 200; headers: http.OutgoingHttpHeaders; data: string | Buffer };

/** Waits `ms`; false when the exchange was cancelled first. */
export async function pause(exchange: Exchange, ms: number): Promise<boolean> {
  if (exchange.cancel.signal.aborted) return false;
  if (ms <= 0) return true;
  try {
    await delay(ms, undefined, { signal: exchange.cancel.signal });
    return true;
  } catch {
    return false;
  }
}

/** A hang cut short by stop() stays a 'hang'; anything else cut short was abandoned by the client. */
export function markCancelled(exchange: Exchange, entry: RequestLogEntry): void {
  entry.status = exchange.emulatorStopping() && entry.status === 'hang' ? 'hang' : 'aborted';
  entry.endedAtMs = Date.now();
}

/** Sends the outcome and records it, unless the exchange was cancelled meanwhile. */
export function finish(exchange: Exchange, entry: RequestLogEntry, outcome: Outcome): void {
  if (exchange.cancel.signal.aborted) {
    markCancelled(exchange, entry);
    return;
  }
  entry.status = outcome.httpStatus;
  entry.endedAtMs = Date.now();
  if ('body' in outcome) sendJson(exchange.response, outcome.httpStatus, outcome.body);
  else if ('data' in outcome) {
    exchange.response.writeHead(outcome.httpStatus, outcome.headers);
    exchange.response.end(outcome.data);
  } else sendRaw(exchange.response, outcome.raw, outcome.stream);
}

/**
 * A `reply_lost` fault after the emulator acted: the connection is cut without an answer, as a
 * `reset` does, and the entry records `reset`. Nothing to cut when the client went away already.
 */
export function dropReply(exchange: Exchange, entry: RequestLogEntry): void {
  if (exchange.cancel.signal.aborted) {
    markCancelled(exchange, entry);
    return;
  }
  entry.status = 'reset';
  entry.endedAtMs = Date.now();
  exchange.request.socket.destroy();
}

/** Answers a `reset`, `hang` or `malformed_json` fault; false when the rule is none of those. */
export async function answerTransportFault(
  exchange: Exchange,
  entry: RequestLogEntry,
  rule: FaultRule | undefined,
  stream: boolean,
): Promise<boolean> {
  switch (rule?.fault) {
    case 'reset':
      exchange.request.socket.destroy();
      return true;
    case 'hang':
      if (await pause(exchange, rule.hangMs ?? DEFAULT_HANG_MS)) finish(exchange, entry, deadlineExceeded());
      else markCancelled(exchange, entry);
      return true;
    case 'malformed_json':
      finish(exchange, entry, { httpStatus: 200, raw: MALFORMED_BODY, stream });
      return true;
    default:
      return false;
  }
}
