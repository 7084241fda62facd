/** Keys, the encryption codec and the blob store, without a server. */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import { ExternalStorageRunner } from '@temporalio/common/lib/internal-non-workflow';
import { batchLlmSettings, ConfigError } from '../../src/config';
import { BlobUnavailableError } from '../../src/privacy/blob-store';
import {
  clientDataConverter,
  describePrivacy,
  externalStorageOf,
  type PayloadPrivacy,
} from '../../src/privacy/data-converter';
import { ENCRYPTED_ENCODING, EncryptionCodec, KEY_ID_METADATA } from '../../src/privacy/encryption';
import { newEncryptionKey, parseEncryptionKeys, PayloadDecryptionError } from '../../src/privacy/keys';

const key = (id: string) => ({ id, key: randomBytes(32) });
const toPayload = (value: unknown): Payload => defaultPayloadConverter.toPayload(value);
const fromPayload = (payload: Payload | undefined): unknown =>
  defaultPayloadConverter.fromPayload(payload ?? ({} as Payload));
const text = (bytes: Uint8Array | null | undefined) => Buffer.from(bytes ?? []).toString();

describe('encryption keys from BATCH_LLM_ENCRYPTION_KEYS', () => {
  test('id:base64 entries, in order; the first encrypts', () => {
    const [first, second] = [newEncryptionKey('new'), newEncryptionKey('old')];
    const parsed = parseEncryptionKeys(`${first}, ${second}`);
    assert.ok('keys' in parsed);
    assert.equal(parsed.keys.length, 2);
    assert.deepEqual(
      parsed.keys.map((entry) => entry.id),
      ['new', 'old'],
    );
    assert.equal(parsed.keys[0]?.key.length, 32);
  });

  test('a bad entry is named by position and id, and the key itself is never echoed', () => {
    const short = `short:${randomBytes(16).toString('base64')}`;
    const env = {
      BATCH_LLM_ENCRYPTION_KEYS: `${newEncryptionKey('ok')},${short},noseparator,${newEncryptionKey('ok')}`,
    };
    let message = '';
    try {
      batchLlmSettings(env);
    } catch (error) {
      assert.ok(error instanceof ConfigError);
      message = error.message;
    }
    assert.match(message, /entry 2 \(key id "short"\): the key must be 32 bytes in base64 \(got 16 bytes\)/);
    assert.match(message, /entry 3 must be id:base64key/);
    assert.match(message, /entry 4: key id "ok" appears twice/);
    assert.ok(!message.includes(short.slice(6)), 'the key is not in the message');
    assert.match(message, /BATCH_LLM_ENCRYPTION_KEYS="\*\*\*"/);
  });

  test('BATCH_LLM_BLOB_THRESHOLD takes bytes or a unit', () => {
    assert.equal(batchLlmSettings({ BATCH_LLM_BLOB_THRESHOLD: '128KiB' }).BATCH_LLM_BLOB_THRESHOLD, 131072);
    assert.equal(batchLlmSettings({ BATCH_LLM_BLOB_THRESHOLD: '2000' }).BATCH_LLM_BLOB_THRESHOLD, 2000);
    assert.throws(() => batchLlmSettings({ BATCH_LLM_BLOB_THRESHOLD: 'big' }), /BATCH_LLM_BLOB_THRESHOLD/);
  });
});

