/**
 * The codec server: lets the Temporal Web UI (and `temporal workflow show --codec-endpoint URL
 * --codec-auth 'Bearer T'`) show this project's payloads in plain text. With encryption on, the
 * histories hold only ciphertext and claim-check references; the UI, running in the viewer's
 * browser, posts a history's payloads here and shows what comes back. The server decrypts (and
 * fetches referenced payloads from the blob directory) in memory, answers, and stores nothing:
 * whoever can reach it with the token reads the payloads, so it listens on 127.0.0.1 by default.
 *
 * Protocol (Temporal's remote codec): `POST …/decode` and `POST …/encode` (under any path prefix),
 * body and answer `{"payloads":[{"metadata":{"encoding":"<base64>"},"data":"<base64>"}]}` (proto3
 * JSON: bytes in base64). The UI sends `X-Namespace`; browsers preflight with `OPTIONS`.
 *
 * Decode resolves claim-check references first, then decrypts (the SDK stores after encoding);
 * encode only encrypts (it never stores: a reference is the worker's business).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Payload, ValueError } from '@temporalio/common';
import { ExternalStorageRunner } from '@temporalio/common/lib/internal-non-workflow';
import { z } from 'zod';
import { BlobUnavailableError } from './blob-store';
import { encryptionCodecOf, externalStorageOf, type PayloadPrivacy } from './data-converter';
import { PayloadDecryptionError } from './keys';

export const DEFAULT_CODEC_MAX_BODY_BYTES = 64 * 1024 * 1024;
const DEFAULT_HOST = '127.0.0.1';

export interface CodecServerOptions {
  privacy: PayloadPrivacy;
  /** 0 (the default): any free port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** Browser origins allowed to call (the Web UI's, e.g. http://localhost:8233); '*' allows any. */
  corsOrigins?: string[];
  /** When set, every request but a preflight must carry `Authorization: Bearer <token>`. */
  authToken?: string;
  /** When set, only these namespaces (the `X-Namespace` header) are served. */
  namespaces?: string[];
  /** Largest request body accepted (default 64 MiB). */
  maxBodyBytes?: number;
  /** One line per request (method, path, namespace, payload count, status, duration); no payload contents. */
  log?: (line: string) => void;
}

export interface CodecServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

/** Proto3-JSON bytes: standard or URL-safe base64, padding optional (as protojson reads them). */
const base64 = z.string().regex(/^[A-Za-z0-9+/_-]*={0,2}$/, 'must be base64');

const payloadJsonSchema = z.object({
  metadata: z.record(z.string(), base64).nullish(),
  data: base64.nullish(),
});

const bodySchema = z.object({ payloads: z.array(payloadJsonSchema) });

/** A payload as proto3 JSON carries it: metadata values and data in base64. */
export type PayloadJson = z.infer<typeof payloadJsonSchema>;

/** Proto3 JSON → the SDK's payload. */
export function payloadFromJson(json: PayloadJson): Payload {
  const metadata: Record<string, Uint8Array> = {};
  for (const [key, value] of Object.entries(json.metadata ?? {})) metadata[key] = Buffer.from(value, 'base64');
  return { metadata, data: Buffer.from(json.data ?? '', 'base64') };
}

/** The SDK's payload → proto3 JSON (standard base64, padded). */
export function payloadToJson(payload: Payload): { metadata: Record<string, string>; data: string } {
  const metadata: Record<string, string> = {};
  for (const [key, value] of Object.entries(payload.metadata ?? {})) metadata[key] = base64Of(value);
  return { metadata, data: base64Of(payload.data ?? new Uint8Array()) };
}

