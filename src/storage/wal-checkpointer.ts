/**
 * @module storage/wal-checkpointer
 *
 * WAL checkpoints on a thread of their own, once the node state has stored a member-list chunk of
 * 256 KiB or more (docs/node-client.md §1.11, the durability paragraph).
 *
 * In WAL mode a commit appends pages to the `-wal` file; SQLite's automatic checkpoint then copies
 * them into the database file, in the `COMMIT` of the connection whose commit took the WAL past
 * 1,000 pages, and syncs both files to the disk (`synchronous = NORMAL` syncs at checkpoints, not
 * at commits). better-sqlite3 runs that on the event loop: storing a 3,000,000-member list (96
 * MiB, `member-list-repository.ts`) checkpointed 4 MiB every four chunks, 15 ms of the main
 * thread's CPU and two `fsync`s each, 40–50 ms of a blocked event loop on a busy disk.
 *
 * So, from the first heavy write on (`WriteOptions.heavy`: a member-list chunk), this connection's
 * automatic checkpoint is moved back to a far bound ({@link BACKSTOP_PAGES}, in case the thread
 * fails) and a worker thread with connections of its own runs the checkpoints of both files, as
 * often as SQLite would have: once about {@link CHECKPOINT_PAGES} pages were committed since the
 * last (a heavy write counts its megabyte, any other write a few pages). It runs while holding
 * this process's write lock (`write-lock.ts`): writes wait in their queue for it, the event loop
 * does not. Without the lock the thread would never catch up with a writer that commits chunk
 * after chunk, and SQLite starts the WAL file over only when a transaction begins with every page
 * of it copied: the file grew to the backstop and the main thread checkpointed it after all.
 * `PASSIVE` checkpoints: neither a reader nor another process's writer is waited for. A node state
 * that never stores a member list keeps SQLite's own checkpoints and starts no thread. Only a
 * connection that the node state opened itself is changed; a caller's keeps its settings.
 *
 * A checkpoint is safe to interrupt: closing terminates the thread, whatever it does.
 *
 * **The last checkpoint, at close.** SQLite checkpoints a file when its last connection closes.
 * When the logs are large ({@link CLOSE_OFF_THREAD_BYTES}), closing opens a thread whose
 * connections stay open while the main connection closes, and close after it: that last
 * checkpoint and its `fsync`s run on the thread, whether or not member lists were ever stored.
 *
 * **The lock is never held for long.** Every writer of the process waits while a checkpoint
 * runs, lease renewals included, so a thread that stops answering must not keep them waiting: a
 * thread that exits (whether or not with an `'error'`) hands the lock back at once, and a
 * checkpoint that has not ended after {@link CHECKPOINT_HOLD_MS} (on the node state's `Clock`) is
 * given up. Either way the thread is stopped for good and the main connection checkpoints by
 * itself again, every 1,000 pages, as SQLite does by default: the writes go on, on the event loop.
 * (Handing the lock back while the thread still checkpoints is safe: the lock only lets the thread
 * catch up with the writers, SQLite keeps its own locks.)
 */

import { statSync } from "node:fs";
import { createRequire } from "node:module";
import { Worker } from "node:worker_threads";
import { type Clock, systemClock } from "../clock.js";
import { type Logger, silentLogger } from "../logger.js";
import type { WriteLock } from "./write-lock.js";

/**
 * The automatic checkpoint of the main connection once the thread checkpoints (pages of 4 KiB:
 * 64 MiB): reached only when the thread falls that far behind.
 */
export const BACKSTOP_PAGES = 16_384;

/** Pages committed between two checkpoints of the thread: SQLite's default automatic checkpoint. */
export const CHECKPOINT_PAGES = 1000;

/**
 * The longest a checkpoint holds the write lock before it is given up and the thread stopped. A
 * checkpoint of a thousand pages takes tens of milliseconds, two `fsync`s on a busy disk a few
 * hundred: this is far beyond either, and leaves lease renewals (every third of a 30 s lease) their
 * margin.
 */
export const CHECKPOINT_HOLD_MS = 5_000;

/**
 * Write-ahead logs at least this large at close are checkpointed by a thread: SQLite checkpoints
 * a file when its last connection closes, and a 10,000-identity node state's log (a few MiB) took
 * 242 ms of a blocked event loop there, 56 ms of it CPU and the rest `fsync`. A smaller log is
 * closed on the event loop (a thread costs more to start than it saves).
 */
export const CLOSE_OFF_THREAD_BYTES = 1024 * 1024;

/** Pages counted for a heavy write (a 1 MiB member-list chunk) and for any other. */
const HEAVY_PAGES = 256;
const LIGHT_PAGES = 4;

