/**
 * A throw-away PostgreSQL cluster for tests: initdb in a temp directory, started on a free port
 * (its unix socket in the same directory), password login over TCP, torn down afterwards.
 *
 * The binaries are found in PG_BIN_DIR, then `/usr/lib/postgresql/<version>/bin` (Debian's
 * layout, newest first), then PATH. initdb refuses to run as root: as root the cluster runs as the
 * `postgres` user (the Debian package creates it), else as `nobody`. When no binaries are found,
 * `postgresUnavailable()` says why and tests skip — unless REQUIRE_POSTGRES=1 (CI), where a
 * missing PostgreSQL fails the suite instead.
 */
import { execFileSync } from 'node:child_process';
import { chownSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { postgresBinDirectory, postgresClusterUser } from '../../scripts/stack-postgres';
import { freePort } from './ports';

export const PG_USER = 'batchllm';
/** Deliberately odd, so a test can check it never leaks into output. */
export const PG_PASSWORD = 'pw-S3cr3t-never-printed';

export interface TestPostgres {
  /** postgres://batchllm:<password>@127.0.0.1:<port>/<database> of a fresh database. */
  createDatabase(name: string): Promise<string>;
  port: number;
  teardown(): Promise<void>;
}

/** Why no test cluster can start here (undefined when one can); throws under REQUIRE_POSTGRES=1. */
export function postgresUnavailable(): string | undefined {
  const reason = postgresBinDirectory()
    ? undefined
    : 'no PostgreSQL binaries (initdb, pg_ctl, postgres) in PG_BIN_DIR, /usr/lib/postgresql/*/bin or PATH: install postgresql to run these tests';
  if (reason && process.env['REQUIRE_POSTGRES'] === '1') throw new Error(`REQUIRE_POSTGRES=1 but ${reason}`);
  return reason;
}

export async function startTestPostgres(): Promise<TestPostgres> {
  const bin = postgresBinDirectory();
  if (!bin) throw new Error(postgresUnavailable() ?? 'no PostgreSQL binaries');
  const user = postgresClusterUser();
  const root = mkdtempSync(path.join(os.tmpdir(), 'batch-llm-pg-'));
  const data = path.join(root, 'data');
  const socketDir = path.join(root, 'sock');
  mkdirSync(socketDir);
  const passwordFile = path.join(root, 'pw');
  writeFileSync(passwordFile, `${PG_PASSWORD}\n`);
  if (user) for (const entry of [root, socketDir, passwordFile]) chownSync(entry, user.uid, user.gid);
  const run = (binary: string, args: string[]) => {
    const command = path.join(bin, binary);
    const [file, argv] = user ? ['runuser', ['-u', user.name, '--', command, ...args]] : [command, args];
    try {
      return execFileSync(file, argv, { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (error) {
      const { stderr, stdout } = error as { stderr?: string; stdout?: string };
      throw new Error(`${binary} ${args.join(' ')} failed: ${stderr ?? ''}${stdout ?? ''}`, { cause: error });
    }
  };
  run('initdb', [
    '-D',
    data,
    '-U',
    PG_USER,
    `--pwfile=${passwordFile}`,
    '--auth-local=trust',
    '--auth-host=scram-sha-256',
    '-E',
    'UTF8',
    '--no-sync',
    '--locale=C',
  ]);
  const port = await freePort();
  const serverOptions = [
    `-p ${port}`,
    `-k ${socketDir}`,
    '-c listen_addresses=127.0.0.1',
    '-c fsync=off',
    '-c synchronous_commit=off',
    '-c full_page_writes=off',
    '-c max_connections=100',
  ].join(' ');
  run('pg_ctl', ['-D', data, '-l', path.join(root, 'server.log'), '-o', serverOptions, '-w', '-t', '60', 'start']);
  const base = `postgres://${PG_USER}:${encodeURIComponent(PG_PASSWORD)}@127.0.0.1:${port}`;
  return {
    port,
    async createDatabase(name) {
      const admin = new pg.Client({ connectionString: `${base}/postgres` });
      await admin.connect();
      try {
        await admin.query(`CREATE DATABASE "${name.replace(/"/g, '""')}"`);
      } finally {
        await admin.end();
      }
      return `${base}/${encodeURIComponent(name)}`;
    },
    async teardown() {
      try {
        run('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']);
      } finally {
        rmSync(root, { recursive: true, force: true });
      }
    },
  };
}
