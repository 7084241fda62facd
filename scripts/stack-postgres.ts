/**
 * A production-shaped Temporal here, without Docker: the real Temporal server (the version
 * docker-compose.yml pins) on PostgreSQL, with several history shards, the dynamic config and search
 * attributes docker-compose uses.
 *
 *   npm run stack:postgres -- up [--port 7233] [--postgres-port 5433] [--shards 4] [--root DIR]
 *   npm run stack:postgres -- down [--wipe]
 *   npm run stack:postgres -- status
 *
 * `up` builds `temporal-server` and `temporal-sql-tool` from the Go module proxy once (cached under
 * `.batch-llm/temporal-server-v<version>/bin`; `go` must be installed), initialises a PostgreSQL data
 * directory under the root (default `.batch-llm/stack-postgres`), creates the `temporal` and
 * `temporal_visibility` databases and their schemas, starts the server in the background (its log in
 * the root), creates the `default` namespace and registers our search attributes. Both keep running
 * after the command exits; `down` stops them (`--wipe` also deletes the data). Point workers and the
 * CLI at it with TEMPORAL_ADDRESS=127.0.0.1:<port>.
 *
 * The bench (`npm run bench -- --server postgres`) and test/process/postgres-server.test.ts use
 * the same code through `PostgresStack`.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  chownSync,
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ALL_SEARCH_ATTRIBUTES } from '../src/search-attributes';
import { locateTemporalCli } from '../src/temporal/dev-server';

const REPO_ROOT = path.resolve(__dirname, '..');
export const DEFAULT_STACK_ROOT = path.join(REPO_ROOT, '.batch-llm', 'stack-postgres');
/** The dynamic config docker-compose mounts: one file, so both run the same server settings. */
export const DYNAMIC_CONFIG_FILE = path.join(REPO_ROOT, 'deploy', 'temporal', 'dynamicconfig.yaml');
/** docker-compose.yml's NUM_HISTORY_SHARDS default. Fixed when a cluster's database is created. */
export const DEFAULT_SHARDS = 4;
/** What auto-setup gives the `default` namespace in docker-compose. */
export const DEFAULT_RETENTION = '24h';
const DB_USER = 'temporal';
const SEARCH_ATTRIBUTE_TYPES: Record<string, string> = { KEYWORD: 'Keyword', INT: 'Int' };

/** The server version docker-compose.yml pins (its `temporalio/auto-setup` tag): the one built here. */
export function pinnedServerVersion(composeFile = path.join(REPO_ROOT, 'docker-compose.yml')): string {
  const match = /image:\s*temporalio\/auto-setup:(\d+\.\d+\.\d+)\s/.exec(readFileSync(composeFile, 'utf8'));
  if (!match?.[1]) throw new Error(`${composeFile}: no temporalio/auto-setup:<version> image`);
  return match[1];
}

export interface ServerBinaries {
  version: string;
  server: string;
  sqlTool: string;
}

/** The cached binaries, built with `go install` from the Go module proxy when missing. */
export function ensureServerBinaries(
  version = pinnedServerVersion(),
  log: (line: string) => void = () => {},
): ServerBinaries {
  const directory = path.join(REPO_ROOT, '.batch-llm', `temporal-server-v${version}`, 'bin');
  const binaries = {
    version,
    server: path.join(directory, 'temporal-server'),
    sqlTool: path.join(directory, 'temporal-sql-tool'),
  };
  if (existsSync(binaries.server) && existsSync(binaries.sqlTool)) return binaries;
  const go = spawnSync('go', ['version'], { encoding: 'utf8' });
  if (go.status !== 0)
    throw new Error(
      'building the Temporal server needs Go (https://go.dev/dl/, 1.23 or newer) on PATH: `go` did not run',
    );
  log(`Building Temporal server v${version} and temporal-sql-tool with ${go.stdout.trim()} (a few minutes, once) …`);
  mkdirSync(directory, { recursive: true });
  const build = mkdtempSync(path.join(directory, '.build-'));
  try {
    execFileSync(
      'go',
      ['install', `go.temporal.io/server/cmd/server@v${version}`, `go.temporal.io/server/cmd/tools/sql@v${version}`],
      {
        cwd: build,
        env: { ...process.env, GOBIN: build, GOFLAGS: '-buildvcs=false' },
        stdio: ['ignore', 'inherit', 'inherit'],
      },
    );
    renameSync(path.join(build, 'server'), binaries.server);
    renameSync(path.join(build, 'sql'), binaries.sqlTool);
  } finally {
    rmSync(build, { recursive: true, force: true });
  }
  return binaries;
}

