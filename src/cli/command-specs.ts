/**
 * What each command accepts and says about itself (its --help): data only, so `batch-llm --help`
 * and `<command> --help` load none of the commands' implementations.
 */
import type { CommandSpec } from './args';
import { EXIT_CODES } from '../client/errors';
import {
  DEFAULT_BATCH_JOB_SIZE,
  DEFAULT_BATCH_MAX_POLL_MS,
  DEFAULT_BATCH_POLL_MS,
  DEFAULT_FAIL_FAST,
  DEFAULT_DEV_RETENTION,
  DEFAULT_STATE_DIR,
} from '../constants';

/** Where Temporal is, over TEMPORAL_ADDRESS / TEMPORAL_NAMESPACE (as the Temporal CLI's flags). */
export const temporalOptions = { address: { type: 'string' }, namespace: { type: 'string' } } as const;
const temporalOptionHelp: Array<[string, string]> = [
  ['--address HOST:PORT', 'Temporal frontend (default TEMPORAL_ADDRESS, else localhost:7233)'],
  ['--namespace NAME', 'Temporal namespace (default TEMPORAL_NAMESPACE, else default)'],
];
/** Machine-readable output. */
export const outputOptions = { output: { type: 'string', short: 'o' }, json: { type: 'boolean' } } as const;
const outputOptionHelp: Array<[string, string]> = [
  ['-o, --output text|json', 'text (default), or JSON on standard output for scripts'],
  ['--json', 'same as -o json'],
];

const stackOptions = {
  port: { type: 'string' },
  'ui-port': { type: 'string' },
  'state-dir': { type: 'string' },
  tasks: { type: 'string', multiple: true },
  'latency-ms': { type: 'string' },
  'jitter-ms': { type: 'string' },
  retention: { type: 'string' },
} as const;

const stackOptionHelp: Array<[string, string]> = [
  ['--port N', 'Temporal frontend port (default 7233; reused if a server already answers there)'],
  ['--ui-port N', 'Web UI port (default 8233)'],
  ['--state-dir DIR', `dev-server database and results (default BATCH_LLM_STATE_DIR, else ./${DEFAULT_STATE_DIR})`],
  ['--tasks MODULE', 'register the tasks a module exports (repeatable)'],
  ['--latency-ms N', 'emulator base latency when it runs (default 250)'],
  ['--jitter-ms N', 'emulator latency jitter (default 250)'],
  [
    '--retention SPAN',
    `how long the dev server keeps closed workflows (items, ended batches) and their history: 1h or more (default ${DEFAULT_DEV_RETENTION}); ~28 KiB an item on disk; results are not affected`,
  ],
];

const devOptions = { ...stackOptions, encrypt: { type: 'boolean' }, 'codec-port': { type: 'string' } } as const;
export const devSpec = {
  name: 'dev',
  summary:
    'run a local stack in the foreground: Temporal dev server with Web UI, the Gemini emulator (when GEMINI_API_KEY is unset; it also serves the openai-compatible provider unless OPENAI_* is set) and a worker',
  usage: 'batch-llm dev [--encrypt] [options]',
  options: devOptions,
  optionHelp: [
    [
      '--encrypt',
      'encrypt payloads (BATCH_LLM_ENCRYPTION_KEYS, else a key kept in <state dir>/encryption-keys) and run a codec server the Web UI decrypts with',
    ],
    ['--codec-port N', "the codec server's port with --encrypt (default 8081)"],
    ...stackOptionHelp,
  ],
} satisfies CommandSpec<typeof devOptions>;

const codecServerOptions = {
  port: { type: 'string' },
  host: { type: 'string' },
  'cors-origin': { type: 'string', multiple: true },
  'auth-token': { type: 'string' },
  namespace: { type: 'string', multiple: true },
} as const;
export const codecServerSpec = {
  name: 'codec-server',
  summary:
    'serve /decode and /encode for the Temporal Web UI and CLI: encrypted payloads shown decrypted to the viewer',
  usage: 'batch-llm codec-server [--port N] [--cors-origin URL]... [--auth-token TOKEN]',
  options: codecServerOptions,
  optionHelp: [
    ['--port N', 'port to listen on (default 8081)'],
    ['--host HOST', 'address to listen on (default 127.0.0.1; 0.0.0.0 for every interface)'],
    [
      '--cors-origin URL',
      "the Web UI's origin, e.g. http://localhost:8233 (repeatable): browsers call the codec server from it",
    ],
    [
      '--auth-token TOKEN',
      'require Authorization: Bearer TOKEN on every request (or BATCH_LLM_CODEC_AUTH_TOKEN; the flag shows in ps)',
    ],
    ['--namespace NAME', 'serve only these namespaces (X-Namespace header; repeatable; default all)'],
    ['env', 'BATCH_LLM_ENCRYPTION_KEYS (the keys: id:base64,…), BATCH_LLM_BLOB_DIR (large payloads kept by reference)'],
  ],
} satisfies CommandSpec<typeof codecServerOptions>;

