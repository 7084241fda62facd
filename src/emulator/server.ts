import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { deadlineExceeded, errorForFault, googleError, invalidApiKey, invalidArgument, isErrorFault, missingApiKey, routeNotFound } from './errors';
import type { GoogleError } from './errors';
import { FaultBook, parseControlConfig } from './faults';
import type { FaultKind, FaultRule } from './faults';
import { answerText, defaultResponder } from './responder';
import { countTokensOf, emulatedRequest, promptTokens, readGenerateRequest } from './request';
import type { GenerateRequestView } from './request';
import { answerForContentFault, isContentFault, MALFORMED_BODY, textAnswer } from './responses';
import type { AnswerContext } from './responses';
import { seededUnit } from './seeded';
import { CONTROL_PREFIX, serveControl } from './control';
import { parseJson, readBody, sendJson, sendRaw } from './wire';
import type { EmulatorOptions, LatencyConfig, RequestLogEntry, Responder } from './types';

/** Header through which the project's activity names the batch item a request belongs to. */
export const ITEM_KEY_HEADER = 'x-batch-llm-item';

const API_ROUTE = /^\/(?:v1beta|v1)\/models\/([^/:]+):([A-Za-z]+)$/;
const DEFAULT_HANG_MS = 10 * 60 * 1000;

/** One HTTP exchange; `cancel` fires when the client goes away or the emulator stops. */
interface Exchange {
  request: http.IncomingMessage;
  response: http.ServerResponse;
  cancel: AbortController;
}

/** A generateContent request that passed validation and awaits its answer. */
interface GenerateCall {
  model: string;
  stream: boolean;
  body: unknown;
  view: GenerateRequestView;
  itemKey: string | undefined;
  attempt: number;
  rule: FaultRule | undefined;
}

/** The pieces of an emulator a caller may change while it runs. */
export interface EmulatorPatch {
  latency?: LatencyConfig;
  faults?: FaultRule[];
  responder?: Responder;
  seed?: number;
}

/**
 * A loopback server that answers `@google/genai` like the Gemini API does, with scripted faults,
 * latency and a request log. Give `url` to the SDK as `httpOptions.baseUrl`.
 */
export class GeminiEmulator {
  readonly url: string;
  private entries: RequestLogEntry[] = [];
  private readonly attempts = new Map<string, number>();
  private readonly sockets = new Set<Socket>();
  private readonly exchanges = new Set<Exchange>();
  private faults: FaultBook;
  private latency: LatencyConfig = { baseMs: 0, jitterMs: 0 };
  private seed = 1;
  private responder: Responder = defaultResponder;
  private current = 0;
  private peak = 0;
  private sequence = 0;
  private stopped = false;

  private constructor(
    private readonly server: http.Server,
    url: string,
    private readonly options: EmulatorOptions,
  ) {
    this.url = url;
    this.faults = new FaultBook([]);
    const { latency, faults, responder, seed } = options;
    this.configure({
      ...(latency === undefined ? {} : { latency }),
      ...(faults === undefined ? {} : { faults }),
      ...(responder === undefined ? {} : { responder }),
      ...(seed === undefined ? {} : { seed }),
    });
    server.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    server.on('request', (request: http.IncomingMessage, response: http.ServerResponse) => {
      void this.handle(request, response);
    });
  }

  /** Starts listening (default 127.0.0.1 on an ephemeral port). */
  static async start(options: EmulatorOptions = {}): Promise<GeminiEmulator> {
    const host = options.host ?? '127.0.0.1';
    const server = http.createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 0, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const { port } = server.address() as AddressInfo;
    const hostInUrl = host.includes(':') ? `[${host}]` : host;
    return new GeminiEmulator(server, `http://${hostInUrl}:${port}`, options);
  }

  /** Every request since start or the last reset, oldest first. */
  get log(): readonly RequestLogEntry[] {
    return this.entries;
  }

  /** generateContent requests currently being served. */
  get inFlight(): number {
    return this.current;
  }

  /** Most generateContent requests served at once since start or the last reset. */
  get maxInFlight(): number {
    return this.peak;
  }

  /** Replaces the given settings; new fault rules start unspent. Throws on invalid rules. */
  configure(patch: EmulatorPatch): void {
    const { latency, faults, seed } = parseControlConfig({ latency: patch.latency, faults: patch.faults, seed: patch.seed });
    if (latency !== undefined) this.latency = latency;
    if (faults !== undefined) this.faults = new FaultBook(faults);
    if (seed !== undefined) this.seed = seed;
    if (patch.responder !== undefined) this.responder = patch.responder;
  }

  /** Clears the log, attempt counters and maxInFlight, and revives spent fault rules. */
  reset(): void {
    this.entries = [];
    this.attempts.clear();
    this.peak = this.current;
    this.faults.resetSpent();
  }

