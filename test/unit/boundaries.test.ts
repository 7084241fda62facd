/**
 * The workflow boundary is enforced by tooling, not by comments: ESLint refuses Node modules, I/O
 * libraries and activity code in workflows/ (types excepted), and workflow code in the CLI.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ESLint } from 'eslint';
import tseslint from 'typescript-eslint';
import { REPO_ROOT } from '../helpers/cli';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { workflowBundle } from '../../src/worker';

/** Lints `code` as if it lived at `file` (without type information: the probe file does not exist). */
async function violations(file: string, code: string): Promise<string[]> {
  const eslint = new ESLint({
    cwd: REPO_ROOT,
    overrideConfig: [{ ...tseslint.configs.disableTypeChecked, files: ['**/*.ts'] }],
  });
  const [result] = await eslint.lintText(code, { filePath: path.join(REPO_ROOT, file) });
  return (result?.messages ?? []).map((message) => `${message.line}:${message.ruleId ?? 'parse'}`);
}

/** The globs of eslint.config.mjs (`**` for any folders, `*` within a name) as a regular expression. */
function globRegExp(glob: string): RegExp {
  const source = glob
    .split(/(\*\*\/|\*)/)
    .map((part) => (part === '**/' ? '(?:.*/)?' : part === '*' ? '[^/]*' : part.replace(/[.+?^${}()|[\]\\]/g, '\\$&')))
    .join('');
  return new RegExp(`^${source}$`);
}

