import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';

export const REPO_ROOT = path.resolve(__dirname, '..', '..');
/** The bin users run (`npx batch-llm`), so tests drive what they get, tsx loading included. */
export const BIN = path.join(REPO_ROOT, 'bin', 'batch-llm.js');

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Where a model is and its key (Gemini's, OpenAI's, named endpoints'): tests never inherit them. */
export const MODEL_ENDPOINT_VARIABLES = [
  'GEMINI_API_KEY',
  'GOOGLE_API_KEY',
  'GOOGLE_GEMINI_BASE_URL',
  'OPENAI_API_KEY',
  'OPENAI_BASE_URL',
  'BATCH_LLM_OPENAI_ENDPOINTS',
] as const;

/** Environment for a CLI child: no inherited model key or endpoint, quiet logs. */
export function cliEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, BATCH_LLM_LOG_LEVEL: 'WARN', ...extra };
  for (const name of MODEL_ENDPOINT_VARIABLES) if (!(name in extra)) delete env[name];
  delete env['NODE_TEST_CONTEXT']; // a child that inherits it talks the test runner's protocol
  return env;
}

/** Starts `batch-llm <args>` as a separate process (in the repository, unless `cwd` says otherwise). */
export function spawnCli(args: string[], env: Record<string, string>, cwd = REPO_ROOT): ChildProcess {
  return spawn(process.execPath, [BIN, ...args], { cwd, env: cliEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Runs `batch-llm <args>` to completion and collects its output. */
export function runCli(
  args: string[],
  env: Record<string, string> = {},
  timeoutMs = 120_000,
  cwd = REPO_ROOT,
): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawnCli(args, env, cwd);
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`batch-llm ${args.join(' ')} did not finish in ${timeoutMs} ms\n${stdout}\n${stderr}`));
    }, timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/**
 * Resolves with everything the child has printed (stdout and stderr) once that output contains
 * `text`; rejects when the child exits first or `timeoutMs` passes, with what it printed.
 */
export function waitForOutput(child: ChildProcess, text: string, timeoutMs = 60_000): Promise<string> {
  return new Promise((resolve, reject) => {
    let printed = '';
    const done = (error?: Error) => {
      clearTimeout(timer);
      child.stdout?.off('data', onData);
      child.stderr?.off('data', onData);
      child.off('exit', onExit);
      if (error) reject(error);
      else resolve(printed);
    };
    const onData = (chunk: Buffer) => {
      printed += chunk.toString();
      if (printed.includes(text)) done();
    };
    const onExit = (code: number | null) =>
      done(new Error(`the process exited (code ${code}) before printing "${text}":\n${printed}`));
    const timer = setTimeout(
      () => done(new Error(`no "${text}" within ${timeoutMs} ms; printed:\n${printed}`)),
      timeoutMs,
    );
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', onExit);
  });
}
