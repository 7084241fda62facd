/**
 * One contract, two stores: the JSONL FileResultStore and the PostgreSQL store (against a real
 * PostgreSQL this test starts) must behave alike — first write wins and the stored record is handed
 * back, writeMany, hasResults, both read orders, filters, the post-processing ledger, staged batch answers.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { FileResultStore, type ResultFilter, type ResultOrder } from '../../src/results';
import { PostgresResultStore, RESULTS_TABLE } from '../../src/results-postgres';
import type { ResultStore } from '../../src/results-store';
import type { ItemResult } from '../../src/schemas';
import { PG_PASSWORD, postgresUnavailable, startTestPostgres, type TestPostgres } from '../helpers/postgres';
import { sampleResultWithStatus } from '../helpers/result-records';

const recordOf = sampleResultWithStatus;

const json = (value: unknown): unknown => JSON.parse(JSON.stringify(value));

async function collect(store: ResultStore, batchId: string, order?: ResultOrder, filter?: ResultFilter) {
  const records: ItemResult[] = [];
  for await (const record of store.records(batchId, order, filter)) records.push(record);
  return records;
}

interface StoreKind {
  name: string;
  /** A fresh, empty store, and a second handle on the same storage (as another process has). */
  open(): Promise<{ store: ResultStore; another: () => ResultStore }>;
}

const skip = postgresUnavailable();
let postgres: TestPostgres | undefined;
let databases = 0;
const opened: ResultStore[] = [];
const directories: string[] = [];

const KINDS: StoreKind[] = [
  {
    name: 'FileResultStore (JSONL)',
    async open() {
      const directory = mkdtempSync(path.join(os.tmpdir(), 'batch-llm-contract-'));
      directories.push(directory);
      return { store: new FileResultStore(directory), another: () => new FileResultStore(directory) };
    },
  },
  {
    name: 'PostgresResultStore',
    async open() {
      if (!postgres) throw new Error('no test PostgreSQL');
      const url = await postgres.createDatabase(`contract_${++databases}`);
      const make = () => {
        const store = new PostgresResultStore(url);
        opened.push(store);
        return store;
      };
      return { store: make(), another: make };
    },
  },
];

before(async () => {
  if (!skip) postgres = await startTestPostgres();
});
after(async () => {
  await Promise.all(opened.map((store) => store.close()));
  await postgres?.teardown();
  for (const directory of directories) rmSync(directory, { recursive: true, force: true });
});