/** The thread: a connection per file, a passive checkpoint of each per message. */
const WORKER_SOURCE = `
const { parentPort, workerData } = require("node:worker_threads");
const Database = require(workerData.driver);
const dbs = [];
for (const file of workerData.files) {
  try { dbs.push(new Database(file, { fileMustExist: true })); } catch {}
}
parentPort.on("message", (message) => {
  if (message === "close") {
    for (const db of dbs.splice(0)) { try { db.close(); } catch {} }
    parentPort.postMessage(0);
    return;
  }
  let frames = 0;
  for (const db of dbs) {
    try {
      const row = db.pragma("wal_checkpoint(PASSIVE)")[0];
      frames += Number(row && row.checkpointed > 0 ? row.checkpointed : 0);
    } catch {}
  }
  parentPort.postMessage(frames);
});
`;

/** What a {@link WalCheckpointer} needs. */
export interface WalCheckpointerInit {
  /** The database files to checkpoint (the node's file and the companion). */
  files: readonly string[];
  /** This process's write lock on the files, held while a checkpoint runs. */
  lock: WriteLock;
  /** Moves the main connection's automatic checkpoint to `pages` (run once, on start). */
  setAutocheckpoint: (pages: number) => Promise<void>;
  logger?: Logger | undefined;
  /** Times {@link CHECKPOINT_HOLD_MS}. Default: the system clock. */
  clock?: Clock | undefined;
  /**
   * The thread's code instead of the checkpointing one (`workerData.files`, one message per
   * checkpoint, a number posted back when it is done). For tests of a thread that fails.
   * @internal
   */
  workerSource?: string | undefined;
}

/**
 * Runs WAL checkpoints on a worker thread once a heavy write was committed (see the module notes).
 *
 * @example
 * ```ts
 * const checkpointer = new WalCheckpointer({ files: [file, companion], lock, setAutocheckpoint });
 * // after each commit:
 * checkpointer.committed(heavy);
 * // on close:
 * await checkpointer.close();
 * ```
 */
export class WalCheckpointer {
  readonly #init: WalCheckpointerInit;
  #worker: Worker | undefined;
  /** Pages committed since the last checkpoint began (estimated). */
  #pages = 0;
  #inFlight = false;
  /** Releases the write lock held by the checkpoint under way. */
  #release: (() => void) | undefined;
  /** Cancels the bound on the checkpoint under way ({@link CHECKPOINT_HOLD_MS}). */
  #cancelBound: (() => void) | undefined;
  #closed = false;
  #checkpoints = 0;

  constructor(init: WalCheckpointerInit) {
    this.#init = init;
  }

  /** Whether the thread runs (after the first heavy write). */
  get started(): boolean {
    return this.#worker !== undefined;
  }

  /** Checkpoints the thread has run so far. */
  get checkpoints(): number {
    return this.#checkpoints;
  }

  /**
   * Told after each commit: starts the thread at the first heavy one, then has it checkpoint once
   * about {@link CHECKPOINT_PAGES} pages were committed.
   */
  committed(heavy: boolean): void {
    if (this.#closed) return;
    if (this.#worker === undefined) {
      if (!heavy) return;
      if (!this.#start()) return;
    }
    this.#pages += heavy ? HEAVY_PAGES : LIGHT_PAGES;
    if (this.#pages >= CHECKPOINT_PAGES && !this.#inFlight) void this.#checkpoint();
  }

  /** A thread with a connection of its own to each file. */
  #spawn(): Worker {
    const driver = createRequire(import.meta.url).resolve("better-sqlite3");
    return new Worker(this.#init.workerSource ?? WORKER_SOURCE, {
      eval: true,
      workerData: { driver, files: [...this.#init.files] },
    });
  }

  #start(): boolean {
    const logger = this.#init.logger ?? silentLogger;
    try {
      const worker = this.#spawn();
      worker.unref();
      worker.on("message", () => {
        this.#checkpoints++;
        this.#done();
      });
      worker.on("error", (err) => {
        if (this.#worker !== worker) return;
        logger.warn({ err }, "the WAL checkpoint thread failed; SQLite checkpoints on its own");
        this.#stop();
      });
      // Also without an 'error' (`process.exit` in the thread, a crash of the driver's thread).
      worker.on("exit", (code) => {
        if (this.#worker !== worker) return;
        logger.warn({ code }, "the WAL checkpoint thread exited; SQLite checkpoints on its own");
        this.#stop();
      });
      this.#worker = worker;
    } catch (err) {
      logger.warn({ err }, "could not start the WAL checkpoint thread");
      this.#closed = true;
      return false;
    }
    this.#init.setAutocheckpoint(BACKSTOP_PAGES).catch((err: unknown) => {
      logger.warn({ err }, "could not move the automatic WAL checkpoint");
    });
    return true;
  }

  /** Takes the write lock (after the writes queued before it) and has the thread checkpoint. */
  async #checkpoint(): Promise<void> {
    this.#inFlight = true;
    const release = await this.#init.lock.acquire();
    if (this.#worker === undefined) {
      release();
      this.#inFlight = false;
      return;
    }
    this.#pages = 0;
    this.#release = release;
    this.#cancelBound = this.#bound(CHECKPOINT_HOLD_MS, () => {
      if (this.#release !== release) return;
      (this.#init.logger ?? silentLogger).warn(
        { holdMs: CHECKPOINT_HOLD_MS },
        "a WAL checkpoint of the thread did not end in time; SQLite checkpoints on its own",
      );
      this.#stop();
    });
    this.#worker.postMessage(0);
  }

