/**
 * `start --dry-run`: everything a batch would do before its first model call — check the input,
 * render every prompt, count tokens — then estimate cost and time at the configured limits. No
 * workflow starts and nothing is recorded as a batch.
 *
 * Prompt tokens: a Gemini task's, with an endpoint (GEMINI_API_KEY or GOOGLE_GEMINI_BASE_URL),
 * countTokens on a sample, a few requests at a time; without one, ~characters / 4 over every
 * prompt, offline. An OpenAI-compatible task's (chat completions have no counting route): every
 * prompt counted locally with OpenAI's tokenizer, messages and schema as the endpoint charges them;
 * with `--calibrate N`, scaled by what the endpoint charged for the sample.
 * Answer tokens: assumed from the output schema (a typical JSON answer), or measured with
 * `--calibrate N`: N sample items' stage-1 calls sent for real through the provider.
 */
import { readFile } from 'node:fs/promises';
import { estimateTokens, typicalAnswerTokens } from '../answer-size';
import { batchLlmSettings, geminiOptionsFromEnv, openAIEndpointSetting, openAIEndpointsFromEnv } from '../config';
import { DEFAULT_CALL_TIMEOUT_MS, DEFAULT_MODEL } from '../constants';
import { checkItemsAgainstTask, InputError, parseJsonlItems } from '../input';
import { BATCH_PRICE_FACTOR, batchPriceOf, priceFor, usageCost, type Price, type PriceTable } from '../pricing';
import { judgeAnswer } from '../providers/judge';
import { fullPrompt, type PromptRequest } from '../providers/prompts';
import { countPromptTokens, encodingOf } from '../providers/openai/tokens';
import { GEMINI_PROVIDER_NAME, OPENAI_PROVIDER_NAME } from '../providers/registry';
import type { ModelProvider } from '../providers/types';
import type { WorkItem } from '../schemas';
import { DEFAULT_STAGE_PLAN } from '../stages';
import type { AnyTask } from '../tasks/registry';
import { addUsage, emptyUsage, type Usage } from '../usage';
import { UsageError } from './args';

export interface DryRunOptions {
  task: AnyTask;
  inputFile: string;
  model?: string | undefined;
  /** `--provider`: the batch's provider over the task's. */
  providerName?: string | undefined;
  /** `--prices`: over the built-in table (a model without a built-in price needs one for a cost). */
  prices?: PriceTable | undefined;
  concurrency: number;
  requestsPerMinute?: number | undefined;
  tokensPerMinute?: number | undefined;
  /** How many prompts to send to countTokens (evenly spaced over the input) when an endpoint is there. */
  sample: number;
  /** Answer length to assume (`--output-tokens`); else measured (calibrate), else the schema's typical answer. */
  outputTokens?: number | undefined;
  /** Call latency to assume (`--latency-ms`); else the calibration's mean, else DEFAULT_LATENCY_MS. */
  latencyMs?: number | undefined;
  /** Send this many sample items' stage-1 calls for real, to measure answer length and latency. */
  calibrate?: number | undefined;
  callTimeoutMs?: number | undefined;
  /** Where calls go. Default: the endpoint the environment configures for the task's provider, if any; `null`: none (offline). */
  provider?: ModelProvider | null;
  /** `--batch-api`: also estimate stage 1 through provider batch jobs of at most `jobSize` items, at batch prices. */
  batchApi?: { jobSize: number } | undefined;
}

/** What `--calibrate N` measured. */
export interface Calibration {
  model: string;
  calls: number;
  answered: number;
  /** Answers that passed the output schema (and the task's checks) at stage 1. */
  valid: number;
  failed: Array<{ itemId: string; category: string; message: string }>;
  meanOutputTokens: number;
  meanThoughtsTokens: number;
  meanLatencyMs: number;
  maxLatencyMs: number;
  /** Prompt tokens the endpoint charged per answered call (what usage says). */
  meanInputTokens: number;
  /** OpenAI-compatible tasks: what the local tokenizer counted for the answered calls' prompts, together. */
  countedInputTokens: number;
  usage: Usage;
  costUsd: number | undefined;
}

