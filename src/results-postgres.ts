/**
 * Results in PostgreSQL: one row per (batch, item), so workers on any machine write one store and
 * `results` (and SQL users) read it from anywhere. The same contract as FileResultStore: the first
 * record written for an item is its final one (`INSERT … ON CONFLICT DO NOTHING`), a retried or
 * competing write gets the stored record back, readers stream in input or finish order.
 */
import pg from 'pg';
import { withoutPassword } from './config';
import type {
  PostProcessLedger,
  BatchAnswerStaging,
  StagedBatchAnswer,
  RecordedResult,
  RecordedResults,
  ResultFilter,
  ResultOrder,
  ResultReader,
  ResultSink,
} from './results';
import type { ItemResult } from './schemas';

export const RESULTS_TABLE = 'batch_llm_results';
export const POST_PROCESSED_TABLE = 'batch_llm_post_processed';
export const BATCH_ANSWERS_TABLE = 'batch_llm_batch_answers';

/**
 * Created on first use when missing, under a transaction-scoped advisory lock: `CREATE … IF NOT
 * EXISTS` alone can still collide when two workers start at once. `recorded_seq` is the order rows
 * were written in (the `finish` order); the record itself is JSONB, beside indexed columns for
 * filtering and ordering.
 */
const SCHEMA = [
  `CREATE TABLE IF NOT EXISTS ${RESULTS_TABLE} (
    batch_id text NOT NULL,
    item_id text NOT NULL,
    item_index integer NOT NULL,
    status text NOT NULL,
    category text,
    finished_at timestamptz NOT NULL,
    recorded_seq bigint GENERATED ALWAYS AS IDENTITY,
    record jsonb NOT NULL,
    PRIMARY KEY (batch_id, item_id)
  )`,
  `CREATE INDEX IF NOT EXISTS ${RESULTS_TABLE}_input_order ON ${RESULTS_TABLE} (batch_id, item_index, item_id)`,
  `CREATE INDEX IF NOT EXISTS ${RESULTS_TABLE}_finish_order ON ${RESULTS_TABLE} (batch_id, recorded_seq)`,
  `CREATE INDEX IF NOT EXISTS ${RESULTS_TABLE}_status ON ${RESULTS_TABLE} (batch_id, status)`,
  `CREATE INDEX IF NOT EXISTS ${RESULTS_TABLE}_category ON ${RESULTS_TABLE} (batch_id, category)`,
  `CREATE INDEX IF NOT EXISTS ${RESULTS_TABLE}_finished_at ON ${RESULTS_TABLE} (batch_id, finished_at)`,
  `CREATE TABLE IF NOT EXISTS ${POST_PROCESSED_TABLE} (
    batch_id text NOT NULL,
    item_id text NOT NULL,
    decision jsonb NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (batch_id, item_id)
  )`,
  `CREATE TABLE IF NOT EXISTS ${BATCH_ANSWERS_TABLE} (
    batch_id text NOT NULL,
    job integer NOT NULL,
    item_id text NOT NULL,
    answer jsonb NOT NULL,
    PRIMARY KEY (batch_id, job, item_id)
  )`,
];
/** Any constant will do: every process creating the schema takes the same lock. */
const SCHEMA_LOCK = 0x6261_7463; // "batc"

/** Rows per INSERT of writeMany, and per page when reading. */
const WRITE_ROWS = 500;
const READ_ROWS = 500;

/** The order records come back in when read: `index` and the item ids first, as in the results file. */
const RECORD_KEYS: ReadonlyArray<keyof ItemResult> = [
  'itemId',
  'index',
  'batchId',
  'status',
  'output',
  'error',
  'metadata',
  'filteredBy',
  'rawResponse',
  'stopReason',
  'model',
  'usage',
  'costUsd',
  'modelCalls',
  'attempts',
  'startedAt',
  'finishedAt',
  'durationMs',
];

export interface PostgresResultStoreOptions {
  /** Connections this process holds at most (default 4). */
  maxConnections?: number;
}

export class PostgresResultStore implements ResultSink, ResultReader, PostProcessLedger, BatchAnswerStaging {
  private readonly pool: pg.Pool;
  private schema: Promise<void> | undefined;
  /** The URL without its password: for messages. */
  readonly location: string;

