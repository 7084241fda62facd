/**
 * Every setting the environment gives, read in this one module and checked with zod: TEMPORAL_*
 * (where Temporal is), GEMINI_API_KEY / GOOGLE_*, OPENAI_* and the named endpoints' <NAME>_API_KEY
 * (where the models are) and BATCH_LLM_* (ours). A bad
 * value, or a BATCH_LLM_* name we do not know (a typo), is a ConfigError naming the variable, never
 * a silent default.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { DEFAULT_STATE_DIR, DEFAULT_TASK_QUEUE, PROVIDER_NAME_PATTERN } from './constants';
import { type EncryptionKey, parseEncryptionKeys } from './privacy/keys';
import type { GeminiClientOptions } from './providers/gemini/client';
import { GEMINI_PROVIDER_NAME, OPENAI_PROVIDER_NAME } from './providers/registry';
import type { TemporalConfig } from './temporal/config';

/** A setting in the environment is wrong: the message names the variable and what it must be. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** The process environment: everything else takes settings as arguments. */
export function environment(): NodeJS.ProcessEnv {
  return process.env;
}

const LOG_LEVELS = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR'] as const;
export type LogLevelName = (typeof LOG_LEVELS)[number];

const PerMinute = (what: string) =>
  z.coerce
    .number({ error: `must be a number of ${what} per minute` })
    .positive(`must be a positive number of ${what} per minute`);