export interface DryRunReport {
  items: number;
  model: string;
  /** The task's provider (`gemini`, `openai-compatible`, a named endpoint). */
  provider: string;
  /**
   * `countTokens`: the endpoint counted a sample; `local`: ~characters / 4 over every prompt, no
   * endpoint; `tokenizer`: every prompt counted with OpenAI's tokenizer (an OpenAI-compatible task),
   * `calibration`: that count scaled by what the endpoint charged for the calibration's sample.
   */
  promptTokensBy: 'countTokens' | 'local' | 'tokenizer' | 'calibration';
  sampled: number;
  averagePromptTokens: number;
  /** Answer tokens per item the estimate uses (thinking included when measured), and where they come from. */
  outputTokensPerAnswer: number;
  outputTokensBy: 'flag' | 'calibration' | 'schema';
  calibration?: Calibration;
  estimatedInputTokens: number;
  estimatedOutputTokens: number;
  estimatedCostUsd: number | undefined;
  /** With `--batch-api`: the same tokens at batch prices (online × BATCH_PRICE_FACTOR), in this many provider jobs. */
  batchApi?: { jobSize: number; jobs: number; estimatedCostUsd: number | undefined };
  estimatedSeconds: number;
  lines: string[];
}

/** Assumed call latency when neither `--latency-ms` nor a calibration gives one. */
export const DEFAULT_LATENCY_MS = 2000;
/** countTokens requests in flight at once. */
const COUNT_CONCURRENCY = 16;
/** Calibration calls in flight at once. */
const CALIBRATE_CONCURRENCY = 4;

