import type { GenerateContentConfig, GenerateContentResponse, GoogleGenAI } from '@google/genai';
import { Context } from '@temporalio/activity';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { ITEM_HEADER } from '../src/constants';
import type { ErrorCategory } from '../src/errors/categories';
import type { ErrorInfo } from '../src/errors/classify';
import { classifyError } from '../src/errors/classifier';
import type { CallMetadata, FilterHit, GenerationSettings, Usage, WorkItem } from '../src/schemas';
import type { PartialState } from '../src/stages';
import type { TaskRegistry } from '../src/tasks/registry';
import { judgeAnswer, type Judgement } from './answers';
import { fullPrompt, partialPrompt, type PromptRequest } from './prompts';
import type { QuotaGate } from './quota-gate';
import { filterHits, metadataOf } from './safety';

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
   * Physical calls this stage already made before this activity (its local first call), and
   * how they failed: the attempt numbers and the failure list continue from them.
   */
  callsBefore?: number;
  priorFailures?: FailedCall[];
}

/**
 * A local call that did not start: the quota scope wants calls to wait (RPM/TPM admission on
 * this worker, or a 429 cooldown), and a local activity must not wait. The item makes the call
 * as a regular activity instead, which waits heartbeating.
 */
export interface DeferredCall {
  kind: 'deferred';
  reason: 'admission' | 'cooldown';
}

/** The model answered: a valid output, or an answer the stage logic must judge. */
export type CallModelOutput = {
  usage: Usage;
  metadata: CallMetadata;
  /** Ratings at or above the task's safety thresholds (a valid output is then `filtered`). */
  filteredBy?: FilterHit[];
  /** Only when the task sets includeRawResponse. */
  rawResponse?: unknown;
  /** Physical call number of this stage's answer (1 + the transient failures before it). */
  activityAttempt: number;
  /** Transient failures Temporal retried before this answer (as recorded by heartbeats). */
  previousFailures: FailedCall[];
  durationMs: number;
  /** Time spent waiting for the quota scope (admission or a 429 cooldown) before the call. */
  admissionWaitMs?: number;
} & Judgement;

const HEARTBEAT_INTERVAL_MS = 1_000;

/** A physical call that failed before any answer arrived. */
export interface FailedCall {
  attempt: number;
  category: ErrorCategory;
  message: string;
  durationMs: number;
}

/** What a failed callModel carries in its ApplicationFailure details. */
export interface CallFailureDetails {
  error: ErrorInfo;
  failures: FailedCall[];
}

/** Failures of this stage's earlier calls: heartbeat details from earlier attempts, else the local call's. */
function previousFailures(context: Context, input: CallModelInput): FailedCall[] {
  const details: unknown = context.info.heartbeatDetails;
  return Array.isArray(details) ? (details as FailedCall[]) : (input.priorFailures ?? []);
}

/**
 * One physical model call for one item: build the (full or partial) prompt, call Gemini, judge
 * the answer. Failures before an answer are classified and thrown as ApplicationFailure (type =
 * category), so Temporal's retry policy retries the transient ones; answers that arrived but are
 * unusable are returned as data for the item workflow's stage logic. Run as a local activity,
 * it does not heartbeat (local activities cannot) and defers rather than wait for its quota scope.
 */
export async function callModel(input: CallModelInput, tasks: TaskRegistry, gemini: GoogleGenAI, quota?: QuotaGate): Promise<CallModelOutput | DeferredCall> {
  const task = tasks.get(input.taskName);
  if (!task) throw ApplicationFailure.nonRetryable(`unknown task "${input.taskName}" on this worker`, 'unknown_task');
  const context = Context.current();
  const local = context.info.isLocal;
  const scope = quota?.scopeOf(input.model);
  if (local && quota && scope) {
    const reason = await quota.deferralOf(scope);
    if (reason) return { kind: 'deferred', reason };
  }
  const cachedContent = input.mode === 'full' ? input.cachedContent : undefined;
  const call = (input.callsBefore ?? 0) + context.info.attempt;
  let started = Date.now();
  const failure = async (error: unknown): Promise<ApplicationFailure | CancelledFailure> => {
    if (context.cancellationSignal.aborted) return new CancelledFailure(`model call cancelled: ${String(context.cancellationSignal.reason)}`);
    const info = classifyError(error, task.classifier);
    countCall(context, input.model, info.category);
    if (info.isRateLimit && quota && scope) await reportRateLimit(quota, scope, info.suggestedWaitMs, context);
    const failures = [...previousFailures(context, input), { attempt: call, category: info.category, message: info.message, durationMs: Date.now() - started }];
    // Heartbeat details survive into the next attempt: that is how the final answer can list
    // every transient failure before it, although Temporal retried them out of the workflow's sight.
    if (info.retryable && !local) context.heartbeat(failures);
    return toApplicationFailure(info, failures, error);
  };
  let request: PromptRequest;
  try {
    request = input.mode === 'partial' && input.partial ? partialPrompt(task, input.item, input.partial) : fullPrompt(task, input.item, cachedContent !== undefined);
  } catch (error) {
    throw await failure(error);
  }
  const promptChars = request.prompt.length + (request.systemInstruction?.length ?? 0);
  const estimatedTokens = quota ? quota.estimateTokens(input.model, promptChars, cachedContent) : 0;
  const admissionWaitMs = quota && scope ? await quota.awaitClearance(scope, context, estimatedTokens) : 0;
  started = Date.now();
  // Heartbeats carry the failures so far (see previousFailures) and let a cancellation in; the
  // first goes out after a second, so a call that answers sooner costs the server no heartbeat.
  // A local activity is cancelled in-process and cannot heartbeat.
  const heartbeats = local ? undefined : setInterval(() => context.heartbeat(previousFailures(context, input)), HEARTBEAT_INTERVAL_MS);
  let response: GenerateContentResponse;
  try {
    response = await gemini.models.generateContent({
      model: input.model,
      contents: [{ role: 'user', parts: [{ text: request.prompt }] }],
      config: {
        ...requestConfig(request, { ...task.generation, ...input.generation }, input, context.cancellationSignal),
        ...(cachedContent ? { cachedContent } : {}),
      },
    });
  } catch (error) {
    throw await failure(error);
  } finally {
    clearInterval(heartbeats);
  }
  const usage = usageOf(response);
  if (quota && scope) quota.settle(scope, input.model, { promptChars, estimatedTokens, inputTokens: usage.inputTokens, cachedTokens: usage.cachedTokens, cachedContent });
  const metadata = metadataOf(response, usage);
  const judgement = judgeAnswer(task, response, input.mode === 'partial' ? input.partial : undefined, input.item.data);
  countCall(context, input.model, judgement.kind === 'ok' ? 'ok' : judgement.category, usage);
  const hits = judgement.kind === 'ok' ? filterHits(metadata, task.safetyFilter) : [];
  return {
    usage,
    metadata,
    ...(hits.length > 0 ? { filteredBy: hits } : {}),
    // A plain JSON copy: the SDK's response object carries getters and headers.
    ...(task.includeRawResponse ? { rawResponse: JSON.parse(JSON.stringify({ ...response, sdkHttpResponse: undefined })) as unknown } : {}),
    activityAttempt: call,
    previousFailures: previousFailures(context, input),
    durationMs: Date.now() - started,
    ...(admissionWaitMs >= 1 ? { admissionWaitMs } : {}),
    ...judgement,
  };
}

