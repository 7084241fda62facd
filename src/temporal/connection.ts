/**
 * The one place connections to Temporal and clients are made, for the worker, the CLI, the
 * scripts and the tests: they give up quickly, naming the address, when nothing answers, and a
 * data converter (payload encryption) is added here once for all of them.
 */
import { Socket } from 'node:net';
import { Client, Connection } from '@temporalio/client';
import type { NativeConnection } from '@temporalio/worker';
import { TemporalUnreachableError } from '../client/errors';
import { clientDataConverter, type PayloadPrivacy, payloadPrivacyOf } from '../privacy/data-converter';
import { connectionOptions, type TemporalConfig } from './config';

/**
 * How long a command waits for Temporal before reporting it unreachable: a local or remote
 * server answers well within it; the SDK's default (10 s, then retries) made a typo in
 * TEMPORAL_ADDRESS look like a hang. TEMPORAL_CONNECT_TIMEOUT_MS overrides it.
 */
export const DEFAULT_CONNECT_TIMEOUT_MS = 1_500;

const connectTimeoutOf = (config: TemporalConfig) => config.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;

/** Connects a client, or throws TemporalUnreachableError within the connect timeout. */
export async function connectClient(config: TemporalConfig): Promise<Connection> {
  const connectTimeout = connectTimeoutOf(config);
  // A plain socket first: a refused port or unknown host is known at once, and said plainly
  // (gRPC would wait out the timeout and report only "failed to connect before the deadline").
  const socketProblem = await probeSocket(config.address, connectTimeout);
  if (socketProblem) throw new TemporalUnreachableError(config.address, config.namespace, socketProblem);
  try {
    return await Connection.connect({ ...connectionOptions(config), connectTimeout });
  } catch (error) {
    throw await unreachableError(config, error);
  }
}

/**
 * A Temporal client over a connection (a client's, or a worker's NativeConnection), converting
 * payloads as every worker does (src/privacy/data-converter.ts: encryption, the claim check).
 */
export function createTemporalClient(
  connection: Connection | NativeConnection,
  namespace: string,
  privacy: PayloadPrivacy = payloadPrivacyOf(),
): Client {
  return new Client({ connection, namespace, dataConverter: clientDataConverter(privacy) });
}

/** Connects and makes a client: what the CLI and BatchClient.connect use. */
export async function connectTemporalClient(config: TemporalConfig): Promise<Client> {
  return createTemporalClient(await connectClient(config), config.namespace);
}

/**
 * A worker's connection. NativeConnection has no connect timeout and reports a missing server
 * as a raw transport error: a client connection tries first, and fails fast with the address.
 */
export async function connectWorkerConnection(config: TemporalConfig): Promise<NativeConnection> {
  await (await connectClient(config)).close();
  // Loaded here: the worker package is heavy, and CLI commands that only need a client never pay for it.
  const { NativeConnection } = await import('@temporalio/worker');
  try {
    return await NativeConnection.connect(connectionOptions(config));
  } catch (error) {
    throw await unreachableError(config, error);
  }
}

/** True when a Temporal frontend answers at the configured address (within the connect timeout). */
export async function temporalAnswers(config: TemporalConfig): Promise<boolean> {
  try {
    await (await connectClient(config)).close();
    return true;
  } catch (error) {
    if (error instanceof TemporalUnreachableError) return false;
    throw error;
  }
}

/** A connection failure as the user should read it: where, and why if the socket can tell. */
export async function unreachableError(config: TemporalConfig, error: unknown): Promise<TemporalUnreachableError> {
  const timeoutMs = connectTimeoutOf(config);
  const socketProblem = await probeSocket(config.address, timeoutMs);
  return new TemporalUnreachableError(
    config.address,
    config.namespace,
    socketProblem ?? describeFailure(error, timeoutMs),
  );
}

/** Opens and closes a TCP socket to the address: undefined when it opened, else why not. */
function probeSocket(address: string, timeoutMs: number): Promise<string | undefined> {
  const separator = address.lastIndexOf(':');
  const host = (separator > 0 ? address.slice(0, separator) : address).replace(/^\[|\]$/g, '');
  const port = separator > 0 ? Number(address.slice(separator + 1)) : 7233;
  if (!Number.isInteger(port) || port <= 0 || port > 65535)
    return Promise.resolve(`"${address}" is not a host:port address`);
  return new Promise((resolve) => {
    const socket = new Socket();
    const settle = (problem: string | undefined) => {
      socket.destroy();
      resolve(problem);
    };
    socket.setTimeout(timeoutMs, () => settle(`no answer within ${timeoutMs} ms`));
    socket.once('connect', () => settle(undefined));
    socket.once('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'ECONNREFUSED') settle('connection refused (nothing is listening there)');
      else if (error.code === 'ENOTFOUND' || error.code === 'EAI_AGAIN') settle(`unknown host "${host}"`);
      else settle(error.code ?? error.message);
    });
    socket.connect(port, host);
  });
}

/** The socket opened, so the failure is above TCP: TLS, credentials, or not a Temporal frontend. */
function describeFailure(error: unknown, timeoutMs: number): string {
  const messages: string[] = [];
  for (let cause: unknown = error; cause instanceof Error && messages.length < 3; cause = cause.cause)
    messages.push(cause.message.split('\n')[0] ?? '');
  const text = messages.join(': ');
  return /deadline/i.test(text)
    ? `no gRPC answer within ${timeoutMs} ms (TLS expected but not configured, or not a Temporal frontend?)`
    : text;
}
