import { existsSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { isTaskDefinition, type TaskDefinition } from './task';
import { demoEnrichmentTask } from './demo-enrichment';

// Registry entries are stored type-erased: items and outputs cross the workflow boundary as JSON.
export type AnyTask = TaskDefinition<never, unknown>;

/** The tasks a worker (or the CLI, for checking input) knows, by name. */
export class TaskRegistry {
  private readonly tasks = new Map<string, AnyTask>();

  constructor(tasks: Iterable<AnyTask> = []) {
    for (const task of tasks) this.register(task);
  }

  register(task: AnyTask): this {
    if (this.tasks.has(task.name)) throw new Error(`task "${task.name}" is registered twice`);
    this.tasks.set(task.name, task);
    return this;
  }

  get(name: string): AnyTask | undefined {
    return this.tasks.get(name);
  }

  names(): string[] {
    return [...this.tasks.keys()].sort();
  }
}

/** Built-in tasks every worker has. */
export function builtInTasks(): AnyTask[] {
  return [demoEnrichmentTask as unknown as AnyTask];
}

/**
 * Loads user tasks from a module: TypeScript or JavaScript (.ts, .mts, .cts, .js, .mjs, .cjs), ESM
 * or CommonJS, a path relative to the working directory. The module exports a task, an array of
 * tasks as `default` or `tasks`, or tasks as named exports.
 */
export async function loadTaskModule(modulePath: string): Promise<AnyTask[]> {
  const absolute = path.resolve(modulePath);
  if (!existsSync(absolute)) throw new Error(`cannot load tasks from ${absolute}: no such file`);
  let loaded: Record<string, unknown>;
  try {
    loaded = await importTaskModule(absolute);
  } catch (error) {
    throw new Error(`cannot load tasks from ${absolute}: ${(error as Error).message}`, { cause: error });
  }
  const candidates: unknown[] = [];
  // `module.exports = task` arrives as the task itself.
  for (const value of isTaskDefinition(loaded) ? [loaded] : Object.values(loaded)) {
    if (Array.isArray(value)) candidates.push(...value);
    else if (typeof value === 'object' && value !== null && !isTaskDefinition(value) && 'default' in value) {
      // CommonJS interop nests exports one level down.
      candidates.push(...Object.values(value as Record<string, unknown>).flat());
    } else candidates.push(value);
  }
  const tasks = [...new Set(candidates.filter(isTaskDefinition))];
  if (tasks.length === 0)
    throw new Error(`${absolute} exports no task (export defineTask({...}) as default or in a "tasks" array)`);
  return tasks;
}

const TYPESCRIPT_EXTENSIONS = new Set(['.ts', '.cts', '.mts', '.tsx']);

/**
 * TypeScript under tsx (the bin registers its CommonJS hook; tests run with `node --import tsx`)
 * is required like the program's own modules: tsx compiles it, ESM included, to CommonJS, and it
 * shares the program's instances of src/ and zod. JavaScript is imported as Node would. What
 * neither can load (top-level await; TypeScript without tsx; JavaScript importing TypeScript) goes
 * through tsx's tsImport, registered for this one import: the bin skips tsx's ESM hooks, which
 * would cost every command ~0.1 s.
 */
async function importTaskModule(absolute: string): Promise<Record<string, unknown>> {
  const url = pathToFileURL(absolute).href;
  try {
    if (TYPESCRIPT_EXTENSIONS.has(path.extname(absolute)) && '.ts' in require.extensions)
      return require(absolute) as Record<string, unknown>;
    return (await import(url)) as Record<string, unknown>;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const loadable =
      ['ERR_REQUIRE_ESM', 'ERR_REQUIRE_ASYNC_MODULE', 'ERR_UNKNOWN_FILE_EXTENSION', 'ERR_MODULE_NOT_FOUND'].includes(
        code ?? '',
      ) || /top-level await/i.test((error as Error).message);
    if (!loadable) throw error;
    // The ESM entry: tsx 4's CommonJS build of this API points at a file it does not ship.
    const { tsImport } = (await import('tsx/esm/api')) as typeof import('tsx/esm/api');
    return (await tsImport(url, url)) as Record<string, unknown>;
  }
}

/** Built-ins plus the tasks of each module path given. */
export async function createTaskRegistry(modulePaths: readonly string[] = []): Promise<TaskRegistry> {
  const registry = new TaskRegistry(builtInTasks());
  for (const modulePath of modulePaths) {
    for (const task of await loadTaskModule(modulePath)) registry.register(task);
  }
  return registry;
}
