// Runs a TypeScript script as bin/batch-llm.js runs the CLI: tsx's CommonJS hook in this thread
// only. `node --import tsx` would load tsx into every worker thread too (the SDK's workflow
// threads included), which a worker started by the bin never has, and which makes each workflow
// promise cost more (source maps on): measurements of the worker run this way.
//   node scripts/run-ts.js scripts/bench.ts [args…]
const path = require('node:path');
const { register } = require('tsx/cjs/api');
register();
const script = process.argv[2];
if (!script) {
  process.stderr.write('usage: node scripts/run-ts.js <script.ts> [args…]\n');
  process.exit(2);
}
process.argv.splice(1, 1); // the script sees its own path as argv[1], as under `node --import tsx`
require(path.resolve(script));