for (const kind of KINDS) {
  const options = kind.name.startsWith('Postgres') && skip ? { skip } : {};
  describe(`results store contract: ${kind.name}`, options, () => {
    test('first write wins; a retried write changes nothing; a different one gets the stored record back', async () => {
      const { store, another } = await kind.open();
      assert.equal(await store.hasResults('twice'), false);
      const first = await store.write(recordOf('twice', 0, 'succeeded', 'first'));
      assert.equal(first.kept, undefined, 'the first write is kept as offered');
      assert.equal(typeof first.location, 'string');
      assert.equal(
        (await store.write(recordOf('twice', 0, 'succeeded', 'first'))).kept,
        undefined,
        'same record again',
      );
      const second = await store.write(recordOf('twice', 0, 'failed', 'second'));
      assert.deepEqual(second.kept, json(recordOf('twice', 0, 'succeeded', 'first')), 'the stored record comes back');
      const fromAnother = await another().write(recordOf('twice', 0, 'failed', 'from another process'));
      assert.deepEqual(fromAnother.kept, json(recordOf('twice', 0, 'succeeded', 'first')));
      assert.equal(await store.hasResults('twice'), true);
      assert.equal(await store.hasResults('other-batch'), false, 'another batch has none');
      const records = await collect(store, 'twice');
      assert.equal(records.length, 1);
      assert.deepEqual(records[0], json(recordOf('twice', 0, 'succeeded', 'first')));
    });

    test('writeMany adds only new ids (the first of duplicates in one call), and refuses another batch’s items', async () => {
      const { store } = await kind.open();
      await store.write(recordOf('many', 0, 'succeeded', 'single'));
      const written = await store.writeMany('many', [
        recordOf('many', 0, 'cancelled', 'again'),
        recordOf('many', 1, 'cancelled', 'kept'),
        recordOf('many', 1, 'cancelled', 'duplicate in one call'),
        recordOf('many', 2, 'deadline_exceeded'),
      ]);
      assert.equal(written.added, 2);
      assert.equal((await store.writeMany('many', [])).added, 0);
      await assert.rejects(store.writeMany('many', [recordOf('stranger', 3)]), /of batch "stranger"/);
      const records = await collect(store, 'many');
      assert.equal(records.length, 3);
      assert.deepEqual(
        records.map((record) => [record.itemId, record.status]),
        [
          ['item-0', 'succeeded'],
          ['item-1', 'cancelled'],
          ['item-2', 'deadline_exceeded'],
        ],
      );
      assert.doesNotMatch(JSON.stringify(records), /duplicate in one call/);
    });

    test('records come in input order or in the order they were written, past one page, and filter by status and category', async () => {
      const { store } = await kind.open();
      const count = 1234; // more than the PostgreSQL store's page of 500
      const written = Array.from({ length: count }, (_, position) => (position * 7919) % count); // a permutation
      const statusOf = (index: number): ItemResult['status'] =>
        index % 10 === 0 ? 'failed' : index % 10 === 1 ? 'blocked' : 'succeeded';
      for (let start = 0; start < count; start += 100)
        await Promise.all(
          written.slice(start, start + 100).map((index, offset) =>
            // Within a slice of 100 the writes race; the slices follow one another.
            new Promise((resolve) => setTimeout(resolve, offset % 3)).then(() =>
              store.write(recordOf('order', index, statusOf(index))),
            ),
          ),
        );
      const input = await collect(store, 'order', 'input');
      assert.equal(input.length, count);
      assert.deepEqual(
        input.map((record) => record.index),
        Array.from({ length: count }, (_, index) => index),
      );
      const finish = await collect(store, 'order', 'finish');
      assert.equal(finish.length, count);
      assert.notDeepEqual(
        finish.map((record) => record.index),
        input.map((record) => record.index),
      );
      for (let start = 0; start < count; start += 100)
        assert.deepEqual(
          new Set(finish.slice(start, start + 100).map((record) => record.index)),
          new Set(written.slice(start, start + 100)),
          `the records written in slice ${start / 100} come ${start / 100}th`,
        );

      const failed = await collect(store, 'order', 'input', { statuses: ['failed'] });
      assert.equal(failed.length, Math.ceil(count / 10));
      assert.ok(failed.every((record) => record.status === 'failed'));
      const notSucceeded = await collect(store, 'order', 'finish', { statuses: ['failed', 'blocked'] });
      assert.equal(notSucceeded.length, failed.length + Math.floor((count - 2) / 10) + 1);
      const validation = await collect(store, 'order', 'input', { categories: ['validation_error'] });
      assert.equal(validation.length, Math.ceil(count / 20));
      assert.ok(validation.every((record) => record.error?.category === 'validation_error'));
      assert.equal(
        (await collect(store, 'order', 'input', { statuses: ['succeeded'], categories: ['server_error'] })).length,
        0,
      );
      assert.equal((await collect(store, 'no-such-batch')).length, 0);
    });

    test('a reader that stops early leaves the store usable', async () => {
      const { store } = await kind.open();
      await store.writeMany(
        'early',
        Array.from({ length: 1100 }, (_, index) => recordOf('early', index)),
      );
      for (let round = 0; round < 6; round++) {
        for await (const record of store.records('early')) if (record.index === 600) break;
      }
      assert.equal((await collect(store, 'early')).length, 1100);
    });

    test('the post-processing ledger: nothing before, the decision after, a later decision replaces it', async () => {
      const { store, another } = await kind.open();
      assert.equal(await store.readPostProcessed('ledger', 'item-0'), undefined);
      assert.equal(typeof (await store.writePostProcessed('ledger', 'item-0', { accept: { score: 1 } })), 'string');
      assert.deepEqual(await another().readPostProcessed('ledger', 'item-0'), { accept: { score: 1 } });
      await store.writePostProcessed('ledger', 'item-0', { reject: 'changed my mind' });
      assert.deepEqual(await store.readPostProcessed('ledger', 'item-0'), { reject: 'changed my mind' });
      assert.equal(await store.readPostProcessed('ledger', 'item-1'), undefined);
      assert.equal(await store.readPostProcessed('other', 'item-0'), undefined);
    });

    test('staged batch answers: keyed by batch, job and item; a retried download replaces them; NUL characters survive as U+FFFD at most', async () => {
      const { store, another } = await kind.open();
      const usage = { inputTokens: 10, outputTokens: 5, cachedTokens: 0, thoughtsTokens: 0 };
      const metadata = { finishReason: 'STOP', safetyRatings: {}, blockedCategories: [], usage };
      const answers = Array.from({ length: 1_200 }, (_, index) =>
        index % 100 === 7
          ? { itemId: `i/${index}`, error: { category: 'server_overload' as const, message: 'busy', retryable: true } }
          : { itemId: `i/${index}`, answer: { text: `{"n":${index}}`, usage, metadata } },
      );
      assert.equal(await store.readStagedAnswer('staged', 1, 'i/0'), undefined, 'nothing before');
      await store.stageBatchAnswers('staged', 1, answers);
      assert.deepEqual(await another().readStagedAnswer('staged', 1, 'i/5'), json(answers[5]));
      assert.deepEqual(await store.readStagedAnswer('staged', 1, 'i/107'), json(answers[107]));
      assert.deepEqual(await store.readStagedAnswer('staged', 1, 'i/1199'), json(answers[1199]));
      assert.equal(await store.readStagedAnswer('staged', 2, 'i/5'), undefined, 'another job');
      assert.equal(await store.readStagedAnswer('other', 1, 'i/5'), undefined, 'another batch');
      const again = { itemId: 'i/5', answer: { text: '{"n":"again"}', usage, metadata } };
      await store.stageBatchAnswers('staged', 1, [again]);
      assert.deepEqual(await store.readStagedAnswer('staged', 1, 'i/5'), json(again), 'a retried download replaces');
      await store.stageBatchAnswers('staged', 3, [{ itemId: 'nul', answer: { text: 'a\u0000b', usage, metadata } }]);
      const text = (await store.readStagedAnswer('staged', 3, 'nul'))?.answer?.text;
      assert.ok(text === 'a\u0000b' || text === 'a\uFFFDb', `stored: ${JSON.stringify(text)}`);
      await store.stageBatchAnswers('kept', 1, [again]);
      await another().clearStagedAnswers('staged');
      assert.equal(await store.readStagedAnswer('staged', 1, 'i/0'), undefined, 'cleared when the batch ends');
      assert.equal(await store.readStagedAnswer('staged', 3, 'nul'), undefined);
      assert.deepEqual(await store.readStagedAnswer('kept', 1, 'i/5'), json(again), 'another batch keeps its own');
      await store.clearStagedAnswers('never-staged');
    });

    test('many writers racing on the same items: one record each, every loser handed the winner', async () => {
      const { store, another } = await kind.open();
      const writers = [store, another(), another()];
      const outcomes = await Promise.all(
        writers.flatMap((writer, number) =>
          Array.from({ length: 40 }, (_, index) =>
            writer
              .write(recordOf('race', index, 'succeeded', `writer ${number}`))
              .then((recorded) => ({ index, number, kept: recorded.kept })),
          ),
        ),
      );
      const records = await collect(store, 'race');
      assert.equal(records.length, 40);
      for (const record of records) {
        const mine = outcomes.filter((outcome) => outcome.index === record.index);
        assert.equal(mine.length, 3);
        const winners = mine.filter((outcome) => outcome.kept === undefined);
        assert.equal(winners.length, 1, `item ${record.index}: exactly one write was kept as offered`);
        for (const loser of mine.filter((outcome) => outcome.kept !== undefined))
          assert.deepEqual(loser.kept, record, `item ${record.index}: a loser is handed the stored record`);
      }
    });
  });
}