/** A URL with its password (`user:password@`, or a `password=` parameter) replaced by `***`, parsable or not: for messages. */
export function withoutPassword(url: string): string {
  const masked = /^[a-z][a-z0-9+.-]*:\/\/[^:/?#@]*(@|$|[/?#])/i.test(url)
    ? url // no password in the authority
    : /^[a-z][a-z0-9+.-]*:\/\/[^:/?#@]*:/i.test(url)
      ? url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/?#@]*:)(.*)@/i, '$1***@')
      : url.includes('@')
        ? url.replace(/^.*@/, '***@') // not a URL we can read: hide everything before the host
        : '***'; // nor a host: it may be the password itself
  return masked.replace(/([?&]password=)[^&#]*/gi, '$1***');
}

/** A PostgreSQL connection URL (the results store): `postgres://` or `postgresql://`, with a host. */
export const ResultsUrlSchema = z.string().refine(
  (value) => {
    try {
      const url = new URL(value);
      return (url.protocol === 'postgres:' || url.protocol === 'postgresql:') && url.hostname !== '';
    } catch {
      return false;
    }
  },
  { error: 'must be a PostgreSQL URL, e.g. postgres://user:password@host:5432/database' },
);

/** Settings whose values are never echoed whole in errors: a URL's password is masked. */
const SECRET_URL_SETTINGS = new Set(['BATCH_LLM_RESULTS_URL']);
/** Settings whose values are never echoed at all. */
const SECRET_SETTINGS = new Set(['BATCH_LLM_ENCRYPTION_KEYS', 'BATCH_LLM_CODEC_AUTH_TOKEN']);

/** `id1:base64key,id2:…`: the first encrypts, all decrypt (src/privacy/encryption.ts). */
const EncryptionKeysSchema = z.string().transform((value, context): EncryptionKey[] => {
  const parsed = parseEncryptionKeys(value);
  if ('keys' in parsed) return parsed.keys;
  for (const problem of parsed.problems) context.addIssue({ code: 'custom', message: problem });
  return z.NEVER;
});

/** A size in bytes, or with a unit: 131072, 128KiB, 2MiB, 100kB. */
export const ByteSizeSchema = z
  .string()
  .regex(/^\s*\d+(\.\d+)?\s*(B|kB|KB|KiB|MB|MiB)?\s*$/i, { error: 'must be a size in bytes, e.g. 131072 or 128KiB' })
  .transform((value) => {
    const [, number = '0', unit = 'B'] = /^\s*([\d.]+)\s*([a-z]*)\s*$/i.exec(value) ?? [];
    const scale: Record<string, number> = { b: 1, kb: 1000, kib: 1024, mb: 1000 ** 2, mib: 1024 ** 2 };
    return Math.round(Number(number) * (scale[unit.toLowerCase()] ?? 1));
  });

const BatchLlmEnvSchema = z
  .object({
    /** Model when neither the batch nor the task names one. */
    BATCH_LLM_MODEL: z.string().min(1).optional(),
    BATCH_LLM_STATE_DIR: z.string().min(1).optional(),
    BATCH_LLM_RESULTS_DIR: z.string().min(1).optional(),
    /** A PostgreSQL results store instead of the results directory (see src/results-postgres.ts). */
    BATCH_LLM_RESULTS_URL: ResultsUrlSchema.optional(),
    BATCH_LLM_RPM: PerMinute('requests').optional(),
    BATCH_LLM_TPM: PerMinute('input tokens').optional(),
    BATCH_LLM_LOG_LEVEL: z
      .string()
      .transform((level) => level.toUpperCase())
      .pipe(z.enum(LOG_LEVELS, { error: `must be one of ${LOG_LEVELS.join(', ')}` }))
      .optional(),
    /** Payload encryption keys (src/privacy/encryption.ts); never echoed. */
    BATCH_LLM_ENCRYPTION_KEYS: EncryptionKeysSchema.optional(),
    /** Where payloads over the threshold are kept (src/privacy/blob-store.ts): shared by every worker and client. */
    BATCH_LLM_BLOB_DIR: z.string().min(1).optional(),
    /** Payloads at least this large travel by reference (default 128 KiB). */
    BATCH_LLM_BLOB_THRESHOLD: ByteSizeSchema.optional(),
    /** Further OpenAI-compatible endpoints, `name=url,…`: each a provider of that name (see openAIEndpointsFromEnv). */
    BATCH_LLM_OPENAI_ENDPOINTS: z.string().min(1).optional(),
    /** The bearer token `batch-llm codec-server` requires (instead of --auth-token). */
    BATCH_LLM_CODEC_AUTH_TOKEN: z.string().min(1).optional(),
    BATCH_LLM_METRICS_PORT: z.coerce
      .number({ error: 'must be a port number' })
      .int('must be a port number')
      .min(1)
      .max(65535)
      .optional(),
  })
  .strict();

export type BatchLlmSettings = z.output<typeof BatchLlmEnvSchema>;

/** The BATCH_LLM_* settings; an unknown BATCH_LLM_ name or a bad value is a ConfigError. */
export function batchLlmSettings(env: NodeJS.ProcessEnv = environment()): BatchLlmSettings {
  const ours = Object.fromEntries(
    Object.entries(env).filter(([name, value]) => name.startsWith('BATCH_LLM_') && value !== undefined && value !== ''),
  );
  const parsed = BatchLlmEnvSchema.safeParse(ours);
  if (parsed.success) return parsed.data;
  const known = Object.keys(BatchLlmEnvSchema.shape).join(', ');
  throw new ConfigError(
    parsed.error.issues
      .map((issue) =>
        issue.code === 'unrecognized_keys'
          ? `unknown setting ${issue.keys.join(', ')} (known: ${known})`
          : `${issue.path.join('.')}=${JSON.stringify(shown(String(issue.path[0]), ours[String(issue.path[0])]))}: ${issue.message}`,
      )
      .join('; '),
  );
}

function shown(name: string, value: string | undefined): string | undefined {
  if (value !== undefined && SECRET_SETTINGS.has(name)) return '***';
  return value !== undefined && SECRET_URL_SETTINGS.has(name) ? withoutPassword(value) : value;
}

/**
 * `dev --encrypt` without BATCH_LLM_ENCRYPTION_KEYS: the keys it keeps in its state directory
 * become this process's setting (its worker and clients read it like any other). A wrong value
 * fails here, naming the entry, never the key.
 */
export function adoptEncryptionKeys(value: string): void {
  environment()['BATCH_LLM_ENCRYPTION_KEYS'] = value;
  batchLlmSettings();
}

/** Where local state lives (dev-server database, results): BATCH_LLM_STATE_DIR, else .batch-llm. */
export function stateDirectoryOf(settings: BatchLlmSettings): string {
  return settings.BATCH_LLM_STATE_DIR ?? DEFAULT_STATE_DIR;
}

const GeminiEnvSchema = z.object({
  GEMINI_API_KEY: z.string().min(1).optional(),
  GOOGLE_API_KEY: z.string().min(1).optional(),
  GOOGLE_GEMINI_BASE_URL: z.url({ error: 'must be a URL, e.g. http://127.0.0.1:8787' }).optional(),
});

/** GEMINI_API_KEY (or GOOGLE_API_KEY) and GOOGLE_GEMINI_BASE_URL. The key is never logged. */
export function geminiOptionsFromEnv(env: NodeJS.ProcessEnv = environment()): GeminiClientOptions {
  const parsed = GeminiEnvSchema.safeParse(Object.fromEntries(Object.entries(env).filter(([, value]) => value !== '')));
  if (!parsed.success)
    throw new ConfigError(parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; '));
  return {
    apiKey: parsed.data.GEMINI_API_KEY ?? parsed.data.GOOGLE_API_KEY,
    baseUrl: parsed.data.GOOGLE_GEMINI_BASE_URL,
  };
}

const OpenAIEnvSchema = z.object({
  OPENAI_API_KEY: z.string().min(1).optional(),
  OPENAI_BASE_URL: z
    .url({ error: 'must be a URL, e.g. https://api.openai.com/v1 or http://127.0.0.1:8000/v1' })
    .optional(),
});

/** One OpenAI-compatible endpoint a worker calls: a provider of this name (a task's `provider`). */
export interface OpenAIEndpoint {
  name: string;
  baseUrl?: string;
  apiKey?: string;
  /** The variable its key comes from (named in messages, never its value). */
  keyVariable: string;
  /** Its own limits (`;rpm=N;tpm=N` after the URL), instead of BATCH_LLM_RPM / BATCH_LLM_TPM for its scopes. */
  limits?: { requestsPerMinute?: number; tokensPerMinute?: number };
}

/** Names a named endpoint cannot take: the providers that exist without it. */
const RESERVED_PROVIDER_NAMES = [GEMINI_PROVIDER_NAME, OPENAI_PROVIDER_NAME];

/** The variable a named endpoint's key comes from: `openrouter` → OPENROUTER_API_KEY, `my-vllm` → MY_VLLM_API_KEY. */
export function endpointKeyVariable(name: string): string {
  return `${name.toUpperCase().replace(/-/g, '_')}_API_KEY`;
}

/** What to set so that an OpenAI-compatible provider of this name exists (the unnamed one, or a named endpoint). */
export function openAIEndpointSetting(providerName: string): string {
  return providerName === OPENAI_PROVIDER_NAME
    ? 'set OPENAI_API_KEY and/or OPENAI_BASE_URL'
    : `name it in BATCH_LLM_OPENAI_ENDPOINTS (${providerName}=<base URL>, its key in ${endpointKeyVariable(providerName)})`;
}

/**
 * OPENAI_API_KEY and OPENAI_BASE_URL, for the OpenAI-compatible provider (src/providers/openai):
 * OpenAI itself, OpenRouter, DeepSeek, vLLM, Ollama. The key is never logged; undefined when
 * neither is set (the provider is then not configured).
 */
export function openAIOptionsFromEnv(
  env: NodeJS.ProcessEnv = environment(),
): { apiKey?: string; baseUrl?: string } | undefined {
  const parsed = OpenAIEnvSchema.safeParse(Object.fromEntries(Object.entries(env).filter(([, value]) => value !== '')));
  if (!parsed.success)
    throw new ConfigError(parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; '));
  const { OPENAI_API_KEY: apiKey, OPENAI_BASE_URL: baseUrl } = parsed.data;
  if (apiKey === undefined && baseUrl === undefined) return undefined;
  return { ...(apiKey !== undefined ? { apiKey } : {}), ...(baseUrl !== undefined ? { baseUrl } : {}) };
}

/**
 * Every OpenAI-compatible endpoint the environment configures, each a provider a task names:
 * `openai-compatible` from OPENAI_API_KEY / OPENAI_BASE_URL, and the named ones of
 * BATCH_LLM_OPENAI_ENDPOINTS=`name=url,…` (e.g. `openrouter=https://openrouter.ai/api/v1,
 * local=http://127.0.0.1:11434/v1`), whose keys come from `<NAME>_API_KEY` (OPENROUTER_API_KEY;
 * none for a local server). An entry may give the endpoint's own limits after its URL:
 * `openrouter=https://openrouter.ai/api/v1;rpm=200;tpm=400000`. A bad entry is a ConfigError
 * naming it; keys are never echoed.
 */
export function openAIEndpointsFromEnv(env: NodeJS.ProcessEnv = environment()): OpenAIEndpoint[] {
  const endpoints: OpenAIEndpoint[] = [];
  const unnamed = openAIOptionsFromEnv(env);
  if (unnamed) endpoints.push({ name: OPENAI_PROVIDER_NAME, ...unnamed, keyVariable: 'OPENAI_API_KEY' });
  const list = batchLlmSettings(env).BATCH_LLM_OPENAI_ENDPOINTS;
  if (list === undefined) return endpoints;
  const problems: string[] = [];
  for (const [index, entry] of list.split(',').entries()) {
    const text = entry.trim();
    const equals = text.indexOf('=');
    const name = equals > 0 ? text.slice(0, equals).trim() : '';
    const [url = '', ...settings] = (equals > 0 ? text.slice(equals + 1) : '').split(';').map((part) => part.trim());
    const where = `BATCH_LLM_OPENAI_ENDPOINTS entry ${index + 1}${name ? ` ("${name}")` : ''}`;
    if (!name || !url) {
      problems.push(`${where}: must be name=url, e.g. openrouter=https://openrouter.ai/api/v1`);
      continue;
    }
    if (!PROVIDER_NAME_PATTERN.test(name)) {
      problems.push(`${where}: the name must be lower-case letters, digits and dashes, starting with a letter`);
      continue;
    }
    if (RESERVED_PROVIDER_NAMES.includes(name)) {
      problems.push(
        `${where}: "${name}" is taken (${name === GEMINI_PROVIDER_NAME ? 'the Gemini provider' : 'the endpoint of OPENAI_API_KEY / OPENAI_BASE_URL'}); choose another name`,
      );
      continue;
    }
    if (endpoints.some((endpoint) => endpoint.name === name)) {
      problems.push(`${where}: "${name}" is named twice`);
      continue;
    }
    if (!z.url({ protocol: /^https?$/ }).safeParse(url).success) {
      problems.push(`${where}: ${JSON.stringify(withoutPassword(url))} is not an http(s) URL`);
      continue;
    }
    const limits: NonNullable<OpenAIEndpoint['limits']> = {};
    for (const setting of settings) {
      const [, key, value] = /^(rpm|tpm)=(.*)$/.exec(setting) ?? [];
      const number = Number(value);
      if (!key || !(Number.isFinite(number) && number > 0)) {
        problems.push(`${where}: "${setting}" must be rpm=N or tpm=N (a positive number per minute)`);
        continue;
      }
      limits[key === 'rpm' ? 'requestsPerMinute' : 'tokensPerMinute'] = number;
    }
    const keyVariable = endpointKeyVariable(name);
    const apiKey = env[keyVariable];
    endpoints.push({
      name,
      baseUrl: url,
      ...(apiKey ? { apiKey } : {}),
      keyVariable,
      ...(Object.keys(limits).length > 0 ? { limits } : {}),
    });
  }
  if (problems.length > 0) throw new ConfigError(problems.join('; '));
  return endpoints;
}

const TemporalEnvSchema = z.object({
  TEMPORAL_ADDRESS: z.string().min(1).default('localhost:7233'),
  TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
  TEMPORAL_TASK_QUEUE: z.string().min(1).default(DEFAULT_TASK_QUEUE),
  TEMPORAL_UI_URL: z.string().url().optional(),
  TEMPORAL_TLS_CERT: z.string().min(1).optional(),
  TEMPORAL_TLS_KEY: z.string().min(1).optional(),
  TEMPORAL_TLS_CA: z.string().min(1).optional(),
  TEMPORAL_TLS_SERVER_NAME: z.string().min(1).optional(),
  TEMPORAL_API_KEY: z.string().min(1).optional(),
  TEMPORAL_CONNECT_TIMEOUT_MS: z.coerce.number().int().positive().optional(),
});

/** Reads TEMPORAL_* variables; a bad value is named, a missing key/cert pair half is an error. */
/** The Temporal settings, with a command's --address / --namespace over the environment's. */
export function temporalConfigWith(flags: {
  address?: string | undefined;
  namespace?: string | undefined;
}): TemporalConfig {
  return temporalConfigFromEnv({
    ...environment(),
    ...(flags.address !== undefined ? { TEMPORAL_ADDRESS: flags.address } : {}),
    ...(flags.namespace !== undefined ? { TEMPORAL_NAMESPACE: flags.namespace } : {}),
  });
}

export function temporalConfigFromEnv(env: NodeJS.ProcessEnv = environment()): TemporalConfig {
  const parsed = TemporalEnvSchema.safeParse(
    Object.fromEntries(Object.entries(env).filter(([, value]) => value !== '')),
  );
  if (!parsed.success) {
    throw new ConfigError(
      `invalid Temporal settings: ${parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; ')}`,
    );
  }
  const vars = parsed.data;
  if (Boolean(vars.TEMPORAL_TLS_CERT) !== Boolean(vars.TEMPORAL_TLS_KEY)) {
    throw new ConfigError(
      'TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY go together: set both (paths to the client certificate and key) or neither',
    );
  }
  const config: TemporalConfig = {
    address: vars.TEMPORAL_ADDRESS,
    namespace: vars.TEMPORAL_NAMESPACE,
    taskQueue: vars.TEMPORAL_TASK_QUEUE,
    webUiUrl: vars.TEMPORAL_UI_URL ?? defaultWebUi(vars.TEMPORAL_ADDRESS),
  };
  const wantsTls = vars.TEMPORAL_TLS_CERT || vars.TEMPORAL_TLS_CA || vars.TEMPORAL_API_KEY;
  if (wantsTls) {
    config.tls = {
      ...(vars.TEMPORAL_TLS_CERT && vars.TEMPORAL_TLS_KEY
        ? { clientCertPair: { crt: readFileSync(vars.TEMPORAL_TLS_CERT), key: readFileSync(vars.TEMPORAL_TLS_KEY) } }
        : {}),
      ...(vars.TEMPORAL_TLS_CA ? { serverRootCACertificate: readFileSync(vars.TEMPORAL_TLS_CA) } : {}),
      ...(vars.TEMPORAL_TLS_SERVER_NAME ? { serverNameOverride: vars.TEMPORAL_TLS_SERVER_NAME } : {}),
    };
  }
  if (vars.TEMPORAL_API_KEY) config.apiKey = vars.TEMPORAL_API_KEY;
  if (vars.TEMPORAL_CONNECT_TIMEOUT_MS !== undefined) config.connectTimeoutMs = vars.TEMPORAL_CONNECT_TIMEOUT_MS;
  return config;
}

function defaultWebUi(address: string): string {
  const host = address.split(':')[0] ?? 'localhost';
  if (host.endsWith('.tmprl.cloud')) return 'https://cloud.temporal.io';
  const port = Number(address.split(':')[1] ?? 7233);
  return `http://${host}:${port + 1000}`;
}
