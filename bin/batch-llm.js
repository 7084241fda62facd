#!/usr/bin/env node
// Runs the TypeScript CLI through tsx, so `npm link` / `npx batch-llm` work without a build step.
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