function base64Of(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

/** An answer other than 200: its status, the message for `{"error": …}`, extra headers. */
class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

/** `/decode`, `/codec/decode`, `/x/y/encode/`: the operation, or undefined for another path. */
function operationOf(pathname: string): 'encode' | 'decode' | undefined {
  const match = /(?:^|\/)(encode|decode)\/?$/.exec(pathname);
  return match?.[1] as 'encode' | 'decode' | undefined;
}

/** The request target's path (no query); the raw target if it does not parse. */
function pathnameOf(target: string): string {
  try {
    return new URL(target, 'http://codec-server').pathname;
  } catch {
    return target;
  }
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

/** Bearer token check in constant time (both sides hashed: equal lengths whatever was sent). */
function authorized(header: string | undefined, expected: Buffer): boolean {
  const match = /^Bearer[ \t]+(.*?)[ \t]*$/i.exec(header ?? '');
  const matches = timingSafeEqual(digest(match?.[1] ?? ''), expected);
  return match !== null && matches;
}

/** Reads the body, refusing more than `limit` bytes (the rest is drained, then the connection closes). */
function readBody(request: http.IncomingMessage, limit: number): Promise<Buffer> {
  const tooLarge = () =>
    new HttpError(413, `the request body is larger than ${limit} bytes (the codec server's maxBodyBytes)`, {
      Connection: 'close',
    });
  return new Promise((resolve, reject) => {
    const declared = Number(request.headers['content-length']);
    if (Number.isFinite(declared) && declared > limit) {
      request.resume();
      reject(tooLarge());
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let refused = false;
    request.on('data', (chunk: Buffer) => {
      if (refused) return;
      size += chunk.length;
      if (size > limit) {
        refused = true;
        chunks.length = 0;
        reject(tooLarge());
      } else chunks.push(chunk);
    });
    request.on('end', () => resolve(Buffer.concat(chunks)));
    request.on('error', reject);
    request.on('close', () => reject(new HttpError(400, 'the request was aborted')));
  });
}

function parseBody(bytes: Buffer): Payload[] {
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch (error) {
    throw new HttpError(400, `the body is not JSON (${(error as Error).message})`);
  }
  const parsed = bodySchema.safeParse(json);
  if (!parsed.success) {
    const problems = parsed.error.issues.slice(0, 5).map((issue) => {
      const where = issue.path.reduce<string>(
        (text, key) => (typeof key === 'number' ? `${text}[${key}]` : `${text}${text ? '.' : ''}${String(key)}`),
        '',
      );
      return `${where || 'body'}: ${issue.message}`;
    });
    throw new HttpError(
      400,
      `the body must be {"payloads":[{"metadata":{…base64},"data":"<base64>"}]}: ${problems.join('; ')}`,
    );
  }
  return parsed.data.payloads.map(payloadFromJson);
}

/** Log-safe: printable, short. */
function clean(text: string): string {
  const printable = text.replace(/[^\x20-\x7e]/g, '?');
  return printable.length > 200 ? `${printable.slice(0, 200)}…` : printable;
}

/** Starts the codec server; resolves once it listens. */
export async function startCodecServer(options: CodecServerOptions): Promise<CodecServer> {
  const host = options.host ?? DEFAULT_HOST;
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_CODEC_MAX_BODY_BYTES;
  if (!Number.isSafeInteger(maxBodyBytes) || maxBodyBytes <= 0)
    throw new Error(`maxBodyBytes must be a positive integer (got ${maxBodyBytes})`);
  if (options.authToken === '') throw new Error('authToken must not be empty (leave it unset for no token)');
  const expectedToken = options.authToken === undefined ? undefined : digest(options.authToken);
  const origins = (options.corsOrigins ?? []).map((origin) => origin.replace(/\/+$/, ''));
  const namespaces = options.namespaces;
  const sink = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const log = (line: string) => {
    try {
      sink(line);
    } catch {
      // A failing log line must not fail (or answer twice) the request it describes.
    }
  };
  const codec = encryptionCodecOf(options.privacy);
  const storage = new ExternalStorageRunner(externalStorageOf(options.privacy));

  /** CORS headers for this request's Origin: none unless it is allowed. */
  function corsHeaders(request: http.IncomingMessage): Record<string, string> {
    if (origins.length === 0) return {};
    const origin = request.headers.origin;
    if (!origin || !(origins.includes('*') || origins.includes(origin))) return { Vary: 'Origin' };
    return { 'Access-Control-Allow-Origin': origin, 'Access-Control-Allow-Credentials': 'true', Vary: 'Origin' };
  }

  async function answer(
    request: http.IncomingMessage,
    pathname: string,
    namespace: string | undefined,
    seen: { count?: number },
  ): Promise<{ status: number; body?: unknown; headers?: Record<string, string> }> {
    const operation = operationOf(pathname);
    if (!operation) throw new HttpError(404, `no such path: POST to …/decode or …/encode`);
    if (request.method === 'OPTIONS') {
      const headers: Record<string, string> = {};
      if (corsHeaders(request)['Access-Control-Allow-Origin']) {
        headers['Access-Control-Allow-Methods'] = 'POST, OPTIONS';
        headers['Access-Control-Allow-Headers'] = 'Content-Type, X-Namespace, Authorization';
        headers['Access-Control-Max-Age'] = '600';
        // Chrome's private network access: a page on a public origin calling a local codec server.
        if (request.headers['access-control-request-private-network'] === 'true')
          headers['Access-Control-Allow-Private-Network'] = 'true';
      }
      return { status: 204, headers };
    }
    if (request.method !== 'POST')
      throw new HttpError(405, `${clean(request.method ?? '')} is not allowed: POST`, { Allow: 'POST, OPTIONS' });
    if (expectedToken && !authorized(request.headers.authorization, expectedToken))
      throw new HttpError(401, 'a valid "Authorization: Bearer <token>" header is required', {
        'WWW-Authenticate': 'Bearer',
      });
    if (namespaces && (namespace === undefined || !namespaces.includes(namespace)))
      throw new HttpError(
        403,
        namespace === undefined
          ? 'the X-Namespace header is required'
          : `namespace ${JSON.stringify(namespace)} is not served by this codec server`,
      );
    const payloads = parseBody(await readBody(request, maxBodyBytes));
    seen.count = payloads.length;
    let result: Payload[];
    try {
      result =
        operation === 'decode' ? await codec.decode(await storage.retrieve(payloads)) : await codec.encode(payloads);
    } catch (error) {
      // Payloads this server cannot read: a key it lacks, a blob it cannot find, a bad reference.
      if (
        error instanceof PayloadDecryptionError ||
        error instanceof BlobUnavailableError ||
        error instanceof ValueError
      )
        throw new HttpError(422, error.message);
      throw error;
    }
    return { status: 200, body: { payloads: result.map(payloadToJson) } };
  }

  const server = http.createServer(async (request, response) => {
    const started = performance.now();
    const pathname = pathnameOf(request.url ?? '/');
    const namespaceHeader = request.headers['x-namespace'];
    const namespace = Array.isArray(namespaceHeader) ? namespaceHeader[0] : namespaceHeader;
    const seen: { count?: number } = {};
    const send = (status: number, body: unknown, headers: Record<string, string>) => {
      const cors = corsHeaders(request);
      if (body === undefined) response.writeHead(status, { ...cors, ...headers }).end();
      else
        response
          .writeHead(status, { ...cors, ...headers, 'Content-Type': 'application/json' })
          .end(JSON.stringify(body));
      const ms = Math.round(performance.now() - started);
      log(
        `codec-server ${clean(request.method ?? '?')} ${clean(pathname)} namespace=${namespace === undefined ? '-' : clean(namespace)} payloads=${seen.count ?? '-'} status=${status} ${ms}ms`,
      );
    };
    try {
      const { status, body, headers } = await answer(request, pathname, namespace, seen);
      send(status, body, headers ?? {});
    } catch (error) {
      if (error instanceof HttpError) {
        send(error.status, { error: error.message }, error.headers);
        return;
      }
      log(`codec-server internal error: ${error instanceof Error ? `${error.name}: ${error.message}` : 'unknown'}`);
      send(500, { error: 'internal error in the codec server (see its log)' }, {});
    }
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  let closing: Promise<void> | undefined;
  return {
    url,
    port,
    close() {
      closing ??= new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      });
      return closing;
    },
  };
}
