import { z } from 'zod';
import { quotaLimitsSchema } from './quota';
import type { QuotaLimits } from './quota';
import { blockReasonSchema, finishReasonSchema, safetyRatingsSchema } from './safety';
import type { SafetyRatingSpec } from './safety';
import { seededUnit } from './seeded';
import type { LatencyConfig } from './types';
import type { BatchSettings } from './batches';
import { openAISettingsSchema } from './openai-settings';
import type { OpenAISettings } from './openai-settings';

/**
 * Faults that bend a model answer, so they mean nothing on a cache route. `ratings` is a normal
 * answer carrying the rule's safety ratings; `finish` a candidate with the rule's finishReason and
 * no parts.
 */
const ANSWER_FAULT_KINDS = [
  'schema_invalid',
  'empty_response',
  'safety',
  'blocked_prompt',
  'recitation',
  'max_tokens',
  'ratings',
  'finish',
] as const;

/** Every way the emulator can misbehave; see `GeminiEmulator` for what each looks like on the wire. */
export const FAULT_KINDS = [
  'rate_limit',
  'quota_exhausted',
  'unauthenticated',
  'permission_denied',
  'invalid_request',
  'context_too_long',
  'not_found',
  'server_error',
  'overloaded',
  'deadline',
  'reset',
  'hang',
  'malformed_json',
  ...ANSWER_FAULT_KINDS,
  'cache_expired',
  'reply_lost',
] as const;

export type FaultKind = (typeof FAULT_KINDS)[number];

/** The cachedContents routes, as they appear in the request log and in fault rules. */
export const CACHE_ROUTES = ['cacheCreate', 'cacheGet', 'cacheList', 'cacheUpdate', 'cacheDelete'] as const;

export type CacheRoute = (typeof CACHE_ROUTES)[number];

/**
 * The Batch Mode and Files API routes, as they appear in the request log and in fault rules:
 * `POST models/{m}:batchGenerateContent`, `GET batches/{id}`, `GET batches`,
 * `POST batches/{id}:cancel`, `DELETE batches/{id}`, the resumable upload's start request
 * (`POST upload/v1beta/files`, `X-Goog-Upload-Command: start`) and `GET files/{id}:download`.
 */
export const BATCH_ROUTES = [
  'batchCreate',
  'batchGet',
  'batchList',
  'batchCancel',
  'batchDelete',
  'fileUpload',
  'fileDownload',
] as const;

export type BatchRoute = (typeof BATCH_ROUTES)[number];

/** Routes a fault rule can target. */
export const FAULT_ROUTES = ['generateContent', ...CACHE_ROUTES, ...BATCH_ROUTES] as const;

export type FaultRoute = (typeof FAULT_ROUTES)[number];

const ANSWER_FAULTS: ReadonlySet<FaultKind> = new Set(ANSWER_FAULT_KINDS);
const BATCH_ROUTE_SET: ReadonlySet<string> = new Set(BATCH_ROUTES);

export function isBatchRoute(route: string): route is BatchRoute {
  return BATCH_ROUTE_SET.has(route);
}

/** When to inject a fault. All given conditions must hold; the first matching unspent rule wins. */
export interface FaultRule {
  fault: FaultKind;
  /**
   * Which route the rule applies to; default generateContent. On a cache route, error faults,
   * `reset`, `hang` and `malformed_json` apply; answer-bending faults are refused. On a batch or
   * file route (`BATCH_ROUTES`) the same apply except `cache_expired`, plus `reply_lost`, which
   * applies there only.
   */
  route?: FaultRoute;
  /** Only requests whose `x-batch-llm-item` header equals this. */
  itemKey?: string;
  /** Only requests whose item key starts with this (e.g. a batch id + '/'). */
  itemKeyPrefix?: string;
  /**
   * 1-based attempt numbers, counted per route and item key; omitted = any attempt. Cache, batch
   * and file calls without the item header all share the "" key, so `attempts: [1]` on cacheCreate
   * is the emulator's first cache creation without that header.
   */
  attempts?: number[];
  /** 0..1 probability, decided from hash(seed, rule, item key, attempt). */
  rate?: number;
  /** Fire at most this many times in total. */
  times?: number;
  /** Only for this model (with or without `models/`). */
  model?: string;
  /** rate_limit: the advertised retry delay, default 1. */
  retryDelaySeconds?: number;
  /** hang: answer 504 after this long, default 10 minutes. */
  hangMs?: number;
  /**
   * Answer faults only: the safety ratings of the answer this rule produces (on the candidate, or
   * in `promptFeedback` for `blocked_prompt`); `[]` sends none. Defaults: `safety` and
   * `blocked_prompt` one HIGH blocked rating; `ratings` HATE_SPEECH MEDIUM; text answers the
   * emulator's configured ratings; other partless answers none.
   */
  safetyRatings?: SafetyRatingSpec[];
  /** finish: the candidate's `finishReason` (any uppercase identifier), default OTHER. */
  finishReason?: string;
  /** blocked_prompt: `promptFeedback.blockReason` (any uppercase identifier), default SAFETY. */
  blockReason?: string;
}

