import { z } from 'zod';
import { rateLimited } from './errors';
import type { GoogleError } from './errors';

/** Per-minute limits on generateContent, like a Google project's; an omitted limit is unlimited. */
export interface QuotaLimits {
  requestsPerMinute?: number;
  tokensPerMinute?: number;
}

export const quotaLimitsSchema = z
  .object({ requestsPerMinute: z.int().min(1).optional(), tokensPerMinute: z.int().min(1).optional() })
  .strict();

/** Counts since start or the last reset, and what the sliding window holds now. */
export interface QuotaStats {
  /** generateContent requests the quota let through. */
  admitted: number;
  /** generateContent requests the quota answered 429, for either limit. */
  rejected: number;
  rejectedForRequests: number;
  rejectedForTokens: number;
  /** Admitted requests of the last 60 s. */
  requestsInWindow: number;
  /** Prompt tokens of the admitted requests of the last 60 s. */
  tokensInWindow: number;
}

/** Which limit refused a request, and when the request would fit (undefined: never, it alone exceeds the limit). */
export interface QuotaRejection {
  limit: 'requests' | 'tokens';
  value: number;
  retryDelayMs: number | undefined;
}

const WINDOW_MS = 60_000;

/** What Google's per-minute quotas are called in a QuotaFailure. */
const QUOTA_NAMES: Record<QuotaRejection['limit'], { quotaId: string; quotaMetric: string }> = {
  requests: {
    quotaId: 'GenerateRequestsPerMinutePerProjectPerModel',
    quotaMetric: 'generativelanguage.googleapis.com/generate_requests_per_model',
  },
  tokens: {
    quotaId: 'GenerateContentInputTokensPerModelPerMinute',
    quotaMetric: 'generativelanguage.googleapis.com/generate_content_paid_tier_input_token_count',
  },
};

/**
 * A sliding 60-second window over admitted generateContent requests. Assumes the clock never runs
 * backwards, so the window is a suffix of the admitted list.
 */
export class QuotaWindow {
  private configured: QuotaLimits = {};
  private admittedAt: number[] = [];
  private admittedTokens: number[] = [];
  /** Index of the oldest admitted request still in the window. */
  private windowStart = 0;
  private tokensInWindow = 0;
  private rejectedFor = { requests: 0, tokens: 0 };

  /** Replaces both limits; what the window already holds counts against the new ones. */
  setLimits(limits: QuotaLimits): void {
    this.configured = { ...limits };
  }

  /** The limits in force (a copy). */
  limits(): QuotaLimits {
    return { ...this.configured };
  }

  /** Admits the request (recording it) or says which limit refuses it. */
  admit(nowMs: number, tokens: number): QuotaRejection | undefined {
    this.slide(nowMs);
    const rejection = this.rejectionOf(nowMs, tokens);
    if (rejection !== undefined) {
      this.rejectedFor[rejection.limit] += 1;
      return rejection;
    }
    this.admittedAt.push(nowMs);
    this.admittedTokens.push(tokens);
    this.tokensInWindow += tokens;
    return undefined;
  }

  stats(nowMs: number): QuotaStats {
    this.slide(nowMs);
    const { requests, tokens } = this.rejectedFor;
    return {
      admitted: this.admittedAt.length,
      rejected: requests + tokens,
      rejectedForRequests: requests,
      rejectedForTokens: tokens,
      requestsInWindow: this.admittedAt.length - this.windowStart,
      tokensInWindow: this.tokensInWindow,
    };
  }

  /** When each admitted request arrived, by the emulator's clock, oldest first. */
  admittedTimestamps(): number[] {
    return [...this.admittedAt];
  }

  /** Empties the window and zeroes the counters; the limits stay. */
  clear(): void {
    this.admittedAt = [];
    this.admittedTokens = [];
    this.windowStart = 0;
    this.tokensInWindow = 0;
    this.rejectedFor = { requests: 0, tokens: 0 };
  }

  private slide(nowMs: number): void {
    while (this.windowStart < this.admittedAt.length && (this.admittedAt[this.windowStart] ?? 0) + WINDOW_MS <= nowMs) {
      this.tokensInWindow -= this.admittedTokens[this.windowStart] ?? 0;
      this.windowStart += 1;
    }
  }

  private rejectionOf(nowMs: number, tokens: number): QuotaRejection | undefined {
    const { requestsPerMinute, tokensPerMinute } = this.configured;
    const requestsWait = requestsPerMinute === undefined ? 0 : this.waitForRequestSlot(nowMs, requestsPerMinute);
    const tokensWait = tokensPerMinute === undefined ? 0 : this.waitForTokens(nowMs, tokens, tokensPerMinute);
    // Either wait alone may not suffice: the request fits once both have passed.
    const retryDelayMs =
      requestsWait === undefined || tokensWait === undefined ? undefined : Math.max(requestsWait, tokensWait);
    if (requestsPerMinute !== undefined && requestsWait !== 0)
      return { limit: 'requests', value: requestsPerMinute, retryDelayMs };
    if (tokensPerMinute !== undefined && tokensWait !== 0)
      return { limit: 'tokens', value: tokensPerMinute, retryDelayMs };
    return undefined;
  }

  /** Ms until one more request fits under the limit; 0 when it fits now. */
  private waitForRequestSlot(nowMs: number, limit: number): number {
    const excess = this.admittedAt.length - this.windowStart - limit;
    if (excess < 0) return 0;
    return this.leavesWindowAt(this.windowStart + excess) - nowMs;
  }

  /** Ms until `tokens` more fit under the limit; 0 when they fit now; undefined when they never will. */
  private waitForTokens(nowMs: number, tokens: number, limit: number): number | undefined {
    if (tokens > limit) return undefined;
    if (this.tokensInWindow + tokens <= limit) return 0;
    let held = this.tokensInWindow;
    let index = this.windowStart;
    while (held + tokens > limit) {
      held -= this.admittedTokens[index] ?? 0;
      index += 1;
    }
    return this.leavesWindowAt(index - 1) - nowMs;
  }

  private leavesWindowAt(index: number): number {
    return (this.admittedAt[index] ?? 0) + WINDOW_MS;
  }
}

/** The 429 Google sends for an exhausted per-minute quota, retry delay rounded up to 0.1 s. */
export function quotaExceeded(model: string, rejection: QuotaRejection): GoogleError {
  const { retryDelayMs } = rejection;
  return rateLimited({
    model,
    ...QUOTA_NAMES[rejection.limit],
    limit: rejection.value,
    retryDelaySeconds: retryDelayMs === undefined ? undefined : Math.ceil(retryDelayMs / 100) / 10,
  });
}