export async function dryRun(options: DryRunOptions): Promise<DryRunReport> {
  const { task } = options;
  const { items, lines } = parseJsonlItems(await readFile(options.inputFile, 'utf8'), options.inputFile);
  const problems = checkItemsAgainstTask(task, items, lines);
  const prompts = items.map((item) => {
    try {
      return fullPrompt(task, item);
    } catch (error) {
      problems.push({
        line: lines[item.index] ?? item.index + 1,
        itemId: item.id,
        message: `the prompt builder failed: ${(error as Error).message}`,
      });
      return undefined;
    }
  });
  if (problems.length > 0) throw new InputError(options.inputFile, problems);
  const rendered = prompts.filter((prompt): prompt is PromptRequest => prompt !== undefined);

  const model = options.model ?? task.model ?? batchLlmSettings().BATCH_LLM_MODEL ?? DEFAULT_MODEL;
  const providerName = options.providerName ?? task.provider ?? GEMINI_PROVIDER_NAME;
  const onGemini = providerName === GEMINI_PROVIDER_NAME;
  const provider = options.provider === undefined ? endpointProvider(providerName) : (options.provider ?? undefined);
  if (options.calibrate !== undefined && !provider)
    throw new UsageError(
      `start: --calibrate sends real model calls and needs an endpoint: ${howToReach(task.name, providerName)}`,
    );

  // Prompt tokens: a Gemini endpoint counts a sample; OpenAI's tokenizer counts every prompt of an
  // OpenAI-compatible task (its API cannot count); without either, ~chars / 4 over every prompt.
  const sampled = onGemini && provider ? evenlySpaced(rendered, options.sample) : rendered;
  const counts = !onGemini
    ? sampled.map((prompt) => countPromptTokens({ ...prompt, model }))
    : provider
      ? await mapBounded(sampled, COUNT_CONCURRENCY, (prompt) => provider.countTokens(model, promptText(prompt)))
      : sampled.map((prompt) => estimateTokens(promptText(prompt)));
  const countedAverage = counts.length > 0 ? counts.reduce((sum, count) => sum + count, 0) / counts.length : 0;

  const price = priceFor(model, options.prices);
  const calibration =
    provider && options.calibrate !== undefined
      ? await calibrate(provider, task, evenlySpaced(items, options.calibrate), model, onGemini, options)
      : undefined;
  // The tokenizer is OpenAI's: another model's endpoint may charge more or fewer tokens. What it
  // charged for the calibration's prompts, over what the tokenizer counted for them, corrects it.
  const chargedRatio =
    !onGemini && calibration && calibration.answered > 0 && calibration.countedInputTokens > 0
      ? (calibration.meanInputTokens * calibration.answered) / calibration.countedInputTokens
      : undefined;
  const averagePromptTokens = countedAverage * (chargedRatio ?? 1);
  const promptTokensBy: DryRunReport['promptTokensBy'] = onGemini
    ? provider
      ? 'countTokens'
      : 'local'
    : chargedRatio !== undefined
      ? 'calibration'
      : 'tokenizer';
  const schemaTokens = typicalAnswerTokens(rendered[0]?.responseJsonSchema ?? {});
  const measured = calibration && calibration.answered > 0;
  const outputTokensBy: DryRunReport['outputTokensBy'] =
    options.outputTokens !== undefined ? 'flag' : measured ? 'calibration' : 'schema';
  const outputTokensPerAnswer =
    outputTokensBy === 'flag'
      ? (options.outputTokens ?? 0)
      : outputTokensBy === 'calibration' && calibration
        ? calibration.meanOutputTokens + calibration.meanThoughtsTokens
        : schemaTokens;

  const estimatedInputTokens = Math.round(averagePromptTokens * items.length);
  const estimatedOutputTokens = Math.round(outputTokensPerAnswer * items.length);
  const estimatedUsage: Usage = {
    inputTokens: estimatedInputTokens,
    outputTokens: estimatedOutputTokens,
    cachedTokens: 0,
    thoughtsTokens: 0,
  };
  const estimatedCostUsd = price ? usageCost(estimatedUsage, price) : undefined;
  const batchApi = options.batchApi
    ? {
        jobSize: options.batchApi.jobSize,
        jobs: Math.ceil(items.length / options.batchApi.jobSize),
        estimatedCostUsd: price ? usageCost(estimatedUsage, batchPriceOf(price)) : undefined,
      }
    : undefined;
  const latencyMs = options.latencyMs ?? (measured && calibration ? calibration.meanLatencyMs : DEFAULT_LATENCY_MS);
  const latencyBy =
    options.latencyMs !== undefined ? '' : measured ? ' (measured)' : ' (assumed; --latency-ms or --calibrate N)';
  const byConcurrency = (options.concurrency * 1000) / Math.max(latencyMs, 1);
  const byRequests = options.requestsPerMinute ? options.requestsPerMinute / 60 : Infinity;
  const byTokens =
    options.tokensPerMinute && averagePromptTokens > 0 ? options.tokensPerMinute / 60 / averagePromptTokens : Infinity;
  const callsPerSecond = Math.min(byConcurrency, byRequests, byTokens);
  const estimatedSeconds = items.length / callsPerSecond;

  const { encoding, exact } = encodingOf(model);
  const promptLine =
    promptTokensBy === 'countTokens'
      ? `  prompt tokens: ${averagePromptTokens.toFixed(1)} on average (countTokens on ${sampled.length} of ${items.length} prompts, model ${model})`
      : promptTokensBy === 'local'
        ? `  prompt tokens: ${averagePromptTokens.toFixed(1)} on average (estimated locally: ~chars/4, no endpoint; all ${items.length} prompts, model ${model})`
        : promptTokensBy === 'tokenizer'
          ? `  prompt tokens: ${averagePromptTokens.toFixed(1)} on average (counted locally with ${encoding}, ${exact ? `the tokenizer of ${model}` : `OpenAI's tokenizer: ${model}'s own may count differently, measure with --calibrate N`}; messages and schema, all ${items.length} prompts; ${providerName} has no counting route)`
          : `  prompt tokens: ${averagePromptTokens.toFixed(1)} on average (${countedAverage.toFixed(1)} counted locally with ${encoding} over all ${items.length} prompts, × ${(chargedRatio ?? 1).toFixed(3)}: what ${providerName} charged for the calibration's prompts over that count)`;
  const answerLine =
    outputTokensBy === 'flag'
      ? `  answer tokens: ${outputTokensPerAnswer} per answer (assumed: --output-tokens)`
      : outputTokensBy === 'calibration'
        ? `  answer tokens: ${outputTokensPerAnswer.toFixed(1)} per answer (measured by --calibrate, thinking included)`
        : `  answer tokens: ${schemaTokens} per answer (assumed: a typical JSON answer to the output schema, ~chars/4; no thinking; measure with --calibrate N)`;
  const report: DryRunReport = {
    items: items.length,
    model,
    provider: providerName,
    promptTokensBy,
    sampled: sampled.length,
    averagePromptTokens,
    outputTokensPerAnswer,
    outputTokensBy,
    ...(calibration ? { calibration } : {}),
    estimatedInputTokens,
    estimatedOutputTokens,
    estimatedCostUsd,
    ...(batchApi ? { batchApi } : {}),
    estimatedSeconds,
    lines: [],
  };
  report.lines = [
    `Dry run of task ${task.name}${onGemini ? '' : ` (provider ${providerName})`} on ${options.inputFile}: ${items.length} items valid, ${items.length} prompts rendered; nothing was started.`,
    promptLine,
    ...(calibration ? calibrationLines(calibration) : []),
    answerLine,
    `  estimated tokens: ${estimatedInputTokens} in, ${estimatedOutputTokens} out`,
    `  estimated cost: ${dollars(estimatedCostUsd, model)}${batchApi?.estimatedCostUsd !== undefined ? ` online, ${dollars(batchApi.estimatedCostUsd, model)} at batch prices (--batch-api: online × ${BATCH_PRICE_FACTOR} for the same tokens)` : ''}${task.cache ? ' before context-cache savings' : ''}; first calls only: retries and repairs add to it`,
    ...(batchApi
      ? [
          `  batch jobs: ${batchApi.jobs} of up to ${batchApi.jobSize} items; a job may take up to 24 h (the time below is for online calls)`,
        ]
      : []),
    `  estimated time: ${estimatedSeconds.toFixed(1)} s at concurrency ${options.concurrency}${options.requestsPerMinute ? ` and ${options.requestsPerMinute} rpm` : ''}${options.tokensPerMinute ? ` and ${options.tokensPerMinute} tpm` : ''}, assuming ${Math.round(latencyMs)} ms per call${latencyBy}`,
  ];
  return report;
}

