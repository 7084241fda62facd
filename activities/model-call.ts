import { Context } from '@temporalio/activity';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { classifyError } from '../src/errors/classifier';
import { filterHits, judgeAnswer, type Judgement } from '../src/providers/judge';
import { fullPrompt, partialPrompt, type PromptRequest } from '../src/providers/prompts';
import type { ModelAnswer, ModelProvider } from '../src/providers/types';
import { validFirstAnswerRecord, type FinishIfValid } from '../src/item-record';
import type { ResultSink } from '../src/results';
import type { CallMetadata, FilterHit, GenerationSettings, ItemResult, Usage, WorkItem } from '../src/schemas';
import type { PartialState } from '../src/stages';
import type { AnyTask, TaskRegistry } from '../src/tasks/registry';
import { deferralOf, reportRateLimit, waitForClearance } from './call-admission';
import type { AdmissionLimits } from '../workflows/admission';
import { budgetSpent, ledgerOf, toApplicationFailure, type CallLedger, type FailedCall } from './call-ledger';
import type { QuotaGate } from './quota-gate';

export type { CallFailureDetails, FailedCall } from './call-ledger';

export interface CallModelInput {
  batchId: string;
  itemId: string;
  taskName: string;
  item: WorkItem;
  model: string;
  generation: GenerationSettings;
  callTimeoutMs: number;
  /** 1-based stage of the item's plan (for logs and the Web UI). */
  stage: number;
  mode: 'full' | 'partial';
  /** Required for `partial`: what the previous answer got right and wrong. */
  partial?: PartialState;
  /** Context cache holding the task's shared prefix (full prompts only). */
  cachedContent?: string;
  /**
   * Requests this stage already sent without an answer before this activity (its local first
   * call, or one lost with a crashed worker): the call numbers and the failure list continue from them.
   */
  priorFailures?: FailedCall[];
  /**
   * Requests this stage may send in all, prior failures included (the item's remaining budget).
   * The activity enforces it, so Temporal may retry attempts that never reached the model freely.
   */
  maxCalls?: number;
  /** The batch runs with `--concurrency auto`: the call is admitted under the scope's adaptive rate. */
  adaptiveRate?: boolean;
  /** The batch's provider override (else the task's provider). */
  provider?: string;
  /**
   * A valid answer to this call ends the item (its first call, no post-processing hook): the call
   * then writes the item's record (src/item-record.ts) before it returns, and the item needs no
   * second local activity to record it.
   */
  finishIfValid?: FinishIfValid;
}

/** The item's record, written by the call whose valid answer ended it (see CallModelInput.finishIfValid). */
export interface RecordedByCall {
  /** The record's finishedAt: with the call's input and answer, all the workflow needs to rebuild it. */
  finishedAt: string;
  /** The item's record as it was already stored (first write wins), when it differs from this one. */
  kept?: ItemResult;
}

/**
 * A local call that did not start: the quota scope wants calls to wait (RPM/TPM admission on
 * this worker, or a 429 cooldown), and a local activity must not wait. The item makes the call
 * as a regular activity instead, which waits heartbeating.
 */
export interface DeferredCall {
  kind: 'deferred';
  /** `scope_unreachable`: the scope's workflow did not answer; the regular activity waits that out. */
  reason: 'admission' | 'cooldown' | 'scope_unreachable';
  /** Requests of this stage lost before (as the local call was told): the regular activity carries them on. */
  failures?: FailedCall[];
}

/** The model answered: a valid output, or an answer the stage logic must judge. */
export type CallModelOutput = {
  usage: Usage;
  metadata: CallMetadata;
  /** Ratings at or above the task's safety thresholds (a valid output is then `filtered`). */
  filteredBy?: FilterHit[];
  /** Only when the task sets includeRawResponse. */
  rawResponse?: unknown;
  /** Requests this stage sent, this one included: 1 + the failures before it (lost ones too). */
  activityAttempt: number;
  /** This stage's requests before this answer that brought none (as recorded by heartbeats). */
  previousFailures: FailedCall[];
  /** When this request was sent (ISO). */
  startedAt?: string;
  durationMs: number;
  /** Time spent waiting for the quota scope (admission or a 429 cooldown) before the call. */
  admissionWaitMs?: number;
  /** The call wrote the item's record (finishIfValid and a valid answer). */
  recorded?: RecordedByCall;
} & Judgement;

const HEARTBEAT_INTERVAL_MS = 1_000;

