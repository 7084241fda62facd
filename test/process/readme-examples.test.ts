/**
 * Every TypeScript example in the README and in docs/*.md compiles against the package, as a user's
 * project would (the package name resolves to this repository through its own `exports`).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, test } from 'node:test';
import { REPO_ROOT } from '../helpers/cli';

const run = promisify(execFile);

/** README.md and the pages under docs/, as paths relative to the repository. */
const PAGES = [
  'README.md',
  ...readdirSync(path.join(REPO_ROOT, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .map((name) => `docs/${name}`),
];

interface Example {
  page: string;
  /** 1-based line of the opening fence, for messages. */
  line: number;
  code: string;
}

function examplesIn(page: string): Example[] {
  const text = readFileSync(path.join(REPO_ROOT, page), 'utf8');
  return [...text.matchAll(/^```(?:ts|typescript)\n([\s\S]*?)^```$/gm)].map((match) => ({
    page,
    line: text.slice(0, match.index).split('\n').length,
    code: match[1] ?? '',
  }));
}

describe('the README and docs examples', () => {
  const examples = PAGES.flatMap(examplesIn);

  test('every TypeScript example imports the package (so it is a whole module a user could write)', () => {
    assert.ok(examples.length > 0, 'README.md and docs/*.md have TypeScript examples');
    assert.ok(examplesIn('README.md').length > 0, 'README.md has a TypeScript example');
    const loose = examples.filter(({ code }) => !/from 'durable-batch-llm(\/task)?'/.test(code));
    assert.deepEqual(
      loose.map(({ page, line }) => `${page}:${line}`),
      [],
      'examples that do not import durable-batch-llm or durable-batch-llm/task',
    );
  });

  test('every TypeScript example type-checks against the package', async () => {
    assert.ok(examples.length > 0, 'README.md and docs/*.md have TypeScript examples');
    // Inside the repository, so `durable-batch-llm` resolves to it (package self-reference).
    const directory = path.join(REPO_ROOT, '.batch-llm', 'readme-examples');
    rmSync(directory, { recursive: true, force: true });
    mkdirSync(directory, { recursive: true });
    const files = examples.map(({ page, line, code }) => {
      const file = path.join(directory, `${page.replace(/[/.]/g, '-')}-line-${line}.ts`);
      writeFileSync(file, `${code}\nexport {};\n`);
      return file;
    });
    writeFileSync(
      path.join(directory, 'tsconfig.json'),
      JSON.stringify({
        extends: path.join(REPO_ROOT, 'tsconfig.json'),
        compilerOptions: { noUnusedLocals: false },
        include: files,
      }),
    );
    const typecheck = await run(
      process.execPath,
      [
        path.join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc'),
        '--noEmit',
        '-p',
        path.join(directory, 'tsconfig.json'),
      ],
      { cwd: REPO_ROOT },
    ).then(
      () => '',
      (error: { stdout?: string }) => error.stdout ?? String(error),
    );
    assert.equal(typecheck, '', `the examples compile (files named <page>-line-<fence line>):\n${typecheck}`);
  });
});