const encryptionKeyOptions = { id: { type: 'string' } } as const;
export const encryptionKeySpec = {
  name: 'encryption-key',
  summary: 'print a new random key for BATCH_LLM_ENCRYPTION_KEYS (id:base64)',
  usage: 'batch-llm encryption-key [--id ID]',
  options: encryptionKeyOptions,
  optionHelp: [
    [
      '--id ID',
      'the key id stored in every payload it encrypts (default k<YYYYMMDD>); put the new key first to rotate',
    ],
  ],
} satisfies CommandSpec<typeof encryptionKeyOptions>;

const demoOptions = {
  ...stackOptions,
  'exit-when-done': { type: 'boolean' },
  concurrency: { type: 'string' },
} as const;
export const demoSpec = {
  name: 'demo',
  summary: 'bring up the local stack and run the bundled demo batch (50 products through the demo-enrichment task)',
  usage: 'batch-llm demo [--exit-when-done] [options]   (npm start)',
  options: demoOptions,
  optionHelp: [
    ['--exit-when-done', 'exit when the batch ends (status 0) instead of keeping the Web UI up until Ctrl-C'],
    ['--concurrency N|auto', 'items in flight (default 10), or auto: a request rate learned from the answers'],
    ...stackOptionHelp,
  ],
} satisfies CommandSpec<typeof demoOptions>;

const workerOptions = {
  tasks: { type: 'string', multiple: true },
  'results-dir': { type: 'string' },
  'results-url': { type: 'string' },
  'max-concurrent-calls': { type: 'string' },
  rpm: { type: 'string' },
  tpm: { type: 'string' },
} as const;
export const workerSpec = {
  name: 'worker',
  summary: 'run a worker: batch and item workflows and model-call activities on TEMPORAL_TASK_QUEUE',
  usage: 'batch-llm worker [--tasks MODULE]... [options]',
  options: workerOptions,
  optionHelp: [
    ['--tasks MODULE', 'register the tasks a module exports (repeatable; built-in demo-enrichment is always there)'],
    [
      '--results-dir DIR',
      'where item results are written (default BATCH_LLM_RESULTS_DIR or .batch-llm/results; share it between workers)',
    ],
    [
      '--results-url URL',
      'write results to PostgreSQL instead (postgres://user@host/db; default BATCH_LLM_RESULTS_URL): one store for workers on any machine',
    ],
    ['--max-concurrent-calls N', 'model calls this process runs at once (default 200)'],
    [
      '--rpm N',
      'model calls per minute per quota scope (task queue, model, API key), across all workers (or BATCH_LLM_RPM; give every worker the same value)',
    ],
    ['--tpm N', 'input tokens per minute per quota scope, across all workers (or BATCH_LLM_TPM)'],
    [
      'env',
      'TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_TASK_QUEUE, TEMPORAL_TLS_CERT/KEY/CA, TEMPORAL_API_KEY, GEMINI_API_KEY, GOOGLE_GEMINI_BASE_URL; OPENAI_API_KEY, OPENAI_BASE_URL and BATCH_LLM_OPENAI_ENDPOINTS (name=url[;rpm=N][;tpm=N],…, keys in <NAME>_API_KEY) for tasks on OpenAI-compatible endpoints',
    ],
  ],
} satisfies CommandSpec<typeof workerOptions>;