  constructor(url: string, options: PostgresResultStoreOptions = {}) {
    this.location = withoutPassword(url);
    this.pool = new pg.Pool({
      connectionString: url,
      max: options.maxConnections ?? 4,
      idleTimeoutMillis: 30_000,
      connectionTimeoutMillis: 15_000,
      application_name: 'batch-llm',
    });
    // A pooled connection dropped while idle (a database restart) is replaced on next use; without
    // a listener its error would end the process.
    this.pool.on('error', () => undefined);
  }

  describe(batchId: string): string {
    return `${this.location} (table ${RESULTS_TABLE}, batch_id '${batchId}')`;
  }

  async close(): Promise<void> {
    await this.pool.end();
  }

  async hasResults(batchId: string): Promise<boolean> {
    await this.ensureSchema();
    const { rowCount } = await this.query(`SELECT 1 FROM ${RESULTS_TABLE} WHERE batch_id = $1 LIMIT 1`, [batchId]);
    return (rowCount ?? 0) > 0;
  }

  async write(result: ItemResult): Promise<RecordedResult> {
    const location = this.describe(result.batchId);
    if ((await this.insert([result])) > 0) {
      // Stored as offered, unless a NUL had to become U+FFFD: then the item reports what was stored.
      const stored = JSON.parse(recordJson(result)) as ItemResult;
      return sameRecord(stored, result) ? { location } : { location, kept: stored };
    }
    // Another write got there first (this statement waited for it to commit): read what it stored.
    const { rows } = await this.query<{ record: ItemResult }>(
      `SELECT record FROM ${RESULTS_TABLE} WHERE batch_id = $1 AND item_id = $2`,
      [result.batchId, result.itemId],
    );
    const stored = rows[0]?.record;
    return stored && !sameRecord(stored, result) ? { location, kept: inRecordOrder(stored) } : { location };
  }

  async writeMany(batchId: string, results: readonly ItemResult[]): Promise<RecordedResults> {
    const stranger = results.find((result) => result.batchId !== batchId);
    if (stranger)
      throw new Error(`writeMany for batch "${batchId}" got item "${stranger.itemId}" of batch "${stranger.batchId}"`);
    const firsts = new Map<string, ItemResult>();
    for (const result of results) if (!firsts.has(result.itemId)) firsts.set(result.itemId, result);
    const unique = [...firsts.values()];
    let added = 0;
    for (let start = 0; start < unique.length; start += WRITE_ROWS)
      added += await this.insert(unique.slice(start, start + WRITE_ROWS));
    return { location: this.describe(batchId), added };
  }

  /** One INSERT of up to WRITE_ROWS records, in their order; returns how many were new. */
  private async insert(results: readonly ItemResult[]): Promise<number> {
    if (results.length === 0) return 0;
    await this.ensureSchema();
    const columns = {
      batchIds: [] as string[],
      itemIds: [] as string[],
      indexes: [] as number[],
      statuses: [] as string[],
      categories: [] as Array<string | null>,
      finishedAts: [] as string[],
      records: [] as string[],
    };
    for (const result of results) {
      columns.batchIds.push(result.batchId);
      columns.itemIds.push(result.itemId);
      columns.indexes.push(result.index);
      columns.statuses.push(result.status);
      columns.categories.push(result.error?.category ?? null);
      columns.finishedAts.push(result.finishedAt);
      columns.records.push(recordJson(result));
    }
    // unnest keeps the rows in array order, so recorded_seq follows the order given.
    const { rowCount } = await this.query(
      `INSERT INTO ${RESULTS_TABLE} (batch_id, item_id, item_index, status, category, finished_at, record)
       SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::text[], $5::text[], $6::timestamptz[], $7::jsonb[])
       ON CONFLICT (batch_id, item_id) DO NOTHING`,
      Object.values(columns),
    );
    return rowCount ?? 0;
  }

