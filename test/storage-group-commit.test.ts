/**
 * Group commit and event-loop slicing of the node state's connection, on real SQLite files: writes
 * that wait together share a transaction, each keeps its own result or error, order and
 * durability hold, and long queues run over many event-loop turns (counted, never timed).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import Database from "better-sqlite3";
import { Kysely, SqliteDialect, sql } from "kysely";
import { AbortedError, StorageError } from "../src/errors.js";
import { openNodeState } from "../src/storage/index.js";
import type { NodeStateTables } from "../src/storage/schema.js";
import { StoreConnection } from "../src/storage/store-connection.js";
import { WriteLock } from "../src/storage/write-lock.js";
import { TurnBudget } from "../src/turn-budget.js";
import { filled } from "./helpers/storage-go-db.js";
import { tempDir } from "./helpers/temp-dir.js";
import { turnCounter } from "./helpers/turn-counter.js";

const tmp = tempDir("storage-group-commit-");

type Db = Kysely<NodeStateTables>;

interface Opened {
  conn: StoreConnection;
  file: string;
  /** Statements as SQLite received them, in order. */
  log: string[];
  /** The turn of each statement of {@link log}, when `open` was given a counter. */
  at: number[];
  close: () => Promise<void>;
}

/** A connection on a fresh file with a table `t (k integer primary key, v text)`. */
async function open(
  options: {
    maxWritesPerCommit?: number;
    turns?: TurnBudget;
    setup?: string;
    synchronous?: { full: string[]; normal: string[] };
    /** Counts turns: `at[i]` is then the turn in which `log[i]` ran. */
    counter?: { readonly turn: number };
  } = {},
): Promise<Opened> {
  const file = tmp.file();
  const database = new Database(file);
  database.pragma("journal_mode = wal");
  database.pragma("synchronous = full");
  database.exec("create table t (k integer primary key, v text not null)");
  if (options.setup !== undefined) database.exec(options.setup);
  const log: string[] = [];
  const at: number[] = [];
  const kysely = new Kysely<NodeStateTables>({
    dialect: new SqliteDialect({ database }),
    log: (event) => {
      log.push(event.query.sql);
      at.push(options.counter?.turn ?? 0);
    },
  });
  const conn = new StoreConnection(kysely, new WriteLock(), {
    maxWritesPerCommit: options.maxWritesPerCommit,
    turns: options.turns ?? new TurnBudget(10_000),
    synchronous: options.synchronous,
  });
  return {
    conn,
    file,
    log,
    at,
    close: async () => {
      await conn.markClosed();
      await kysely.destroy();
    },
  };
}

const insert =
  (k: number, v = `v${k}`) =>
  (db: Db) =>
    sql`insert into t (k, v) values (${k}, ${v})`.execute(db).then(() => k);

/** The rows of `file`, read by a connection of its own. */
function rows(file: string): Map<number, string> {
  const db = new Database(file, { readonly: true });
  try {
    const all = db.prepare("select k, v from t order by k").all() as { k: number; v: string }[];
    return new Map(all.map((r) => [r.k, r.v]));
  } finally {
    db.close();
  }
}

const commitsIn = (log: readonly string[]) => log.filter((q) => q === "commit").length;

