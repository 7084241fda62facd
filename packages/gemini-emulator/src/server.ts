import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { cacheCallOf, readCacheCreate } from './cache-requests';
import type { CacheCall } from './cache-requests';
import { CacheStore } from './caches';
import { BatchStore, batchNotFound } from './batches';
import type { BatchCreateView, BatchItemResult, BatchJobLogEntry, BatchSettings } from './batches';
import type { CachedContentResource } from './caches';
import {
  errorForFault,
  googleError,
  invalidApiKey,
  invalidArgument,
  isErrorFault,
  isGoogleError,
  missingApiKey,
  routeNotFound,
} from './errors';
import type { GoogleError } from './errors';
import { batchCallOf, MODEL_ROUTE } from './batch-requests';
import type { BatchCall } from './batch-requests';
import { answerTransportFault, dropReply, finish, markCancelled, pause } from './exchange';
import type { Exchange, Outcome } from './exchange';
import { FaultBook, parseControlConfig } from './faults';
import type { BatchRoute, CacheRoute, FaultRule } from './faults';
import {
  describeAnswer,
  describeCacheCreate,
  describeRequest,
  isBatchLogRoute,
  isCacheRoute,
  newLogEntry,
  plannedStatus,
} from './log-entries';
import { QuotaWindow, quotaExceeded } from './quota';
import type { QuotaLimits, QuotaStats } from './quota';
import { answerText, defaultResponder } from './responder';
import { countTokensOf, emulatedRequest, promptTokens, readGenerateRequest } from './request';
import type { GenerateRequestView } from './request';
import { answerForContentFault, isContentFault, textAnswer, textAnswerRatings } from './responses';
import type { AnswerContext, GenerateAnswer } from './responses';
import { DEFAULT_SAFETY_RATINGS } from './safety';
import type { SafetyRatingSpec } from './safety';
import { seededUnit } from './seeded';
import { CONTROL_PREFIX, serveControl } from './control';
import { parseJson, readBody, sendJson } from './wire';
import type { EmulatorOptions, LatencyConfig, RequestLogEntry, Responder } from './types';
import { ITEM_KEY_HEADER } from './item-header';
import { isChatCompletionsPath, serveChatCompletion } from './openai';
import { PromptCache } from './openai-prompt-cache';
import type { ChatCompletionHost } from './openai';
import type { OpenAISettings } from './openai-settings';

const DEFAULT_MIN_CACHE_TOKENS = 1024;

/** A generateContent request that passed validation and awaits its answer. */
interface GenerateCall {
  model: string;
  stream: boolean;
  body: unknown;
  view: GenerateRequestView;
  itemKey: string | undefined;
  attempt: number;
  rule: FaultRule | undefined;
  /** Tokens of the request's context cache, when it used one. */
  cachedTokens: number | undefined;
}

/** The pieces of an emulator a caller may change while it runs. */
export interface EmulatorPatch {
  latency?: LatencyConfig;
  faults?: FaultRule[];
  responder?: Responder;
  seed?: number;
  /** The ratings of normal candidates; `[]` omits them. */
  safetyRatings?: SafetyRatingSpec[];
  /** Replaces both per-minute limits; `{}` lifts them. The window's history stays. */
  quota?: QuotaLimits;
  /** Replaces the Batch Mode settings; jobs already created keep theirs. */
  batch?: BatchSettings;
  /** Replaces the chat-completions settings (`{}`: the defaults). */
  openai?: OpenAISettings;
}

/**
 * A loopback server that answers `@google/genai` like the Gemini API does, with scripted faults,
 * latency and a request log. Give `url` to the SDK as `httpOptions.baseUrl`.
 */