  /** The generateContent log entries, optionally only those whose item key has a prefix. */
  generateCalls(filter: { itemKeyPrefix?: string } = {}): RequestLogEntry[] {
    const { itemKeyPrefix } = filter;
    return this.entries.filter(
      (entry) =>
        entry.route === 'generateContent' &&
        (itemKeyPrefix === undefined || (entry.itemKey !== undefined && entry.itemKey.startsWith(itemKeyPrefix))),
    );
  }

  /** Closes the server and every open connection, hanging requests included. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const exchange of this.exchanges) exchange.cancel.abort();
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    for (const socket of this.sockets) socket.destroy();
    await closed;
  }

  private async handle(request: http.IncomingMessage, response: http.ServerResponse): Promise<void> {
    const exchange: Exchange = { request, response, cancel: new AbortController() };
    this.exchanges.add(exchange);
    response.on('close', () => {
      if (!response.writableFinished) exchange.cancel.abort();
    });
    try {
      const startedAtMs = Date.now();
      const url = new URL(request.url ?? '/', 'http://emulator.invalid');
      const body = await readBody(request);
      if (url.pathname.startsWith(CONTROL_PREFIX)) {
        serveControl(this, request, response, url.pathname, body);
        return;
      }
      const match = API_ROUTE.exec(url.pathname);
      const model = match?.[1] ?? '';
      const method = match?.[2];
      const apiKey = request.headers['x-goog-api-key'] ?? url.searchParams.get('key') ?? undefined;
      const rejection = this.authError(typeof apiKey === 'string' ? apiKey : apiKey?.[0]);
      if (method === 'generateContent' || method === 'streamGenerateContent') {
        const stream = method === 'streamGenerateContent';
        await this.serveGenerate(exchange, { model, stream, body, rejection, startedAtMs });
      } else if (method === 'countTokens') {
        await this.serveCountTokens(exchange, { model, body, rejection, startedAtMs });
      } else {
        const entry = this.openEntry('other', model, this.itemKeyOf(request), 0, startedAtMs);
        this.finish(exchange, entry, routeNotFound(url.pathname));
      }
    } catch (error) {
      if (!response.headersSent && !response.destroyed) {
        sendJson(response, 500, googleError(500, 'INTERNAL', `emulator error: ${String(error)}`).body);
      }
    } finally {
      this.exchanges.delete(exchange);
    }
  }

  private authError(apiKey: string | undefined): GoogleError | undefined {
    if (apiKey === undefined || apiKey === '') return missingApiKey();
    const required = this.options.requiredApiKey;
    return required !== undefined && apiKey !== required ? invalidApiKey() : undefined;
  }

  private itemKeyOf(request: http.IncomingMessage): string | undefined {
    const value = request.headers[ITEM_KEY_HEADER];
    const key = Array.isArray(value) ? value[0] : value;
    return key === undefined || key === '' ? undefined : key;
  }

  private openEntry(
    route: RequestLogEntry['route'],
    model: string,
    itemKey: string | undefined,
    attempt: number,
    startedAtMs: number,
  ): RequestLogEntry {
    this.sequence += 1;
    const entry: RequestLogEntry = {
      seq: this.sequence,
      route,
      model,
      itemKey,
      attempt,
      temperature: undefined,
      promptChars: 0,
      promptTokens: 0,
      systemInstructionChars: 0,
      cachedContent: undefined,
      hasResponseSchema: false,
      fault: undefined,
      status: 200,
      startedAtMs,
      endedAtMs: undefined,
      inFlightAtStart: this.current,
      outputText: undefined,
    };
    this.entries.push(entry);
    return entry;
  }

  private async serveGenerate(
    exchange: Exchange,
    call: { model: string; stream: boolean; body: string; rejection: GoogleError | undefined; startedAtMs: number },
  ): Promise<void> {
    const itemKey = this.itemKeyOf(exchange.request);
    const attempt = (this.attempts.get(itemKey ?? '') ?? 0) + 1;
    this.attempts.set(itemKey ?? '', attempt);
    const body = parseJson(call.body);
    const view = readGenerateRequest(body);
    this.current += 1;
    this.peak = Math.max(this.peak, this.current);
    const entry = this.openEntry('generateContent', call.model, itemKey, attempt, call.startedAtMs);
    try {
      if (typeof view !== 'string') describeRequest(entry, view);
      const rejection = call.rejection ?? (typeof view === 'string' ? invalidArgument(view) : undefined);
      const rule = rejection === undefined ? this.faults.select({ model: call.model, itemKey, attempt, seed: this.seed }) : undefined;
      entry.fault = rule?.fault;
      entry.status = plannedStatus(rejection, rule?.fault);
      const jitter = seededUnit('latency', this.seed, itemKey ?? '', attempt);
      if (!(await this.pause(exchange, this.latency.baseMs + jitter * this.latency.jitterMs))) {
        this.markCancelled(entry);
      } else if (rejection !== undefined || typeof view === 'string') {
        this.finish(exchange, entry, rejection ?? invalidArgument(String(view)));
      } else if (rule !== undefined && isErrorFault(rule.fault)) {
        const context = { model: call.model, retryDelaySeconds: rule.retryDelaySeconds ?? 1 };
        this.finish(exchange, entry, errorForFault[rule.fault](context));
      } else {
        await this.answer(exchange, entry, { model: call.model, stream: call.stream, body, view, itemKey, attempt, rule });
      }
    } finally {
      this.current -= 1;
      entry.endedAtMs ??= Date.now();
    }
  }

  /** Everything that is not an error body: answers, broken answers, resets and hangs. */
  private async answer(exchange: Exchange, entry: RequestLogEntry, call: GenerateCall): Promise<void> {
    const fault = call.rule?.fault;
    if (fault === 'reset') {
      exchange.request.socket.destroy();
      return;
    }
    if (fault === 'hang') {
      if (await this.pause(exchange, call.rule?.hangMs ?? DEFAULT_HANG_MS)) this.finish(exchange, entry, deadlineExceeded());
      else this.markCancelled(entry);
      return;
    }
    if (fault === 'malformed_json') {
      this.finish(exchange, entry, { httpStatus: 200, raw: MALFORMED_BODY, stream: call.stream });
      return;
    }
    const context: AnswerContext = {
      modelVersion: this.options.modelVersion ?? call.model,
      responseId: `emulated-${entry.seq}`,
      promptTokenCount: entry.promptTokens,
    };
    let body: object;
    if (isContentFault(fault)) {
      body = answerForContentFault[fault](context);
    } else {
      const request = emulatedRequest(call.view, call, call.body);
      try {
        entry.outputText = await answerText(this.responder, request, fault);
      } catch (error) {
        this.finish(exchange, entry, googleError(500, 'INTERNAL', `emulator responder failed: ${String(error)}`));
        return;
      }
      body = textAnswer(context, entry.outputText, fault === 'max_tokens' ? 'MAX_TOKENS' : 'STOP');
    }
    this.finish(exchange, entry, { httpStatus: 200, raw: JSON.stringify(body), stream: call.stream });
  }