/** PostgreSQL's server binaries: PG_BIN_DIR, then Debian's /usr/lib/postgresql/<newest>/bin, then PATH. */
export function postgresBinDirectory(): string | undefined {
  const candidates: string[] = [];
  if (process.env['PG_BIN_DIR']) candidates.push(process.env['PG_BIN_DIR']);
  const debian = '/usr/lib/postgresql';
  if (existsSync(debian))
    candidates.push(
      ...readdirSync(debian)
        .filter((version) => /^\d+$/.test(version))
        .sort((a, b) => Number(b) - Number(a))
        .map((version) => path.join(debian, version, 'bin')),
    );
  for (const directory of (process.env['PATH'] ?? '').split(path.delimiter)) if (directory) candidates.push(directory);
  return candidates.find((directory) =>
    ['initdb', 'pg_ctl', 'postgres'].every((binary) => existsSync(path.join(directory, binary))),
  );
}

/** The user PostgreSQL runs as when we are root (initdb will not run as root). */
export function postgresClusterUser(): { name: string; uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  for (const name of ['postgres', 'nobody']) {
    const found = spawnSync('id', ['-u', name], { encoding: 'utf8' });
    if (found.status !== 0) continue;
    const gid = Number(spawnSync('id', ['-g', name], { encoding: 'utf8' }).stdout.trim());
    return { name, uid: Number(found.stdout.trim()), gid };
  }
  throw new Error('running as root and there is neither a "postgres" nor a "nobody" user to run PostgreSQL as');
}

/** Whether the stack can run here without building anything: binaries cached and PostgreSQL installed. */
export function stackUnavailable(version = pinnedServerVersion()): string | undefined {
  const directory = path.join(REPO_ROOT, '.batch-llm', `temporal-server-v${version}`, 'bin');
  if (!existsSync(path.join(directory, 'temporal-server')) || !existsSync(path.join(directory, 'temporal-sql-tool')))
    return `no Temporal server v${version} built in ${path.relative(REPO_ROOT, directory)} (run \`npm run stack:postgres -- up\` once)`;
  if (!postgresBinDirectory()) return 'no PostgreSQL binaries (initdb, pg_ctl, postgres)';
  return undefined;
}

export interface PostgresStackOptions {
  /** Data, config, logs and pid files. */
  root?: string | undefined;
  /** The frontend's gRPC port; the other services use the ports just above it (all below 32,768). */
  port?: number | undefined;
  postgresPort?: number | undefined;
  shards?: number | undefined;
  retention?: string | undefined;
  log?: (line: string) => void;
}

interface StackState {
  port: number;
  postgresPort: number;
  shards: number;
  version: string;
}

/**
 * PostgreSQL and the Temporal server, both detached processes whose pids live in files under the
 * root, so `up` and `down` can be separate commands and a test can kill and restart the server.
 */
export class PostgresStack {
  readonly root: string;
  private readonly log: (line: string) => void;
  private readonly retention: string;
  private readonly requested: PostgresStackOptions;

  constructor(options: PostgresStackOptions = {}) {
    this.root = path.resolve(options.root ?? DEFAULT_STACK_ROOT);
    this.log = options.log ?? (() => {});
    this.retention = options.retention ?? DEFAULT_RETENTION;
    this.requested = options;
  }

