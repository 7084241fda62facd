import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { DEFAULT_TASK_QUEUE } from '../constants';

/**
 * How to reach Temporal: the same settings serve a local dev server, a self-hosted cluster (mTLS)
 * and Temporal Cloud (mTLS or API key), so workers scale out by configuration alone.
 */
export interface TemporalConfig {
  address: string;
  namespace: string;
  taskQueue: string;
  /** Web UI base URL for the links we print. */
  webUiUrl: string;
  tls?: { clientCertPair?: { crt: Buffer; key: Buffer }; serverRootCACertificate?: Buffer; serverNameOverride?: string };
  apiKey?: string;
  /** How long to wait for the server when connecting (default 1,500 ms; TEMPORAL_CONNECT_TIMEOUT_MS). */
  connectTimeoutMs?: number;
}

const EnvSchema = z.object({
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
export function temporalConfigFromEnv(env: NodeJS.ProcessEnv = process.env): TemporalConfig {
  const parsed = EnvSchema.safeParse(Object.fromEntries(Object.entries(env).filter(([, value]) => value !== '')));
  if (!parsed.success) {
    throw new Error(`invalid Temporal settings: ${parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; ')}`);
  }
  const vars = parsed.data;
  if (Boolean(vars.TEMPORAL_TLS_CERT) !== Boolean(vars.TEMPORAL_TLS_KEY)) {
    throw new Error('TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY go together: set both (paths to the client certificate and key) or neither');
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

/** Connection options shared by the client Connection and the worker NativeConnection. */
export function connectionOptions(config: TemporalConfig) {
  return {
    address: config.address,
    ...(config.tls ? { tls: config.tls } : {}),
    ...(config.apiKey ? { apiKey: config.apiKey } : {}),
  };
}

/** Web UI page of one workflow. */
export function workflowUrl(config: Pick<TemporalConfig, 'webUiUrl' | 'namespace'>, workflowId: string): string {
  return `${config.webUiUrl}/namespaces/${encodeURIComponent(config.namespace)}/workflows/${encodeURIComponent(workflowId)}`;
}

/** Web UI list of one batch's item workflows. */
export function batchItemsUrl(config: Pick<TemporalConfig, 'webUiUrl' | 'namespace'>, batchId: string): string {
  const query = encodeURIComponent(`BatchId="${batchId}"`);
  return `${config.webUiUrl}/namespaces/${encodeURIComponent(config.namespace)}/workflows?query=${query}`;
}
