/**
 * @module storage/group-commit
 *
 * Group commit: the writes that wait together are committed together (docs/node-client.md §1.11).
 *
 * better-sqlite3 runs every statement and commit on the event loop, and a durable commit is an
 * `fsync`. Ten thousand identities each confirming five registrations made fifty thousand commits,
 * handed from one writer straight to the next: half a minute in which the event loop never turned.
 * Here
 * the writes queue, and one transaction carries every write waiting when it starts (up to a
 * bound), in arrival order. The first write of an idle queue waits one event-loop turn, so that
 * the writes of every callback of that turn (submits whose responses came in together) share it:
 *
 * - each write runs in a savepoint of its own: when it throws (or its signal aborts before it is
 *   done) its changes are rolled back to the savepoint and only its caller gets the error;
 * - a caller's promise settles only after `COMMIT` returned, so a resolved write is as durable as
 *   one committed alone; a transaction that holds a durable write ({@link QueuedWrite.durable})
 *   commits under the `full` synchronous setting, the others under `normal`;
 * - when the shared transaction cannot be committed (a failed `COMMIT`, or an error after which
 *   SQLite ended the whole transaction, such as a full disk), nothing of it is on disk: every
 *   write that had not failed on its own is run again alone, in a transaction of its own, so the
 *   write at fault fails alone and the others are committed;
 * - a write that failed through no fault of its own, because the server aborted it to break a
 *   deadlock or a serialization conflict with another process ({@link
 *   GroupCommitOptions.isConflict}: PostgreSQL's `40P01` / `40001`), is rolled back to its
 *   savepoint and run again alone after the batch commits, up to {@link MAX_CONFLICT_ATTEMPTS}
 *   times in all; only then does its caller get the (retriable) error;
 * - the event loop turns between two transactions, and within one every write takes a step of a
 *   {@link TurnBudget}, so a long queue is many short blocks of the event loop; so does the
 *   settling of each caller's promise after the commit, since what the caller does next runs in
 *   promise callbacks that would otherwise all run in the commit's turn. A heavy write
 *   ({@link QueuedWrite.cost}: the member-list chunks of several PoETs' rounds stored at once) is
 *   committed in a transaction of its own, the write and the commit each in a turn of its own.
 *
 * The database handle is generic, so the queue can be tested and read without kysely.
 */
import type { AsyncResource } from "node:async_hooks";
import { setImmediate as yieldToEventLoop } from "node:timers/promises";
import { abortedError, StorageError, throwIfAborted } from "../errors.js";
import type { TurnBudget } from "../turn-budget.js";
import type { WriteLock } from "./write-lock.js";

/** One write waiting for its transaction. */
export interface QueuedWrite<Db> {
  fn: (db: Db) => Promise<unknown>;
  signal: AbortSignal | undefined;
  /**
   * The write must reach the disk before its promise resolves (survive a power loss), not only
   * the operating system (survive the process's crash): its transaction commits with
   * {@link GroupCommitOptions.synchronous}'s `full` statements in force.
   */
  durable?: boolean | undefined;
  /**
   * What the write's statements weigh in the {@link GroupCommitOptions.turns} budget (default 1,
   * a statement of a few rows). A heavier write (a megabyte BLOB, weighing a whole turn) runs in a
   * transaction of its own, and its commit in a later turn: the writes of several such callers
   * are then one per turn, not all in one.
   */
  cost?: number | undefined;
  /**
   * The caller's async context, in which `fn` runs; `undefined` for a write whose `fn` only
   * touches the database (it runs in the queue's context).
   */
  context: AsyncResource | undefined;
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
}