const emulatorOptions = {
  port: { type: 'string' },
  host: { type: 'string' },
  'latency-ms': { type: 'string' },
  'jitter-ms': { type: 'string' },
  seed: { type: 'string' },
  fault: { type: 'string', multiple: true },
  'batch-pending-ms': { type: 'string' },
  'batch-running-ms': { type: 'string' },
  'batch-outcome': { type: 'string' },
  'batch-fault': { type: 'string', multiple: true },
} as const;
export const emulatorSpec = {
  name: 'emulator',
  summary: 'run the offline Gemini API emulator (point workers at it with GOOGLE_GEMINI_BASE_URL)',
  usage: 'batch-llm emulator [--port 8787] [--latency-ms N] [--jitter-ms N] [--fault KIND[@ROUTE]=RATE]...',
  options: emulatorOptions,
  // A getter: the fault table pulls in zod (~0.2 s), which `batch-llm --help` does not need.
  get optionHelp(): Array<[string, string]> {
    const { FAULT_FLAG_FORM, FAULT_KINDS, FAULT_ROUTES } =
      require('@durable-batch-llm/gemini-emulator/faults') as typeof import('@durable-batch-llm/gemini-emulator/faults');
    return [
      ['--port N', 'port (default 8787; 0 picks a free one)'],
      ['--host HOST', 'address to bind (default 127.0.0.1)'],
      ['--latency-ms N', 'base latency per call (default 200)'],
      ['--jitter-ms N', 'extra random latency, uniform in [0, N] (default 100)'],
      ['--seed N', 'seed for jitter and fault rates (default 1)'],
      [
        '--fault KIND=RATE',
        `inject a fault into generateContent at a rate in [0,1] (repeatable); KIND: ${FAULT_KINDS.join(', ')}`,
      ],
      [
        `--fault ${FAULT_FLAG_FORM}`,
        `the same on another route, e.g. reply_lost@batchCreate=1 (reply_lost: act, then cut the connection; batch and file routes only); ROUTE: ${FAULT_ROUTES.join(', ')}`,
      ],
      ['--batch-pending-ms N', 'Batch Mode: how long a new job stays PENDING (default 0)'],
      ['--batch-running-ms N', 'Batch Mode: how long it then stays RUNNING (default 0)'],
      ['--batch-outcome STATE', 'Batch Mode: how every job ends: SUCCEEDED (default), FAILED, CANCELLED or EXPIRED'],
      ['--batch-fault KIND=RATE', 'Batch Mode: per-request fault at a rate (repeatable); KIND: schema_invalid, error'],
    ];
  },
} satisfies CommandSpec<typeof emulatorOptions>;

const cacheOptions = {
  tag: { type: 'string', multiple: true },
  all: { type: 'boolean' },
} as const;
export const cacheSpec = {
  name: 'cache',
  summary: 'list or delete context caches on Gemini (ours are found by their tags)',
  usage: 'batch-llm cache list [--tag KEY=VALUE]... [--all]  |  batch-llm cache delete (NAME... | --tag KEY=VALUE...)',
  options: cacheOptions,
  optionHelp: [
    ['--tag KEY=VALUE', 'only caches with this tag (repeatable; all must match)'],
    ['--all', 'list: also caches this project did not create'],
    ['env', 'GEMINI_API_KEY, or GOOGLE_GEMINI_BASE_URL for the emulator'],
  ],
} satisfies CommandSpec<typeof cacheOptions>;

