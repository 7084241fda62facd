/**
 * `start --dry-run`: everything a batch would do before its first model call — check the input,
 * render every prompt, count tokens (countTokens, sampled for big inputs) — then estimate cost
 * and time at the configured limits. No workflow starts; generateContent is never called.
 */
import { readFile } from 'node:fs/promises';
import { batchLlmSettings, geminiOptionsFromEnv } from '../config';
import { DEFAULT_MODEL } from '../constants';
import { createGeminiProvider } from '../providers/gemini/index';
import { fullPrompt } from '../providers/prompts';
import { checkItemsAgainstTask, InputError, parseJsonlItems } from '../input';
import { priceFor, usageCost } from '../pricing';
import type { AnyTask } from '../tasks/registry';

export interface DryRunOptions {
  task: AnyTask;
  inputFile: string;
  model?: string | undefined;
  concurrency: number;
  requestsPerMinute?: number | undefined;
  tokensPerMinute?: number | undefined;
  /** How many prompts to send to countTokens (evenly spaced over the input). */
  sample: number;
  /** Assumed answer length and call latency, for the estimate. */
  outputTokens: number;
  latencyMs: number;
}

export interface DryRunReport {
  items: number;
  model: string;
  sampled: number;
  averagePromptTokens: number;
  estimatedInputTokens: number;
  estimatedOutputTokens: number;
  estimatedCostUsd: number | undefined;
  estimatedSeconds: number;
  lines: string[];
}

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

  const model = options.model ?? task.model ?? batchLlmSettings().BATCH_LLM_MODEL ?? DEFAULT_MODEL;
  const provider = createGeminiProvider(geminiOptionsFromEnv());
  const step = Math.max(1, Math.ceil(items.length / options.sample));
  const sampled = prompts.filter((_, index) => index % step === 0);
  let sampledTokens = 0;
  for (const prompt of sampled) {
    const text = [prompt?.systemInstruction, prompt?.prompt].filter(Boolean).join('\n\n');
    sampledTokens += await provider.countTokens(model, text);
  }
  const averagePromptTokens = sampled.length > 0 ? sampledTokens / sampled.length : 0;
  const estimatedInputTokens = Math.round(averagePromptTokens * items.length);
  const estimatedOutputTokens = options.outputTokens * items.length;
  const price = priceFor(model);
  const estimatedCostUsd = price
    ? usageCost(
        { inputTokens: estimatedInputTokens, outputTokens: estimatedOutputTokens, cachedTokens: 0, thoughtsTokens: 0 },
        price,
      )
    : undefined;
  const byConcurrency = (options.concurrency * 1000) / options.latencyMs;
  const byRequests = options.requestsPerMinute ? options.requestsPerMinute / 60 : Infinity;
  const byTokens =
    options.tokensPerMinute && averagePromptTokens > 0 ? options.tokensPerMinute / 60 / averagePromptTokens : Infinity;
  const callsPerSecond = Math.min(byConcurrency, byRequests, byTokens);
  const estimatedSeconds = items.length / callsPerSecond;
  const report: DryRunReport = {
    items: items.length,
    model,
    sampled: sampled.length,
    averagePromptTokens,
    estimatedInputTokens,
    estimatedOutputTokens,
    estimatedCostUsd,
    estimatedSeconds,
    lines: [],
  };
  report.lines = [
    `Dry run of task ${task.name} on ${options.inputFile}: ${items.length} items valid, ${items.length} prompts rendered; nothing was started.`,
    `  prompt tokens: ${averagePromptTokens.toFixed(1)} on average (countTokens on ${sampled.length} of ${items.length} prompts, model ${model})`,
    `  estimated tokens: ${estimatedInputTokens} in, ${estimatedOutputTokens} out (assuming ${options.outputTokens} per answer)`,
    `  estimated cost: ${estimatedCostUsd !== undefined ? `$${estimatedCostUsd.toFixed(4)}` : `unknown (no price for ${model})`}${task.cache ? ' before context-cache savings' : ''}`,
    `  estimated time: ${estimatedSeconds.toFixed(1)} s at concurrency ${options.concurrency}${options.requestsPerMinute ? ` and ${options.requestsPerMinute} rpm` : ''}${options.tokensPerMinute ? ` and ${options.tokensPerMinute} tpm` : ''}, assuming ${options.latencyMs} ms per call`,
  ];
  return report;
}