  /** The settings the stack was first created with (ports may be changed by a later `up`). */
  private get state(): StackState {
    const file = path.join(this.root, 'stack.json');
    const saved = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as StackState) : undefined;
    return {
      port: this.requested.port ?? saved?.port ?? 7233,
      postgresPort: this.requested.postgresPort ?? saved?.postgresPort ?? 5433,
      shards: saved?.shards ?? this.requested.shards ?? DEFAULT_SHARDS,
      version: saved?.version ?? pinnedServerVersion(),
    };
  }

  get address(): string {
    return `127.0.0.1:${this.state.port}`;
  }

  get shards(): number {
    return this.state.shards;
  }

  get version(): string {
    return this.state.version;
  }

  /** Builds what is missing, starts what is not running; safe to repeat. */
  async up(): Promise<void> {
    const state = this.state;
    if (this.requested.shards !== undefined && existsSync(path.join(this.root, 'stack.json')))
      if (this.requested.shards !== state.shards)
        throw new Error(
          `${this.root} was created with ${state.shards} history shards; a cluster cannot change it (down --wipe first)`,
        );
    if (state.port + STACK_PORT_SPAN > 32_767)
      throw new Error(
        `--port ${state.port}: the stack's ports must stay below 32,768 (Temporal keeps them in a smallint)`,
      );
    const binaries = ensureServerBinaries(state.version, this.log);
    mkdirSync(this.root, { recursive: true });
    writeFileSync(path.join(this.root, 'stack.json'), JSON.stringify(state, null, 2) + '\n');
    await this.startPostgres(state);
    this.createSchemas(binaries, state);
    await this.startTemporal();
    await this.registerNamespace();
  }

  /** Stops the server, then PostgreSQL. */
  async down(options: { wipe?: boolean } = {}): Promise<void> {
    await this.stopTemporal('SIGTERM');
    const bin = postgresBinDirectory();
    if (bin && existsSync(path.join(this.root, 'pgdata', 'postmaster.pid')))
      this.runPostgres(bin, 'pg_ctl', ['-D', path.join(this.root, 'pgdata'), '-m', 'fast', '-w', 'stop']);
    if (options.wipe) rmSync(this.root, { recursive: true, force: true });
  }

  /** The Temporal server's pid, if it runs. */
  temporalPid(): number | undefined {
    return livePid(path.join(this.root, 'temporal.pid'));
  }

  /** The postmaster's pid, if PostgreSQL runs. */
  postgresPid(): number | undefined {
    const file = path.join(this.root, 'pgdata', 'postmaster.pid');
    if (!existsSync(file)) return undefined;
    const pid = Number(readFileSync(file, 'utf8').split('\n')[0]);
    return isAlive(pid) ? pid : undefined;
  }

  /** Starts the Temporal server (detached, log in the root) and waits until it answers. */
  async startTemporal(): Promise<void> {
    if (this.temporalPid() !== undefined) return;
    const state = this.state;
    const binaries = ensureServerBinaries(state.version, this.log);
    this.writeServerConfig(state);
    const logFile = path.join(this.root, 'temporal.log');
    const out = openSync(logFile, 'a');
    try {
      const server = spawn(
        binaries.server,
        ['--root', this.root, '--config', 'config', '--env', 'stack', '--allow-no-auth', 'start'],
        {
          cwd: this.root,
          detached: true,
          stdio: ['ignore', out, out],
        },
      );
      if (server.pid === undefined) throw new Error(`${binaries.server} did not start`);
      writeFileSync(path.join(this.root, 'temporal.pid'), `${server.pid}\n`);
      server.unref();
    } finally {
      closeSync(out);
    }
    this.log(`Temporal server v${state.version} starting on ${this.address} (${state.shards} history shards) …`);
    await this.waitUntilServing(logFile);
  }

  /** Stops the Temporal server: SIGTERM waits for a clean stop (up to 30 s), SIGKILL is a crash. */
  async stopTemporal(signal: 'SIGTERM' | 'SIGKILL'): Promise<void> {
    const pid = this.temporalPid();
    if (pid === undefined) return;
    process.kill(pid, signal);
    const deadline = Date.now() + 30_000;
    while (isAlive(pid)) {
      if (Date.now() > deadline) process.kill(pid, 'SIGKILL');
      await sleep(100);
    }
    rmSync(path.join(this.root, 'temporal.pid'), { force: true });
  }

  private async startPostgres(state: StackState): Promise<void> {
    const bin = postgresBinDirectory();
    if (!bin) throw new Error('PostgreSQL is not installed: no initdb, pg_ctl and postgres (set PG_BIN_DIR)');
    const data = path.join(this.root, 'pgdata');
    const socketDir = path.join(this.root, 'pgsocket');
    const user = postgresClusterUser();
    if (!existsSync(path.join(data, 'PG_VERSION'))) {
      rmSync(data, { recursive: true, force: true });
      mkdirSync(socketDir, { recursive: true });
      const passwordFile = path.join(this.root, 'pgpassword');
      writeFileSync(passwordFile, `${randomBytes(18).toString('base64url')}\n`, { mode: 0o600 });
      if (user) {
        for (const entry of [this.root, socketDir, passwordFile]) chownSync(entry, user.uid, user.gid);
        if (spawnSync('runuser', ['-u', user.name, '--', 'test', '-r', passwordFile]).status !== 0)
          throw new Error(
            `PostgreSQL runs as the user "${user.name}" here (initdb refuses root), which cannot reach ${this.root}: choose a --root whose parent directories every user may enter`,
          );
      }
      this.log(`Initialising PostgreSQL in ${data} …`);
      this.runPostgres(bin, 'initdb', [
        '-D',
        data,
        '-U',
        DB_USER,
        `--pwfile=${passwordFile}`,
        '--auth-local=trust',
        '--auth-host=scram-sha-256',
        '-E',
        'UTF8',
        '--locale=C',
      ]);
    }
    if (this.postgresPid() !== undefined) return;
    const options = [
      `-p ${state.postgresPort}`,
      `-k ${socketDir}`,
      '-c listen_addresses=127.0.0.1',
      '-c max_connections=200',
    ].join(' ');
    this.log(`Starting PostgreSQL on 127.0.0.1:${state.postgresPort} …`);
    this.runPostgres(bin, 'pg_ctl', [
      '-D',
      data,
      '-l',
      path.join(this.root, 'postgres.log'),
      '-o',
      options,
      '-w',
      '-t',
      '60',
      'start',
    ]);
  }

  private get password(): string {
    return readFileSync(path.join(this.root, 'pgpassword'), 'utf8').trim();
  }

  /** Creates both databases and brings their schemas to the version this server ships (idempotent). */
  private createSchemas(binaries: ServerBinaries, state: StackState): void {
    const marker = path.join(this.root, `schema-v${state.version}.done`);
    if (existsSync(marker)) return;
    const connection = [
      '--plugin',
      'postgres12',
      '--endpoint',
      '127.0.0.1',
      '--port',
      String(state.postgresPort),
      '--user',
      DB_USER,
    ];
    const env = { ...process.env, SQL_PASSWORD: this.password };
    const tool = (database: string, args: string[], alreadyDoneIsFine = false): void => {
      try {
        runQuiet(binaries.sqlTool, [...connection, '--database', database, ...args], env);
      } catch (error) {
        // runQuiet's message carries the tool's output
        if (!alreadyDoneIsFine || !/already exists/.test((error as Error).message)) throw error;
      }
    };
    for (const [database, schema] of [
      ['temporal', 'postgresql/v12/temporal'],
      ['temporal_visibility', 'postgresql/v12/visibility'],
    ] as const) {
      this.log(`Creating database ${database} and its schema …`);
      // Both steps are done already on a cluster whose marker was lost: "already exists" is fine.
      tool(database, ['create-database'], true);
      tool(database, ['setup-schema', '-v', '0.0'], true);
      tool(database, ['update-schema', '--schema-name', schema]);
    }
    writeFileSync(marker, new Date().toISOString() + '\n');
  }

  /** config/stack.yaml: docker-compose's shape (auto-setup's template) with this stack's ports. */
  private writeServerConfig(state: StackState): void {
    const directory = path.join(this.root, 'config');
    mkdirSync(directory, { recursive: true });
    const store = (database: string, maxConns: number) => `      sql:
        pluginName: postgres12
        databaseName: ${database}
        connectAddr: "127.0.0.1:${state.postgresPort}"
        connectProtocol: tcp
        user: ${DB_USER}
        password: "${this.password}"
        maxConns: ${maxConns}
        maxIdleConns: ${maxConns}
        maxConnLifetime: 1h`;
    const service = (grpc: number, membership: number, extra = '') => `    rpc:
      grpcPort: ${grpc}
      membershipPort: ${membership}
      bindOnLocalHost: true${extra}`;
    const port = state.port;
    // It holds the database password: readable by this user only.
    writeFileSync(
      path.join(directory, 'stack.yaml'),
      `# Written by scripts/stack-postgres.ts at every start; edit the script, not this file.
log:
  stdout: true
  level: warn
persistence:
  defaultStore: default
  visibilityStore: visibility
  numHistoryShards: ${state.shards}
  datastores:
    default:
${store('temporal', 20)}
    visibility:
${store('temporal_visibility', 10)}
global:
  membership:
    maxJoinDuration: 30s
    broadcastAddress: 127.0.0.1
services:
  frontend:
${service(port, port + 5, `\n      httpPort: ${port + 9}`)}
  history:
${service(port + 1, port + 6)}
  matching:
${service(port + 2, port + 7)}
  worker:
${service(port + 3, port + 8)}
clusterMetadata:
  enableGlobalNamespace: false
  failoverVersionIncrement: 10
  masterClusterName: active
  currentClusterName: active
  clusterInformation:
    active:
      enabled: true
      initialFailoverVersion: 1
      rpcName: frontend
      rpcAddress: 127.0.0.1:${port}
dcRedirectionPolicy:
  policy: noop
dynamicConfigClient:
  filepath: ${DYNAMIC_CONFIG_FILE}
  pollInterval: 10s
`,
      { mode: 0o600 },
    );
  }

  private async waitUntilServing(logFile: string): Promise<void> {
    const deadline = Date.now() + 90_000;
    const pid = this.temporalPid();
    for (;;) {
      if (pid === undefined || !isAlive(pid))
        throw new Error(`the Temporal server exited; the end of ${logFile}:\n${tail(logFile, 30)}`);
      const answered = spawnSync(
        locateTemporalCli(),
        ['operator', 'cluster', 'health', '--address', this.address, '--command-timeout', '2s'],
        { encoding: 'utf8' },
      );
      if (answered.status === 0 && /SERVING/.test(answered.stdout)) return;
      if (Date.now() > deadline)
        throw new Error(`the Temporal server did not answer on ${this.address} in 90 s; see ${logFile}`);
      await sleep(500);
    }
  }

  /** The `default` namespace and our search attributes, as docker-compose's auto-setup and admin-tools make them. */
  private async registerNamespace(): Promise<void> {
    const cli = locateTemporalCli();
    const address = ['--address', this.address];
    const described = spawnSync(cli, ['operator', 'namespace', 'describe', '--namespace', 'default', ...address], {
      encoding: 'utf8',
    });
    if (described.status !== 0) {
      this.log(`Creating namespace default (retention ${this.retention}) …`);
      runQuiet(cli, [
        'operator',
        'namespace',
        'create',
        '--namespace',
        'default',
        '--retention',
        this.retention,
        ...address,
      ]);
    }
    const attributes = ALL_SEARCH_ATTRIBUTES.flatMap((key) => [
      '--name',
      key.name,
      '--type',
      SEARCH_ATTRIBUTE_TYPES[key.type] ?? key.type,
    ]);
    // A namespace just created reaches every service's cache within seconds: retry until it does.
    const deadline = Date.now() + 60_000;
    for (;;) {
      const created = spawnSync(
        cli,
        ['operator', 'search-attribute', 'create', '--namespace', 'default', ...address, ...attributes],
        { encoding: 'utf8' },
      );
      const output = created.stdout + created.stderr;
      if (created.status === 0 || (/already exists/.test(output) && !/different type/.test(output))) break;
      if (Date.now() > deadline) throw new Error(`registering the search attributes failed: ${output}`);
      await sleep(1_000);
    }
    // On SQL visibility an attribute is a per-namespace mapping, which the frontend picks up at its
    // next namespace refresh (up to ~10 s): until then starting a workflow that sets it fails.
    const query = ALL_SEARCH_ATTRIBUTES.map((key) => `${key.name} = ${key.type === 'INT' ? '0' : '"ready"'}`).join(
      ' AND ',
    );
    for (;;) {
      const listed = spawnSync(
        cli,
        ['workflow', 'list', '--namespace', 'default', ...address, '--query', query, '--limit', '1'],
        { encoding: 'utf8' },
      );
      if (listed.status === 0) return;
      if (Date.now() > deadline)
        throw new Error(`the search attributes are not usable yet: ${listed.stderr}${listed.stdout}`);
      await sleep(1_000);
    }
  }

  private runPostgres(bin: string, binary: string, args: string[]): void {
    const user = postgresClusterUser();
    const command = path.join(bin, binary);
    if (user) runQuiet('runuser', ['-u', user.name, '--', command, ...args], process.env, this.root);
    else runQuiet(command, args, process.env, this.root);
  }
}