const startOptions = {
  input: { type: 'string', short: 'i' },
  task: { type: 'string', short: 't' },
  'batch-id': { type: 'string' },
  concurrency: { type: 'string', short: 'c' },
  'max-concurrency': { type: 'string' },
  model: { type: 'string' },
  provider: { type: 'string' },
  'max-model-calls': { type: 'string' },
  'call-timeout-ms': { type: 'string' },
  'call-mode': { type: 'string' },
  prices: { type: 'string' },
  tasks: { type: 'string', multiple: true },
  wait: { type: 'boolean', short: 'w' },
  'dry-run': { type: 'boolean' },
  sample: { type: 'string' },
  'output-tokens': { type: 'string' },
  'latency-ms': { type: 'string' },
  calibrate: { type: 'string' },
  rpm: { type: 'string' },
  tpm: { type: 'string' },
  'fail-fast': { type: 'string' },
  'no-fail-fast': { type: 'boolean' },
  deadline: { type: 'string' },
  'batch-api': { type: 'boolean' },
  'job-size': { type: 'string' },
  'batch-poll-interval': { type: 'string' },
  ...temporalOptions,
} as const;
export const startSpec = {
  name: 'start',
  summary: 'check a JSONL input and start a batch (one item workflow per line)',
  usage:
    'batch-llm start --input items.jsonl --task NAME [--batch-id ID] [--concurrency N|auto] [--batch-api [--job-size N]] [--wait]',
  options: startOptions,
  optionHelp: [
    ['-i, --input FILE', 'JSONL: one JSON object per line, each with a unique "id"'],
    ['-t, --task NAME', "task to run (built-in: demo-enrichment; others via the worker's --tasks)"],
    ['--batch-id ID', 'batch id (default: task name + time); item workflows are <batchId>/<itemId>'],
    [
      '-c, --concurrency N|auto',
      'items in flight at once (default 10), or auto: calls at a rate learned from 429s and latency, shared by the quota scope (docs/controls.md)',
    ],
    ['--max-concurrency N', 'with --concurrency auto: items in flight at most (default 200)'],
    ['--model NAME', "model for every item (default: the task's, else BATCH_LLM_MODEL on the worker)"],
    [
      '--provider NAME',
      "the provider for every item, over the task's: gemini, openai-compatible or a named endpoint of BATCH_LLM_OPENAI_ENDPOINTS (give --model with it)",
    ],
    ['--max-model-calls N', 'cap on physical model calls per item, retries included (default 5)'],
    [
      '--prices FILE',
      'JSON of USD per 1M tokens by model, over the built-in (Gemini) prices: {"gpt-4.1-mini": {"input": 0.4, "output": 1.6, "cachedInput": 0.1}}',
    ],
    ['--call-timeout-ms N', 'timeout of one model call (default 120000)'],
    [
      '--call-mode MODE',
      "local-first (default): an item's first call runs as a local activity in its workflow task; activity: every call is a regular activity",
    ],
    ['--tasks MODULE', 'also accept the tasks this module exports when checking --task (repeatable)'],
    [
      '--fail-fast CATEGORY,…',
      `the first item ending with one of these error categories stops the batch, cancelling the rest (default ${DEFAULT_FAIL_FAST.join(',')})`,
    ],
    ['--no-fail-fast', 'no category stops the batch: every item runs to its own end'],
    [
      '--deadline TIME',
      'no item starts after this moment: an ISO date/time or a span from now (90m, 6h, 2d); the ones not started end deadline_exceeded',
    ],
    [
      '--batch-api',
      "Batch Mode: stage 1 of every item through Gemini's batch API at half price (jobs may take up to 24 h); repairs and retries go online",
    ],
    ['--job-size N', `with --batch-api: items per provider job at most (default ${DEFAULT_BATCH_JOB_SIZE})`],
    [
      '--batch-poll-interval DURATION',
      `with --batch-api: first wait between polls of the running jobs, growing 1.5× while nothing changes (500ms, 30s, 5m or ms; default ${DEFAULT_BATCH_POLL_MS / 1000}s, up to ${DEFAULT_BATCH_MAX_POLL_MS / 60_000}m)`,
    ],
    [
      '-w, --wait',
      `show live progress and print the summary when the batch ends; exit ${EXIT_CODES.itemsUnsuccessful} when items did not succeed, ${EXIT_CODES.batchStopped} when the batch stopped early`,
    ],
    [
      '--dry-run',
      "check the input, render every prompt, count tokens and estimate cost and time; start nothing (a Gemini task offline without GEMINI_API_KEY or GOOGLE_GEMINI_BASE_URL: ~chars/4; an OpenAI-compatible task's prompts: OpenAI's tokenizer, locally)",
    ],
    [
      '--sample N',
      "dry run: a Gemini task's prompts sent to countTokens when an endpoint is set (default 50, evenly spaced)",
    ],
    [
      '--calibrate N',
      "dry run: send N sample items' first calls for real (needs an endpoint; they cost money) to measure answer length and latency",
    ],
    [
      '--output-tokens N',
      "dry run: assumed answer length (default: measured by --calibrate, else a typical answer to the task's output schema)",
    ],
    ['--latency-ms N', 'dry run: assumed call latency (default: measured by --calibrate, else 2000)'],
    ['--rpm N', 'dry run: the requests-per-minute limit the workers run with'],
    ['--tpm N', 'dry run: the input-tokens-per-minute limit the workers run with'],
    ...temporalOptionHelp,
  ],
} satisfies CommandSpec<typeof startOptions>;

