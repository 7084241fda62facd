import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import { ExternalStorageRunner } from '@temporalio/common/lib/internal-non-workflow';
import {
  payloadFromJson,
  payloadToJson,
  startCodecServer,
  type CodecServerOptions,
  type PayloadJson,
} from '../../src/privacy/codec-server';
import { encryptionCodecOf, externalStorageOf, type PayloadPrivacy } from '../../src/privacy/data-converter';
import type { EncryptionKey } from '../../src/privacy/keys';

const keyOf = (id: string): EncryptionKey => ({ id, key: randomBytes(32) });

function privacyOf(keys: EncryptionKey[], blobThreshold = 128 * 1024): PayloadPrivacy {
  return { keys, blobDirectory: mkdtempSync(path.join(os.tmpdir(), 'batch-llm-codec-')), blobThreshold };
}

const b64 = (text: string) => Buffer.from(text).toString('base64');
const jsonOf = (value: unknown) => payloadToJson(defaultPayloadConverter.toPayload(value));
const valueOf = (json: PayloadJson) => defaultPayloadConverter.fromPayload(payloadFromJson(json));

interface Answer {
  status: number;
  headers: Headers;
  body: { payloads?: PayloadJson[]; error?: string } | undefined;
  text: string;
}

/** Runs `body` against a server on a free port, then closes it; the log lines are collected. */
async function withServer(
  options: Omit<CodecServerOptions, 'log'>,
  body: (call: (pathname: string, init?: RequestInit) => Promise<Answer>, lines: string[]) => Promise<void>,
): Promise<void> {
  const lines: string[] = [];
  const server = await startCodecServer({ ...options, port: 0, log: (line) => lines.push(line) });
  try {
    await body(async (pathname, init) => {
      const response = await fetch(`${server.url}${pathname}`, init);
      const text = await response.text();
      const isJson = response.headers.get('content-type') === 'application/json';
      return { status: response.status, headers: response.headers, body: isJson ? JSON.parse(text) : undefined, text };
    }, lines);
  } finally {
    await server.close();
  }
}

function post(payloads: unknown, headers: Record<string, string> = {}): RequestInit {
  return {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'X-Namespace': 'default', ...headers },
    body: typeof payloads === 'string' ? payloads : JSON.stringify({ payloads }),
  };
}