/** What a {@link GroupCommit} needs from the connection. */
export interface GroupCommitOptions<Db> {
  /** This process's queue of writers on the same file. */
  lock: WriteLock;
  /** Most writes in one transaction. */
  maxWrites: number;
  turns: TurnBudget;
  /** Runs `run` with the connection held for it alone. */
  transaction: <T>(run: (db: Db) => Promise<T>) => Promise<T>;
  /** The statement that opens a write transaction. Default `begin immediate` (SQLite). */
  begin?: string | undefined;
  /**
   * The statements, run between transactions, after which commits sync to the disk (`full`) or
   * leave it to the operating system (`normal`): a transaction with a {@link QueuedWrite.durable}
   * write runs under `full`, any other under `normal`. Unset where every commit is durable
   * anyway (PostgreSQL).
   */
  synchronous?: { full: readonly string[]; normal: readonly string[] } | undefined;
  /**
   * Runs one SQL statement without parameters (`BEGIN IMMEDIATE`, `SAVEPOINT x`, …). Returns
   * `undefined` when it ran synchronously (SQLite: a cached prepared statement on the connection
   * held for the transaction), so that a write's savepoint and release cost no promise chain.
   */
  statement: (db: Db, text: string) => Promise<void> | undefined;
  /** Runs a write's `fn` on `db`, in its context and inside the transaction's scope. */
  runWrite: (db: Db, write: QueuedWrite<Db>) => Promise<unknown>;
  /** Whether the connection was closed: queued writes then fail with kind `"closed"`. */
  closed: () => boolean;
  /**
   * Whether an error is the server aborting a transaction to break a deadlock or a serialization
   * conflict with another process: the write is run again (see the module notes). Default: never.
   */
  isConflict?: ((err: unknown) => boolean) | undefined;
  /**
   * Send two savepoint statements in one round trip where the driver allows several statements
   * in one query (PostgreSQL's simple query protocol): the release of a write's savepoint goes
   * with the next write's `savepoint`, the last one is left to `COMMIT`, and a rollback to a
   * savepoint goes with its release. Each write of a batch then costs one round trip of savepoint
   * handling instead of two. Default `false` (SQLite, where a statement costs no round trip).
   */
  chainSavepoints?: boolean | undefined;
  /**
   * Told after each commit, with whether it held a heavy write ({@link QueuedWrite.cost} over 1):
   * the node state's WAL checkpoints follow commits (`wal-checkpointer.ts`).
   */
  onCommit?: ((heavy: boolean) => void) | undefined;
  /** Told each time a write aborted by such a conflict is run again (for the log). */
  onConflict?: ((err: unknown) => void) | undefined;
}

/** Most runs of one write that keeps meeting deadlocks or serialization conflicts. */
export const MAX_CONFLICT_ATTEMPTS = 3;

type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };

const SAVEPOINT = "poet_client_write";

/** Thrown inside a shared transaction that SQLite has already ended. */
class TransactionLost extends Error {}

/**
 * The queue of a connection's writes and the transactions that commit them.
 *
 * @example
 * ```ts
 * const commits = new GroupCommit({ lock, maxWrites: 512, turns, transaction, statement, runWrite, closed });
 * const value = await new Promise((resolve, reject) =>
 *   commits.enqueue({ fn, signal, context: new AsyncResource("write"), resolve, reject }),
 * );
 * ```
 */
export class GroupCommit<Db> {
  readonly #options: GroupCommitOptions<Db>;
  #queue: QueuedWrite<Db>[] = [];
  readonly #onAbort = new Map<QueuedWrite<Db>, () => void>();
  #running = false;
  #done: Promise<void> = Promise.resolve();
  #commits = 0;
  #aloneRetries = 0;
  #conflictRetries = 0;
  #busy: Promise<void> | undefined;
  /** The synchronous setting in force on the connection (`undefined` until first set). */
  #synchronous: "full" | "normal" | undefined;
  #durableCommits = 0;

  constructor(options: GroupCommitOptions<Db>) {
    this.#options = options;
  }

