import { type Context } from '@temporalio/activity';
import {
  WithStartWorkflowOperation,
  WorkflowIdConflictPolicy,
  WorkflowNotFoundError,
  type Client,
} from '@temporalio/client';
import { admitCallsUpdate, quotaScopeQuery, rateLimitedSignal } from '../src/contract/messages';
import type { AdmissionLimits, AdmitCallsOutput, QuotaScopeInput, QuotaScopeState } from '../src/contract/states';
import type { quotaScopeWorkflow } from '../workflows/quota-scope';

/** How long a worker trusts what it last heard of a scope's cooldown. */
const STATE_TTL_MS = 500;
/** How long a worker waits for a scope's state before treating the scope as unreachable for now. */
const SCOPE_QUERY_DEADLINE_MS = 1_000;
/** Attempts at reaching the scope's workflow (it may be continuing as new or ending idle). */
const ADMISSION_ATTEMPTS = 5;

interface PendingCall {
  tokens: number;
  resolve: (delayMs: number) => void;
  reject: (error: unknown) => void;
}

/** Per scope: calls waiting for admission, and token estimates to settle. */
interface ScopeQueue {
  pending: PendingCall[];
  sending: boolean;
  tokenCorrection: number;
}

/**
 * The activity side of a quota scope, shared by all calls of one worker process. With limits
 * (RPM/TPM), each call asks the scope's workflow for a start time before it runs — concurrent
 * asks of this process go as one update — so every worker process together stays under the
 * limits. Without limits, it only honours the coordinated 429 cooldown. After a 429 it tells the
 * scope's workflow, which pauses every worker's new calls.
 */
export class QuotaGate {
  private readonly known = new Map<string, { state: QuotaScopeState | undefined; at: number }>();
  private readonly queues = new Map<string, ScopeQueue>();
  /** Input tokens per estimated token, learned per model from usage (the estimate is chars / 4). */
  private readonly tokenRatio = new Map<string, number>();
  /** Tokens of each context cache, learned from usage: they count towards the input-token limit. */
  private readonly cacheTokens = new Map<string, number>();

  constructor(
    private readonly client: Client,
    private readonly taskQueue: string,
    /** Identifies the API key without revealing it (a short hash). */
    private readonly keyFingerprint: string,
    private readonly limits: AdmissionLimits = {},
  ) {}

  get admits(): boolean {
    return this.limits.requestsPerMinute !== undefined || this.limits.tokensPerMinute !== undefined;
  }

  /** One quota scope per task queue, model and API key. */
  scopeOf(model: string): string {
    return `quota/${this.taskQueue}/${model}/${this.keyFingerprint}`;
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
    },
  ): void {
    if (call.cachedContent && call.cachedTokens > 0) this.cacheTokens.set(call.cachedContent, call.cachedTokens);
    const textTokens = call.inputTokens - call.cachedTokens;
    if (call.promptChars > 0 && textTokens > 0) {
      const observed = textTokens / Math.ceil(call.promptChars / 4);
      const previous = this.tokenRatio.get(model);
      this.tokenRatio.set(model, previous === undefined ? observed : previous * 0.8 + observed * 0.2);
    }
    if (this.admits) this.queueOf(scope).tokenCorrection += call.inputTokens - call.estimatedTokens;
  }

  /**
   * Waits (heartbeating, cancellable) until the scope lets this call start: its admitted start
   * time under the limits, or the end of a 429 cooldown, calling `heartbeat` (the call's ledger) as
   * it waits. Returns the ms waited.
   */
  async awaitClearance(scope: string, context: Context, tokens: number, heartbeat: () => void): Promise<number> {
    const began = Date.now();
    if (this.admits) {
      for (;;) {
        const local = this.known.get(scope);
        if (local?.state && Date.now() < local.state.cooldownUntil)
          await sleepHeartbeating(context, local.state.cooldownUntil, heartbeat);
        const askedAt = Date.now();
        const delayMs = await this.admit(scope, tokens);
        if (delayMs > 0)
          context.log.debug('admitted by the quota scope; waiting for the start time', { scope, waitMs: delayMs });
        await sleepHeartbeating(context, Date.now() + delayMs, heartbeat);
        // A 429 this process saw while waiting: the grant predates the cooldown, so ask again.
        if ((this.known.get(scope)?.at ?? 0) <= askedAt) return Date.now() - began;
      }
    }
    const state = await this.stateOf(scope);
    if (!state || Date.now() >= state.cooldownUntil) return 0;
    const until = state.cooldownUntil + Math.random() * state.rampMs;
    context.log.info('quota scope cooling down; waiting before the call', {
      scope,
      waitMs: Math.round(until - Date.now()),
    });
    await sleepHeartbeating(context, until, heartbeat);
    return Date.now() - began;
  }

  /**
   * Why a call could not start at once, without asking anyone for a start time: this worker
   * admits calls under limits, or the scope is cooling down after a 429. Undefined when it can.
   */
  async deferralOf(scope: string): Promise<'admission' | 'cooldown' | undefined> {
    if (this.admits) return 'admission';
    const state = await this.stateOf(scope);
    return state && Date.now() < state.cooldownUntil ? 'cooldown' : undefined;
  }

  /** Starts (or extends) the scope's cooldown after a 429. */
  async reportRateLimit(scope: string, suggestedWaitMs: number | undefined): Promise<void> {
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
    await this.client.workflow.signalWithStart<typeof quotaScopeWorkflow, [{ suggestedWaitMs?: number }]>(
      'quotaScopeWorkflow',
      {
        ...this.scopeWorkflowStart(scope),
        signal: rateLimitedSignal,
        signalArgs: [suggestedWaitMs !== undefined ? { suggestedWaitMs } : {}],
      },
    );
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

  private queueOf(scope: string): ScopeQueue {
    let queue = this.queues.get(scope);
    if (!queue) {
      queue = { pending: [], sending: false, tokenCorrection: 0 };
      this.queues.set(scope, queue);
    }
    return queue;
  }

  /** Joins this process's next admission request for the scope. */
  private admit(scope: string, tokens: number): Promise<number> {
    const queue = this.queueOf(scope);
    const delay = new Promise<number>((resolve, reject) => queue.pending.push({ tokens, resolve, reject }));
    void this.send(scope, queue);
    return delay;
  }

  /** One update at a time per scope; calls that arrive meanwhile go in the next one. */
  private async send(scope: string, queue: ScopeQueue): Promise<void> {
    if (queue.sending || queue.pending.length === 0) return;
    queue.sending = true;
    const batch = queue.pending.splice(0);
    const tokenCorrection = Math.round(queue.tokenCorrection);
    queue.tokenCorrection -= tokenCorrection;
    try {
      const { delaysMs } = await this.requestAdmission(scope, batch, tokenCorrection);
      batch.forEach((call, index) => call.resolve(delaysMs[index] ?? 0));
    } catch (error) {
      queue.tokenCorrection += tokenCorrection;
      for (const call of batch) call.reject(error);
    } finally {
      queue.sending = false;
    }
    void this.send(scope, queue);
  }

  private async requestAdmission(
    scope: string,
    batch: PendingCall[],
    tokenCorrection: number,
  ): Promise<AdmitCallsOutput> {
    const args = {
      limits: this.limits,
      calls: batch.map(({ tokens }) => ({ tokens })),
      ...(tokenCorrection ? { tokenCorrection } : {}),
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