/** `$0.0500`, or why there is no estimate. */
function dollars(usd: number | undefined, model: string): string {
  return usd !== undefined ? `$${usd.toFixed(4)}` : `unknown (no price for ${model})`;
}

function calibrationLines(calibration: Calibration): string[] {
  const cost = calibration.costUsd !== undefined ? `$${calibration.costUsd.toFixed(4)}` : 'unknown (no price)';
  const lines = [
    `  calibration: ${calibration.calls} stage-1 calls sent (model ${calibration.model}, not a batch): ${calibration.answered} answered, ${calibration.valid} valid at stage 1; cost ${cost}`,
  ];
  if (calibration.answered > 0)
    lines.push(
      `  measured: ${calibration.meanInputTokens.toFixed(1)} prompt tokens charged per call; ${calibration.meanOutputTokens.toFixed(1)} output + ${calibration.meanThoughtsTokens.toFixed(1)} thinking tokens per answer; latency ${Math.round(calibration.meanLatencyMs)} ms mean, ${Math.round(calibration.maxLatencyMs)} ms max`,
    );
  const first = calibration.failed[0];
  if (first)
    lines.push(
      `  calibration failures: ${calibration.failed.length} (first: item ${first.itemId}, ${first.category}: ${first.message})${calibration.answered === 0 ? '; answer length falls back to the schema assumption' : ''}`,
    );
  return lines;
}

