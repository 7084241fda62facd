#!/usr/bin/env node
// Runs the TypeScript CLI through tsx, so `npm link` / `npx batch-llm` work without a build step.
// Only tsx's CommonJS hook: its ESM hooks start a loader thread (~0.1 s on every command); task
// modules that need ESM loading get it from src/tasks/registry.ts. Transpiled files are cached
// by tsx, so start-up is module loading, kept small by src/cli/main.ts (npm run bench:cli).
const { register } = require('tsx/cjs/api');
register();
const { main } = require('../src/cli/main.ts');
main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error) => {
    process.stderr.write(`${String(error)}\n`);
    process.exit(1);
  },
);