describe('boundaries', () => {
  test('a workflow may import activity types, but not Node, zod, the client or activity code', async () => {
    const found = await violations(
      'workflows/probe.ts',
      [
        "import { readFileSync } from 'node:fs';",
        "import { z } from 'zod';",
        "import type { BatchActivities } from '../activities';",
        "import { createActivities } from '../activities';",
        "import { Client } from '@temporalio/client';",
        'export const used = [readFileSync, z, createActivities, Client, process.env];',
        'export type Activities = BatchActivities;',
      ].join('\n'),
    );
    assert.deepEqual(found, [
      '1:no-restricted-imports',
      '2:no-restricted-imports',
      '4:no-restricted-imports',
      '5:no-restricted-imports',
      '6:no-restricted-globals',
    ]);
  });

  test('a shared module the workflows import is held to the same rules', async () => {
    assert.deepEqual(
      await violations(
        'src/usage.ts',
        "import { writeFileSync } from 'node:fs';\nexport const write = writeFileSync;\n",
      ),
      ['1:no-restricted-imports'],
    );
  });

  test('workflow module scope holds constants only: the worker shares it between workflows', async () => {
    const found = await violations(
      'workflows/probe.ts',
      [
        'let calls = 0;',
        'export let last = 0;',
        'const seen = new Set<string>();',
        'export const byId = new Map<string, number>();',
        'const pending: string[] = [];',
        'const limits = { calls: 1 };',
        // Allowed: frozen or exported (the SDK deep-freezes exports) literals, and state inside functions.
        "const STATUSES = Object.freeze(['a', 'b']);",
        'export const PLAN = [{ stage: 1 }];',
        'export function count(): number {',
        '  calls += 1;',
        '  last = calls;',
        '  let local = calls + last + seen.size + byId.size + pending.length + limits.calls + STATUSES.length;',
        '  const mine = new Map<string, number>();',
        '  local += mine.size + PLAN.length;',
        '  return local;',
        '}',
      ].join('\n'),
    );
    assert.deepEqual(found, [
      '1:no-restricted-syntax',
      '2:no-restricted-syntax',
      '3:no-restricted-syntax',
      '4:no-restricted-syntax',
      '5:no-restricted-syntax',
      '6:no-restricted-syntax',
    ]);
  });

  test('every module of ours in the workflow bundle is held to the workflow rules, and is preloaded', async () => {
    const { WORKFLOW_SAFE } = (await import(pathToFileURL(path.join(REPO_ROOT, 'eslint.config.mjs')).href)) as {
      WORKFLOW_SAFE: string[];
    };
    const { code } = await workflowBundle();
    const ours = [...code.matchAll(/^\/\*\*\*\/ "\.\/([^"]+)"/gm)]
      .map((match) => match[1] ?? '')
      .filter((file) => !file.startsWith('node_modules/') && !file.startsWith('packages/'));
    assert.ok(ours.length >= 20, `expected the bundle's own modules, found ${ours.length}`);
    const unchecked = ours.filter((file) => !WORKFLOW_SAFE.some((pattern) => globRegExp(pattern).test(file)));
    assert.deepEqual(unchecked, [], 'add these to WORKFLOW_SAFE in eslint.config.mjs');
    // The bundle's preload hook requires the workflows' entry point: one evaluation per workflow thread.
    const preload = /exports\.preloadModules = function preloadModules\(\) \{([^}]*)\}/.exec(code)?.[1] ?? '';
    assert.match(preload, /workflows\/index\.ts/);
  });

  test("workflow code may share the emulator's import-free header constant, not the emulator", async () => {
    assert.deepEqual(
      await violations(
        'src/constants.ts',
        "export { ITEM_KEY_HEADER } from '@durable-batch-llm/gemini-emulator/item-header';\n",
      ),
      [],
    );
    assert.deepEqual(
      await violations('src/constants.ts', "export { GeminiEmulator } from '@durable-batch-llm/gemini-emulator';\n"),
      ['1:no-restricted-imports'],
    );
    assert.deepEqual(
      await violations(
        'src/constants.ts',
        "export { FAULT_KINDS } from '@durable-batch-llm/gemini-emulator/faults';\n",
      ),
      ['1:no-restricted-imports'],
    );
    assert.deepEqual(
      await violations(
        'workflows/probe.ts',
        "export { ITEM_KEY_HEADER } from '../packages/gemini-emulator/src/item-header';\n",
      ),
      ['1:no-restricted-imports'],
    );
  });

  test('only the Gemini provider imports @google/genai: activities, the CLI and the client use the provider seam', async () => {
    const code = "import { GoogleGenAI } from '@google/genai';\nexport const sdk = GoogleGenAI;\n";
    assert.deepEqual(await violations('activities/probe.ts', code), ['1:no-restricted-imports']);
    assert.deepEqual(await violations('src/cli/probe.ts', code), ['1:no-restricted-imports']);
    assert.deepEqual(await violations('src/client/probe.ts', code), ['1:no-restricted-imports']);
    assert.deepEqual(await violations('src/probe.ts', code), ['1:no-restricted-imports']);
    assert.deepEqual(await violations('src/providers/gemini/probe.ts', code), []);
    // Types may be named (the worker accepts a ready-made client).
    assert.deepEqual(
      await violations(
        'src/probe.ts',
        "import type { GoogleGenAI } from '@google/genai';\nexport type Sdk = GoogleGenAI;\n",
      ),
      [],
    );
  });

  test('only the OpenAI-compatible provider imports openai, and neither provider imports the other’s SDK', async () => {
    const code = "import OpenAI from 'openai';\nexport const sdk = OpenAI;\n";
    assert.deepEqual(await violations('activities/probe.ts', code), ['1:no-restricted-imports']);
    assert.deepEqual(await violations('src/cli/probe.ts', code), ['1:no-restricted-imports']);
    assert.deepEqual(await violations('src/probe.ts', code), ['1:no-restricted-imports']);
    assert.deepEqual(await violations('workflows/probe.ts', code).then((found) => found.length > 0), true);
    assert.deepEqual(await violations('src/providers/gemini/probe.ts', code), ['1:no-restricted-imports']);
    assert.deepEqual(await violations('src/providers/openai/probe.ts', code), []);
    assert.deepEqual(
      await violations(
        'src/providers/openai/probe.ts',
        "import { GoogleGenAI } from '@google/genai';\nexport const sdk = GoogleGenAI;\n",
      ),
      ['1:no-restricted-imports'],
    );
  });

  test('the CLI and the client reach workflows through the contract only', async () => {
    assert.deepEqual(
      await violations(
        'src/cli/probe.ts',
        "import { pauseBatchUpdate } from '../../workflows/batch';\nexport const update = pauseBatchUpdate;\n",
      ),
      ['1:no-restricted-imports'],
    );
    assert.deepEqual(
      await violations(
        'src/cli/probe.ts',
        "import { pauseBatchUpdate } from '../contract';\nexport const update = pauseBatchUpdate;\n",
      ),
      [],
    );
  });
});