describe("group commit", () => {
  it("commits many concurrent writes in few transactions, and loses none", async () => {
    const o = await open();
    const results = await Promise.all(
      Array.from({ length: 300 }, (_, k) => o.conn.write(undefined, {}, insert(k))),
    );
    assert.deepEqual(
      results,
      Array.from({ length: 300 }, (_, k) => k),
    );
    assert.equal(o.conn.commits, 1, "300 writes issued together share one transaction");
    assert.equal(commitsIn(o.log), 1);
    await o.close();
    assert.equal(rows(o.file).size, 300, "every write is in the file after closing");
  });

  it("splits a long queue into transactions of at most maxWritesPerCommit writes", async () => {
    const o = await open({ maxWritesPerCommit: 40 });
    await Promise.all(
      Array.from({ length: 100 }, (_, k) => o.conn.write(undefined, {}, insert(k))),
    );
    assert.equal(o.conn.commits, 3);
    await o.close();
    assert.equal(rows(o.file).size, 100);
  });

  it("runs the writes in the order they were issued and resolves them in that order", async () => {
    const o = await open();
    await o.conn.write(undefined, {}, insert(1, ""));
    const resolved: number[] = [];
    await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        o.conn
          .write(undefined, {}, (db) =>
            sql`update t set v = v || ${`${i},`} where k = 1`.execute(db),
          )
          .then(() => resolved.push(i)),
      ),
    );
    const expected = Array.from({ length: 50 }, (_, i) => i);
    assert.deepEqual(resolved, expected);
    await o.close();
    assert.equal(rows(o.file).get(1), expected.map((i) => `${i},`).join(""));
  });

  it("resolves a write only after the transaction holding it is committed", async () => {
    const o = await open();
    let committedBefore = -1;
    await Promise.all([
      o.conn.write(undefined, {}, insert(1)).then(() => {
        committedBefore = commitsIn(o.log);
      }),
      o.conn.write(undefined, {}, insert(2)),
    ]);
    assert.equal(committedBefore, 1);
    // Another connection sees the row as soon as the promise resolved.
    assert.equal(rows(o.file).get(1), "v1");
    await o.close();
  });

  it("gives a failing write its own error and undoes only its changes", async () => {
    const o = await open();
    await o.conn.write(undefined, {}, insert(7));
    o.log.length = 0;
    const outcomes = await Promise.allSettled(
      Array.from({ length: 20 }, (_, i) =>
        o.conn.write(undefined, { table: "t" }, async (db) => {
          await insert(100 + i)(db);
          // Write 5 collides with the row above after its own first insert.
          if (i === 5) await insert(7)(db);
          return i;
        }),
      ),
    );
    for (const [i, outcome] of outcomes.entries()) {
      if (i === 5) {
        assert.equal(outcome.status, "rejected");
        const error = (outcome as PromiseRejectedResult).reason;
        assert.ok(error instanceof StorageError);
        assert.equal(error.kind, "duplicate");
        assert.equal(error.table, "t");
      } else {
        assert.deepEqual(outcome, { status: "fulfilled", value: i });
      }
    }
    assert.equal(commitsIn(o.log), 1, "the failure did not cost its batch-mates their transaction");
    await o.close();
    const stored = rows(o.file);
    assert.equal(stored.has(105), false, "the failing write's first insert was rolled back");
    assert.equal(stored.size, 1 + 19);
  });

  it("runs the batch-mates again alone when SQLite ended the shared transaction", async () => {
    const o = await open();
    const runs = new Map<number, number>();
    const outcomes = await Promise.allSettled(
      Array.from({ length: 10 }, (_, i) =>
        o.conn.write(undefined, {}, async (db) => {
          runs.set(i, (runs.get(i) ?? 0) + 1);
          await insert(i)(db);
          // As after SQLITE_FULL: the whole transaction is gone, the batch-mates' writes with it.
          if (i === 4 && runs.get(i) === 1) await sql`rollback`.execute(db);
          return i;
        }),
      ),
    );
    assert.equal(outcomes[4]?.status, "rejected", "the write at fault fails");
    for (const [i, outcome] of outcomes.entries()) {
      if (i !== 4) assert.deepEqual(outcome, { status: "fulfilled", value: i });
    }
    // Writes 0–3 ran in the lost transaction and again alone; 5–9 only alone; 4 only once.
    assert.deepEqual(
      [...runs].sort((a, b) => a[0] - b[0]),
      [0, 1, 2, 3, 4, 5, 6, 7, 8, 9].map((i) => [i, i < 4 ? 2 : 1]),
    );
    await o.close();
    assert.deepEqual([...rows(o.file).keys()], [0, 1, 2, 3, 5, 6, 7, 8, 9]);
  });

  it("runs again, alone, a write the server aborted to break a deadlock, at most three times in all", async () => {
    const o = await open();
    const runs = new Map<number, number>();
    const deadlock = () => Object.assign(new Error("deadlock detected"), { code: "40P01" });
    const outcomes = await Promise.allSettled(
      Array.from({ length: 8 }, (_, i) =>
        o.conn.write(undefined, { table: "t" }, async (db) => {
          const run = (runs.get(i) ?? 0) + 1;
          runs.set(i, run);
          await insert(i)(db);
          // Write 3 is chosen as the deadlock's victim twice, write 6 every time.
          if ((i === 3 && run <= 2) || i === 6) throw deadlock();
          return i;
        }),
      ),
    );
    for (const [i, outcome] of outcomes.entries()) {
      if (i === 6) {
        assert.equal(outcome.status, "rejected");
        const error = (outcome as PromiseRejectedResult).reason;
        assert.ok(error instanceof StorageError);
        assert.equal(error.kind, "io");
        assert.equal(error.retriable, true, "the caller may try again");
      } else {
        assert.deepEqual(outcome, { status: "fulfilled", value: i });
      }
    }
    // The others ran once, in the shared transaction; 3 and 6 again alone, 3 runs at most.
    assert.deepEqual(
      [...runs].sort((a, b) => a[0] - b[0]),
      [0, 1, 2, 3, 4, 5, 6, 7].map((i) => [i, i === 3 || i === 6 ? 3 : 1]),
    );
    assert.equal(o.conn.conflictRetries, 4);
    await o.close();
    assert.deepEqual([...rows(o.file).keys()], [0, 1, 2, 3, 4, 5, 7]);
  });

  it("retries write by write when COMMIT fails, so only the write at fault fails", async () => {
    const o = await open({
      setup:
        "pragma foreign_keys = on; create table parent (id integer primary key);" +
        " create table child (id integer primary key, p integer not null" +
        " references parent (id) deferrable initially deferred)",
    });
    const outcomes = await Promise.allSettled(
      Array.from({ length: 6 }, (_, i) =>
        o.conn.write(undefined, {}, async (db) => {
          await insert(i)(db);
          // A deferred foreign key: the statement passes, the COMMIT fails.
          if (i === 2) await sql`insert into child (id, p) values (1, 99)`.execute(db);
          return i;
        }),
      ),
    );
    const rejected = outcomes[2] as PromiseRejectedResult;
    assert.equal(rejected.status, "rejected");
    assert.ok(rejected.reason instanceof StorageError);
    assert.match(String(rejected.reason.message), /FOREIGN KEY/i);
    for (const [i, outcome] of outcomes.entries()) {
      if (i !== 2) assert.deepEqual(outcome, { status: "fulfilled", value: i });
    }
    await o.close();
    assert.deepEqual([...rows(o.file).keys()], [0, 1, 3, 4, 5]);
  });

  it("rejects a queued write whose signal aborts before its turn, and writes nothing of it", async () => {
    const o = await open();
    const controller = new AbortController();
    const first = o.conn.write(undefined, {}, insert(1));
    const aborted = o.conn.write(controller.signal, {}, insert(2));
    const last = o.conn.write(undefined, {}, insert(3));
    controller.abort();
    await assert.rejects(aborted, AbortedError);
    await Promise.all([first, last]);
    await o.close();
    assert.deepEqual([...rows(o.file).keys()], [1, 3]);
  });

  it("fails queued writes with kind closed once the connection is closed", async () => {
    const o = await open();
    const queued = o.conn.write(undefined, {}, insert(1));
    await o.conn.markClosed();
    await assert.rejects(queued, (err: unknown) => {
      assert.ok(err instanceof StorageError);
      assert.equal(err.kind, "closed");
      return true;
    });
    await o.close();
    assert.equal(rows(o.file).size, 0);
  });

  it("joins the caller's transaction for writes made inside a write", async () => {
    const o = await open();
    await Promise.all(
      Array.from({ length: 5 }, (_, i) =>
        o.conn.write(undefined, {}, async (db) => {
          await insert(i)(db);
          // A repository called inside the callback joins instead of queueing (no deadlock).
          return o.conn.write(undefined, {}, insert(100 + i));
        }),
      ),
    );
    assert.equal(o.conn.commits, 1);
    await o.close();
    assert.equal(rows(o.file).size, 10);
  });

  it("commits the writes of many identities through the node state in few transactions", async () => {
    const file = tmp.file();
    const state = await openNodeState(file, { create: true });
    const n = 200;
    await Promise.all(
      Array.from({ length: n }, (_, i) =>
        state.registrations.add({
          nodeId: filled(32, i),
          hash: filled(32, 1),
          address: "https://poet",
          roundId: "0",
          roundEnd: new Date(0),
        }),
      ),
    );
    // A duplicate among many fails alone.
    const again = await Promise.allSettled(
      [0, n].map((i) =>
        state.registrations.add({
          nodeId: filled(32, i),
          hash: filled(32, 1),
          address: "https://poet",
          roundId: "0",
          roundEnd: new Date(0),
        }),
      ),
    );
    assert.equal(again[0]?.status, "rejected");
    assert.equal(((again[0] as PromiseRejectedResult).reason as StorageError).kind, "duplicate");
    assert.equal(again[1]?.status, "fulfilled");
    await state.close();
    const reopened = await openNodeState(file);
    assert.equal((await reopened.registrations.list()).length, n + 1);
    await reopened.close();
  });
});