export class GeminiEmulator {
  readonly url: string;
  private entries: RequestLogEntry[] = [];
  private readonly attempts = new Map<string, number>();
  /** Cache, batch and file route attempts, keyed by route and item key. */
  private readonly routeAttempts = new Map<string, number>();
  /** Uploads whose start drew a `reply_lost` rule: their finalize step loses its reply. */
  private readonly lostUploadReplies = new Set<string>();
  private readonly cacheStore: CacheStore;
  private readonly batchStore: BatchStore;
  private readonly quota = new QuotaWindow();
  private readonly now: () => number;
  private readonly sockets = new Set<Socket>();
  private readonly exchanges = new Set<Exchange>();
  private faults: FaultBook;
  private latency: LatencyConfig = { baseMs: 0, jitterMs: 0 };
  private seed = 1;
  private responder: Responder = defaultResponder;
  private safetyRatings: readonly SafetyRatingSpec[] = DEFAULT_SAFETY_RATINGS;
  private openai: OpenAISettings = {};
  private readonly promptCache = new PromptCache();
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
    this.now = options.now ?? Date.now;
    this.cacheStore = new CacheStore({
      now: this.now,
      minTokens: options.minCacheTokens ?? DEFAULT_MIN_CACHE_TOKENS,
      minTokensByModel: options.minCacheTokensByModel ?? {},
      unknownNames: options.unknownCachedContent ?? 'accept',
    });
    this.batchStore = new BatchStore(this.now, () => this.url);
    const { latency, faults, responder, seed, safetyRatings, quota, batch, openai } = options;
    this.configure({
      ...(batch === undefined ? {} : { batch }),
      ...(openai === undefined ? {} : { openai }),
      ...(latency === undefined ? {} : { latency }),
      ...(faults === undefined ? {} : { faults }),
      ...(responder === undefined ? {} : { responder }),
      ...(seed === undefined ? {} : { seed }),
      ...(safetyRatings === undefined ? {} : { safetyRatings }),
      ...(quota === undefined ? {} : { quota }),
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
    try {
      return new GeminiEmulator(server, `http://${hostInUrl}:${port}`, options);
    } catch (error) {
      // Invalid options: do not leave a listening server behind to keep the process alive.
      await new Promise<void>((resolve) => server.close(() => resolve()));
      throw error;
    }
  }

  /** Every request since start or the last reset, oldest first. */
  get log(): readonly RequestLogEntry[] {
    return this.entries;
  }

  /** Model calls (generateContent and chatCompletions) currently being served. */
  get inFlight(): number {
    return this.current;
  }

  /** Most model calls (generateContent and chatCompletions) served at once since start or the last reset. */
  get maxInFlight(): number {
    return this.peak;
  }

  /**
   * Replaces the given settings; new fault rules start unspent. Throws on invalid rules, ratings or
   * quota. Returns the settings it replaced (only those the patch names), so a caller can put them
   * back with another `configure`.
   */
  configure(patch: EmulatorPatch): EmulatorPatch {
    const { latency, faults, seed, safetyRatings, quota, batch, openai } = parseControlConfig({
      latency: patch.latency,
      faults: patch.faults,
      seed: patch.seed,
      safetyRatings: patch.safetyRatings,
      quota: patch.quota,
      batch: patch.batch,
      openai: patch.openai,
    });
    const previous: EmulatorPatch = {
      ...(latency === undefined ? {} : { latency: { ...this.latency } }),
      ...(faults === undefined ? {} : { faults: [...this.faults.rules] }),
      ...(seed === undefined ? {} : { seed: this.seed }),
      ...(safetyRatings === undefined ? {} : { safetyRatings: [...this.safetyRatings] }),
      ...(quota === undefined ? {} : { quota: this.quota.limits() }),
      ...(patch.responder === undefined ? {} : { responder: this.responder }),
      ...(batch === undefined ? {} : { batch: this.batchStore.settings }),
      ...(openai === undefined ? {} : { openai: { ...this.openai } }),
    };
    if (batch !== undefined) this.batchStore.settings = batch;
    if (latency !== undefined) this.latency = latency;
    if (faults !== undefined) this.faults = new FaultBook(faults);
    if (seed !== undefined) this.seed = seed;
    if (safetyRatings !== undefined) this.safetyRatings = safetyRatings;
    if (quota !== undefined) this.quota.setLimits(quota);
    if (patch.responder !== undefined) this.responder = patch.responder;
    if (openai !== undefined) this.openai = openai;
    return previous;
  }

  /**
   * Clears the log, attempt counters, maxInFlight, caches (OpenAI's prompt cache too) and the quota
   * window, and revives spent fault rules.
   */
  reset(): void {
    this.entries = [];
    this.promptCache.clear();
    this.quota.clear();
    this.attempts.clear();
    this.routeAttempts.clear();
    this.cacheStore.clear();
    this.peak = this.current;
    this.faults.resetSpent();
  }

  /** Quota counts since start or the last reset, and what the 60 s window holds now. */
  quotaStats(): QuotaStats {
    return this.quota.stats(this.now());
  }

  /** When each generateContent request the quota admitted arrived (ms, by the `now` clock), oldest first. */
  admittedTimestamps(): number[] {
    return this.quota.admittedTimestamps();
  }

  /** The generateContent log entries, optionally only those whose item key has a prefix. */
  generateCalls(filter: { itemKeyPrefix?: string } = {}): RequestLogEntry[] {
    return this.callsOf('generateContent', filter.itemKeyPrefix);
  }

  /** The chatCompletions log entries (the OpenAI-compatible route), optionally only those whose item key has a prefix. */
  chatCompletionCalls(filter: { itemKeyPrefix?: string } = {}): RequestLogEntry[] {
    return this.callsOf('chatCompletions', filter.itemKeyPrefix);
  }

  private callsOf(route: 'generateContent' | 'chatCompletions', itemKeyPrefix: string | undefined): RequestLogEntry[] {
    return this.entries.filter(
      (entry) =>
        entry.route === route &&
        (itemKeyPrefix === undefined || (entry.itemKey !== undefined && entry.itemKey.startsWith(itemKeyPrefix))),
    );
  }

  /** Log entries of the cachedContents routes, or of one of them. */
  cacheOperations(route?: CacheRoute): RequestLogEntry[] {
    return this.entries.filter((entry) => (route === undefined ? isCacheRoute(entry.route) : entry.route === route));
  }

  /**
   * Log entries of the Batch Mode and Files routes (`BATCH_ROUTES`), or of one of them. Requests
   * that reached no such route (file get/delete, an upload's data steps) are not included.
   */
  batchOperations(route?: BatchRoute): RequestLogEntry[] {
    return this.entries.filter((entry) => (route === undefined ? isBatchLogRoute(entry.route) : entry.route === route));
  }

  /** The caches that exist now (unexpired), in creation order, as get would return them. */
  caches(): CachedContentResource[] {
    return this.cacheStore.resources();
  }

  /** Deletes a cache without a request, as if another process had; true when it existed. */
  deleteCacheBehindTheScenes(name: string): boolean {
    return this.cacheStore.remove(name);
  }

  /**
   * generateContent entries answered 404 because their cache was missing or expired, including
   * those a `cache_expired` fault answered so.
   */
  expiredCacheErrors(): RequestLogEntry[] {
    return this.generateCalls().filter(
      (entry) =>
        entry.status === 404 &&
        (entry.fault === 'cache_expired' || (entry.fault === undefined && entry.cachedContent !== undefined)),
    );
  }

  /**
   * Every batch job created since start (deleted ones too), oldest first: name, display name,
   * request count, input file and the states it reached by now. Not cleared by `reset`.
   */
  batchJobs(): BatchJobLogEntry[] {
    return this.batchStore.log();
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
    const exchange: Exchange = {
      request,
      response,
      cancel: new AbortController(),
      emulatorStopping: () => this.stopped,
    };
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
      const match = MODEL_ROUTE.exec(url.pathname);
      const model = match?.[1] ?? '';
      const method = match?.[2];
      const apiKey = request.headers['x-goog-api-key'] ?? url.searchParams.get('key') ?? undefined;
      const rejection = this.authError(typeof apiKey === 'string' ? apiKey : apiKey?.[0]);
      const cacheCall = cacheCallOf(request.method ?? '', url.pathname);
      const uploadCommand = String(request.headers['x-goog-upload-command'] ?? '');
      const batchCall = batchCallOf(request.method ?? 'GET', url, uploadCommand);
      if (isChatCompletionsPath(url.pathname)) {
        await serveChatCompletion(this.chatHost(), exchange, { body, startedAtMs, path: url.pathname });
      } else if (batchCall !== undefined) {
        await this.serveBatch(exchange, batchCall, { url, body, rejection, startedAtMs });
      } else if (cacheCall !== undefined) {
        await this.serveCache(exchange, { ...cacheCall, body, query: url.searchParams, rejection, startedAtMs });
      } else if (method === 'generateContent' || method === 'streamGenerateContent') {
        const stream = method === 'streamGenerateContent';
        await this.serveGenerate(exchange, { model, stream, body, rejection, startedAtMs });
      } else if (method === 'countTokens') {
        await this.serveCountTokens(exchange, { model, body, rejection, startedAtMs });
      } else {
        const entry = this.openEntry('other', model, this.itemKeyOf(request), 0, startedAtMs);
        finish(exchange, entry, routeNotFound(url.pathname));
      }
    } catch (error) {
      if (!response.headersSent && !response.destroyed) {
        sendJson(response, 500, googleError(500, 'INTERNAL', `emulator error: ${String(error)}`).body);
      }
    } finally {
      this.exchanges.delete(exchange);
    }
  }