const statusOptions = { watch: { type: 'boolean', short: 'w' }, ...temporalOptions, ...outputOptions } as const;
export const statusSpec = {
  name: 'status',
  summary: 'progress of a batch started anywhere (live with --watch), or its summary when it has ended',
  usage: 'batch-llm status BATCH_ID [--watch] [-o json]',
  options: statusOptions,
  optionHelp: [
    ['-w, --watch', 'redraw live progress until the batch ends, then print the summary'],
    ...outputOptionHelp,
    ...temporalOptionHelp,
  ],
} satisfies CommandSpec<typeof statusOptions>;

const listOptions = {
  running: { type: 'boolean' },
  task: { type: 'string', short: 't' },
  since: { type: 'string' },
  limit: { type: 'string', short: 'n' },
  ...temporalOptions,
  ...outputOptions,
} as const;
export const listSpec = {
  name: 'list',
  summary: 'batches in the namespace, newest first: state, counts, cost, start time, Web UI link',
  usage: 'batch-llm list [--running] [--task NAME] [--since 2026-12-01|24h] [--limit N] [-o json]',
  options: listOptions,
  optionHelp: [
    ['--running', 'only batches still running'],
    ['-t, --task NAME', 'only batches of this task'],
    ['--since TIME', 'only batches started since an ISO date/time, or a span back from now (90m, 24h, 7d)'],
    ['-n, --limit N', 'at most N batches (default 20)'],
    ...outputOptionHelp,
    ...temporalOptionHelp,
  ],
} satisfies CommandSpec<typeof listOptions>;

const rerunOptions = {
  status: { type: 'string' },
  category: { type: 'string' },
  'batch-id': { type: 'string' },
  concurrency: { type: 'string', short: 'c' },
  model: { type: 'string' },
  provider: { type: 'string' },
  'batch-api': { type: 'boolean' },
  'job-size': { type: 'string' },
  online: { type: 'boolean' },
  wait: { type: 'boolean', short: 'w' },
  ...temporalOptions,
  ...outputOptions,
} as const;
export const rerunSpec = {
  name: 'rerun',
  summary: "start a follow-up batch with an ended batch's unsuccessful items (same task, input and options)",
  usage:
    'batch-llm rerun BATCH_ID [--status failed,blocked,…] [--category quota_exhausted,…] [--batch-id NEW] [--wait]',
  options: rerunOptions,
  optionHelp: [
    ['--status S,…', 'rerun items that ended with these statuses (default failed,blocked,cancelled,deadline_exceeded)'],
    ['--category C,…', 'only those whose error category is one of these (e.g. quota_exhausted)'],
    ['--batch-id ID', "the rerun's id (default <BATCH_ID>-rerun-<n>); it is linked to its origin (RerunOf)"],
    ['--batch-api [--job-size N]', 'stage 1 through Gemini Batch Mode at half price (default: as the origin ran)'],
    ['--online', 'run the rerun online even if the origin used Batch Mode'],
    ['-c, --concurrency N|auto', "items in flight at once, or auto (default: the origin's)"],
    ['--model NAME', "model for every item (default: the origin's)"],
    ['--provider NAME', "provider for every item (default: the origin's); give --model with it"],
    [
      '-w, --wait',
      `show live progress and print the summary when the rerun ends (exit ${EXIT_CODES.itemsUnsuccessful} when items did not succeed)`,
    ],
    ...outputOptionHelp,
    ...temporalOptionHelp,
    [
      '',
      'The workers select the items from the results store; `results BATCH_ID --latest` merges a batch and its reruns.',
    ],
  ],
} satisfies CommandSpec<typeof rerunOptions>;