describe("durable writes", () => {
  const synchronous = {
    full: ["pragma main.synchronous = full"],
    normal: ["pragma main.synchronous = normal"],
  };
  /** SQLite's synchronous setting in force, read inside the write (2 FULL, 1 NORMAL). */
  const level = (db: Db) =>
    sql<{ synchronous: number }>`pragma main.synchronous`
      .execute(db)
      .then((r) => Number(r.rows[0]?.synchronous));

  it("commits a durable write with synchronous FULL and the others with NORMAL", async () => {
    const o = await open({ synchronous });
    assert.equal(await o.conn.write(undefined, {}, level), 1);
    assert.equal(await o.conn.write(undefined, {}, level, { durable: true }), 2);
    assert.equal(await o.conn.write(undefined, {}, level), 1);
    assert.equal(o.conn.durableCommits, 1);
    assert.equal(o.conn.commits, 3);
    await o.close();
  });

  it("runs a shared transaction with one durable write in it under FULL, for all of its writes", async () => {
    const o = await open({ synchronous });
    const levels = await Promise.all([
      o.conn.write(undefined, {}, level),
      o.conn.write(undefined, {}, level, { durable: true }),
      o.conn.write(undefined, {}, level),
    ]);
    assert.deepEqual(levels, [2, 2, 2]);
    assert.equal(o.conn.commits, 1);
    assert.equal(o.conn.durableCommits, 1);
    await o.close();
  });

  it("changes the setting only between transactions that need different ones", async () => {
    const o = await open({ synchronous });
    for (let i = 0; i < 3; i++) await o.conn.write(undefined, {}, insert(i));
    for (let i = 3; i < 5; i++) await o.conn.write(undefined, {}, insert(i), { durable: true });
    await o.conn.write(undefined, {}, insert(5));
    const pragmas = o.log.filter((q) => q.startsWith("pragma main.synchronous ="));
    assert.deepEqual(pragmas, [
      "pragma main.synchronous = normal",
      "pragma main.synchronous = full",
      "pragma main.synchronous = normal",
    ]);
    await o.close();
    assert.equal(rows(o.file).size, 6);
  });

  it("records the node state's submit intents durably, and its other writes without a sync", async () => {
    const database = new Database(tmp.file());
    database.defaultSafeIntegers(true);
    const log: string[] = [];
    const kysely = new Kysely<NodeStateTables>({
      dialect: new SqliteDialect({ database }),
      log: (event) => {
        log.push(event.query.sql);
      },
    });
    const state = await openNodeState(kysely);
    /** The synchronous setting in force when the statement starting with `prefix` ran. */
    const settingAt = (prefix: string) => {
      const at = log.findIndex((q) => q.startsWith(prefix));
      assert.ok(at >= 0, `${prefix} ran`);
      const setting = log.slice(0, at).findLast((q) => /^pragma \S+\.synchronous =/.test(q));
      return setting?.split("= ")[1];
    };
    await state.intents.record({
      nodeId: filled(32, 1),
      address: "https://poet",
      hash: filled(32, 2),
      roundId: "0",
      roundEnd: new Date(1_000),
      proofDeadline: new Date(2_000),
      createdAt: new Date(0),
    });
    assert.equal(settingAt('insert into "poet_client_submit_intent"'), "full");
    await state.registrations.add({
      nodeId: filled(32, 3),
      hash: filled(32, 2),
      address: "https://poet",
      roundId: "0",
      roundEnd: new Date(1_000),
    });
    assert.equal(settingAt('insert into "poet_registration"'), "normal");
    await state.close();
    await kysely.destroy();
  });
});

