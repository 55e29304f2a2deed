/**
 * WAL checkpoints on a thread of their own (`storage/wal-checkpointer.ts`), on real SQLite files:
 * started by the first heavy write only, run under the process's write lock once enough pages were
 * committed, and the lock always handed back: also when the node state closes mid-checkpoint, when
 * the thread exits mid-checkpoint, and when a checkpoint does not end in time (a `ManualClock`);
 * and a large log's last checkpoint, at close, left to a thread's connection.
 * Waits on the write lock, never on wall-clock time.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import { describe, it } from "node:test";
import { MessageChannel } from "node:worker_threads";
import Database from "better-sqlite3";
import { ManualClock } from "../src/clock.js";
import { openNodeState } from "../src/storage/index.js";
import {
  BACKSTOP_PAGES,
  CHECKPOINT_HOLD_MS,
  CHECKPOINT_PAGES,
  CLOSE_OFF_THREAD_BYTES,
  WalCheckpointer,
} from "../src/storage/wal-checkpointer.js";
import { WriteLock } from "../src/storage/write-lock.js";
import { PackedMembers } from "../src/wire/index.js";
import { prng } from "./helpers/prng.js";
import { recordingLogger } from "./helpers/recording-logger.js";
import { tempDir } from "./helpers/temp-dir.js";

const tmp = tempDir("storage-wal-checkpointer-");

/** A WAL file whose connection never checkpoints by itself, with `pages` pages committed. */
function walDatabase(pages: number): { db: Database.Database; file: string } {
  const file = tmp.file();
  const db = new Database(file);
  db.pragma("journal_mode = wal");
  db.pragma("wal_autocheckpoint = 0");
  db.exec("create table t (k integer primary key, v blob)");
  const insert = db.prepare("insert into t (v) values (?)");
  for (let i = 0; i < pages; i++) insert.run(Buffer.alloc(4000, i));
  return { db, file };
}

/**
 * The frames in the WAL after one more commit: SQLite starts the WAL over at a transaction that
 * begins with every frame copied into the database file, so a handful means that the thread had
 * checkpointed everything. (`wal_checkpoint` reports the frames; with none left to copy it copies
 * nothing itself.)
 */
function framesAfterAnotherCommit(db: Database.Database): number {
  db.prepare("insert into t (v) values (?)").run(Buffer.alloc(10));
  const row = db.pragma("wal_checkpoint(PASSIVE)") as Array<{ log: number }>;
  return (row[0] as { log: number }).log;
}

/**
 * Keeps the event loop alive until the returned function is called: the thread is unref'd, and a
 * test that only waits for it would otherwise end with the loop (an open port, no timer).
 */
function keepAlive(): () => void {
  const { port1 } = new MessageChannel();
  port1.on("message", () => {});
  return () => port1.close();
}

