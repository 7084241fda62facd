/**
 * Token usage arithmetic. Free of zod on purpose: the workflow bundle imports it, and every module
 * the bundle imports is evaluated again for each new workflow.
 */
export interface Usage {
  inputTokens: number;
  outputTokens: number;
  cachedTokens: number;
  thoughtsTokens: number;
}

export function emptyUsage(): Usage {
  return { inputTokens: 0, outputTokens: 0, cachedTokens: 0, thoughtsTokens: 0 };
}

export function addUsage(total: Usage, more: Usage): Usage {
  return {
    inputTokens: total.inputTokens + more.inputTokens,
    outputTokens: total.outputTokens + more.outputTokens,
    cachedTokens: total.cachedTokens + more.cachedTokens,
    thoughtsTokens: total.thoughtsTokens + more.thoughtsTokens,
  };
}
