/**
 * The README's code examples that import the package compile against it, as a user's project would
 * (the package name resolves to this repository through its own `exports`).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, test } from 'node:test';
import { REPO_ROOT } from './helpers/cli';

const run = promisify(execFile);

describe('the README examples', () => {
  test('every TypeScript example that imports durable-batch-llm type-checks against the package', async () => {
    const readme = readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8');
    const examples = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((match) => match[1] ?? '').filter((code) => /from 'durable-batch-llm(\/task)?'/.test(code));
    assert.ok(examples.length >= 3, `the README has examples that import the package (found ${examples.length})`);
    // Inside the repository, so `durable-batch-llm` resolves to it (package self-reference).
    const directory = path.join(REPO_ROOT, '.batch-llm', 'readme-examples');
    rmSync(directory, { recursive: true, force: true });
    mkdirSync(directory, { recursive: true });
    const files = examples.map((code, index) => {
      const file = path.join(directory, `example-${index + 1}.ts`);
      writeFileSync(file, `${code}\nexport {};\n`);
      return file;
    });
    writeFileSync(
      path.join(directory, 'tsconfig.json'),
      JSON.stringify({ extends: path.join(REPO_ROOT, 'tsconfig.json'), compilerOptions: { noUnusedLocals: false }, include: files }),
    );
    const typecheck = await run(process.execPath, [path.join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '--noEmit', '-p', path.join(directory, 'tsconfig.json')], { cwd: REPO_ROOT }).then(
      () => '',
      (error: { stdout?: string }) => error.stdout ?? String(error),
    );
    assert.equal(typecheck, '', `the README examples compile:\n${typecheck}`);
  });
});