  /**
   * The batch's records, one per item, `READ_ROWS` at a time by keyset (never the whole batch in
   * memory), from one snapshot: rows committed while the export runs are not half-included.
   */
  async *records(batchId: string, order: ResultOrder = 'input', filter?: ResultFilter): AsyncGenerator<ItemResult> {
    await this.ensureSchema();
    const conditions = ['batch_id = $1'];
    const parameters: unknown[] = [batchId];
    if (filter?.statuses) {
      parameters.push(filter.statuses);
      conditions.push(`status = ANY($${parameters.length}::text[])`);
    }
    if (filter?.categories) {
      parameters.push(filter.categories);
      conditions.push(`category = ANY($${parameters.length}::text[])`);
    }
    const client = await this.pool.connect();
    let state: 'open' | 'committed' | 'broken' = 'open';
    try {
      await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      let after: { seq: string; index: number; itemId: string } | undefined;
      for (;;) {
        const page = [...parameters];
        let keyset = '';
        if (after && order === 'finish') {
          page.push(after.seq);
          keyset = ` AND recorded_seq > $${page.length}::bigint`;
        } else if (after) {
          page.push(after.index, after.itemId);
          keyset = ` AND (item_index, item_id) > ($${page.length - 1}::int, $${page.length}::text)`;
        }
        const orderBy = order === 'finish' ? 'recorded_seq' : 'item_index, item_id';
        const { rows } = await client.query<RecordRow>(
          `SELECT record, recorded_seq, item_index, item_id FROM ${RESULTS_TABLE}
           WHERE ${conditions.join(' AND ')}${keyset} ORDER BY ${orderBy} LIMIT ${READ_ROWS}`,
          page,
        );
        for (const row of rows) yield inRecordOrder(row.record);
        const last = rows.at(-1);
        if (!last || rows.length < READ_ROWS) break;
        after = { seq: last.recorded_seq, index: last.item_index, itemId: last.item_id };
      }
      await client.query('COMMIT');
      state = 'committed';
    } catch (error) {
      state = 'broken';
      throw this.explained(error);
    } finally {
      // An export abandoned mid-way (its consumer stopped) ends its transaction before the connection goes back.
      if (state === 'open') await client.query('ROLLBACK').catch(() => (state = 'broken'));
      client.release(state === 'broken'); // a connection in an unknown state is not reused
    }
  }

  async readPostProcessed<T>(batchId: string, itemId: string): Promise<T | undefined> {
    await this.ensureSchema();
    const { rows } = await this.query<{ decision: T }>(
      `SELECT decision FROM ${POST_PROCESSED_TABLE} WHERE batch_id = $1 AND item_id = $2`,
      [batchId, itemId],
    );
    return rows[0]?.decision;
  }

  /** Records a hook's decision; a later one for the same item replaces it (as the file ledger's rename does). */
  async writePostProcessed(batchId: string, itemId: string, decision: unknown): Promise<string> {
    await this.ensureSchema();
    await this.query(
      `INSERT INTO ${POST_PROCESSED_TABLE} (batch_id, item_id, decision) VALUES ($1, $2, $3::jsonb)
       ON CONFLICT (batch_id, item_id) DO UPDATE SET decision = EXCLUDED.decision, recorded_at = now()`,
      [batchId, itemId, JSON.stringify(decision)],
    );
    return `${this.location} (table ${POST_PROCESSED_TABLE}, batch_id '${batchId}', item_id '${itemId}')`;
  }

  /** A job's staged answers, WRITE_ROWS per statement; a retried download replaces them. */
  async stageBatchAnswers(batchId: string, job: number, answers: readonly StagedBatchAnswer[]): Promise<void> {
    await this.ensureSchema();
    for (let start = 0; start < answers.length; start += WRITE_ROWS) {
      const rows = answers.slice(start, start + WRITE_ROWS);
      const values: unknown[] = [];
      const tuples = rows.map((answer, index) => {
        values.push(batchId, job, answer.itemId, recordJson(answer));
        const at = index * 4;
        return `($${at + 1}, $${at + 2}, $${at + 3}, $${at + 4}::jsonb)`;
      });
      await this.query(
        `INSERT INTO ${BATCH_ANSWERS_TABLE} (batch_id, job, item_id, answer) VALUES ${tuples.join(', ')}
         ON CONFLICT (batch_id, job, item_id) DO UPDATE SET answer = EXCLUDED.answer`,
        values,
      );
    }
  }

