/**
 * The Gemini emulator in a process of its own, for measurements: the process that runs the worker
 * then spends only the worker's CPU. `startEmulatorProcess()` forks this file and drives it over
 * IPC: configure, reset, and a time-weighted mean of the requests in flight (sampled in the
 * emulator's process, so sampling costs the measured process nothing).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { performance } from 'node:perf_hooks';
import { GeminiEmulator, type EmulatorPatch } from '@durable-batch-llm/gemini-emulator';
import { cpuMsOf } from './process-stats';

type Request =
  | { id: number; op: 'configure'; patch: Omit<EmulatorPatch, 'responder'> }
  | { id: number; op: 'reset' }
  | { id: number; op: 'startSampling' }
  | { id: number; op: 'stopSampling' }
  | { id: number; op: 'generateCalls' };

type WithoutId<T> = T extends unknown ? Omit<T, 'id'> : never;
type Ask = WithoutId<Request>;

interface Reply {
  id: number;
  value?: unknown;
  error?: string;
}

export interface EmulatorProcess {
  url: string;
  pid: number;
  configure(patch: Omit<EmulatorPatch, 'responder'>): Promise<void>;
  reset(): Promise<void>;
  /** Starts averaging the requests in flight; `stop` returns the time-weighted mean. */
  sampleInFlight(): Promise<{ stop: () => Promise<number> }>;
  /** generateContent requests answered since the last reset. */
  generateCalls(): Promise<number>;
  /** CPU time of the emulator's process so far, in ms. */
  cpuMs(): number | undefined;
  stop(): Promise<void>;
}

export async function startEmulatorProcess(options: { latencyMs: number }): Promise<EmulatorProcess> {
  const child: ChildProcess = fork(__filename, ['--child', String(options.latencyMs)], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const [ready] = (await once(child, 'message')) as [{ url: string }];
  let next = 0;
  const waiting = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  child.on('message', (reply: Reply) => {
    const pending = waiting.get(reply.id);
    if (!pending) return;
    waiting.delete(reply.id);
    if (reply.error) pending.reject(new Error(reply.error));
    else pending.resolve(reply.value);
  });
  const call = <T>(request: Ask): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      next += 1;
      waiting.set(next, { resolve: resolve as (value: unknown) => void, reject });
      child.send({ ...request, id: next });
    });
  return {
    url: ready.url,
    pid: child.pid ?? -1,
    configure: (patch) => call({ op: 'configure', patch }),
    reset: () => call({ op: 'reset' }),
    sampleInFlight: async () => {
      await call({ op: 'startSampling' });
      return { stop: () => call<number>({ op: 'stopSampling' }) };
    },
    generateCalls: () => call<number>({ op: 'generateCalls' }),
    cpuMs: () => cpuMsOf(child.pid),
    stop: async () => {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      await once(child, 'exit');
    },
  };
}

async function serve(latencyMs: number): Promise<void> {
  const emulator = await GeminiEmulator.start({ latency: { baseMs: latencyMs, jitterMs: 0 } });
  let sampling: { timer: NodeJS.Timeout; weighted: number; first: number; last: number } | undefined;
  const sample = (): void => {
    if (!sampling) return;
    const now = performance.now();
    sampling.weighted += emulator.inFlight * (now - sampling.last);
    sampling.last = now;
  };
  process.on('message', (request: Request) => {
    let value: unknown;
    try {
      switch (request.op) {
        case 'configure':
          emulator.configure(request.patch);
          break;
        case 'reset':
          emulator.reset();
          break;
        case 'startSampling': {
          const now = performance.now();
          if (sampling) clearInterval(sampling.timer);
          sampling = { timer: setInterval(sample, 10), weighted: 0, first: now, last: now };
          break;
        }
        case 'stopSampling': {
          sample();
          if (sampling) clearInterval(sampling.timer);
          value = sampling && sampling.last > sampling.first ? sampling.weighted / (sampling.last - sampling.first) : 0;
          sampling = undefined;
          break;
        }
        case 'generateCalls':
          value = emulator.log.filter((entry) => entry.route === 'generateContent').length;
          break;
      }
      process.send?.({ id: request.id, value });
    } catch (error) {
      process.send?.({ id: request.id, error: error instanceof Error ? error.message : String(error) });
    }
  });
  process.once('SIGTERM', () => {
    void emulator.stop().then(() => process.exit(0));
  });
  process.send?.({ url: emulator.url });
}

if (process.argv[2] === '--child') {
  serve(Number(process.argv[3])).catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