/** Who is asking, for rule matching. */
export interface FaultQuery {
  route: FaultRoute;
  model: string;
  itemKey: string | undefined;
  attempt: number;
  seed: number;
}

const faultRuleSchema = z
  .object({
    fault: z.enum(FAULT_KINDS),
    route: z.enum(FAULT_ROUTES).optional(),
    itemKey: z.string().optional(),
    itemKeyPrefix: z.string().optional(),
    attempts: z.array(z.int().min(1)).optional(),
    rate: z.number().min(0).max(1).optional(),
    times: z.int().min(0).optional(),
    model: z.string().optional(),
    retryDelaySeconds: z.number().min(0).optional(),
    hangMs: z.number().min(0).optional(),
    safetyRatings: safetyRatingsSchema.optional(),
    finishReason: finishReasonSchema.optional(),
    blockReason: blockReasonSchema.optional(),
  })
  .strict()
  .superRefine((rule, context) => {
    const route = rule.route ?? 'generateContent';
    if (route !== 'generateContent' && ANSWER_FAULTS.has(rule.fault)) {
      context.addIssue({
        code: 'custom',
        path: ['fault'],
        message: `${rule.fault} bends a model answer and cannot apply to route ${route}`,
      });
    }
    if (rule.fault === 'reply_lost' && !isBatchRoute(route)) {
      context.addIssue({
        code: 'custom',
        path: ['fault'],
        message:
          `reply_lost (act, then drop the connection) applies only to the batch and file routes ` +
          `(${BATCH_ROUTES.join(', ')}), not to route ${route}${rule.route === undefined ? ' (the default)' : ''}`,
      });
    }
    if (rule.fault === 'cache_expired' && isBatchRoute(route)) {
      context.addIssue({
        code: 'custom',
        path: ['fault'],
        message: `cache_expired answers for a context cache and cannot apply to route ${route}`,
      });
    }
    if (rule.safetyRatings !== undefined && !ANSWER_FAULTS.has(rule.fault)) {
      context.addIssue({
        code: 'custom',
        path: ['safetyRatings'],
        message: `${rule.fault} sends no answer to rate; safetyRatings applies to ${ANSWER_FAULT_KINDS.join(', ')}`,
      });
    }
    if (rule.finishReason !== undefined && rule.fault !== 'finish') {
      context.addIssue({
        code: 'custom',
        path: ['finishReason'],
        message: `finishReason applies to fault finish, not ${rule.fault}`,
      });
    }
    if (rule.blockReason !== undefined && rule.fault !== 'blocked_prompt') {
      context.addIssue({
        code: 'custom',
        path: ['blockReason'],
        message: `blockReason applies to fault blocked_prompt, not ${rule.fault}`,
      });
    }
  });

const latencySchema = z.object({ baseMs: z.number().min(0), jitterMs: z.number().min(0) }).strict();

const batchSettingsSchema = z
  .object({
    pendingMs: z.number().min(0).optional(),
    runningMs: z.number().min(0).optional(),
    outcomes: z
      .array(
        z
          .object({
            displayNamePrefix: z.string().optional(),
            outcome: z.enum(['SUCCEEDED', 'FAILED', 'CANCELLED', 'EXPIRED']),
          })
          .strict(),
      )
      .optional(),
    requestFaults: z
      .array(
        z
          .object({
            fault: z.enum(['schema_invalid', 'error']),
            key: z.string().optional(),
            keyPrefix: z.string().optional(),
            rate: z.number().min(0).max(1).optional(),
            code: z.number().int().optional(),
            status: z.string().optional(),
            message: z.string().optional(),
          })
          .strict(),
      )
      .optional(),
    statePrefix: z.enum(['BATCH', 'JOB']).optional(),
    echoMetadata: z.boolean().optional(),
  })
  .strict();