  /** The machinery the chat-completions route shares with generateContent (src/openai.ts). */
  private chatHost(): ChatCompletionHost {
    return {
      settings: this.openai,
      responder: this.responder,
      modelVersion: this.options.modelVersion,
      requiredApiKey: this.options.requiredApiKey,
      promptCache: this.promptCache,
      now: this.now,
      nextAttempt: (itemKey) => this.nextAttempt(itemKey),
      openEntry: (model, itemKey, attempt, startedAtMs) =>
        this.openEntry('chatCompletions', model, itemKey, attempt, startedAtMs),
      selectFault: (query) => this.faults.select({ route: 'generateContent', ...query, seed: this.seed }),
      admit: (tokens) => this.quota.admit(this.now(), tokens),
      latencyMs: (itemKey, attempt) => this.modelCallLatencyMs(itemKey, attempt),
      enter: () => this.enterModelCall(),
    };
  }

  /** The next model call number of an item key (generateContent and chatCompletions count together). */
  private nextAttempt(itemKey: string | undefined): number {
    const attempt = (this.attempts.get(itemKey ?? '') ?? 0) + 1;
    this.attempts.set(itemKey ?? '', attempt);
    return attempt;
  }

  /** A model call's latency: the base plus its seeded share of the jitter. */
  private modelCallLatencyMs(itemKey: string | undefined, attempt: number): number {
    return this.latency.baseMs + seededUnit('latency', this.seed, itemKey ?? '', attempt) * this.latency.jitterMs;
  }