describe("WAL checkpoints on a thread", () => {
  it("starts no thread for light commits, only at the first heavy one", async () => {
    const { db, file } = walDatabase(1);
    const settings: number[] = [];
    const checkpointer = new WalCheckpointer({
      files: [file],
      lock: new WriteLock(),
      setAutocheckpoint: async (pages) => {
        settings.push(pages);
      },
    });
    for (let i = 0; i < 10 * CHECKPOINT_PAGES; i++) checkpointer.committed(false);
    assert.equal(checkpointer.started, false);
    assert.deepEqual(settings, []);
    checkpointer.committed(true);
    assert.equal(checkpointer.started, true);
    assert.deepEqual(settings, [BACKSTOP_PAGES], "SQLite's own checkpoints moved to the backstop");
    await checkpointer.close();
    db.close();
  });

  it("checkpoints under the write lock once enough pages were committed", async () => {
    const { db, file } = walDatabase(300);
    const lock = new WriteLock();
    const checkpointer = new WalCheckpointer({
      files: [file],
      lock,
      setAutocheckpoint: async () => {},
    });
    try {
      // Three megabyte chunks are not enough pages yet; the fourth is.
      for (let i = 0; i < 3; i++) checkpointer.committed(true);
      const unlock = await lock.acquire();
      unlock();
      assert.equal(checkpointer.checkpoints, 0);
      checkpointer.committed(true);
      // The checkpoint takes the lock; a writer that comes after it waits until it is done.
      const release = await lock.acquire();
      assert.equal(checkpointer.checkpoints, 1);
      release();
      const frames = framesAfterAnotherCommit(db);
      assert.ok(frames < 10, `the WAL started over (${frames} frames): the thread copied all 300`);
    } finally {
      await checkpointer.close();
      db.close();
    }
  });

  it("hands the write lock back when closed with a checkpoint under way", async () => {
    const { db, file } = walDatabase(10);
    const lock = new WriteLock();
    const checkpointer = new WalCheckpointer({
      files: [file],
      lock,
      setAutocheckpoint: async () => {},
    });
    for (let i = 0; i < 4; i++) checkpointer.committed(true);
    await checkpointer.close();
    const release = await lock.acquire();
    release();
    checkpointer.committed(true);
    assert.equal(checkpointer.started, false, "closed: no thread again");
    db.close();
  });

  // The time limit only ends a run that hangs (a writer waiting for good), not a slow one.
  it("hands the write lock back and stops when the thread exits mid-checkpoint", {
    timeout: 60_000,
  }, async () => {
    const { db, file } = walDatabase(10);
    const lock = new WriteLock();
    const settings: number[] = [];
    const logger = recordingLogger();
    const checkpointer = new WalCheckpointer({
      files: [file],
      lock,
      setAutocheckpoint: async (pages) => {
        settings.push(pages);
      },
      logger,
      clock: new ManualClock(0),
      // A thread that exits, without an 'error', when asked to checkpoint.
      workerSource: `require("node:worker_threads").parentPort.on("message", () => process.exit(0));`,
    });
    const alive = keepAlive();
    try {
      for (let i = 0; i < 4; i++) checkpointer.committed(true);
      // A writer behind the checkpoint (a lease renewal): it gets the lock once the thread is gone.
      const release = await lock.acquire();
      release();
      assert.equal(checkpointer.started, false, "the thread is stopped");
      assert.equal(checkpointer.checkpoints, 0);
      assert.deepEqual(settings, [BACKSTOP_PAGES, CHECKPOINT_PAGES], "SQLite checkpoints again");
      assert.deepEqual(
        logger.warnings.map((l) => l.message),
        ["the WAL checkpoint thread exited; SQLite checkpoints on its own"],
      );
      // Later commits neither start a thread nor take the lock.
      for (let i = 0; i < 8; i++) checkpointer.committed(true);
      assert.equal(checkpointer.started, false);
      const again = await lock.acquire();
      again();
    } finally {
      alive();
      await checkpointer.close();
      db.close();
    }
  });

  it("gives up a checkpoint that holds the write lock longer than the bound", async () => {
    const { db, file } = walDatabase(10);
    const lock = new WriteLock();
    const clock = new ManualClock(0);
    const logger = recordingLogger();
    const checkpointer = new WalCheckpointer({
      files: [file],
      lock,
      setAutocheckpoint: async () => {},
      logger,
      clock,
      // A thread whose checkpoint never ends.
      workerSource: `require("node:worker_threads").parentPort.on("message", () => {});`,
    });
    try {
      for (let i = 0; i < 4; i++) checkpointer.committed(true);
      let granted = false;
      const writer = lock.acquire().then((release) => {
        granted = true;
        return release;
      });
      await clock.advance(0); // the checkpoint has the lock and its bound runs from now
      await clock.advance(CHECKPOINT_HOLD_MS - 1);
      assert.equal(granted, false, "the checkpoint holds the lock until the bound");
      assert.equal(checkpointer.started, true);
      await clock.advance(1);
      assert.equal(granted, true, "the writer has the lock at the bound");
      (await writer)();
      assert.equal(checkpointer.started, false, "the thread is stopped");
      assert.deepEqual(
        logger.warnings.map((l) => l.message),
        ["a WAL checkpoint of the thread did not end in time; SQLite checkpoints on its own"],
      );
    } finally {
      await checkpointer.close();
      db.close();
    }
  });

  it("keeps a node state's WAL small while member lists are stored, and every list readable", async () => {
    const file = tmp.file();
    const state = await openNodeState(file, { create: true });
    const random = prng(7);
    const lists = Array.from({ length: 4 }, () => {
      const words = new Uint32Array(250_000 * 8);
      for (let i = 0; i < words.length; i++) words[i] = Math.floor(random() * 2 ** 32);
      return new PackedMembers(new Uint8Array(words.buffer));
    });
    try {
      await Promise.all(
        lists.map((members, i) =>
          state.members.put({
            address: `https://poet-${i}`,
            roundId: "1",
            members,
            fetchedAt: new Date(0),
          }),
        ),
      );
      for (const [i, members] of lists.entries()) {
        const list = await state.members.read(`https://poet-${i}`, "1");
        assert.ok(list?.members instanceof PackedMembers);
        assert.ok(Buffer.from(list.members.bytes).equals(members.bytes));
      }
    } finally {
      await state.close();
    }
    // 32 MB of chunks went through the companion's WAL; checkpoints every ~4 MB kept it near that,
    // far below the backstop (64 MiB) at which SQLite would have checkpointed on the event loop.
    const companion = fs
      .readdirSync(tmp.dir)
      .filter((f) => f.endsWith("-wal"))
      .map((f) => fs.statSync(`${tmp.dir}/${f}`).size);
    assert.ok(Math.max(...companion) < 16 * 2 ** 20, `WAL files of ${companion.join(", ")} bytes`);
  });

  /**
   * Closes a WAL database of `pages` pages through a checkpointer: whether its log was still there
   * right after the main connection closed (SQLite checkpoints a file, and deletes its log, when
   * its last connection closes).
   */
  async function closeThroughCheckpointer(pages: number) {
    const { db, file } = walDatabase(pages);
    const logBytes = fs.statSync(`${file}-wal`).size;
    const checkpointer = new WalCheckpointer({
      files: [file],
      lock: new WriteLock(),
      setAutocheckpoint: async () => {},
    });
    let logAfterMainClose: boolean | undefined;
    await checkpointer.close(async () => {
      db.close();
      logAfterMainClose = fs.existsSync(`${file}-wal`);
    });
    return { file, logBytes, logAfterMainClose };
  }

  it("leaves the last checkpoint of a large write-ahead log to a thread when closing", async () => {
    const { file, logBytes, logAfterMainClose } = await closeThroughCheckpointer(600);
    assert.ok(logBytes >= CLOSE_OFF_THREAD_BYTES);
    assert.equal(
      logAfterMainClose,
      true,
      "the main connection was not the last one: no checkpoint",
    );
    assert.equal(fs.existsSync(`${file}-wal`), false, "the thread's connection checkpointed it");
    const reopened = new Database(file, { readonly: true });
    try {
      assert.deepEqual(reopened.prepare("select count(*) as n from t").get(), { n: 600 });
    } finally {
      reopened.close();
    }
  });

  it("closes a small write-ahead log on the main connection, with no thread", async () => {
    const { logBytes, logAfterMainClose } = await closeThroughCheckpointer(10);
    assert.ok(logBytes < CLOSE_OFF_THREAD_BYTES);
    assert.equal(logAfterMainClose, false, "the main connection was the last one");
  });
});
