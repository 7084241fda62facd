export { temporalConfigFromEnv } from '../config';

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
  tls?: {
    clientCertPair?: { crt: Buffer; key: Buffer };
    serverRootCACertificate?: Buffer;
    serverNameOverride?: string;
  };
  apiKey?: string;
  /** How long to wait for the server when connecting (default 1,500 ms; TEMPORAL_CONNECT_TIMEOUT_MS). */
  connectTimeoutMs?: number;
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

/**
 * Web UI list of one batch's items that did not succeed (failed, blocked, cancelled, past their
 * deadline): an item that did not succeed fails its workflow on purpose, so its ExecutionStatus is
 * Failed; the ItemStatus and ErrorCategory search attributes say how.
 */
export function batchFailedItemsUrl(config: Pick<TemporalConfig, 'webUiUrl' | 'namespace'>, batchId: string): string {
  const query = encodeURIComponent(`BatchId="${batchId}" AND ExecutionStatus="Failed"`);
  return `${config.webUiUrl}/namespaces/${encodeURIComponent(config.namespace)}/workflows?query=${query}`;
}