  /** Counts a model call in flight (and the peak) until the returned function is called. */
  private enterModelCall(): () => void {
    this.current += 1;
    this.peak = Math.max(this.peak, this.current);
    return () => {
      this.current -= 1;
    };
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
    const entry = newLogEntry({
      seq: this.sequence,
      route,
      model,
      itemKey,
      attempt,
      startedAtMs,
      inFlightAtStart: this.current,
    });
    this.entries.push(entry);
    return entry;
  }

  private async serveGenerate(
    exchange: Exchange,
    call: { model: string; stream: boolean; body: string; rejection: GoogleError | undefined; startedAtMs: number },
  ): Promise<void> {
    const itemKey = this.itemKeyOf(exchange.request);
    const attempt = this.nextAttempt(itemKey);
    const body = parseJson(call.body);
    const view = readGenerateRequest(body);
    const leave = this.enterModelCall();
    const entry = this.openEntry('generateContent', call.model, itemKey, attempt, call.startedAtMs);
    try {
      if (typeof view !== 'string') describeRequest(entry, view);
      const validation = typeof view === 'string' ? invalidArgument(view) : undefined;
      const cache =
        call.rejection === undefined && typeof view !== 'string' && view.cachedContent !== undefined
          ? this.cacheStore.lookup(view.cachedContent, call.model)
          : undefined;
      const cachedTokens = cache !== undefined && 'tokens' in cache ? cache.tokens : undefined;
      entry.promptTokens += cachedTokens ?? 0;
      const rejection =
        call.rejection ?? validation ?? (cache !== undefined && 'error' in cache ? cache.error : undefined);
      const rule =
        rejection === undefined
          ? this.faults.select({ route: 'generateContent', model: call.model, itemKey, attempt, seed: this.seed })
          : undefined;
      entry.fault = rule?.fault;
      // Only requests the model would serve count against the quota: not refused ones, not faulted ones.
      const overQuota =
        rejection === undefined && rule === undefined ? this.quota.admit(this.now(), entry.promptTokens) : undefined;
      const refusal = rejection ?? (overQuota === undefined ? undefined : quotaExceeded(call.model, overQuota));
      if (overQuota !== undefined) entry.quotaRejected = true;
      entry.status = plannedStatus(refusal, rule?.fault);
      if (!(await pause(exchange, this.modelCallLatencyMs(itemKey, attempt)))) {
        markCancelled(exchange, entry);
      } else if (refusal !== undefined || typeof view === 'string') {
        finish(exchange, entry, refusal ?? invalidArgument(String(view)));
      } else if (rule !== undefined && isErrorFault(rule.fault)) {
        const context = { model: call.model, retryDelaySeconds: rule.retryDelaySeconds ?? 1 };
        finish(exchange, entry, errorForFault[rule.fault](context));
      } else {
        await this.answer(exchange, entry, {
          model: call.model,
          stream: call.stream,
          body,
          view,
          itemKey,
          attempt,
          rule,
          cachedTokens,
        });
      }
    } finally {
      leave();
      entry.endedAtMs ??= Date.now();
    }
  }

