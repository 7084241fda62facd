import { Context } from '@temporalio/activity';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { QuotaScopeState } from '../workflows/quota-scope';
import { quotaScopeQuery, rateLimitedSignal, type quotaScopeWorkflow } from '../workflows/quota-scope';

/** How long a worker trusts what it last heard of a scope's cooldown. */
const STATE_TTL_MS = 500;

/**
 * The activity side of the coordinated 429 cooldown: before a call, wait out the scope's
 * cooldown (with a spread restart); after a 429, tell the scope's workflow. Every worker process
 * asks the same workflow, so one 429 pauses new calls everywhere.
 */
export class QuotaGate {
  private readonly known = new Map<string, { state: QuotaScopeState | undefined; at: number }>();

  constructor(
    private readonly client: Client,
    private readonly taskQueue: string,
    /** Identifies the API key without revealing it (a short hash). */
    private readonly keyFingerprint: string,
  ) {}

  /** One quota scope per task queue, model and API key. */
  scopeOf(model: string): string {
    return `quota/${this.taskQueue}/${model}/${this.keyFingerprint}`;
  }

  /** Waits (heartbeating, cancellable) until the scope allows a new call. */
  async awaitClearance(scope: string, context: Context): Promise<void> {
    const state = await this.stateOf(scope);
    if (!state || Date.now() >= state.cooldownUntil) return;
    const until = state.cooldownUntil + Math.random() * state.rampMs;
    context.log.info('quota scope cooling down; waiting before the call', { scope, waitMs: Math.round(until - Date.now()) });
    while (Date.now() < until) {
      context.heartbeat(context.info.heartbeatDetails);
      await context.sleep(Math.min(1_000, until - Date.now()));
    }
  }

  /** Starts (or extends) the scope's cooldown after a 429. */
  async reportRateLimit(scope: string, suggestedWaitMs: number | undefined): Promise<void> {
    // Locally at once, so this worker's next calls wait even before the workflow answers.
    this.known.set(scope, { state: { cooldownUntil: Date.now() + Math.max(suggestedWaitMs ?? 0, 1_000), rampMs: 0, consecutive: 1, cooldowns: 1, rateLimits: 1 }, at: Date.now() });
    await this.client.workflow.signalWithStart<typeof quotaScopeWorkflow, [{ suggestedWaitMs?: number }]>('quotaScopeWorkflow', {
      workflowId: scope,
      taskQueue: this.taskQueue,
      args: [{ scope }],
      signal: rateLimitedSignal,
      signalArgs: [suggestedWaitMs !== undefined ? { suggestedWaitMs } : {}],
      staticSummary: `429 cooldown for ${scope}`,
    });
  }

  private async stateOf(scope: string): Promise<QuotaScopeState | undefined> {
    const cached = this.known.get(scope);
    if (cached && Date.now() - cached.at < STATE_TTL_MS) return cached.state;
    let state: QuotaScopeState | undefined;
    try {
      state = await this.client.workflow.getHandle(scope).query(quotaScopeQuery);
    } catch (error) {
      // No 429 yet in this scope (or it went idle and ended): nothing to wait for.
      if (!(error instanceof WorkflowNotFoundError)) throw error;
    }
    this.known.set(scope, { state, at: Date.now() });
    return state;
  }
}