/**
 * One physical model call for one item: build the (full or partial) prompt, call the provider,
 * judge the answer. Failures before an answer are classified and thrown as ApplicationFailure (type =
 * category), so Temporal's retry policy retries the transient ones; answers that arrived but are
 * unusable are returned as data for the item workflow's stage logic. Run as a local activity,
 * it does not heartbeat (local activities cannot) and defers rather than wait for its quota scope.
 */
export async function callModel(
  input: CallModelInput,
  tasks: TaskRegistry,
  provider: ModelProvider,
  quota?: QuotaGate,
  results?: ResultSink,
  /** The account the provider charges (a key's fingerprint; with the model, the quota scope) and its own limits. */
  route?: { account: string; limits?: AdmissionLimits },
): Promise<CallModelOutput | DeferredCall> {
  const task = tasks.get(input.taskName);
  if (!task) throw ApplicationFailure.nonRetryable(`unknown task "${input.taskName}" on this worker`, 'unknown_task');
  const context = Context.current();
  const local = context.info.isLocal;
  const scope = quota?.scopeOf(input.model, route?.account, route?.limits);
  if (local && quota && scope) {
    const reason = await deferralOf(quota, scope, context, input.adaptiveRate);
    if (reason)
      return { kind: 'deferred', reason, ...(input.priorFailures?.length ? { failures: input.priorFailures } : {}) };
  }
  const ledger = ledgerOf(context, input.priorFailures);
  const budget = input.maxCalls ?? Infinity;
  if (ledger.failures.length >= budget) throw budgetSpent(ledger.failures);
  // Heartbeats carry the ledger (see CallLedger) and let a cancellation in, every second for the
  // attempt's whole life, whatever it waits on (admission, a quota scope that does not answer, the
  // model): an attempt the server timed out while it still ran could send a request nobody counts.
  // A local activity is cancelled in-process and cannot heartbeat: the workflow counts its losses.
  const heartbeat = () => {
    if (!local) context.heartbeat(ledger);
  };
  const heartbeats = local ? undefined : setInterval(heartbeat, HEARTBEAT_INTERVAL_MS);
  let answer: CallModelOutput;
  try {
    answer = await sendRequest({ input, task, provider, quota, scope, context, ledger, heartbeat });
  } finally {
    clearInterval(heartbeats);
  }
  return input.finishIfValid && answer.kind === 'ok' && results
    ? recordValidAnswer(input, input.finishIfValid, answer, results, context)
    : answer;
}

/**
 * Writes the record of the item this valid answer ends. A store that fails leaves the answer
 * unrecorded, never lost: the workflow then records the item with its own retrying local activity.
 */
async function recordValidAnswer(
  input: CallModelInput,
  finish: FinishIfValid,
  answer: CallModelOutput & { kind: 'ok' },
  results: ResultSink,
  context: Context,
): Promise<CallModelOutput> {
  const finishedAt = new Date().toISOString();
  const record = validFirstAnswerRecord(input, finish, answer, finishedAt);
  try {
    const { kept } = await results.write(record);
    context.log.info('item result recorded', {
      batchId: input.batchId,
      itemId: input.itemId,
      status: (kept ?? record).status,
      by: 'model call',
    });
    return { ...answer, recorded: { finishedAt, ...(kept ? { kept } : {}) } };
  } catch (error) {
    context.log.warn('the results store did not take the record; the item workflow records it', {
      batchId: input.batchId,
      itemId: input.itemId,
      error: String(error),
    });
    return answer;
  }
}

interface RequestContext {
  input: CallModelInput;
  task: AnyTask;
  provider: ModelProvider;
  quota: QuotaGate | undefined;
  scope: string | undefined;
  context: Context;
  ledger: CallLedger;
  heartbeat: () => void;
}