  /** Calls `onTime` after `ms` of the clock's time, unless the returned function is called first. */
  #bound(ms: number, onTime: () => void): () => void {
    const clock = this.#init.clock ?? systemClock;
    if (clock.setTimer !== undefined) return clock.setTimer(ms, onTime);
    const stop = new AbortController();
    clock.sleep(ms, { signal: stop.signal }).then(onTime, () => {});
    return () => stop.abort();
  }

  /** The checkpoint under way ended (or never will): the writes go on. */
  #done(): void {
    const release = this.#release;
    this.#release = undefined;
    this.#cancelBound?.();
    this.#cancelBound = undefined;
    this.#inFlight = false;
    release?.();
  }

  /** After a failure of the thread: SQLite's own checkpoints again, every 1,000 pages. */
  #stop(): void {
    const worker = this.#worker;
    if (worker === undefined) return;
    this.#worker = undefined;
    this.#closed = true;
    this.#done();
    this.#init.setAutocheckpoint(CHECKPOINT_PAGES).catch(() => {});
    void worker.terminate().catch(() => {});
  }

  /**
   * Stops the thread (a checkpoint under way is safe to cut short), then runs `closeMain` (the
   * main connection's close). When the files' write-ahead logs hold {@link CLOSE_OFF_THREAD_BYTES}
   * or more, a thread's connections stay open meanwhile and close after it: the last connection
   * of a file checkpoints it, and that is then the thread's, not the event loop's. Should the
   * thread fail or not answer within {@link CHECKPOINT_HOLD_MS}, the main connection closes
   * (and checkpoints) as it would without it.
   */
  async close(closeMain: () => Promise<void> = async () => {}): Promise<void> {
    this.#closed = true;
    const running = this.#worker;
    this.#worker = undefined;
    if (running !== undefined) await running.terminate();
    this.#done();
    if (walBytes(this.#init.files) < CLOSE_OFF_THREAD_BYTES) {
      await closeMain();
      return;
    }
    let mainClosed = false;
    let worker: Worker | undefined;
    try {
      worker = this.#spawn();
      // Each wait below hears the thread's failure; one between them must not go unheard either.
      worker.on("error", () => {});
      // The first answer says the thread's connections are open (and copied what it could).
      await this.#answer(worker, 0);
      mainClosed = true;
      await closeMain();
      await this.#answer(worker, "close");
    } catch (err) {
      (this.#init.logger ?? silentLogger).warn(
        { err },
        "the last WAL checkpoint could not run on a thread; it runs on closing",
      );
      if (!mainClosed) await closeMain();
    } finally {
      await worker?.terminate();
    }
  }

  /** Posts `message` to `worker` and waits for its answer, within {@link CHECKPOINT_HOLD_MS}. */
  #answer(worker: Worker, message: unknown): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const settle = (err?: unknown) => {
        cancel();
        worker.off("message", onMessage);
        worker.off("error", onError);
        worker.off("exit", onExit);
        if (err === undefined) resolve();
        else reject(err);
      };
      const onMessage = () => settle();
      const onError = (err: unknown) => settle(err);
      const onExit = (code: number) => settle(new Error(`the thread exited with code ${code}`));
      const cancel = this.#bound(CHECKPOINT_HOLD_MS, () =>
        settle(new Error(`no answer from the thread within ${CHECKPOINT_HOLD_MS} ms`)),
      );
      worker.on("message", onMessage);
      worker.on("error", onError);
      worker.on("exit", onExit);
      worker.postMessage(message);
    });
  }
}

/** The size of the files' write-ahead logs (0 for a log that cannot be read). */
function walBytes(files: readonly string[]): number {
  let bytes = 0;
  for (const file of files) {
    try {
      bytes += statSync(`${file}-wal`).size;
    } catch {
      // No log (never written, or already checkpointed away).
    }
  }
  return bytes;
}
