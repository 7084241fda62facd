import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { GoogleGenAI } from '@google/genai';
import { encodeDisplayName } from '../../src/caching/spec';
import { GeminiEmulator } from '@durable-batch-llm/gemini-emulator';
import { runCli } from '../helpers/cli';

const GUIDE = 'A long shared guide line for the cache. '.repeat(120);

describe('batch-llm cache list / delete', () => {
  let emulator: GeminiEmulator;
  let ai: GoogleGenAI;
  const names: Record<string, string> = {};
  before(async () => {
    emulator = await GeminiEmulator.start();
    ai = new GoogleGenAI({ apiKey: 'test-key', apiVersion: 'v1beta', httpOptions: { baseUrl: emulator.url } });
    const specs: Array<[string, string]> = [
      ['enrich-v1', encodeDisplayName('f1', { purpose: 'enrich', prompt_version: '1' })],
      ['enrich-v2', encodeDisplayName('f2', { purpose: 'enrich', prompt_version: '2' })],
      ['triage', encodeDisplayName('f3', { purpose: 'triage' })],
      ['foreign', 'made by another tool'],
    ];
    for (const [key, displayName] of specs) {
      const cache = await ai.caches.create({
        model: 'gemini-3.5-flash',
        config: { displayName, systemInstruction: GUIDE, ttl: '600s' },
      });
      names[key] = cache.name ?? '';
    }
  });
  after(async () => {
    await emulator?.stop();
  });

  const env = () => ({ GOOGLE_GEMINI_BASE_URL: emulator.url });

  test('list shows our caches with their tags; --tag filters; --all adds the others', async () => {
    const all = await runCli(['cache', 'list'], env());
    assert.equal(all.code, 0, all.stderr);
    assert.match(all.stdout, /^3 caches$/m);
    assert.match(
      all.stdout,
      new RegExp(
        `${names['enrich-v1']}  gemini-3.5-flash  \\d+ tokens  expires \\S+  prompt_version=1 purpose=enrich  fp=f1`,
      ),
    );
    const enrich = await runCli(['cache', 'list', '--tag', 'purpose=enrich'], env());
    assert.match(enrich.stdout, /^2 caches$/m);
    assert.doesNotMatch(enrich.stdout, new RegExp(names['triage']!));
    const everything = await runCli(['cache', 'list', '--all'], env());
    assert.match(everything.stdout, /^4 caches$/m);
    assert.match(everything.stdout, /not ours: "made by another tool"/);
  });

  test('delete by tags removes exactly the matching caches; delete by name removes one; nothing else is touched', async () => {
    const byTag = await runCli(['cache', 'delete', '--tag', 'purpose=enrich', '--tag', 'prompt_version=1'], env());
    assert.equal(byTag.code, 0, byTag.stderr);
    assert.match(byTag.stdout, /^1 deleted$/m);
    const byName = await runCli(['cache', 'delete', names['triage']!], env());
    assert.equal(byName.code, 0, byName.stderr);
    assert.deepEqual(
      emulator
        .caches()
        .map((cache) => cache.name)
        .sort(),
      [names['enrich-v2'], names['foreign']].sort(),
    );
  });

  test('delete with neither names nor tags is refused', async () => {
    const refused = await runCli(['cache', 'delete'], env());
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /refusing to delete everything/);
    assert.equal(emulator.caches().length, 2);
  });
});