  private async serveCountTokens(
    exchange: Exchange,
    call: { model: string; body: string; rejection: GoogleError | undefined; startedAtMs: number },
  ): Promise<void> {
    const entry = this.openEntry('countTokens', call.model, this.itemKeyOf(exchange.request), 0, call.startedAtMs);
    const body = parseJson(call.body);
    const counted = countTokensOf(body);
    entry.promptChars = counted.text.length;
    entry.promptTokens = counted.tokens;
    const rejection = call.rejection ?? (body === undefined ? invalidArgument('Invalid JSON payload received.') : undefined);
    entry.status = rejection?.httpStatus ?? 200;
    const jitter = seededUnit('latency', this.seed, 'countTokens', entry.seq);
    if (!(await this.pause(exchange, this.latency.baseMs + jitter * this.latency.jitterMs))) {
      this.markCancelled(entry);
      return;
    }
    const answer = { totalTokens: counted.tokens, promptTokensDetails: [{ modality: 'TEXT', tokenCount: counted.tokens }] };
    this.finish(exchange, entry, rejection ?? { httpStatus: 200, raw: JSON.stringify(answer), stream: false });
  }

  /** Waits `ms`; false when the exchange was cancelled first. */
  private async pause(exchange: Exchange, ms: number): Promise<boolean> {
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
  private markCancelled(entry: RequestLogEntry): void {
    entry.status = this.stopped && entry.status === 'hang' ? 'hang' : 'aborted';
    entry.endedAtMs = Date.now();
  }

  private finish(
    exchange: Exchange,
    entry: RequestLogEntry,
    outcome: GoogleError | { httpStatus: 200; raw: string; stream: boolean },
  ): void {
    if (exchange.cancel.signal.aborted) {
      this.markCancelled(entry);
      return;
    }
    entry.status = outcome.httpStatus;
    entry.endedAtMs = Date.now();
    if ('body' in outcome) sendJson(exchange.response, outcome.httpStatus, outcome.body);
    else sendRaw(exchange.response, outcome.raw, outcome.stream);
  }
}

function describeRequest(entry: RequestLogEntry, view: GenerateRequestView): void {
  entry.temperature = view.temperature;
  entry.promptChars = view.promptText.length;
  entry.promptTokens = promptTokens(view.promptText, view.systemInstructionText);
  entry.systemInstructionChars = view.systemInstructionText.length;
  entry.cachedContent = view.cachedContent;
  entry.hasResponseSchema = view.responseSchema !== undefined;
}

function plannedStatus(rejection: GoogleError | undefined, fault: FaultKind | undefined): RequestLogEntry['status'] {
  if (rejection !== undefined) return rejection.httpStatus;
  if (fault === undefined) return 200;
  if (fault === 'reset' || fault === 'hang') return fault;
  return isErrorFault(fault) ? errorForFault[fault]({ model: '', retryDelaySeconds: 1 }).httpStatus : 200;
}