describe('the PostgreSQL store itself', skip ? { skip } : {}, () => {
  test('two stores creating the schema at once on a fresh database; indexed columns filled; SQL can read it', async () => {
    const url = await postgres!.createDatabase('schema_race');
    const stores = Array.from({ length: 4 }, () => new PostgresResultStore(url));
    opened.push(...stores);
    await Promise.all(
      stores.map((store, number) => store.write(recordOf('sql', number, number % 2 ? 'failed' : 'succeeded'))),
    );
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      const { rows } = await client.query<{
        item_id: string;
        status: string;
        category: string | null;
        item_index: number;
        title: string | null;
      }>(
        `SELECT item_id, status, category, item_index, record->'output'->>'title' AS title FROM ${RESULTS_TABLE} WHERE batch_id = 'sql' ORDER BY item_index`,
      );
      assert.equal(rows.length, 4);
      assert.deepEqual(
        rows.map((row) => [row.item_id, row.status, row.category, row.item_index]),
        [
          ['item-0', 'succeeded', null, 0],
          ['item-1', 'failed', 'server_error', 1],
          ['item-2', 'succeeded', null, 2],
          ['item-3', 'failed', 'server_error', 3],
        ],
      );
      assert.match(rows[0]?.title ?? '', /^Product 0/);
    } finally {
      await client.end();
    }
  });

  test('messages name the database without its password; a wrong password is a clear error; a NUL character is stored as U+FFFD', async () => {
    const url = await postgres!.createDatabase('messages');
    const store = new PostgresResultStore(url);
    opened.push(store);
    assert.doesNotMatch(store.describe('b'), new RegExp(PG_PASSWORD));
    assert.match(store.describe('b'), /postgres:\/\/batchllm:\*\*\*@127\.0\.0\.1:\d+\/messages/);
    const nul = recordOf('nul', 0);
    nul.output = { text: 'a\u0000b' };
    // Refusing it would retry the item's write for ever: the stored record has U+FFFD, and is what the item reports.
    const written = await store.write(nul);
    assert.deepEqual(written.kept?.output, { text: 'a\uFFFDb' });
    const stored: unknown[] = [];
    for await (const record of store.records('nul')) stored.push(record.output);
    assert.deepEqual(stored, [{ text: 'a\uFFFDb' }]);

    const wrong = new PostgresResultStore(url.replace(encodeURIComponent(PG_PASSWORD), 'not-the-password'));
    opened.push(wrong);
    const error = await wrong.hasResults('b').then(
      () => undefined,
      (caught: unknown) => caught as Error,
    );
    assert.ok(error, 'a wrong password fails');
    assert.match(
      error.message,
      /PostgreSQL results store postgres:\/\/batchllm:\*\*\*@127\.0\.0\.1:\d+\/messages: .*password authentication failed/,
    );
    assert.doesNotMatch(error.message, /not-the-password/);
  });
});
