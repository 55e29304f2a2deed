/**
 * A SQLite file whose lock another process holds: the write that meets `SQLITE_BUSY` (after the
 * busy timeout) fails with a retriable {@link StorageError}, which the library's one retry policy
 * calls `transient`, and succeeds once the lock is free. `SQLITE_BUSY_SNAPSHOT` and
 * `SQLITE_LOCKED` are classified the same way.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import Database from "better-sqlite3";
import { ManualClock } from "../src/clock.js";
import { StorageError } from "../src/errors.js";
import { classifyFailure } from "../src/retry-policy.js";
import { type NodeState, openNodeState, type StoreOutageStatus } from "../src/storage/index.js";
import { toStorageError } from "../src/storage/store-connection.js";
import { isTransientStoreFailure } from "../src/storage/transient-failure.js";
import { recordingLogger } from "./helpers/recording-logger.js";
import { filled } from "./helpers/storage-go-db.js";
import { tempDir } from "./helpers/temp-dir.js";

const tmp = tempDir("sqlite-busy-");

const challenge = {
  publishEpoch: 1,
  sequence: 0n,
  prevAtx: filled(32, 2),
  positioningAtx: filled(32, 3),
};

/** A node state that waits for no lock (busy timeout 0), logging to a recording logger, with one challenge stored. */
async function openWithoutBusyWait(file: string) {
  const clock = new ManualClock(Date.parse("2025-01-01T00:00:00Z"));
  const logger = recordingLogger();
  const state = await openNodeState(file, { create: true, busyTimeoutMs: 0, logger, clock });
  await state.challenges.add(filled(32, 1), challenge);
  return { clock, logger, state };
}

describe("SQLite busy and locked", () => {
  it("classifies SQLITE_BUSY, SQLITE_BUSY_SNAPSHOT and SQLITE_LOCKED as retriable", () => {
    for (const code of ["SQLITE_BUSY", "SQLITE_BUSY_SNAPSHOT", "SQLITE_LOCKED"]) {
      const err = Object.assign(new Error("database is locked"), { code });
      assert.equal(isTransientStoreFailure(err), true, code);
      const storage = toStorageError(err, { table: "challenge" });
      assert.ok(storage instanceof StorageError);
      assert.equal(storage.kind, "io");
      assert.equal(storage.retriable, true, code);
      assert.equal(classifyFailure(storage), "transient", code);
    }
    for (const code of ["SQLITE_CONSTRAINT_PRIMARYKEY", "SQLITE_CORRUPT", "SQLITE_READONLY"]) {
      const storage = toStorageError(Object.assign(new Error("x"), { code }));
      assert.ok(storage instanceof StorageError);
      assert.equal(storage.retriable, false, code);
      assert.notEqual(classifyFailure(storage), "transient", code);
    }
  });

  it("fails a write on a file another connection has locked with a retriable StorageError, and writes once the lock is free", async () => {
    const file = tmp.file();
    const { clock, logger, state } = await openWithoutBusyWait(file);
    await using _ = state;
    assert.equal(state.outage, undefined);
    // Another process's write transaction holds the file's write lock.
    const other = new Database(file);
    try {
      other.exec("begin immediate");
      const err = await state.challenges.add(filled(32, 2), challenge).then(
        () => undefined,
        (e: unknown) => e,
      );
      assert.ok(err instanceof StorageError, `not a StorageError: ${String(err)}`);
      assert.equal(err.kind, "io");
      assert.equal(err.retriable, true);
      assert.match(String((err.cause as { code?: unknown } | undefined)?.code), /^SQLITE_BUSY/);
      assert.equal(classifyFailure(err), "transient");
      // A second failed write is the same outage: counted, not logged again.
      await state.challenges.add(filled(32, 3), challenge).catch(() => {});
      const outage = (state as NodeState).outage as StoreOutageStatus | undefined;
      assert.ok(outage !== undefined);
      assert.equal(outage.since.getTime(), clock.now());
      assert.equal(outage.failures, 2);
      assert.equal(outage.lastError.retriable, true);
      other.exec("commit");
    } finally {
      other.close();
    }
    // The lock is free: the same write goes through, and nothing stored before is lost.
    await clock.advance(1_500);
    await state.challenges.add(filled(32, 2), challenge);
    assert.equal((await state.challenges.list()).length, 2);
    assert.equal(state.outage, undefined);
    // Logged once when it began and once when it ended, with its length and failed calls.
    const said = logger.lines.filter((l) => /store (fails|is back)/.test(l.message));
    assert.deepEqual(
      said.map((l) => l.message),
      [
        "the node state's store fails; its writes are tried again until it is back",
        "the node state's store is back",
      ],
    );
    assert.equal(said[1]?.fields.durationMs, 1_500);
    assert.equal(said[1]?.fields.failures, 2);
  });

  it("keeps one outage while WAL reads succeed and writes fail on a file another process has locked", async () => {
    const file = tmp.file();
    const { clock, logger, state } = await openWithoutBusyWait(file);
    await using _ = state;
    const other = new Database(file);
    try {
      other.exec("begin immediate");
      for (let i = 0; i < 3; i++) {
        await assert.rejects(state.challenges.add(filled(32, 2 + i), challenge), StorageError);
        // Reads go on in WAL mode while the write lock is held: they do not end the outage.
        assert.equal((await state.challenges.list()).length, 1);
        assert.ok(state.outage !== undefined, "the outage goes on while only reads succeed");
        await clock.advance(100);
      }
      other.exec("commit");
    } finally {
      other.close();
    }
    await state.challenges.add(filled(32, 2), challenge);
    assert.equal(state.outage, undefined);
    const said = logger.lines.filter((l) => /store (fails|is back)/.test(l.message));
    assert.deepEqual(
      said.map((l) => l.level),
      ["warn", "info"],
      "one warning and one back line for the outage",
    );
    assert.equal(said[1]?.fields.failures, 3);
    assert.equal(said[1]?.fields.durationMs, 300);
  });
});