/** N items' first stage, as the item workflow would send it (its model, temperature and generation settings). */
async function calibrate(
  provider: ModelProvider,
  task: AnyTask,
  sample: WorkItem[],
  batchModel: string,
  onGemini: boolean,
  options: Pick<DryRunOptions, 'callTimeoutMs' | 'prices'>,
): Promise<Calibration> {
  const stage = (task.stagePlan ?? DEFAULT_STAGE_PLAN)[0] ?? { mode: 'full' as const, temperature: 0 };
  const model = stage.model ?? batchModel;
  const stagePrice: Price | undefined = priceFor(model, options.prices);
  const results = await mapBounded(sample, CALIBRATE_CONCURRENCY, async (item) => {
    const request = fullPrompt(task, item);
    const started = Date.now();
    try {
      const answer = await provider.generate({
        model,
        prompt: request.prompt,
        systemInstruction: request.systemInstruction,
        responseJsonSchema: request.responseJsonSchema,
        generation: { ...task.generation, ...stage.generation, temperature: stage.temperature },
        timeoutMs: options.callTimeoutMs ?? DEFAULT_CALL_TIMEOUT_MS,
        signal: new AbortController().signal,
        itemKey: `dry-run/${item.id}`,
      });
      const valid = judgeAnswer(task, answer, undefined, item.data).kind === 'ok';
      const counted = onGemini ? 0 : countPromptTokens({ ...request, model });
      return { ok: true as const, usage: answer.usage, latencyMs: Date.now() - started, valid, counted };
    } catch (error) {
      const info = provider.classify(error);
      return { ok: false as const, itemId: item.id, category: info.category, message: info.message };
    }
  });
  const answers = results.filter((result) => result.ok);
  const usage = answers.reduce((total, answer) => addUsage(total, answer.usage), emptyUsage());
  const mean = (values: number[]) =>
    values.length > 0 ? values.reduce((sum, value) => sum + value, 0) / values.length : 0;
  return {
    model,
    calls: results.length,
    answered: answers.length,
    valid: answers.filter((answer) => answer.valid).length,
    failed: results.filter((result) => !result.ok),
    meanOutputTokens: mean(answers.map((answer) => answer.usage.outputTokens)),
    meanThoughtsTokens: mean(answers.map((answer) => answer.usage.thoughtsTokens)),
    meanLatencyMs: mean(answers.map((answer) => answer.latencyMs)),
    maxLatencyMs: Math.max(0, ...answers.map((answer) => answer.latencyMs)),
    meanInputTokens: mean(answers.map((answer) => answer.usage.inputTokens)),
    countedInputTokens: answers.reduce((sum, answer) => sum + answer.counted, 0),
    usage,
    costUsd: stagePrice ? usageCost(usage, stagePrice) : undefined,
  };
}

/** The endpoint the environment configures for a provider, or undefined when there is none (no key, no URL). */
function endpointProvider(providerName: string): ModelProvider | undefined {
  if (providerName !== GEMINI_PROVIDER_NAME) {
    const endpoint = openAIEndpointsFromEnv().find((each) => each.name === providerName);
    if (!endpoint) return undefined;
    // Loaded only when there is an endpoint: an offline dry run never loads an SDK.
    const { createOpenAIProvider } = require('../providers/openai/index') as typeof import('../providers/openai/index');
    return createOpenAIProvider({ ...endpoint, log: () => undefined });
  }
  const gemini = geminiOptionsFromEnv();
  if (!gemini.apiKey && !gemini.baseUrl) return undefined;
  const { createGeminiProvider } = require('../providers/gemini/index') as typeof import('../providers/gemini/index');
  return createGeminiProvider(gemini);
}

/** What to set so that a task's provider has an endpoint. */
function howToReach(taskName: string, providerName: string): string {
  if (providerName === GEMINI_PROVIDER_NAME) return 'set GEMINI_API_KEY, or GOOGLE_GEMINI_BASE_URL to an emulator';
  const calls = providerName === OPENAI_PROVIDER_NAME ? 'the OpenAI-compatible provider' : `provider "${providerName}"`;
  return `task ${taskName} calls ${calls}: ${openAIEndpointSetting(providerName)}`;
}

/** What countTokens is asked to count: the system instruction and the prompt. */
function promptText(prompt: PromptRequest): string {
  return [prompt.systemInstruction, prompt.prompt].filter(Boolean).join('\n\n');
}

/** At most `count` of `list`, evenly spaced from its start. */
function evenlySpaced<T>(list: T[], count: number): T[] {
  const step = Math.max(1, Math.ceil(list.length / Math.max(count, 1)));
  return list.filter((_, index) => index % step === 0).slice(0, count);
}

/** `map` with at most `limit` calls in flight; results in input order. */
async function mapBounded<T, R>(list: T[], limit: number, map: (value: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(list.length);
  let next = 0;
  const worker = async () => {
    while (next < list.length) {
      const index = next++;
      results[index] = await map(list[index] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, list.length) }, worker));
  return results;
}