  /** Everything that is not an error body: answers, broken answers, resets and hangs. */
  private async answer(exchange: Exchange, entry: RequestLogEntry, call: GenerateCall): Promise<void> {
    const { rule } = call;
    const fault = rule?.fault;
    if (await answerTransportFault(exchange, entry, rule, call.stream)) return;
    const context: AnswerContext = {
      modelVersion: this.options.modelVersion ?? call.model,
      responseId: `emulated-${entry.seq}`,
      promptTokenCount: entry.promptTokens,
      ...(call.cachedTokens === undefined ? {} : { cachedContentTokenCount: call.cachedTokens }),
    };
    let body: GenerateAnswer;
    if (rule !== undefined && isContentFault(rule.fault)) {
      body = answerForContentFault[rule.fault](context, rule);
    } else {
      const request = emulatedRequest(call.view, call, call.body);
      try {
        entry.outputText = await answerText(this.responder, request, fault);
      } catch (error) {
        finish(exchange, entry, googleError(500, 'INTERNAL', `emulator responder failed: ${String(error)}`));
        return;
      }
      const finishReason = fault === 'max_tokens' ? 'MAX_TOKENS' : 'STOP';
      body = textAnswer(context, entry.outputText, finishReason, textAnswerRatings(rule, this.safetyRatings));
    }
    describeAnswer(entry, body);
    finish(exchange, entry, { httpStatus: 200, raw: JSON.stringify(body), stream: call.stream });
  }

  /** The cachedContents routes: counted, logged and faulted like generateContent, then served by the store. */
  private async serveCache(
    exchange: Exchange,
    call: CacheCall & { body: string; query: URLSearchParams; rejection: GoogleError | undefined; startedAtMs: number },
  ): Promise<void> {
    const itemKey = this.itemKeyOf(exchange.request);
    const counterKey = `${call.route}\u0000${itemKey ?? ''}`;
    const attempt = (this.routeAttempts.get(counterKey) ?? 0) + 1;
    this.routeAttempts.set(counterKey, attempt);
    const body = parseJson(call.body);
    const create = call.route === 'cacheCreate' ? readCacheCreate(body) : undefined;
    const createView = create === undefined || isGoogleError(create) ? undefined : create;
    const model = createView?.model ?? (call.name === undefined ? '' : (this.cacheStore.modelOf(call.name) ?? ''));
    const entry = this.openEntry(call.route, model, itemKey, attempt, call.startedAtMs);
    if (call.name !== undefined) entry.cacheName = call.name;
    if (createView !== undefined) describeCacheCreate(entry, createView);
    try {
      // Like generateContent, a malformed request is refused before any fault rule is spent.
      const rejection = call.rejection ?? (create !== undefined && isGoogleError(create) ? create : undefined);
      const rule =
        rejection === undefined
          ? this.faults.select({ route: call.route, model, itemKey, attempt, seed: this.seed })
          : undefined;
      entry.fault = rule?.fault;
      entry.status = plannedStatus(rejection, rule?.fault);
      const jitter = seededUnit('latency', this.seed, call.route, itemKey ?? '', attempt);
      if (!(await pause(exchange, this.latency.baseMs + jitter * this.latency.jitterMs))) {
        markCancelled(exchange, entry);
      } else if (rejection !== undefined) {
        finish(exchange, entry, rejection);
      } else if (rule !== undefined && isErrorFault(rule.fault)) {
        finish(exchange, entry, errorForFault[rule.fault]({ model, retryDelaySeconds: rule.retryDelaySeconds ?? 1 }));
      } else if (!(await answerTransportFault(exchange, entry, rule, false))) {
        // State changes only here, once any latency has passed.
        const answered = this.cacheStore.answer(call, body, this.seed);
        if (answered.cacheName !== undefined) entry.cacheName = answered.cacheName;
        finish(exchange, entry, answered.outcome);
      }
    } finally {
      entry.endedAtMs ??= Date.now();
    }
  }

