import { type Context } from '@temporalio/activity';
import {
  WithStartWorkflowOperation,
  WorkflowIdConflictPolicy,
  WorkflowNotFoundError,
  type Client,
} from '@temporalio/client';
import { admitCallsUpdate, quotaScopeQuery, rateLimitedSignal } from '../src/contract/messages';
import type {
  AdmissionLimits,
  AdmitCallsOutput,
  CallOutcomes,
  QuotaScopeInput,
  QuotaScopeState,
  RateLimitedInput,
} from '../src/contract/states';
import type { quotaScopeWorkflow } from '../workflows/quota-scope';

/** How long a worker trusts what it last heard of a scope's cooldown. */
const STATE_TTL_MS = 500;
/** How long a worker waits for a scope's state before treating the scope as unreachable for now. */
const SCOPE_QUERY_DEADLINE_MS = 1_000;
/** Attempts at reaching the scope's workflow (it may be continuing as new or ending idle). */
const ADMISSION_ATTEMPTS = 5;

/** Latencies sent with one admission request at most (auto mode). */
const MAX_REPORTED_LATENCIES = 32;

/** What the scope answered one call: wait `delayMs`, then start (granted) or ask again. */
interface Admission {
  delayMs: number;
  granted: boolean;
  /** Auto mode: the scope's time of the grant. */
  admittedAt?: number;
}

interface PendingCall {
  tokens: number;
  resolve: (admission: Admission) => void;
  reject: (error: unknown) => void;
}

/** Per scope (and mode): calls waiting for admission, token estimates to settle, auto mode's outcomes. */
interface ScopeQueue {
  adaptive: boolean;
  pending: PendingCall[];
  sending: boolean;
  tokenCorrection: number;
  outcomes: CallOutcomes;
}

/** How a call was cleared to start. */
export interface Clearance {
  waitedMs: number;
  /** Auto mode: when the scope admitted it (the scope's clock), for a 429 report. */
  admittedAt?: number;
}

/**
 * The activity side of a quota scope, shared by all calls of one worker process. With limits
 * (RPM/TPM), each call asks the scope's workflow for a start time before it runs — concurrent
 * asks of this process go as one update — so every worker process together stays under the
 * limits. Without limits, it only honours the coordinated 429 cooldown. After a 429 it tells the
 * scope's workflow, which pauses every worker's new calls. Calls of `--concurrency auto` batches
 * are always admitted, under the scope's adaptive rate, and report how they went with the next
 * admission request.
 */
export class QuotaGate {
  private readonly known = new Map<string, { state: QuotaScopeState | undefined; at: number }>();
  private readonly queues = new Map<string, ScopeQueue>();
  /** Input tokens per estimated token, learned per model from usage (the estimate is chars / 4). */
  private readonly tokenRatio = new Map<string, number>();
  /** Tokens of each context cache, learned from usage: they count towards the input-token limit. */
  private readonly cacheTokens = new Map<string, number>();
  /** Scopes whose account has limits of its own (a named endpoint's rpm/tpm), not this worker's. */
  private readonly scopeLimits = new Map<string, AdmissionLimits>();

  constructor(
    private readonly client: Client,
    private readonly taskQueue: string,
    /** Identifies the API key without revealing it (a short hash). */
    private readonly keyFingerprint: string,
    private readonly limits: AdmissionLimits = {},
  ) {}

  /** Whether calls under these limits (default: this worker's) wait for admission. */
  admits(limits: AdmissionLimits = this.limits): boolean {
    return limits.requestsPerMinute !== undefined || limits.tokensPerMinute !== undefined;
  }

  /**
   * One quota scope per task queue, model and API key (`account`: another provider's key
   * fingerprint); `limits`: the account's own RPM/TPM, where they are not this worker's.
   */
  scopeOf(model: string, account: string = this.keyFingerprint, limits?: AdmissionLimits): string {
    const scope = `quota/${this.taskQueue}/${model}/${account}`;
    if (limits && !this.scopeLimits.has(scope)) this.scopeLimits.set(scope, limits);
    return scope;
  }

  /** The RPM/TPM a scope's calls are admitted under. */
  private limitsOf(scope: string): AdmissionLimits {
    return this.scopeLimits.get(scope) ?? this.limits;
  }

  /** Input tokens a request will be charged, before it is sent. */
  estimateTokens(model: string, promptChars: number, cachedContent: string | undefined): number {
    const text = Math.ceil((promptChars / 4) * (this.tokenRatio.get(model) ?? 1));
    return text + (cachedContent ? (this.cacheTokens.get(cachedContent) ?? 0) : 0);
  }