describe('codec server', () => {
  test('encode then decode round-trips JSON values; the log has counts, never contents', async () => {
    const k1 = keyOf('k1');
    const values = [{ prompt: 'héllo secret', n: 7 }, 'plain text', null, [1, 2, 3]];
    await withServer({ privacy: privacyOf([k1]) }, async (call, lines) => {
      const encoded = await call('/encode', post(values.map(jsonOf)));
      assert.equal(encoded.status, 200);
      assert.equal(encoded.headers.get('content-type'), 'application/json');
      const encrypted = encoded.body?.payloads ?? [];
      assert.equal(encrypted.length, values.length);
      for (const payload of encrypted) {
        assert.equal(payload.metadata?.encoding, b64('binary/encrypted'));
        assert.equal(payload.metadata?.['encryption-key-id'], b64('k1'));
      }
      assert.ok(encrypted.every((payload) => !Buffer.from(payload.data ?? '', 'base64').includes('secret')));

      const decoded = await call('/decode', post(encrypted));
      assert.equal(decoded.status, 200);
      const plain = decoded.body?.payloads ?? [];
      assert.equal(plain.length, values.length);
      assert.deepEqual(plain.map(valueOf), values);

      assert.equal(lines.length, 2);
      assert.match(lines[0] ?? '', /POST \/encode namespace=default payloads=4 status=200 \d+ms/);
      assert.match(lines[1] ?? '', /POST \/decode namespace=default payloads=4 status=200 \d+ms/);
      assert.ok(lines.every((line) => !line.includes('secret') && !line.includes(k1.key.toString('base64'))));
    });
  });

  test('decodes with an older key after rotation, under a path prefix', async () => {
    const k1 = keyOf('k1');
    const [encrypted] = await encryptionCodecOf(privacyOf([k1])).encode([defaultPayloadConverter.toPayload('old')]);
    assert.ok(encrypted);
    await withServer({ privacy: privacyOf([keyOf('k2'), k1]) }, async (call) => {
      const decoded = await call('/codec/decode', post([payloadToJson(encrypted)]));
      assert.equal(decoded.status, 200);
      const payloads = decoded.body?.payloads ?? [];
      assert.equal(payloads.length, 1);
      assert.deepEqual(payloads.map(valueOf), ['old']);
    });
  });

  test('a payload whose key is missing or different is a 422 naming the key id, never a key', async () => {
    const k1 = keyOf('k1');
    const k2 = keyOf('k2');
    const [encrypted] = await encryptionCodecOf(privacyOf([k1])).encode([defaultPayloadConverter.toPayload('x')]);
    assert.ok(encrypted);
    await withServer({ privacy: privacyOf([k2]) }, async (call) => {
      const answer = await call('/decode', post([payloadToJson(encrypted)]));
      assert.equal(answer.status, 422);
      assert.match(answer.body?.error ?? '', /"k1"/);
      assert.ok(!answer.text.includes(k2.key.toString('base64')));
    });
    const impostor = { id: 'k1', key: randomBytes(32) };
    await withServer({ privacy: privacyOf([impostor]) }, async (call) => {
      const answer = await call('/decode', post([payloadToJson(encrypted)]));
      assert.equal(answer.status, 422);
      assert.match(answer.body?.error ?? '', /"k1"/);
      assert.ok(!answer.text.includes(impostor.key.toString('base64')));
    });
  });

  test('a token is required when set: 401 without or with a wrong one, 200 with it', async () => {
    await withServer({ privacy: privacyOf([keyOf('k1')]), authToken: 'sesame' }, async (call) => {
      const missing = await call('/decode', post([]));
      assert.equal(missing.status, 401);
      assert.equal(missing.headers.get('www-authenticate'), 'Bearer');
      assert.match(missing.body?.error ?? '', /Bearer/);
      const wrong = await call('/decode', post([], { Authorization: 'Bearer sesame2' }));
      assert.equal(wrong.status, 401);
      const unprefixed = await call('/decode', post([], { Authorization: 'sesame' }));
      assert.equal(unprefixed.status, 401);
      const right = await call('/decode', post([jsonOf(1)], { Authorization: 'Bearer sesame' }));
      assert.equal(right.status, 200);
      const payloads = right.body?.payloads ?? [];
      assert.equal(payloads.length, 1);
      assert.deepEqual(payloads.map(valueOf), [1]);
    });
  });

  test('CORS: a preflight from an allowed origin gets 204 and the headers without a token; others get none', async () => {
    const ui = 'http://localhost:8233';
    const options = { privacy: privacyOf([keyOf('k1')]), authToken: 't', corsOrigins: [ui] };
    await withServer(options, async (call) => {
      const preflight = await call('/api/decode', {
        method: 'OPTIONS',
        headers: {
          Origin: ui,
          'Access-Control-Request-Method': 'POST',
          'Access-Control-Request-Headers': 'content-type,x-namespace',
        },
      });
      assert.equal(preflight.status, 204);
      assert.equal(preflight.headers.get('access-control-allow-origin'), ui);
      assert.equal(preflight.headers.get('access-control-allow-credentials'), 'true');
      assert.equal(preflight.headers.get('vary'), 'Origin');
      assert.equal(preflight.headers.get('access-control-allow-methods'), 'POST, OPTIONS');
      assert.equal(preflight.headers.get('access-control-allow-headers'), 'Content-Type, X-Namespace, Authorization');
      assert.equal(preflight.headers.get('access-control-max-age'), '600');

      const stranger = await call('/decode', {
        method: 'OPTIONS',
        headers: { Origin: 'http://evil.example', 'Access-Control-Request-Method': 'POST' },
      });
      assert.equal(stranger.headers.get('access-control-allow-origin'), null);
      assert.equal(stranger.headers.get('access-control-allow-methods'), null);

      // The answers themselves carry the header too, errors included (so the UI can read them).
      const unauthorized = await call('/decode', post([], { Origin: ui }));
      assert.equal(unauthorized.status, 401);
      assert.equal(unauthorized.headers.get('access-control-allow-origin'), ui);
      const ok = await call('/decode', post([], { Origin: ui, Authorization: 'Bearer t' }));
      assert.equal(ok.status, 200);
      assert.equal(ok.headers.get('access-control-allow-origin'), ui);
    });
    await withServer({ privacy: privacyOf([]), corsOrigins: ['*'] }, async (call) => {
      const any = await call('/decode', post([], { Origin: 'https://ui.example.com' }));
      assert.equal(any.status, 200);
      assert.equal(any.headers.get('access-control-allow-origin'), 'https://ui.example.com');
    });
  });

  test('a namespace allow-list refuses other namespaces with 403', async () => {
    await withServer({ privacy: privacyOf([]), namespaces: ['default'] }, async (call) => {
      assert.equal((await call('/decode', post([]))).status, 200);
      const other = await call('/decode', post([], { 'X-Namespace': 'other' }));
      assert.equal(other.status, 403);
      assert.match(other.body?.error ?? '', /"other"/);
      const none = await call('/decode', { method: 'POST', body: JSON.stringify({ payloads: [] }) });
      assert.equal(none.status, 403);
      assert.match(none.body?.error ?? '', /X-Namespace/);
    });
  });

  test('bad requests: 400 naming the problem, 404, 405, 413', async () => {
    await withServer({ privacy: privacyOf([]), maxBodyBytes: 1024 }, async (call) => {
      const notJson = await call('/decode', post('{"payloads": ['));
      assert.equal(notJson.status, 400);
      assert.match(notJson.body?.error ?? '', /not JSON/);
      const noPayloads = await call('/decode', post('{}'));
      assert.equal(noPayloads.status, 400);
      assert.match(noPayloads.body?.error ?? '', /payloads/);
      const badData = await call('/encode', post([{ metadata: { encoding: b64('json/plain') }, data: '***' }]));
      assert.equal(badData.status, 400);
      assert.match(badData.body?.error ?? '', /payloads\[0\]\.data: must be base64/);
      const badMetadata = await call('/encode', post([{ metadata: { encoding: 7 } }]));
      assert.equal(badMetadata.status, 400);
      assert.match(badMetadata.body?.error ?? '', /payloads\[0\]\.metadata\.encoding/);

      assert.equal((await call('/elsewhere', post([]))).status, 404);
      const get = await call('/decode');
      assert.equal(get.status, 405);
      assert.equal(get.headers.get('allow'), 'POST, OPTIONS');
      const large = await call('/decode', post([jsonOf('x'.repeat(4096))]));
      assert.equal(large.status, 413);
      assert.match(large.body?.error ?? '', /1024 bytes/);
    });
  });

  test('decode resolves a claim-check reference, then decrypts it', async () => {
    const privacy = privacyOf([keyOf('k1')], 1024);
    const value = { record: 'y'.repeat(10_000) };
    const [encoded] = await encryptionCodecOf(privacy).encode([defaultPayloadConverter.toPayload(value)]);
    assert.ok(encoded);
    const stored: Payload[] = await new ExternalStorageRunner(externalStorageOf(privacy)).store([encoded]);
    assert.equal(stored.length, 1);
    const reference = payloadToJson(stored[0] ?? {});
    assert.equal(reference.metadata.encoding, b64('json/protobuf'));
    assert.ok(reference.data.length < 1024);
    await withServer({ privacy }, async (call) => {
      const decoded = await call('/decode', post([reference, jsonOf('inline')]));
      assert.equal(decoded.status, 200);
      const payloads = decoded.body?.payloads ?? [];
      assert.equal(payloads.length, 2);
      assert.deepEqual(payloads.map(valueOf), [value, 'inline']);
    });
  });

  test('payloadFromJson and payloadToJson convert proto3 JSON both ways', () => {
    const payload = payloadFromJson({ metadata: { encoding: b64('json/plain') }, data: b64('"hi"') });
    assert.equal(Buffer.from(payload.data ?? []).toString(), '"hi"');
    assert.deepEqual(payloadToJson(payload), { metadata: { encoding: b64('json/plain') }, data: b64('"hi"') });
    // URL-safe base64 without padding reads the same (as protojson writes it in some SDKs).
    assert.deepEqual([...(payloadFromJson({ data: '-_8' }).data ?? [])], [0xfb, 0xff]);
  });
});