  /**
   * The Batch Mode and Files API routes: counted, logged and faulted like the cache routes, then
   * served by the batch store. A `reply_lost` rule lets the store act, then cuts the connection
   * unanswered; on `fileUpload` (the upload's start) it lets the start through and cuts the
   * upload's finalize step once the file is stored.
   */
  private async serveBatch(
    exchange: Exchange,
    call: BatchCall,
    arrival: { url: URL; body: string; rejection: GoogleError | undefined; startedAtMs: number },
  ): Promise<void> {
    const itemKey = this.itemKeyOf(exchange.request);
    let attempt = 0;
    if (call.route !== 'other') {
      const counterKey = `${call.route}\u0000${itemKey ?? ''}`;
      attempt = (this.routeAttempts.get(counterKey) ?? 0) + 1;
      this.routeAttempts.set(counterKey, attempt);
    }
    const body = parseJson(arrival.body);
    const create = call.route === 'batchCreate' ? this.batchStore.readCreate(body) : undefined;
    const name = 'name' in call ? call.name : undefined;
    let model = '';
    if (call.route === 'batchCreate') model = call.model;
    else if (name?.startsWith('batches/') === true) model = this.batchStore.modelOf(name) ?? '';
    const entry = this.openEntry(call.route, model, itemKey, attempt, arrival.startedAtMs);
    if (name?.startsWith('batches/') === true) entry.batchName = name;
    if (name?.startsWith('files/') === true) entry.fileName = name;
    try {
      // Like generateContent, a malformed request is refused before any fault rule is spent.
      const rejection = arrival.rejection ?? (create !== undefined && isGoogleError(create) ? create : undefined);
      const rule =
        rejection === undefined && call.route !== 'other'
          ? this.faults.select({ route: call.route, model, itemKey, attempt, seed: this.seed })
          : undefined;
      const finalizesLostUpload =
        rejection === undefined &&
        call.route === 'other' &&
        call.step === 'uploadChunk' &&
        call.finalize &&
        this.lostUploadReplies.delete(call.uploadId);
      // On fileUpload, reply_lost is for the finalize step: the start itself is answered.
      const loseReply = finalizesLostUpload || (rule?.fault === 'reply_lost' && call.route !== 'fileUpload');
      entry.fault = finalizesLostUpload ? 'reply_lost' : rule?.fault;
      const plannedFault = loseReply ? 'reply_lost' : rule?.fault === 'reply_lost' ? undefined : rule?.fault;
      entry.status = plannedStatus(rejection, plannedFault);
      if (rejection !== undefined) {
        finish(exchange, entry, rejection);
      } else if (rule !== undefined && isErrorFault(rule.fault)) {
        finish(exchange, entry, errorForFault[rule.fault]({ model, retryDelaySeconds: rule.retryDelaySeconds ?? 1 }));
      } else if (!(await answerTransportFault(exchange, entry, rule, false))) {
        // State changes only here, once a reset or hang had its chance to stop the request.
        const served = await this.performBatch(exchange, call, entry, {
          url: arrival.url,
          rawBody: arrival.body,
          body,
          create: create === undefined || isGoogleError(create) ? undefined : create,
        });
        if (served.uploadId !== undefined && rule?.fault === 'reply_lost') this.lostUploadReplies.add(served.uploadId);
        if (loseReply) dropReply(exchange, entry);
        else finish(exchange, entry, served.outcome);
      }
    } finally {
      entry.endedAtMs ??= Date.now();
    }
  }

