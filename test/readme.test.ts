import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { CATEGORY_TABLE, ERROR_CATEGORIES } from '../src/errors/categories';
import { DEFAULT_STAGE_PLAN } from '../src/stages';

const README = readFileSync(path.join(__dirname, '..', 'README.md'), 'utf8');
const PACKAGE = JSON.parse(readFileSync(path.join(__dirname, '..', 'package.json'), 'utf8')) as { scripts: Record<string, string> };

describe('the README matches the code', () => {
  test('the categories table has one row per category, with the decision the code uses', () => {
    for (const category of ERROR_CATEGORIES) {
      const row = README.split('\n').find((line) => line.startsWith(`| \`${category}\` |`));
      assert.ok(row, `README has a row for ${category}`);
      assert.ok(row.trim().split('|').at(-2)?.trim().startsWith(CATEGORY_TABLE[category].decision), `${category}: README says "${row}"`);
    }
  });

  test('the stage plan table is the default plan', () => {
    DEFAULT_STAGE_PLAN.forEach((stage, index) => {
      assert.match(README, new RegExp(`\\| ${index + 1} \\| ${stage.mode} \\| ${stage.temperature.toFixed(2).replace(/0$/, '')} \\|`));
    });
  });

  test('the quick-start commands exist, and the test command is the one CI runs', () => {
    for (const script of ['setup', 'start', 'test']) {
      assert.match(README, new RegExp(`npm (run )?${script}`));
      assert.ok(PACKAGE.scripts[script], `package.json has a ${script} script`);
    }
    assert.match(readFileSync(path.join(__dirname, '..', '.ci', 'run'), 'utf8'), /^npm test$/m);
  });
});