/** Body of `POST /_emulator/config`. */
export const controlConfigSchema = z
  .object({
    latency: latencySchema.optional(),
    batch: batchSettingsSchema.optional(),
    faults: z.array(faultRuleSchema).optional(),
    seed: z.number().optional(),
    safetyRatings: safetyRatingsSchema.optional(),
    quota: quotaLimitsSchema.optional(),
    openai: openAISettingsSchema.optional(),
  })
  .strict();

export interface ControlConfig {
  latency?: LatencyConfig;
  faults?: FaultRule[];
  seed?: number;
  safetyRatings?: SafetyRatingSpec[];
  quota?: QuotaLimits;
  batch?: BatchSettings;
  openai?: OpenAISettings;
}

/** Validates fault/latency/seed/safety-rating/quota/OpenAI settings; throws an Error naming each bad field. */
export function parseControlConfig(input: unknown): ControlConfig {
  const result = controlConfigSchema.safeParse(input);
  if (!result.success) {
    throw new Error(`invalid emulator config:\n${z.prettifyError(result.error)}`);
  }
  // Parsed JSON never holds `undefined`, so zod's `T | undefined` optionals fit our `T?` fields.
  return result.data as ControlConfig;
}

const FAULT_FLAG = /^([a-z_]+)(?:@([A-Za-z]+))?=(0(?:\.\d+)?|1(?:\.0+)?)$/;

/** The `KIND[@ROUTE]=RATE` form of a rate-based fault rule, for a command-line flag. */
export const FAULT_FLAG_FORM = 'KIND[@ROUTE]=RATE';

/**
 * Reads a fault flag, `KIND[@ROUTE]=RATE` (e.g. `overloaded=0.1`, `reply_lost@batchCreate=1`), into
 * a rule: the route defaults to generateContent, the rate is in [0, 1]. Throws an Error saying
 * what is wrong, the kind and route lists included, or why the kind cannot apply to the route.
 */
export function parseFaultFlag(spec: string): FaultRule {
  const match = FAULT_FLAG.exec(spec);
  if (match === null) {
    throw new Error(`expected ${FAULT_FLAG_FORM}, e.g. overloaded=0.1 or reply_lost@batchCreate=1; got "${spec}"`);
  }
  const [, kind = '', route, rate = ''] = match;
  if (!(FAULT_KINDS as readonly string[]).includes(kind)) {
    throw new Error(`unknown fault kind "${kind}"; known: ${FAULT_KINDS.join(', ')}`);
  }
  if (route !== undefined && !(FAULT_ROUTES as readonly string[]).includes(route)) {
    throw new Error(`unknown fault route "${route}"; known: ${FAULT_ROUTES.join(', ')}`);
  }
  const rule = { fault: kind, ...(route === undefined ? {} : { route }), rate: Number(rate) };
  const result = faultRuleSchema.safeParse(rule);
  if (!result.success) throw new Error(result.error.issues.map((issue) => issue.message).join('; '));
  return result.data as FaultRule;
}

/** A model name without its `models/` prefix. */
export function withoutModelsPrefix(model: string): string {
  return model.startsWith('models/') ? model.slice('models/'.length) : model;
}

/** The active fault rules and how often each has fired. */
export class FaultBook {
  private fired: number[];

  constructor(readonly rules: readonly FaultRule[]) {
    this.fired = rules.map(() => 0);
  }

  /** Picks the first matching, unspent rule and counts it as fired. */
  select(query: FaultQuery): FaultRule | undefined {
    for (const [index, rule] of this.rules.entries()) {
      const fired = this.fired[index] ?? 0;
      if (rule.times !== undefined && fired >= rule.times) continue;
      if (!this.matches(rule, index, query)) continue;
      this.fired[index] = fired + 1;
      return rule;
    }
    return undefined;
  }

  /** Makes spent rules fire again. */
  resetSpent(): void {
    this.fired = this.rules.map(() => 0);
  }

  private matches(rule: FaultRule, index: number, query: FaultQuery): boolean {
    if ((rule.route ?? 'generateContent') !== query.route) return false;
    if (rule.model !== undefined && withoutModelsPrefix(rule.model) !== query.model) return false;
    if (rule.itemKey !== undefined && rule.itemKey !== query.itemKey) return false;
    if (rule.itemKeyPrefix !== undefined && !(query.itemKey ?? '').startsWith(rule.itemKeyPrefix)) {
      return false;
    }
    if (rule.attempts !== undefined && !rule.attempts.includes(query.attempt)) return false;
    if (rule.rate !== undefined) {
      const draw = seededUnit('fault', query.seed, index, query.itemKey ?? '', query.attempt);
      if (draw >= rule.rate) return false;
    }
    return true;
  }
}