describe('the encryption codec', () => {
  const value = { note: 'PRIVATE 123', nested: [1, 2, 3] };

  test('encrypts with the first key, naming it in the metadata, and decrypts back', async () => {
    const codec = new EncryptionCodec([key('k2'), key('k1')]);
    const [encrypted] = await codec.encode([toPayload(value)]);
    assert.equal(text(encrypted?.metadata?.encoding), ENCRYPTED_ENCODING);
    assert.equal(text(encrypted?.metadata?.[KEY_ID_METADATA]), 'k2');
    assert.ok(!text(encrypted?.data).includes('PRIVATE'));
    assert.deepEqual(fromPayload((await codec.decode([encrypted as Payload]))[0]), value);
  });

  test('without keys payloads pass as they are; an encrypted one is an error naming its key', async () => {
    const k1 = key('k1');
    const [encrypted] = await new EncryptionCodec([k1]).encode([toPayload(value)]);
    const plain = new EncryptionCodec([]);
    const [passed] = await plain.encode([toPayload(value)]);
    assert.deepEqual(fromPayload(passed), value);
    await assert.rejects(plain.decode([encrypted as Payload]), (error: unknown) => {
      assert.ok(error instanceof PayloadDecryptionError);
      assert.equal(error.keyId, 'k1');
      assert.match(error.message, /encrypted with key "k1".*BATCH_LLM_ENCRYPTION_KEYS is not set/);
      return true;
    });
  });

  test('rotation: payloads of the old key decrypt while the new one encrypts', async () => {
    const k1 = key('k1');
    const k2 = key('k2');
    const [old] = await new EncryptionCodec([k1]).encode([toPayload('old')]);
    const rotated = new EncryptionCodec([k2, k1]);
    const [fresh] = await rotated.encode([toPayload('new')]);
    assert.equal(text(fresh?.metadata?.[KEY_ID_METADATA]), 'k2');
    const decoded = await rotated.decode([old as Payload, fresh as Payload]);
    assert.equal(decoded.length, 2);
    assert.deepEqual(decoded.map(fromPayload), ['old', 'new']);
    await assert.rejects(new EncryptionCodec([k2]).decode([old as Payload]), /key "k1".*holds "k2"/);
  });

  test('a key of the same id with other bytes, or altered bytes, or a swapped key id, fails naming the key', async () => {
    const k1 = key('k1');
    const [encrypted] = await new EncryptionCodec([k1]).encode([toPayload(value)]);
    assert.ok(encrypted?.data);
    await assert.rejects(new EncryptionCodec([key('k1')]).decode([encrypted]), /key "k1" does not decrypt/);
    const altered = { ...encrypted, data: Buffer.from(encrypted.data).fill(7, 20, 21) };
    await assert.rejects(new EncryptionCodec([k1]).decode([altered]), /key "k1" does not decrypt/);
    const k2SameBytes = { id: 'k2', key: k1.key };
    const swapped = {
      ...encrypted,
      metadata: { ...encrypted.metadata, [KEY_ID_METADATA]: Buffer.from('k2') },
    };
    await assert.rejects(new EncryptionCodec([k2SameBytes]).decode([swapped]), /key "k2" does not decrypt/);
  });

  test('the client converter encodes failures only when it encrypts; describePrivacy names ids, never keys', () => {
    const directory = os.tmpdir();
    const k1 = key('k1');
    const on: PayloadPrivacy = { keys: [k1], blobDirectory: directory, blobThreshold: 1024 };
    const off: PayloadPrivacy = { keys: [], blobDirectory: directory, blobThreshold: 1024 };
    const failureOf = (privacy: PayloadPrivacy) =>
      clientDataConverter(privacy).failureConverter.errorToFailure(
        new Error('quoting the model'),
        defaultPayloadConverter,
      );
    assert.equal(failureOf(on).message, 'Encoded failure');
    assert.equal(failureOf(off).message, 'quoting the model');
    assert.match(describePrivacy(on), /encrypted with key "k1"/);
    assert.ok(!describePrivacy(on).includes(k1.key.toString('base64')));
    assert.match(describePrivacy(off), /not encrypted/);
  });
});

describe('the blob store (claim check)', () => {
  const directory = mkdtempSync(path.join(os.tmpdir(), 'blobs-unit-'));
  after(() => rmSync(directory, { recursive: true, force: true }));
  const privacy: PayloadPrivacy = { keys: [], blobDirectory: directory, blobThreshold: 1000 };

  test('payloads at or over the threshold become references and come back; small ones stay inline; same bytes, one file', async () => {
    const runner = new ExternalStorageRunner(externalStorageOf(privacy));
    const big = toPayload('x'.repeat(5000));
    const small = toPayload('small');
    const stored = await runner.store([big, small, big]);
    assert.equal(stored.length, 3);
    assert.notDeepEqual(stored[0], big);
    assert.deepEqual(stored[1], small);
    const files = readdirSync(directory, { recursive: true, withFileTypes: true }).filter((entry) => entry.isFile());
    assert.equal(files.length, 1, 'the same bytes are one file');
    const back = await runner.retrieve(stored);
    assert.equal(back.length, 3);
    assert.deepEqual(back.map(fromPayload), ['x'.repeat(5000), 'small', 'x'.repeat(5000)]);
  });

  test('a missing or altered blob is an error naming it and the directory', async () => {
    const runner = new ExternalStorageRunner(externalStorageOf(privacy));
    const [reference] = await runner.store([toPayload('y'.repeat(5000))]);
    const files = readdirSync(directory, { recursive: true, withFileTypes: true }).filter(
      (entry) => entry.isFile() && !entry.name.endsWith('.part'),
    );
    assert.ok(files.length >= 1);
    for (const file of files) writeFileSync(path.join(file.parentPath, file.name), 'tampered');
    await assert.rejects(runner.retrieve([reference as Payload]), (error: unknown) => {
      assert.ok(error instanceof BlobUnavailableError, String(error));
      assert.match(error.message, /not the bytes that were stored/);
      return true;
    });
    const elsewhere = new ExternalStorageRunner(
      externalStorageOf({ ...privacy, blobDirectory: path.join(directory, 'empty') }),
    );
    await assert.rejects(
      elsewhere.retrieve([reference as Payload]),
      /is not in the blob directory .*BATCH_LLM_BLOB_DIR/,
    );
  });
});