  /** Does what a batch or file call asks of the store; returns the answer (and a started upload's id). */
  private async performBatch(
    exchange: Exchange,
    call: BatchCall,
    entry: RequestLogEntry,
    request: { url: URL; rawBody: string; body: unknown; create: BatchCreateView | undefined },
  ): Promise<{ outcome: Outcome; uploadId?: string }> {
    const ok = (result: object): { outcome: Outcome } => ({
      outcome: isGoogleError(result) ? result : { httpStatus: 200, body: result },
    });
    switch (call.route) {
      case 'batchCreate': {
        // serveBatch refused a malformed body already.
        const view = request.create ?? this.batchStore.readCreate(request.body);
        if (isGoogleError(view)) return { outcome: view };
        const created = await this.batchStore.create(call.model, view, this.seed, (...args) =>
          this.batchAnswer(...args),
        );
        if (isGoogleError(created)) return { outcome: created };
        entry.batchName = created.name;
        return ok(created.operation);
      }
      case 'batchList':
        return ok(this.batchStore.list(request.url.searchParams));
      case 'batchGet':
        return ok(this.batchStore.get(call.name));
      case 'batchCancel':
        return ok(this.batchStore.cancel(call.name));
      case 'batchDelete':
        return ok(this.batchStore.delete(call.name));
      case 'fileUpload': {
        const uploadId = this.batchStore.startUpload(
          request.body,
          exchange.request.headers['x-goog-upload-header-content-type'] as string | undefined,
        );
        const headers = {
          'x-goog-upload-status': 'active',
          'x-goog-upload-url': `${this.url}/upload/v1beta/files?upload_id=${uploadId}&upload_protocol=resumable`,
        };
        return { outcome: { httpStatus: 200, headers, data: '' }, uploadId };
      }
      case 'fileDownload': {
        const data = this.batchStore.fileData(call.name);
        if (data === undefined) return { outcome: batchNotFound() };
        const headers = { 'content-type': 'application/octet-stream', 'content-length': data.length };
        return { outcome: { httpStatus: 200, headers, data } };
      }
      case 'other':
        switch (call.step) {
          case 'fileGet':
            return ok(this.batchStore.fileResource(call.name));
          case 'fileDelete':
            return ok(this.batchStore.deleteFile(call.name));
          case 'uploadChunk': {
            const data = Buffer.from(request.rawBody, 'utf8');
            const result = this.batchStore.uploadChunk(call.uploadId, data, call.finalize);
            if (result !== undefined && isGoogleError(result)) return { outcome: result };
            if (result !== undefined) entry.fileName = result.name;
            const headers = {
              'content-type': 'application/json; charset=UTF-8',
              'x-goog-upload-status': result === undefined ? 'active' : 'final',
            };
            const answer = result === undefined ? '' : JSON.stringify({ file: result.resource });
            return { outcome: { httpStatus: 200, headers, data: answer } };
          }
          case 'unknown':
            return { outcome: routeNotFound(request.url.pathname) };
        }
    }
  }

  /** One request of a batch job, answered like an online generateContent (responder, usage, ratings). */
  private async batchAnswer(
    model: string,
    request: unknown,
    key: string,
    fault: 'schema_invalid' | undefined,
  ): Promise<BatchItemResult> {
    const view = readGenerateRequest(request);
    if (typeof view === 'string') return { error: { code: 400, message: view, status: 'INVALID_ARGUMENT' } };
    const cache = view.cachedContent === undefined ? undefined : this.cacheStore.lookup(view.cachedContent, model);
    if (cache !== undefined && 'error' in cache) return { error: cache.error.body.error };
    const cachedTokens = cache === undefined ? undefined : cache.tokens;
    this.sequence += 1;
    const context: AnswerContext = {
      modelVersion: this.options.modelVersion ?? model,
      responseId: `emulated-batch-${this.sequence}`,
      promptTokenCount: promptTokens(view.promptText, view.systemInstructionText) + (cachedTokens ?? 0),
      ...(cachedTokens === undefined ? {} : { cachedContentTokenCount: cachedTokens }),
    };
    try {
      const text = await answerText(
        this.responder,
        emulatedRequest(view, { model, itemKey: key, attempt: 1 }, request),
        fault,
      );
      return { response: textAnswer(context, text, 'STOP', this.safetyRatings) };
    } catch (error) {
      return { error: { code: 500, message: `emulator responder failed: ${String(error)}`, status: 'INTERNAL' } };
    }
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
    const rejection =
      call.rejection ?? (body === undefined ? invalidArgument('Invalid JSON payload received.') : undefined);
    entry.status = rejection?.httpStatus ?? 200;
    const jitter = seededUnit('latency', this.seed, 'countTokens', entry.seq);
    if (!(await pause(exchange, this.latency.baseMs + jitter * this.latency.jitterMs))) {
      markCancelled(exchange, entry);
      return;
    }
    const answer = {
      totalTokens: counted.tokens,
      promptTokensDetails: [{ modality: 'TEXT', tokenCount: counted.tokens }],
    };
    finish(exchange, entry, rejection ?? { httpStatus: 200, raw: JSON.stringify(answer), stream: false });
  }
}