  /** What a call really used: corrects the scope's pacing and this worker's next estimates. */
  settle(
    scope: string,
    model: string,
    call: {
      promptChars: number;
      estimatedTokens: number;
      inputTokens: number;
      cachedTokens: number;
      cachedContent: string | undefined;
      /** Auto mode: the call's latency, reported to the scope's adaptive rate. */
      adaptive?: { latencyMs: number };
    },
  ): void {
    if (call.cachedContent && call.cachedTokens > 0) this.cacheTokens.set(call.cachedContent, call.cachedTokens);
    const textTokens = call.inputTokens - call.cachedTokens;
    if (call.promptChars > 0 && textTokens > 0) {
      const observed = textTokens / Math.ceil(call.promptChars / 4);
      const previous = this.tokenRatio.get(model);
      this.tokenRatio.set(model, previous === undefined ? observed : previous * 0.8 + observed * 0.2);
    }
    if (call.adaptive) {
      const { outcomes } = this.queueOf(scope, true);
      outcomes.succeeded += 1;
      outcomes.latenciesMs.push(Math.round(call.adaptive.latencyMs));
      if (outcomes.latenciesMs.length > MAX_REPORTED_LATENCIES) outcomes.latenciesMs.shift();
    }
    if (this.admits(this.limitsOf(scope)) || call.adaptive)
      this.queueOf(scope, !!call.adaptive).tokenCorrection += call.inputTokens - call.estimatedTokens;
  }

  /**
   * Waits (heartbeating, cancellable) until the scope lets this call start: its admitted start
   * time under the limits, or the end of a 429 cooldown, calling `heartbeat` (the call's ledger) as
   * it waits. `adaptive`: the call's batch runs with `--concurrency auto`.
   */
  async awaitClearance(
    scope: string,
    context: Context,
    tokens: number,
    heartbeat: () => void,
    adaptive = false,
  ): Promise<Clearance> {
    const began = Date.now();
    if (this.admits(this.limitsOf(scope)) || adaptive) {
      for (;;) {
        const local = this.known.get(scope);
        if (local?.state && Date.now() < local.state.cooldownUntil)
          await sleepHeartbeating(context, local.state.cooldownUntil, heartbeat);
        const askedAt = Date.now();
        const { delayMs, granted, admittedAt } = await this.admit(scope, tokens, adaptive);
        if (delayMs > 0)
          context.log.debug(granted ? 'admitted by the quota scope; waiting for the start time' : 'asking again', {
            scope,
            waitMs: delayMs,
          });
        await sleepHeartbeating(context, Date.now() + delayMs, heartbeat);
        if (!granted) continue;
        // A 429 this process saw while waiting: the grant predates the cooldown, so ask again.
        if ((this.known.get(scope)?.at ?? 0) <= askedAt)
          return { waitedMs: Date.now() - began, ...(admittedAt !== undefined ? { admittedAt } : {}) };
      }
    }
    const state = await this.stateOf(scope);
    if (!state || Date.now() >= state.cooldownUntil) return { waitedMs: 0 };
    const until = state.cooldownUntil + Math.random() * state.rampMs;
    context.log.info('quota scope cooling down; waiting before the call', {
      scope,
      waitMs: Math.round(until - Date.now()),
    });
    await sleepHeartbeating(context, until, heartbeat);
    return { waitedMs: Date.now() - began };
  }

  /**
   * Why a call could not start at once, without asking anyone for a start time: this worker
   * admits calls under limits, or the scope is cooling down after a 429. Undefined when it can.
   */
  async deferralOf(scope: string, adaptive = false): Promise<'admission' | 'cooldown' | undefined> {
    if (this.admits(this.limitsOf(scope)) || adaptive) return 'admission';
    const state = await this.stateOf(scope);
    return state && Date.now() < state.cooldownUntil ? 'cooldown' : undefined;
  }

  /**
   * Starts (or extends) the scope's cooldown after a 429; in auto mode (`admittedAt` from the
   * call's clearance) it lowers the scope's rate instead, and this worker's calls do not pause.
   */
  async reportRateLimit(scope: string, suggestedWaitMs: number | undefined, admittedAt?: number): Promise<void> {
    if (admittedAt !== undefined) {
      await this.client.workflow.signalWithStart<typeof quotaScopeWorkflow, [RateLimitedInput]>('quotaScopeWorkflow', {
        ...this.scopeWorkflowStart(scope),
        signal: rateLimitedSignal,
        signalArgs: [{ adaptive: true, admittedAt, ...(suggestedWaitMs !== undefined ? { suggestedWaitMs } : {}) }],
      });
      return;
    }
    // Locally at once, so this worker's next calls wait even before the workflow answers.
    this.known.set(scope, {
      state: {
        cooldownUntil: Date.now() + Math.max(suggestedWaitMs ?? 0, 1_000),
        rampMs: 0,
        consecutive: 1,
        cooldowns: 1,
        rateLimits: 1,
      },
      at: Date.now(),
    });
    await this.client.workflow.signalWithStart<typeof quotaScopeWorkflow, [RateLimitedInput]>('quotaScopeWorkflow', {
      ...this.scopeWorkflowStart(scope),
      signal: rateLimitedSignal,
      signalArgs: [suggestedWaitMs !== undefined ? { suggestedWaitMs } : {}],
    });
  }

