/**
 * The README and the pages under docs/ match the code: the tables that restate code (error
 * categories, the default stage plan, item statuses) agree with it, the quick start names real
 * scripts, every relative link resolves, and the README stays short.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { CATEGORY_TABLE, ERROR_CATEGORIES } from '../../src/errors/categories';
import { ITEM_STATUSES } from '../../src/schemas';
import { DEFAULT_STAGE_PLAN } from '../../src/stages';

const ROOT = path.join(__dirname, '..', '..');
const read = (file: string) => readFileSync(path.join(ROOT, file), 'utf8');
const README = read('README.md');
const PACKAGE = JSON.parse(read('package.json')) as { scripts: Record<string, string> };
/** README.md and every page under docs/, as paths relative to the repository. */
const PAGES = [
  'README.md',
  ...readdirSync(path.join(ROOT, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .map((name) => `docs/${name}`),
];

/** Markdown text without its fenced code blocks (links and headings inside them are not real). */
function prose(markdown: string): string {
  return markdown.replace(/^```[^\n]*\n[\s\S]*?^```$/gm, '');
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens; repeats get -1, -2… */
function anchorsOf(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  for (const match of prose(markdown).matchAll(/^#{1,6} +(.+?) *#*$/gm)) {
    const base = (match[1] ?? '')
      .toLowerCase()
      .replace(/[^\p{L}\p{N} _-]/gu, '')
      .replace(/ /g, '-');
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    anchors.add(count === 0 ? base : `${base}-${count}`);
  }
  return anchors;
}

/** The table rows of `file` whose first cell is `first`. */
function rowsStarting(file: string, first: string): string[] {
  return read(file)
    .split('\n')
    .filter((line) => line.startsWith(`| ${first} |`));
}

describe('the docs match the code', () => {
  test('docs/errors.md has one row per error category, with the decision the code uses', () => {
    assert.ok(ERROR_CATEGORIES.length > 0);
    for (const category of ERROR_CATEGORIES) {
      const rows = rowsStarting('docs/errors.md', `\`${category}\``);
      assert.equal(rows.length, 1, `docs/errors.md has one row for ${category}`);
      const decision = rows[0]?.trim().split('|').at(-2)?.trim() ?? '';
      assert.ok(
        decision.startsWith(CATEGORY_TABLE[category].decision),
        `${category}: docs/errors.md says "${rows[0]}"`,
      );
    }
  });

  test('the stage plan table in docs/item-lifecycle.md is the default plan, row for row', () => {
    const rows = read('docs/item-lifecycle.md')
      .split('\n')
      .filter((line) => /^\| \d+ \| (full|partial) \|/.test(line));
    assert.ok(DEFAULT_STAGE_PLAN.length > 0);
    assert.equal(rows.length, DEFAULT_STAGE_PLAN.length, rows.join('\n'));
    DEFAULT_STAGE_PLAN.forEach((stage, index) => {
      assert.equal(rows[index], `| ${index + 1} | ${stage.mode} | ${stage.temperature.toFixed(2).replace(/0$/, '')} |`);
    });
  });

  test('docs/item-lifecycle.md has one row per item status', () => {
    assert.ok(ITEM_STATUSES.length > 0);
    for (const status of ITEM_STATUSES)
      assert.equal(rowsStarting('docs/item-lifecycle.md', `\`${status}\``).length, 1, `a row for ${status}`);
  });
});

describe('the README', () => {
  test('the quick-start commands exist, and the test command is the one CI runs', () => {
    for (const script of ['setup', 'start', 'test']) {
      assert.match(README, new RegExp(`npm (run )?${script}\\b`));
      assert.ok(PACKAGE.scripts[script], `package.json has a ${script} script`);
    }
    assert.match(read('.ci/run'), /^npm test$/m);
  });

  test('is short: at most 260 lines', () => {
    const lines = README.split('\n').length;
    assert.ok(lines <= 260, `README.md has ${lines} lines`);
  });

  test('links to every page under docs/, and every page links back', () => {
    const docs = PAGES.filter((page) => page.startsWith('docs/'));
    assert.ok(docs.length > 0, 'docs/ has pages');
    for (const page of docs) {
      assert.ok(README.includes(`](${page})`), `README.md links to ${page}`);
      assert.ok(read(page).includes('](../README.md)'), `${page} links back to the README`);
    }
  });
});

describe('links between the README and docs/', () => {
  test('every relative link points to an existing file, and every #anchor to a heading there', () => {
    assert.ok(PAGES.length > 1, `README.md and docs/*.md (found ${PAGES.join(', ')})`);
    const links = PAGES.flatMap((page) =>
      [...prose(read(page)).matchAll(/\]\(([^)\s]+)\)/g)]
        .map((match) => ({ page, target: match[1] ?? '' }))
        .filter(({ target }) => !/^[a-z][a-z0-9+.-]*:/i.test(target)),
    );
    assert.ok(links.length > 0, 'the pages have relative links');
    const problems: string[] = [];
    for (const { page, target } of links) {
      const [file = '', anchor] = target.split('#');
      const resolved =
        file === '' ? path.join(ROOT, page) : path.join(ROOT, path.dirname(page), decodeURIComponent(file));
      if (!existsSync(resolved)) {
        problems.push(`${page}: ${target} (no such file)`);
        continue;
      }
      if (
        anchor !== undefined &&
        resolved.endsWith('.md') &&
        statSync(resolved).isFile() &&
        !anchorsOf(readFileSync(resolved, 'utf8')).has(anchor)
      ) {
        problems.push(`${page}: ${target} (no heading with that anchor)`);
      }
    }
    assert.deepEqual(problems, []);
  });
});