  get #begin(): string {
    return this.#options.begin ?? "begin immediate";
  }

  /** Transactions committed so far (a group commit counts once). */
  get commits(): number {
    return this.#commits;
  }

  /** Transactions committed with the `full` synchronous setting (a durable write in them). */
  get durableCommits(): number {
    return this.#durableCommits;
  }

  /** Writes run again alone because the transaction they shared could not be committed. */
  get aloneRetries(): number {
    return this.#aloneRetries;
  }

  /** Runs of writes that the server had aborted to break a deadlock or conflict, run again. */
  get conflictRetries(): number {
    return this.#conflictRetries;
  }

  /** Writes waiting for a transaction. */
  get waiting(): number {
    return this.#queue.length;
  }

  /** Adds a write to the queue; it settles through its own `resolve` / `reject`. */
  enqueue(write: QueuedWrite<Db>): void {
    const { signal } = write;
    if (signal !== undefined) {
      const onAbort = () => {
        const i = this.#queue.indexOf(write);
        if (i < 0) return;
        this.#queue.splice(i, 1);
        this.#onAbort.delete(write);
        write.reject(abortedError(signal));
      };
      this.#onAbort.set(write, onAbort);
      signal.addEventListener("abort", onAbort, { once: true });
    }
    this.#queue.push(write);
    if (!this.#running) {
      this.#running = true;
      this.#done = this.#drain();
    }
  }

  /**
   * While a transaction holds the connection: a promise of its end. A read that took its step of
   * the turn budget now would run only when the transaction ends, together with every other read
   * that waited, in one block: readers wait for this first.
   */
  busy(): Promise<void> | undefined {
    return this.#busy;
  }

  /** Resolves when no transaction runs and the queue is empty. */
  idle(): Promise<void> {
    return this.#done;
  }

  async #drain(): Promise<void> {
    try {
      // Gather: the writes of every callback of this turn (responses that came in together) go
      // into the first transaction, instead of the first write committing alone.
      await yieldToEventLoop();
      while (this.#queue.length > 0) {
        const release = await this.#options.lock.acquire();
        const batch = this.#queue.splice(0, this.#batchLength());
        for (const write of batch) {
          const onAbort = this.#onAbort.get(write);
          if (onAbort === undefined) continue;
          this.#onAbort.delete(write);
          write.signal?.removeEventListener("abort", onAbort);
        }
        let outcomes: Outcome[];
        let free!: () => void;
        this.#busy = new Promise((resolve) => {
          free = resolve;
        });
        try {
          outcomes = await this.#run(batch);
        } finally {
          this.#busy = undefined;
          free();
          release();
        }
        // Each caller goes on (its promise settles) in a step of the turn budget: what a caller
        // does next (the next step of an identity's cycle) runs in promise callbacks that never
        // give the event loop a turn, and 512 of them settled at once were one block of
        // hundreds of ms. The next transaction waits for the last of them, gathering meanwhile.
        for (let i = 0; i < batch.length; i++) {
          const turn = this.#options.turns.take();
          if (turn !== undefined) await turn;
          const write = batch[i] as QueuedWrite<Db>;
          const outcome = outcomes[i] as Outcome;
          if (outcome.ok) write.resolve(outcome.value);
          else write.reject(outcome.error);
        }
        // Let the event loop turn between two commits.
        if (this.#queue.length > 0) await yieldToEventLoop();
      }
    } finally {
      this.#running = false;
    }
  }

  /**
   * How many writes from the head of the queue go into the next transaction: at most
   * {@link GroupCommitOptions.maxWrites}, and a heavy write ({@link QueuedWrite.cost} over 1)
   * alone, so that its commit carries no other heavy write's bytes.
   */
  #batchLength(): number {
    const limit = Math.min(this.#queue.length, this.#options.maxWrites);
    if (limit > 0 && costOf(this.#queue[0] as QueuedWrite<Db>) > 1) return 1;
    let n = 0;
    while (n < limit && costOf(this.#queue[n] as QueuedWrite<Db>) === 1) n++;
    return n;
  }

  /** Commits `batch`; never throws: every write gets an outcome. */
  async #run(batch: readonly QueuedWrite<Db>[]): Promise<Outcome[]> {
    const outcomes: Array<Outcome | undefined> = batch.map((write) => {
      if (this.#options.closed()) {
        return {
          ok: false,
          error: new StorageError("the node state is closed", { kind: "closed" }),
        };
      }
      if (write.signal?.aborted) return { ok: false, error: abortedError(write.signal) };
      return undefined;
    });
    const live = batch.flatMap((_, i) => (outcomes[i] === undefined ? [i] : []));
    if (live.length === 1) {
      const i = live[0] as number;
      outcomes[i] = await this.#alone(batch[i] as QueuedWrite<Db>);
    } else if (live.length > 1) {
      const { statement, runWrite, turns } = this.#options;
      let began = false;
      const durable = live.some((i) => batch[i]?.durable === true);
      const conflicted = new Set<number>();
      const chain = this.#options.chainSavepoints === true;
      let releasePending = false;
      try {
        await this.#options.transaction(async (db) => {
          await this.#sync(db, durable);
          const begun = statement(db, this.#begin);
          if (begun !== undefined) await begun;
          began = true;
          try {
            for (const i of live) {
              const write = batch[i] as QueuedWrite<Db>;
              const turn = turns.take(costOf(write));
              if (turn !== undefined) await turn;
              if (write.signal?.aborted) {
                outcomes[i] = { ok: false, error: abortedError(write.signal) };
                continue;
              }
              // Chained (PostgreSQL): the previous write's release goes with this savepoint, in
              // one round trip; the last one is released by COMMIT.
              const saved = statement(
                db,
                releasePending
                  ? `release ${SAVEPOINT}; savepoint ${SAVEPOINT}`
                  : `savepoint ${SAVEPOINT}`,
              );
              if (saved !== undefined) await saved;
              releasePending = false;
              try {
                const value = await runWrite(db, write);
                throwIfAborted(write.signal);
                if (chain) releasePending = true;
                else {
                  const released = statement(db, `release ${SAVEPOINT}`);
                  if (released !== undefined) await released;
                }
                outcomes[i] = { ok: true, value };
              } catch (err) {
                outcomes[i] = { ok: false, error: err };
                if (this.#isConflict(err)) conflicted.add(i);
                try {
                  if (chain) {
                    await statement(db, `rollback to ${SAVEPOINT}; release ${SAVEPOINT}`);
                  } else {
                    await statement(db, `rollback to ${SAVEPOINT}`);
                    await statement(db, `release ${SAVEPOINT}`);
                  }
                } catch {
                  throw new TransactionLost();
                }
              }
            }
            const turn = turns.take();
            if (turn !== undefined) await turn;
            const committed = statement(db, "commit");
            if (committed !== undefined) await committed;
          } catch (err) {
            await this.#rollback(db);
            throw err;
          }
        });
        this.#committed(durable);
        // Aborted by the server through no fault of their own: run again, each alone.
        for (const i of conflicted) {
          if (batch[i]?.signal?.aborted) continue;
          this.#conflictRetries++;
          const failed = outcomes[i];
          this.#options.onConflict?.(failed !== undefined && !failed.ok ? failed.error : undefined);
          await turns.take();
          outcomes[i] = await this.#alone(batch[i] as QueuedWrite<Db>, 2);
        }
      } catch (err) {
        if (!began) {
          // BEGIN failed (another process held the file past the busy timeout): nothing ran.
          for (const i of live) outcomes[i] = { ok: false, error: err };
        } else {
          // Nothing of the batch is on disk: what had not failed on its own runs again, alone.
          for (const i of live) {
            const outcome = outcomes[i];
            if (outcome !== undefined && !outcome.ok && !conflicted.has(i)) continue;
            this.#aloneRetries++;
            await turns.take();
            outcomes[i] = await this.#alone(batch[i] as QueuedWrite<Db>);
          }
        }
      }
    }
    return outcomes as Outcome[];
  }

  /** Puts the synchronous setting the next transaction needs in force (between transactions). */
  async #sync(db: Db, durable: boolean): Promise<void> {
    const settings = this.#options.synchronous;
    if (settings === undefined) return;
    const wanted = durable ? "full" : "normal";
    if (this.#synchronous === wanted) return;
    // Unknown while the statements run: a failure leaves it to be set again.
    this.#synchronous = undefined;
    for (const text of settings[wanted]) await this.#options.statement(db, text);
    this.#synchronous = wanted;
  }

  #committed(durable: boolean, heavy = false): void {
    this.#commits++;
    this.#options.onCommit?.(heavy);
    if (durable && this.#options.synchronous !== undefined) this.#durableCommits++;
  }

  /**
   * Rolls back the open transaction. A failure means SQLite already ended it (for example after
   * SQLITE_FULL): nothing is left to undo.
   */
  async #rollback(db: Db): Promise<void> {
    try {
      await this.#options.statement(db, "rollback");
    } catch {
      // Already ended.
    }
  }

  #isConflict(err: unknown): boolean {
    return this.#options.isConflict?.(err) === true;
  }

  /**
   * One write in a transaction of its own; run again while the server aborts it to break a
   * deadlock or conflict, up to {@link MAX_CONFLICT_ATTEMPTS} runs counting from `attempt`.
   */
  async #alone(write: QueuedWrite<Db>, attempt = 1): Promise<Outcome> {
    for (let run = attempt; ; run++) {
      const outcome = await this.#aloneOnce(write);
      if (outcome.ok || run >= MAX_CONFLICT_ATTEMPTS || !this.#isConflict(outcome.error)) {
        return outcome;
      }
      if (write.signal?.aborted) return outcome;
      this.#conflictRetries++;
      this.#options.onConflict?.(outcome.error);
    }
  }

  async #aloneOnce(write: QueuedWrite<Db>): Promise<Outcome> {
    const { statement, runWrite, turns } = this.#options;
    try {
      throwIfAborted(write.signal);
      const durable = write.durable === true;
      const cost = costOf(write);
      const value = await this.#options.transaction(async (db) => {
        await this.#sync(db, durable);
        const begun = statement(db, this.#begin);
        if (begun !== undefined) await begun;
        try {
          // A light write alone runs at once, as it always did; a heavy one waits for a turn with
          // room for it, and its commit then goes to a turn of its own.
          if (cost > 1) await turns.take(cost);
          const value = await runWrite(db, write);
          throwIfAborted(write.signal);
          if (cost > 1) await turns.take();
          const committed = statement(db, "commit");
          if (committed !== undefined) await committed;
          return value;
        } catch (err) {
          await this.#rollback(db);
          throw err;
        }
      });
      this.#committed(durable, cost > 1);
      return { ok: true, value };
    } catch (err) {
      return { ok: false, error: err };
    }
  }
}

/** The weight of a write in the turn budget (see {@link QueuedWrite.cost}). */
function costOf<Db>(write: QueuedWrite<Db>): number {
  return Math.max(1, write.cost ?? 1);
}