  /** How the scope's workflow is started, by the first 429 (signal-with-start) or the first admission (update-with-start). */
  private scopeWorkflowStart(scope: string) {
    return {
      workflowId: scope,
      taskQueue: this.taskQueue,
      args: [{ scope }] as [QuotaScopeInput],
      staticSummary: `quota scope ${scope}`,
    };
  }

  private queueOf(scope: string, adaptive = false): ScopeQueue {
    const key = adaptive ? `${scope} auto` : scope;
    let queue = this.queues.get(key);
    if (!queue) {
      queue = {
        adaptive,
        pending: [],
        sending: false,
        tokenCorrection: 0,
        outcomes: { succeeded: 0, latenciesMs: [] },
      };
      this.queues.set(key, queue);
    }
    return queue;
  }

  /** Joins this process's next admission request for the scope. */
  private admit(scope: string, tokens: number, adaptive: boolean): Promise<Admission> {
    const queue = this.queueOf(scope, adaptive);
    const admission = new Promise<Admission>((resolve, reject) => queue.pending.push({ tokens, resolve, reject }));
    void this.send(scope, queue);
    return admission;
  }

  /** One update at a time per scope; calls that arrive meanwhile go in the next one. */
  private async send(scope: string, queue: ScopeQueue): Promise<void> {
    if (queue.sending || queue.pending.length === 0) return;
    queue.sending = true;
    const batch = queue.pending.splice(0);
    const tokenCorrection = Math.round(queue.tokenCorrection);
    queue.tokenCorrection -= tokenCorrection;
    const outcomes = queue.outcomes;
    queue.outcomes = { succeeded: 0, latenciesMs: [] };
    try {
      const sentAt = Date.now();
      const answer = await this.requestAdmission(scope, queue.adaptive, batch, tokenCorrection, outcomes);
      // A call told to ask again asks early by one round trip, so its ask reaches the scope in time.
      const roundTripMs = Date.now() - sentAt;
      const askAgain = new Set(answer.askAgain ?? []);
      batch.forEach((call, index) =>
        call.resolve({
          delayMs: Math.max(0, (answer.delaysMs[index] ?? 0) - (askAgain.has(index) ? roundTripMs : 0)),
          granted: !askAgain.has(index),
          ...(answer.admittedAt !== undefined ? { admittedAt: answer.admittedAt } : {}),
        }),
      );
    } catch (error) {
      queue.tokenCorrection += tokenCorrection;
      queue.outcomes.succeeded += outcomes.succeeded;
      for (const call of batch) call.reject(error);
    } finally {
      queue.sending = false;
    }
    void this.send(scope, queue);
  }

  private async requestAdmission(
    scope: string,
    adaptive: boolean,
    batch: PendingCall[],
    tokenCorrection: number,
    outcomes: CallOutcomes,
  ): Promise<AdmitCallsOutput> {
    const args = {
      limits: this.limitsOf(scope),
      calls: batch.map(({ tokens }) => ({ tokens })),
      ...(tokenCorrection ? { tokenCorrection } : {}),
      ...(adaptive ? { adaptive, outcomes } : {}),
    };
    for (let attempt = 1; ; attempt += 1) {
      // Update-with-start: the scope's workflow starts with the first call and ends when idle.
      const startWorkflowOperation = new WithStartWorkflowOperation<typeof quotaScopeWorkflow>('quotaScopeWorkflow', {
        ...this.scopeWorkflowStart(scope),
        workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
      });
      try {
        return await this.client.workflow.executeUpdateWithStart(admitCallsUpdate, {
          args: [args],
          startWorkflowOperation,
        });
      } catch (error) {
        // The run may have been closing (continue-as-new, idle end) as the update arrived.
        if (attempt >= ADMISSION_ATTEMPTS) throw error;
        await new Promise((resolve) => setTimeout(resolve, 100 * attempt));
      }
    }
  }

  private async stateOf(scope: string): Promise<QuotaScopeState | undefined> {
    const cached = this.known.get(scope);
    if (cached && Date.now() - cached.at < STATE_TTL_MS) return cached.state;
    let state: QuotaScopeState | undefined;
    try {
      // Bounded: a scope whose worker died would hold the query (and the call) for many seconds.
      state = await withinMs(
        this.client.workflow.getHandle(scope).query(quotaScopeQuery),
        SCOPE_QUERY_DEADLINE_MS,
        `the quota scope ${scope} did not answer its state query`,
      );
    } catch (error) {
      // No 429 yet in this scope (or it went idle and ended): nothing to wait for.
      if (!(error instanceof WorkflowNotFoundError)) throw error;
    }
    this.known.set(scope, { state, at: Date.now() });
    return state;
  }
}

/** Sleeps until `until` (epoch ms) in steps of at most a second, heartbeating; a cancellation ends it. */
async function sleepHeartbeating(context: Context, until: number, heartbeat: () => void): Promise<void> {
  while (Date.now() < until) {
    heartbeat();
    await context.sleep(Math.min(1_000, until - Date.now()));
  }
}

/** `promise`, or an error after `ms` (the promise is left to settle unobserved). */
function withinMs<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} within ${ms} ms`)), ms);
  });
  promise.catch(() => undefined);
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}
