/**
 * Which provider a task's calls go to, and which account they are charged to. One lookup serves the
 * worker (it refuses to start with a task whose provider it lacks) and the model-call activity
 * (per call); the account's fingerprint names the quota scope (with the task queue and model).
 */
import { createHash } from 'node:crypto';
import type { ModelProvider } from './types';

/** The default provider's name (a task without `provider` calls it). */
export const GEMINI_PROVIDER_NAME = 'gemini';

/** The OpenAI-compatible provider's name (OPENAI_API_KEY / OPENAI_BASE_URL): what a task's `provider` says to send its calls there. */
export const OPENAI_PROVIDER_NAME = 'openai-compatible';

/** A short, one-way name for an API key (or, without one, an endpoint's URL): safe for workflow ids and logs. */
export function fingerprintOf(secretOrUrl: string): string {
  return createHash('sha256').update(secretOrUrl).digest('hex').slice(0, 10);
}

/**
 * The provider named `wanted` among `providers` (the first is the default: `wanted` undefined
 * picks it), or undefined when none has that name.
 */
export function providerNamed(
  providers: readonly ModelProvider[],
  wanted: string | undefined,
): ModelProvider | undefined {
  if (wanted === undefined) return providers[0];
  return providers.find((provider) => provider.name === wanted);
}

/** Why a task's provider is not there (`taskName`: one, or several joined by `", "`), naming what to set. */
export function missingProviderMessage(
  taskName: string,
  wanted: string,
  providers: readonly ModelProvider[],
  setHint?: string,
): string {
  const have = providers.map((provider) => provider.name).join(', ');
  const tasks = taskName.includes('", "') ? `tasks "${taskName}" call` : `task "${taskName}" calls`;
  return `${tasks} provider "${wanted}", which this worker has not configured (it has ${have})${setHint ? `: ${setHint}` : ''}`;
}
