import type { GenerateContentConfig, GenerateContentResponse, GoogleGenAI } from '@google/genai';
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { ITEM_HEADER } from '../src/constants';
import { classifyDefault, type ErrorInfo } from '../src/errors/classify';
import type { ErrorCategory } from '../src/errors/categories';
import { describeZodError, type GenerationSettings, type Usage, type ValidationIssue, type WorkItem } from '../src/schemas';
import { outputJsonSchema } from '../src/tasks/task';
import type { AnyTask, TaskRegistry } from '../src/tasks/registry';

export interface CallModelInput {
  batchId: string;
  itemId: string;
  taskName: string;
  item: WorkItem;
  model: string;
  generation: GenerationSettings;
  callTimeoutMs: number;
}

/** The model answered: either a valid output, or an answer the stage logic must judge. */
export type CallModelOutput = {
  usage: Usage;
  finishReason: string | undefined;
  modelVersion: string | undefined;
  responseId: string | undefined;
  /** Physical call number of this activity invocation (1 + transient retries before it). */
  activityAttempt: number;
  /** Transient failures Temporal retried before this answer (as far as heartbeats recorded them). */
  previousFailures: FailedCall[];
  durationMs: number;
} & (
  | { kind: 'ok'; output: unknown }
  | { kind: 'unusable'; category: ErrorCategory; message: string; validationIssues?: ValidationIssue[] }
);

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

function previousFailures(context: Context): FailedCall[] {
  const details: unknown = context.info.heartbeatDetails;
  return Array.isArray(details) ? (details as FailedCall[]) : [];
}

/** Finish reasons that mean the answer was stopped by a filter. */
const SAFETY_FINISH_REASONS = new Set(['SAFETY', 'PROHIBITED_CONTENT', 'BLOCKLIST', 'SPII', 'IMAGE_SAFETY']);

/**
 * One physical model call for one item: build the prompt, call Gemini, validate the answer.
 * Transport and API failures are thrown as ApplicationFailure (type = category) so Temporal's
 * retry policy handles them; answers that arrived but are unusable are returned as data.
 */
export async function callModel(input: CallModelInput, tasks: TaskRegistry, gemini: GoogleGenAI): Promise<CallModelOutput> {
  const task = tasks.get(input.taskName);
  if (!task) throw ApplicationFailure.nonRetryable(`unknown task "${input.taskName}" on this worker`, 'unknown_task');
  const context = Context.current();
  const started = Date.now();
  let response: GenerateContentResponse;
  try {
    response = await gemini.models.generateContent({
      model: input.model,
      contents: [{ role: 'user', parts: [{ text: buildPrompt(task, input.item) }] }],
      config: {
        ...(task.systemInstruction ? { systemInstruction: task.systemInstruction } : {}),
        ...generationConfig({ ...task.generation, ...input.generation }),
        responseMimeType: 'application/json',
        responseJsonSchema: outputJsonSchema(task),
        abortSignal: context.cancellationSignal,
        httpOptions: {
          // The SDK aborts the request itself, so a hung call ends as `timeout` before Temporal's.
          timeout: input.callTimeoutMs,
          headers: { [ITEM_HEADER]: `${input.batchId}/${input.itemId}` },
        },
      },
    });
  } catch (error) {
    const info = classifyDefault(error);
    const failures = [...previousFailures(context), { attempt: context.info.attempt, category: info.category, message: info.message, durationMs: Date.now() - started }];
    // Heartbeat details survive into the next attempt: that is how the final answer can list
    // every transient failure before it, although Temporal retried them out of the workflow's sight.
    if (info.retryable) context.heartbeat(failures);
    throw toApplicationFailure(info, failures, error);
  }
  const base = {
    usage: usageOf(response),
    finishReason: response.candidates?.[0]?.finishReason,
    modelVersion: response.modelVersion,
    responseId: response.responseId,
    activityAttempt: context.info.attempt,
    previousFailures: previousFailures(context),
    durationMs: Date.now() - started,
  };
  return { ...base, ...judgeAnswer(task, response) };
}

function buildPrompt(task: AnyTask, item: WorkItem): string {
  // prepareBatch already checked item.data against task.itemSchema.
  return (task.prompt as (data: unknown) => string)(task.itemSchema ? task.itemSchema.parse(item.data) : item.data);
}

function generationConfig(settings: GenerationSettings): GenerateContentConfig {
  const config: GenerateContentConfig = {};
  if (settings.temperature !== undefined) config.temperature = settings.temperature;
  if (settings.topP !== undefined) config.topP = settings.topP;
  if (settings.topK !== undefined) config.topK = settings.topK;
  if (settings.maxOutputTokens !== undefined) config.maxOutputTokens = settings.maxOutputTokens;
  if (settings.seed !== undefined) config.seed = settings.seed;
  if (settings.thinkingBudget !== undefined) config.thinkingConfig = { thinkingBudget: settings.thinkingBudget };
  return config;
}

type Judgement =
  | { kind: 'ok'; output: unknown }
  | { kind: 'unusable'; category: ErrorCategory; message: string; validationIssues?: ValidationIssue[] };

/** Turns a 200 answer into an output, or names why it cannot be used. */
export function judgeAnswer(task: Pick<AnyTask, 'outputSchema'>, response: GenerateContentResponse): Judgement {
  const blockReason = response.promptFeedback?.blockReason;
  if (blockReason) return { kind: 'unusable', category: 'safety_blocked', message: `prompt blocked: ${blockReason}` };
  const candidate = response.candidates?.[0];
  const finishReason = candidate?.finishReason ?? '';
  if (SAFETY_FINISH_REASONS.has(finishReason)) {
    return { kind: 'unusable', category: 'safety_blocked', message: `output blocked: finishReason ${finishReason}` };
  }
  if (finishReason === 'RECITATION') return { kind: 'unusable', category: 'recitation', message: 'output stopped: RECITATION' };
  const text = response.text;
  if (finishReason === 'MAX_TOKENS') {
    return { kind: 'unusable', category: 'truncated', message: `output truncated at maxOutputTokens (${text?.length ?? 0} characters)` };
  }
  if (text === undefined || text.trim() === '') {
    return { kind: 'unusable', category: 'empty_response', message: `no text in the answer (finishReason ${finishReason || 'none'})` };
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    const issues = [{ path: '(root)', message: `not valid JSON: ${(error as Error).message}` }];
    return { kind: 'unusable', category: 'validation_error', message: issues[0]!.message, validationIssues: issues };
  }
  const validated = task.outputSchema.safeParse(parsed);
  if (!validated.success) {
    const issues = describeZodError(validated.error);
    return {
      kind: 'unusable',
      category: 'validation_error',
      message: issues.map((issue) => `${issue.path}: ${issue.message}`).join('; '),
      validationIssues: issues,
    };
  }
  return { kind: 'ok', output: validated.data };
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