/** Tells the scope's workflow; a failure to do so must not hide the 429 itself. */
async function reportRateLimit(quota: QuotaGate, scope: string, suggestedWaitMs: number | undefined, context: Context): Promise<void> {
  try {
    await quota.reportRateLimit(scope, suggestedWaitMs);
  } catch (error) {
    context.log.warn('could not start the coordinated cooldown; this call still retries after its own delay', { scope, error: String(error) });
  }
}

/** Prometheus (when the worker exports metrics): calls by outcome and tokens by kind, per model. */
function countCall(context: Context, model: string, outcome: string, usage?: Usage): void {
  context.metricMeter.createCounter('batch_llm_model_calls', 'calls', 'Physical model calls by outcome (ok or error category)').add(1, { model, outcome });
  if (!usage) return;
  const tokens = context.metricMeter.createCounter('batch_llm_tokens', 'tokens', 'Tokens by kind (input includes cached)');
  for (const [kind, count] of [['input', usage.inputTokens], ['output', usage.outputTokens], ['cached', usage.cachedTokens], ['thoughts', usage.thoughtsTokens]] as const) {
    if (count > 0) tokens.add(count, { model, kind });
  }
}

function requestConfig(request: PromptRequest, settings: GenerationSettings, input: CallModelInput, abortSignal: AbortSignal): GenerateContentConfig {
  const config: GenerateContentConfig = {
    responseMimeType: 'application/json',
    responseJsonSchema: request.responseJsonSchema,
    abortSignal,
    httpOptions: {
      // The SDK aborts a hung request itself, so it ends as `timeout` before Temporal's backstop.
      timeout: input.callTimeoutMs,
      headers: { [ITEM_HEADER]: `${input.batchId}/${input.itemId}` },
    },
  };
  if (request.systemInstruction) config.systemInstruction = request.systemInstruction;
  if (settings.temperature !== undefined) config.temperature = settings.temperature;
  if (settings.topP !== undefined) config.topP = settings.topP;
  if (settings.topK !== undefined) config.topK = settings.topK;
  if (settings.maxOutputTokens !== undefined) config.maxOutputTokens = settings.maxOutputTokens;
  if (settings.seed !== undefined) config.seed = settings.seed;
  if (settings.thinkingBudget !== undefined) config.thinkingConfig = { thinkingBudget: settings.thinkingBudget };
  return config;
}

function usageOf(response: GenerateContentResponse): Usage {
  const usage = response.usageMetadata;
  return {
    inputTokens: usage?.promptTokenCount ?? 0,
    outputTokens: usage?.candidatesTokenCount ?? 0,
    cachedTokens: usage?.cachedContentTokenCount ?? 0,
    thoughtsTokens: usage?.thoughtsTokenCount ?? 0,
  };
}

function toApplicationFailure(info: ErrorInfo, failures: FailedCall[], cause: unknown): ApplicationFailure {
  const details: CallFailureDetails = { error: info, failures };
  return ApplicationFailure.create({
    type: info.category,
    message: info.message,
    nonRetryable: !info.retryable,
    details: [details],
    ...(info.suggestedWaitMs !== undefined ? { nextRetryDelay: info.suggestedWaitMs } : {}),
    ...(cause instanceof Error ? { cause } : {}),
  });
}
