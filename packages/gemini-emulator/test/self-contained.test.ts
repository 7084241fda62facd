/**
 * The emulator is a package of its own: its source imports Node, its declared dependencies and its
 * own files — nothing of durable-batch-llm — so it can be tested, read and moved on its own.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import path from 'node:path';
import { describe, test } from 'node:test';

const PACKAGE_ROOT = path.join(__dirname, '..');
const manifest = JSON.parse(readFileSync(path.join(PACKAGE_ROOT, 'package.json'), 'utf8')) as {
  dependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
};
/** What the source may import: its own dependencies and the host's it shares (zod, a peer: durable-batch-llm's copy). */
const runtime = [...Object.keys(manifest.dependencies ?? {}), ...Object.keys(manifest.peerDependencies ?? {})];

/** The module specifiers of every static import, dynamic import and require in the .ts files under `directory`. */
function importsUnder(directory: string): Array<{ file: string; specifier: string }> {
  const found: Array<{ file: string; specifier: string }> = [];
  for (const entry of readdirSync(directory, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile() || !entry.name.endsWith('.ts')) continue;
    const file = path.join(entry.parentPath, entry.name);
    const source = readFileSync(file, 'utf8');
    for (const match of source.matchAll(/(?:\bfrom\s+|\bimport\s*\(\s*|\brequire\s*\(\s*)'([^'\s]+)'/g))
      found.push({ file, specifier: match[1]! });
  }
  return found;
}

function packageOf(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
}

describe('the emulator package is self-contained', () => {
  for (const [directory, allowed] of [
    ['src', runtime],
    ['test', [...runtime, ...Object.keys(manifest.devDependencies ?? {})]],
  ] as const) {
    test(`${directory}/ imports Node, its declared dependencies and files inside the package only`, () => {
      const imports = importsUnder(path.join(PACKAGE_ROOT, directory));
      assert.ok(imports.length >= 10, `found ${imports.length} imports under ${directory}/`);
      const strays = imports.filter(({ file, specifier }) => {
        if (specifier.startsWith('.'))
          return path.relative(PACKAGE_ROOT, path.resolve(path.dirname(file), specifier)).startsWith('..');
        if (specifier.startsWith('node:') || builtinModules.includes(specifier)) return false;
        return !allowed.includes(packageOf(specifier));
      });
      assert.deepEqual(strays, []);
    });
  }
});