/** Builds the prompt, waits for the quota scope, sends the request (noted in the ledger first) and judges the answer. */
async function sendRequest({
  input,
  task,
  provider,
  quota,
  scope,
  context,
  ledger,
  heartbeat,
}: RequestContext): Promise<CallModelOutput> {
  const budget = input.maxCalls ?? Infinity;
  const cachedContent = input.mode === 'full' ? input.cachedContent : undefined;
  const call = ledger.failures.length + 1;
  let request: PromptRequest;
  try {
    request =
      input.mode === 'partial' && input.partial
        ? partialPrompt(task, input.item, input.partial)
        : fullPrompt(task, input.item, cachedContent !== undefined);
  } catch (error) {
    // Nothing was sent: the task's own code failed. No request counted.
    const info = classifyError(error, task.classifier, provider.classify);
    throw toApplicationFailure({ ...info, retryable: false }, ledger.failures, error);
  }
  const promptChars = request.prompt.length + (request.systemInstruction?.length ?? 0);
  const estimatedTokens = quota ? quota.estimateTokens(input.model, promptChars, cachedContent) : 0;
  const clearance =
    quota && scope
      ? await waitForClearance(quota, scope, context, estimatedTokens, heartbeat, input.adaptiveRate)
      : { waitedMs: 0 };
  const admissionWaitMs = clearance.waitedMs;
  // An attempt the server has given up on (its heartbeats were late) must not send: its successor will.
  if (context.cancellationSignal.aborted)
    throw new CancelledFailure(`model call cancelled before it was sent: ${String(context.cancellationSignal.reason)}`);
  const started = Date.now();
  // The request is in the ledger before it leaves: if this worker dies, the next attempt counts it.
  ledger.sending = { call, startedAt: started };
  heartbeat();
  let answer: ModelAnswer;
  try {
    answer = await provider.generate({
      model: input.model,
      prompt: request.prompt,
      systemInstruction: request.systemInstruction,
      responseJsonSchema: request.responseJsonSchema,
      generation: { ...task.generation, ...input.generation },
      cachedContent,
      timeoutMs: input.callTimeoutMs,
      signal: context.cancellationSignal,
      itemKey: `${input.batchId}/${input.itemId}`,
    });
  } catch (error) {
    delete ledger.sending;
    if (context.cancellationSignal.aborted)
      throw new CancelledFailure(`model call cancelled: ${String(context.cancellationSignal.reason)}`);
    const info = classifyError(error, task.classifier, provider.classify);
    countCall(context, input.model, info.category);
    if (info.isRateLimit && quota && scope)
      await reportRateLimit(quota, scope, info.suggestedWaitMs, context, clearance.admittedAt);
    ledger.failures.push({
      attempt: call,
      category: info.category,
      message: info.message,
      durationMs: Date.now() - started,
      startedAt: new Date(started).toISOString(),
    });
    // Heartbeat details survive into the next attempt: that is how the final answer can list
    // every request before it, although Temporal retried them out of the workflow's sight.
    heartbeat();
    if (info.retryable && ledger.failures.length >= budget) throw budgetSpent(ledger.failures, error);
    throw toApplicationFailure(info, ledger.failures, error);
  }
  const { usage, metadata } = answer;
  if (quota && scope)
    quota.settle(scope, input.model, {
      promptChars,
      estimatedTokens,
      inputTokens: usage.inputTokens,
      cachedTokens: usage.cachedTokens,
      cachedContent,
      ...(input.adaptiveRate ? { adaptive: { latencyMs: Date.now() - started } } : {}),
    });
  const judgement = judgeAnswer(task, answer, input.mode === 'partial' ? input.partial : undefined, input.item.data);
  countCall(context, input.model, judgement.kind === 'ok' ? 'ok' : judgement.category, usage);
  const hits = judgement.kind === 'ok' ? filterHits(metadata, task.safetyFilter) : [];
  return {
    usage,
    metadata,
    ...(hits.length > 0 ? { filteredBy: hits } : {}),
    ...(task.includeRawResponse ? { rawResponse: answer.raw() } : {}),
    activityAttempt: call,
    previousFailures: ledger.failures,
    startedAt: new Date(started).toISOString(),
    durationMs: Date.now() - started,
    ...(admissionWaitMs >= 1 ? { admissionWaitMs } : {}),
    ...judgement,
  };
}

/** Prometheus (when the worker exports metrics): calls by outcome and tokens by kind, per model. */
function countCall(context: Context, model: string, outcome: string, usage?: Usage): void {
  context.metricMeter
    .createCounter('batch_llm_model_calls', 'calls', 'Physical model calls by outcome (ok or error category)')
    .add(1, { model, outcome });
  if (!usage) return;
  const tokens = context.metricMeter.createCounter(
    'batch_llm_tokens',
    'tokens',
    'Tokens by kind (input includes cached)',
  );
  for (const [kind, count] of [
    ['input', usage.inputTokens],
    ['output', usage.outputTokens],
    ['cached', usage.cachedTokens],
    ['thoughts', usage.thoughtsTokens],
  ] as const) {
    if (count > 0) tokens.add(count, { model, kind });
  }
}
