/**
 * When an outage of the node state's store begins and ends (`store-outage.ts`), and how often a
 * failed call is counted: an outage that a write failure began ends only when a write succeeds
 * (reads that go on meanwhile do not end it), one that only reads met ends at any success, and a
 * failure inside a write that joined a caller's transaction is counted once, with the caller's
 * write. Real SQLite files; time from a `ManualClock`.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import Database from "better-sqlite3";
import { Kysely, SqliteDialect, sql } from "kysely";
import { ManualClock } from "../src/clock.js";
import { StorageError } from "../src/errors.js";
import type { NodeStateTables } from "../src/storage/schema.js";
import { StoreConnection, toStorageError } from "../src/storage/store-connection.js";
import { StoreOutage } from "../src/storage/store-outage.js";
import { WriteLock } from "../src/storage/write-lock.js";
import { TurnBudget } from "../src/turn-budget.js";
import { recordingLogger } from "./helpers/recording-logger.js";
import { tempDir } from "./helpers/temp-dir.js";

const tmp = tempDir("storage-store-outage-");

const WARNING = "the node state's store fails; its writes are tried again until it is back";
const BACK = "the node state's store is back";

function busy(): StorageError {
  const error = toStorageError(
    Object.assign(new Error("database is locked"), { code: "SQLITE_BUSY" }),
  );
  assert.ok(error instanceof StorageError && error.retriable);
  return error;
}

/** How many calls failed in the outage under way (a function: no narrowing of `current`). */
function failures(outage: StoreOutage): number | undefined {
  return outage.current?.failures;
}

function said(logger: ReturnType<typeof recordingLogger>) {
  return logger.lines.filter((l) => l.message === WARNING || l.message === BACK);
}

describe("store outage", () => {
  it("ends an outage begun by a failed write only when a write succeeds", async () => {
    const clock = new ManualClock(Date.parse("2025-01-01T00:00:00Z"));
    const logger = recordingLogger();
    const outage = new StoreOutage({ logger, clock, store: "test" });
    outage.failed(busy(), "write");
    await clock.advance(100);
    outage.succeeded("read");
    outage.failed(busy(), "write");
    outage.succeeded("read");
    assert.equal(outage.current?.failures, 2);
    assert.equal(outage.outages, 1);
    await clock.advance(100);
    outage.succeeded("write");
    assert.equal(outage.current, undefined);
    assert.deepEqual(
      said(logger).map((l) => l.message),
      [WARNING, BACK],
    );
    assert.equal(said(logger)[1]?.fields.failures, 2);
    assert.equal(said(logger)[1]?.fields.durationMs, 200);
  });

  it("ends an outage only reads met at any call that succeeds", () => {
    const clock = new ManualClock(0);
    const logger = recordingLogger();
    const outage = new StoreOutage({ logger, clock, store: "test" });
    outage.failed(busy(), "read");
    outage.succeeded("read");
    assert.equal(outage.current, undefined);
    outage.failed(busy(), "read");
    outage.succeeded("write");
    assert.equal(outage.current, undefined);
    // A write failure during a read outage: a read no longer ends it.
    outage.failed(busy(), "read");
    outage.failed(busy(), "write");
    outage.succeeded("read");
    assert.equal(failures(outage), 2);
    outage.succeeded("write");
    assert.equal(outage.current, undefined);
    assert.equal(outage.outages, 3);
    assert.deepEqual(
      said(logger).map((l) => l.message),
      [WARNING, BACK, WARNING, BACK, WARNING, BACK],
    );
  });

  it("counts a retriable failure inside a joined write or read once, with the caller's write", async () => {
    const file = tmp.file();
    const database = new Database(file);
    database.pragma("journal_mode = wal");
    database.exec("create table t (k integer primary key, v text not null)");
    const kysely = new Kysely<NodeStateTables>({ dialect: new SqliteDialect({ database }) });
    const clock = new ManualClock(Date.parse("2025-01-01T00:00:00Z"));
    const logger = recordingLogger();
    const outage = new StoreOutage({ logger, clock, store: "test" });
    const conn = new StoreConnection(kysely, new WriteLock(), {
      turns: new TurnBudget(10_000),
      outage,
    });
    try {
      // The joined call meets what SQLite throws when another process holds a lock it needs.
      const locked = () => Object.assign(new Error("database is locked"), { code: "SQLITE_BUSY" });
      const joinedWrite = conn.write(undefined, {}, async () => {
        await conn.write(undefined, { table: "t" }, async (db) => {
          await sql`insert into t (k, v) values (1, 'a')`.execute(db);
          throw locked();
        });
      });
      await assert.rejects(
        joinedWrite,
        (err: unknown) => err instanceof StorageError && err.retriable,
      );
      assert.equal(outage.current?.failures, 1, "the joined write and its caller: one failed call");
      const joinedRead = conn.write(undefined, {}, async () => {
        await conn.read(undefined, { table: "t" }, async () => {
          throw locked();
        });
      });
      await assert.rejects(
        joinedRead,
        (err: unknown) => err instanceof StorageError && err.retriable,
      );
      assert.equal(outage.current?.failures, 2, "the joined read and its caller: one failed call");
      await clock.advance(50);
      await conn.write(undefined, {}, async (db) => {
        await sql`insert into t (k, v) values (2, 'b')`.execute(db);
      });
      assert.equal(outage.current, undefined);
      assert.deepEqual(
        said(logger).map((l) => l.message),
        [WARNING, BACK],
      );
      assert.equal(said(logger)[1]?.fields.failures, 2);
      // Nothing of the failed writes was stored, the later one was.
      assert.deepEqual(database.prepare("select k from t order by k").all(), [{ k: 2 }]);
    } finally {
      await conn.markClosed();
      await kysely.destroy();
    }
  });
});