describe("event-loop slicing", () => {
  it("lets at most the budget of writes run per event-loop turn", async () => {
    const o = await open({ turns: new TurnBudget(10) });
    const counter = turnCounter();
    const perTurn = new Map<number, number>();
    await Promise.all(
      Array.from({ length: 200 }, (_, k) =>
        o.conn.write(undefined, {}, async (db) => {
          perTurn.set(counter.turn, (perTurn.get(counter.turn) ?? 0) + 1);
          return insert(k)(db);
        }),
      ),
    );
    counter.stop();
    assert.ok(Math.max(...perTurn.values()) <= 10, `at most 10 writes per turn`);
    assert.ok(perTurn.size >= 20, `200 writes took ${perTurn.size} turns, at least 20`);
    assert.equal(o.conn.commits, 1, "still one transaction");
    await o.close();
    assert.equal(rows(o.file).size, 200);
  });

  it("gives the event loop a turn between transactions", async () => {
    const o = await open({ maxWritesPerCommit: 25 });
    const counter = turnCounter();
    const resolvedIn = new Set<number>();
    await Promise.all(
      Array.from({ length: 100 }, (_, k) =>
        o.conn.write(undefined, {}, insert(k)).then(() => resolvedIn.add(counter.turn)),
      ),
    );
    counter.stop();
    assert.equal(o.conn.commits, 4);
    assert.equal(resolvedIn.size, 4, "each transaction's writes settle in a turn of their own");
    await o.close();
  });

  it("runs heavy writes each in a transaction and a turn of its own, and their commits in later turns", async () => {
    const counter = turnCounter();
    const o = await open({ turns: new TurnBudget(10), counter });
    const heavyTurns: number[] = [];
    /** The index in the log of each heavy write's insert. */
    const heavyAt: number[] = [];
    // Five heavy writes (a chunk of each of five PoETs' member lists, say), each among light ones,
    // all queued in the same turn: before, they shared one transaction and one turn.
    const writes: Promise<unknown>[] = [];
    for (let h = 0; h < 5; h++) {
      writes.push(
        o.conn.write(
          undefined,
          {},
          async (db) => {
            heavyTurns.push(counter.turn);
            await insert(1000 + h, "heavy")(db);
            heavyAt.push(o.log.length - 1);
          },
          { heavy: true },
        ),
      );
      for (let k = 0; k < 4; k++) writes.push(o.conn.write(undefined, {}, insert(10 * h + k)));
    }
    const commitsBefore = o.conn.commits;
    await Promise.all(writes);
    counter.stop();
    assert.equal(new Set(heavyTurns).size, 5, `heavy writes ran in turns ${heavyTurns.join(", ")}`);
    // Each heavy write alone in its transaction, and the light ones between them in theirs.
    assert.ok(o.conn.commits - commitsBefore >= 9, `${o.conn.commits - commitsBefore} commits`);
    assert.equal(heavyAt.length, 5);
    for (const i of heavyAt) {
      assert.match(o.log[i] as string, /^insert into "?t"?/);
      const commit = o.log.indexOf("commit", i);
      assert.ok(commit > i);
      assert.ok(
        (o.at[commit] as number) > (o.at[i] as number),
        `a heavy write's commit runs in a later turn than the write (${o.at[i]} → ${o.at[commit]})`,
      );
    }
    await o.close();
    assert.equal(rows(o.file).size, 25);
  });

  it("slices a burst of reads over turns", async () => {
    const o = await open({ turns: new TurnBudget(10) });
    const counter = turnCounter();
    const perTurn = new Map<number, number>();
    const read = () =>
      o.conn.read(undefined, {}, async (db) => {
        perTurn.set(counter.turn, (perTurn.get(counter.turn) ?? 0) + 1);
        return sql`select count(*) from t`.execute(db);
      });
    await Promise.all(Array.from({ length: 100 }, read));
    counter.stop();
    assert.ok(Math.max(...perTurn.values()) <= 10);
    assert.ok(perTurn.size >= 10);
    await o.close();
  });
});

describe("TurnBudget", () => {
  it("grants steps in the order they were asked for, a budget per turn", async () => {
    const budget = new TurnBudget(3);
    const counter = turnCounter();
    const granted: Array<[number, number]> = [];
    await Promise.all(
      Array.from({ length: 10 }, async (_, i) => {
        await budget.take();
        granted.push([i, counter.turn]);
      }),
    );
    counter.stop();
    assert.deepEqual(
      granted.map(([i]) => i),
      [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    );
    const turns = new Map<number, number>();
    for (const [, turn] of granted) turns.set(turn, (turns.get(turn) ?? 0) + 1);
    assert.deepEqual([...turns.values()], [3, 3, 3, 1]);
    assert.equal(budget.turns, 4);
  });

  it("needs no await while the turn has budget left", () => {
    const budget = new TurnBudget(2);
    assert.equal(budget.take(), undefined);
    assert.equal(budget.take(), undefined);
    assert.ok(budget.take() instanceof Promise);
  });
});