const resultsOptions = {
  out: { type: 'string', short: 'o' },
  'results-dir': { type: 'string' },
  'results-url': { type: 'string' },
  order: { type: 'string' },
  status: { type: 'string' },
  category: { type: 'string' },
  fields: { type: 'string' },
  format: { type: 'string' },
  'with-input': { type: 'boolean' },
  full: { type: 'boolean' },
  latest: { type: 'boolean' },
  ...temporalOptions,
} as const;
export const resultsSpec = {
  name: 'results',
  summary: 'export the results of a batch as JSONL or CSV, one line per item',
  usage:
    'batch-llm results BATCH_ID [--out FILE] [--latest] [--status S,…] [--category C,…] [--fields F,…] [--format jsonl|csv] [--with-input] [--full]',
  options: resultsOptions,
  optionHelp: [
    ['-o, --out FILE', 'write to FILE (default: standard output)'],
    [
      '--latest',
      'the batch and its reruns (batch-llm rerun) merged: one line per item, its latest result (needs Temporal)',
    ],
    ['--format jsonl|csv', 'jsonl (default): one JSON object per line; csv: a header row, then one row per item'],
    ['--status S,…', 'only items that ended with these statuses (succeeded, failed, blocked, filtered, cancelled, …)'],
    ['--category C,…', 'only items whose error category is one of these (validation_error, quota_exhausted, …)'],
    [
      '--fields F,…',
      'only these fields, dotted paths allowed (itemId,status,output.title,error.category,input.name); JSONL keys are the paths',
    ],
    [
      '--with-input',
      "add each item's input record as `input` (the batch's inline items or its input file, read from this machine; needs Temporal)",
    ],
    ['--full', 'keep everything: by default the safety ratings of each attempt (attempts[].metadata) are left out'],
    [
      '--order input|finish',
      'input: in input order (default); finish: as the items finished (fastest, constant memory)',
    ],
    ['--results-dir DIR', "the workers' results directory (default BATCH_LLM_RESULTS_DIR or .batch-llm/results)"],
    ['--results-url URL', 'read from the PostgreSQL results store instead (default BATCH_LLM_RESULTS_URL)'],
    ...temporalOptionHelp.map(([flag, help]): [string, string] => [flag, `${help}; only for --with-input`]),
  ],
} satisfies CommandSpec<typeof resultsOptions>;

const controlOptions = { reason: { type: 'string' }, ...temporalOptions, ...outputOptions } as const;
export const controlSpec = (name: string, summary: string, usage: string, optionHelp: Array<[string, string]> = []) =>
  ({
    name,
    summary,
    usage,
    options: controlOptions,
    optionHelp: [...optionHelp, ...outputOptionHelp, ...temporalOptionHelp],
  }) satisfies CommandSpec<typeof controlOptions>;

export const pauseSpec = controlSpec(
  'pause',
  'stop starting new items of a batch (in-flight items finish)',
  'batch-llm pause BATCH_ID',
);
export const resumeSpec = controlSpec('resume', 'start items of a paused batch again', 'batch-llm resume BATCH_ID');
export const setConcurrencySpec = controlSpec(
  'set-concurrency',
  'change how many items of a running batch run at once',
  'batch-llm set-concurrency BATCH_ID N',
);
export const cancelSpec = controlSpec(
  'cancel',
  'cancel a batch: stop dispatch, cancel in-flight items and their calls, mark the rest cancelled',
  'batch-llm cancel BATCH_ID [--reason TEXT]',
  [['--reason TEXT', 'recorded in the summary and on every cancelled item']],
);

const reportOptions = {
  html: { type: 'string' },
  'results-dir': { type: 'string' },
  'results-url': { type: 'string' },
  offline: { type: 'boolean' },
  ...outputOptions,
  ...temporalOptions,
} as const;
export const reportSpec = {
  name: 'report',
  summary: "a batch's counts, top errors, spend by stage/model/outcome, latency and timeline (tables, JSON or HTML)",
  usage: 'batch-llm report BATCH_ID [--html report.html] [-o json]',
  options: reportOptions,
  optionHelp: [
    ['--html FILE', 'also write the report as one self-contained HTML page with charts (opens offline)'],
    ['-o, --output text|json', 'text: aligned tables (default); json: the report object (fields in docs/report.md)'],
    ['--json', 'same as -o json'],
    ['--results-dir DIR', "the workers' results directory (default BATCH_LLM_RESULTS_DIR or .batch-llm/results)"],
    ['--results-url URL', 'read from the PostgreSQL results store instead (default BATCH_LLM_RESULTS_URL)'],
    ['--offline', "do not ask Temporal for the batch's state and total: the records alone"],
    ...temporalOptionHelp,
  ],
} satisfies CommandSpec<typeof reportOptions>;