function runQuiet(file: string, args: string[], env: NodeJS.ProcessEnv = process.env, cwd?: string): string {
  try {
    return execFileSync(file, args, { env, cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (error) {
    const { stderr, stdout } = error as { stderr?: string; stdout?: string };
    throw new Error(`${path.basename(file)} ${args.slice(0, 3).join(' ')} … failed: ${stderr ?? ''}${stdout ?? ''}`, {
      cause: error,
    });
  }
}

function livePid(file: string): number | undefined {
  if (!existsSync(file)) return undefined;
  const pid = Number(readFileSync(file, 'utf8').trim());
  return Number.isInteger(pid) && pid > 0 && isAlive(pid) ? pid : undefined;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false; // no such process
  }
  // A killed child of this process stays a zombie until reaped: not running.
  try {
    return !/^\S+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return true; // no /proc: signal 0 is all we know
  }
}

function tail(file: string, lines: number): string {
  try {
    return readFileSync(file, 'utf8')
      .split('\n')
      .slice(-lines)
      .map((line) => (line.length > 400 ? `${line.slice(0, 400)} …` : line))
      .join('\n');
  } catch {
    return '(no log)';
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A run of `count` consecutive free TCP ports on 127.0.0.1 (for a stack of our own in a test or bench). */
export async function freePortRange(count: number): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt += 1) {
    // Below 32,768: Temporal stores membership ports as a PostgreSQL smallint.
    const base = 20_000 + Math.floor(Math.random() * (12_000 - count));
    const ports = Array.from({ length: count }, (_, index) => base + index);
    if ((await Promise.all(ports.map(isFree))).every(Boolean)) return base;
  }
  throw new Error(`no ${count} consecutive free ports found`);
}

function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** Ports a stack takes above its frontend port (gRPC and membership of four services, HTTP). */
export const STACK_PORT_SPAN = 10;

async function main(): Promise<void> {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: {
      root: { type: 'string' },
      port: { type: 'string' },
      'postgres-port': { type: 'string' },
      shards: { type: 'string' },
      retention: { type: 'string' },
      wipe: { type: 'boolean', default: false },
    },
  });
  const command = positionals[0];
  const integer = (name: string, value: string | undefined): number | undefined => {
    if (value === undefined) return undefined;
    if (!/^\d+$/.test(value) || Number(value) < 1)
      throw new Error(`--${name} must be a positive integer, got ${value}`);
    return Number(value);
  };
  const stack = new PostgresStack({
    ...(values.root ? { root: values.root } : {}),
    ...(values.port ? { port: integer('port', values.port) } : {}),
    ...(values['postgres-port'] ? { postgresPort: integer('postgres-port', values['postgres-port']) } : {}),
    ...(values.shards ? { shards: integer('shards', values.shards) } : {}),
    ...(values.retention ? { retention: values.retention } : {}),
    log: (line) => console.error(line),
  });
  switch (command) {
    case 'up':
      await stack.up();
      console.log(
        `Temporal v${stack.version} on PostgreSQL is up: TEMPORAL_ADDRESS=${stack.address} (${stack.shards} history shards; data, config and logs in ${stack.root}). Stop it with \`npm run stack:postgres -- down\`.`,
      );
      return;
    case 'down':
      await stack.down({ wipe: values.wipe });
      console.log(values.wipe ? `Stopped; ${stack.root} deleted.` : `Stopped; the data stays in ${stack.root}.`);
      return;
    case 'status': {
      const temporal = stack.temporalPid();
      const postgres = stack.postgresPid();
      console.log(
        `Temporal server: ${temporal ? `running (pid ${temporal}) on ${stack.address}` : 'stopped'}; PostgreSQL: ${postgres ? `running (pid ${postgres})` : 'stopped'}; root ${stack.root}`,
      );
      return;
    }
    default:
      throw new Error(`usage: npm run stack:postgres -- up|down|status [options] (got ${command ?? 'no command'})`);
  }
}

if (require.main === module) {
  main().catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  });
}