  async readStagedAnswer(batchId: string, job: number, itemId: string): Promise<StagedBatchAnswer | undefined> {
    await this.ensureSchema();
    const { rows } = await this.query<{ answer: StagedBatchAnswer }>(
      `SELECT answer FROM ${BATCH_ANSWERS_TABLE} WHERE batch_id = $1 AND job = $2 AND item_id = $3`,
      [batchId, job, itemId],
    );
    return rows[0]?.answer;
  }

  async clearStagedAnswers(batchId: string): Promise<void> {
    await this.ensureSchema();
    await this.query(`DELETE FROM ${BATCH_ANSWERS_TABLE} WHERE batch_id = $1`, [batchId]);
  }

  /** Connects and creates the tables if needed: a worker calls it at start, so a wrong URL or password stops it there. */
  ready(): Promise<void> {
    return this.ensureSchema();
  }

  /** Creates the tables and indexes once per process, if they are not there yet. */
  private ensureSchema(): Promise<void> {
    this.schema ??= this.createSchema().catch((error: unknown) => {
      this.schema = undefined; // try again on the next call (the database may come back)
      throw error;
    });
    return this.schema;
  }

  private async createSchema(): Promise<void> {
    const { rows } = await this.query<{ results: string | null; ledger: string | null }>(
      `SELECT to_regclass($1) AS results, to_regclass($2) AS ledger`,
      [RESULTS_TABLE, POST_PROCESSED_TABLE],
    );
    if (rows[0]?.results && rows[0].ledger) return; // nothing to create: no DDL rights needed to read or write
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      await client.query('SELECT pg_advisory_xact_lock($1)', [SCHEMA_LOCK]);
      for (const statement of SCHEMA) await client.query(statement);
      await client.query('COMMIT');
      client.release();
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      client.release(true);
      throw this.explained(error);
    }
  }

  private async query<Row extends pg.QueryResultRow>(text: string, values: unknown[]): Promise<pg.QueryResult<Row>> {
    try {
      return await this.pool.query<Row>(text, values);
    } catch (error) {
      throw this.explained(error);
    }
  }

  /** The driver's error, saying which database it came from (never the password). */
  private explained(error: unknown): Error {
    const message = error instanceof Error ? error.message : String(error);
    if (message.startsWith('PostgreSQL results store ')) return error as Error;
    // A driver message holds no password; should one ever quote a URL, its password is masked.
    const masked = message.replace(/([a-z][a-z0-9+.-]*:\/\/[^:/?#@\s]*:)[^@\s]*@/gi, '$1***@');
    return new Error(`PostgreSQL results store ${this.location}: ${masked}`, { cause: error });
  }
}

interface RecordRow {
  record: ItemResult;
  recorded_seq: string;
  item_index: number;
  item_id: string;
}

/**
 * The record as stored. JSONB cannot hold a NUL character, and refusing the record would leave
 * the item's write retried for ever: a NUL in any string becomes U+FFFD (the replacement
 * character), and the item then reports the stored record, like any record kept first.
 */
function recordJson(result: unknown): string {
  return JSON.stringify(result, (_key, value: unknown) =>
    typeof value === 'string' && value.includes('\u0000') ? value.replaceAll('\u0000', '\uFFFD') : value,
  );
}

/** JSONB keeps keys in its own order; records come back with the result file's top-level order. */
function inRecordOrder(record: ItemResult): ItemResult {
  const ordered: Record<string, unknown> = {};
  const source = record as unknown as Record<string, unknown>;
  for (const key of RECORD_KEYS) if (key in source) ordered[key] = source[key];
  for (const key of Object.keys(source)) if (!(key in ordered)) ordered[key] = source[key];
  return ordered as unknown as ItemResult;
}

/** The same record offered again (a retried write): JSON-equal, whatever order JSONB gave its keys. */
function sameRecord(stored: ItemResult, offered: ItemResult): boolean {
  return canonicalJson(stored) === canonicalJson(JSON.parse(JSON.stringify(offered)));
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object')
    return `{${Object.keys(value)
      .sort()
      .map((key) => `${JSON.stringify(key)}:${canonicalJson((value as Record<string, unknown>)[key])}`)
      .join(',')}}`;
  return JSON.stringify(value);
}
