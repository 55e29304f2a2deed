/**
 * @module storage/store-connection
 *
 * One kysely connection to the node state database and the rules for using it: every write runs
 * in one `BEGIN IMMEDIATE` transaction, so a process killed in the middle leaves the previous state
 * intact (docs/node-client.md §1.11, §8), and a multi-row step commits all of its rows or none.
 *
 * Transactions are found through `AsyncLocalStorage`: a repository method called anywhere inside
 * {@link StoreConnection.write}'s callback joins that transaction instead of waiting for the single
 * SQLite connection it already holds (which would deadlock). Outside a transaction, reads go
 * straight to the connection and each write waits for a transaction of its own or a share of one.
 * An enabled `AsyncLocalStorage` puts async hooks on every promise of the process (twice the CPU
 * of promise-heavy code, and bigger promises), so it is enabled only while such a scope runs: a
 * repository's own single-statement write, whose callback touches nothing but its `db`, is
 * {@link WriteOptions.plain} and runs without one.
 *
 * **Durability.** The files are in WAL mode with `synchronous = NORMAL`, as go-spacemesh opens its
 * own `local.sql` (`sql/database.go`: "opened in WAL mode and pragma synchronous=normal"; its
 * SQLite is built with `SQLITE_DEFAULT_WAL_SYNCHRONOUS=1`): a committed write is in the WAL, in the
 * operating system's hands, and survives the process's crash; a power loss or an OS crash may roll
 * back the latest commits, never leave a damaged file. A commit then costs no `fsync` (a full one
 * took 7–10 ms on the event loop, three quarters of the registration bench's time went into
 * them). What another party is promised before it is sent must survive a power loss too: a write
 * with {@link WriteOptions.durable} (the submit intents, written before the submit leaves) commits
 * with `synchronous = FULL`, which syncs the WAL, and with it every commit before it. Losing a
 * later non-durable commit (the registration row that confirms an intent) only brings the intent
 * back, which the cycle resolves against the round's members.
 *
 * **Group commit.** Each commit is a few statements and, for a durable write, an `fsync`, all on
 * the event loop. Writes that arrive while
 * another transaction runs are therefore queued and run together, in arrival order, in one
 * `BEGIN IMMEDIATE` … `COMMIT` (see `group-commit.ts`): each in a savepoint of its own, so a write
 * that fails is undone alone and its caller alone gets the error, and each caller's promise
 * resolves only once the transaction holding its write is committed, so durability is what it was.
 * Between transactions, and every few statements within one, the event loop gets a turn
 * (`turn-budget.ts`): a burst of ten thousand writes is many short blocks, not one long one.
 *
 * **Fences.** A lease on an identity (`lease-repository.ts`) registers a {@link WriteFence} here:
 * every write whose place names that identity runs the fence first, on the write's own transaction
 * (inside its group-commit savepoint), so a write of a holder that lost the lease is refused with a
 * `LeaseLostError` and none of it is written, while the other writes of the batch commit. Writes
 * for identities without a fence run as before.
 *
 * SQLite errors become {@link StorageError}s: constraint violations are `"duplicate"`, damaged
 * files `"corrupt"`, the rest `"io"`.
 *
 * A read-only connection (`openNodeState(path, { readonly: true })`) refuses every write with kind
 * `"readonly"` before touching SQLite, and knows which of our own tables the file has, so that the
 * repositories of a table that is absent read as empty instead of failing (a go-spacemesh file
 * that this library never migrated has none of them).
 */
import { AsyncLocalStorage, AsyncResource } from "node:async_hooks";
import { type Kysely, sql } from "kysely";
import {
  isRetriableStoreFailure,
  PoetError,
  StorageError,
  type StorageErrorInit,
  throwIfAborted,
} from "../errors.js";
import { type Logger, silentLogger } from "../logger.js";
import { TurnBudget } from "../turn-budget.js";
import { GroupCommit, type QueuedWrite } from "./group-commit.js";
import type { NodeStateTables } from "./schema.js";
import type { StoreCall, StoreOutage, StoreOutageStatus } from "./store-outage.js";
import { isTransactionConflict, isTransientStoreFailure } from "./transient-failure.js";
import type { WriteLock } from "./write-lock.js";

interface TransactionScope {
  db: Kysely<NodeStateTables>;
  open: boolean;
  /**
   * The identities (hex) whose fence passed, with that fence, in this scope's transaction: a repository write that
   * joins it (a registration row added inside an intent's confirmation) need not read the lease
   * row again, since nothing else can change it before the transaction ends (SQLite's write lock;
   * PostgreSQL's `FOR SHARE` row lock, taken by the first read, held until the commit).
   */
  fenced?: Map<string, WriteFence>;
}

/** Where an operation was, for error messages. */
export interface OperationPlace {
  table?: string;
  column?: string;
  identity?: string;
}

/**
 * Whether `err` is a primary-key or unique violation: SQLite's constraint codes, or PostgreSQL's
 * SQLSTATE `23505`.
 */
export function isUniqueViolation(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return (
    code === "SQLITE_CONSTRAINT_PRIMARYKEY" ||
    code === "SQLITE_CONSTRAINT_UNIQUE" ||
    code === "23505"
  );
}

/**
 * Turns anything thrown by SQLite, PostgreSQL or kysely into a {@link PoetError}: unique
 * violations are `"duplicate"`, damaged files or pages (`SQLITE_CORRUPT*`, SQLSTATE class `XX001`
 * / `XX002`) `"corrupt"`, the rest `"io"`; `retriable` when a later call may succeed (a broken
 * connection, a server restarting, a deadlock: `transient-failure.ts`).
 */
export function toStorageError(err: unknown, place: OperationPlace = {}): PoetError {
  if (err instanceof PoetError) return err;
  const code = (err as { code?: unknown } | null)?.code;
  const message = err instanceof Error ? err.message : String(err);
  let kind: StorageErrorInit["kind"] = "io";
  if (isUniqueViolation(err)) {
    kind = "duplicate";
  } else if (typeof code === "string") {
    if (code.startsWith("SQLITE_CORRUPT") || code === "SQLITE_NOTADB") kind = "corrupt";
    else if (code === "XX001" || code === "XX002") kind = "corrupt";
  }
  const retriable = kind === "io" && isTransientStoreFailure(err);
  return new StorageError(message, withPlace({ kind, cause: err, retriable }, place));
}

/** `init` with the fields of `place` that are set. */
function withPlace(init: StorageErrorInit, place: OperationPlace): StorageErrorInit {
  if (place.table !== undefined) init.table = place.table;
  if (place.column !== undefined) init.column = place.column;
  if (place.identity !== undefined) init.identity = place.identity;
  return init;
}

/**
 * Checks, on the write's transaction, that a write for an identity may go on; throws (a
 * `LeaseLostError`) to refuse it.
 */
export type WriteFence = (db: Kysely<NodeStateTables>) => Promise<void>;

/** How a {@link StoreConnection} may be used. */
export interface StoreConnectionMode {
  /** Refuse every write with kind `"readonly"`. */
  readonly?: boolean | undefined;
  /**
   * For a read-only connection: the names of our own (`poet_client_*`) tables the file has. A
   * writable connection has migrated them all.
   */
  ownTables?: ReadonlySet<string> | undefined;
  /** Most writes committed in one transaction. Default {@link MAX_WRITES_PER_COMMIT}. */
  maxWritesPerCommit?: number | undefined;
  /** The statement that opens a write transaction. Default `begin immediate` (SQLite). */
  begin?: string | undefined;
  /**
   * The statements that make commits sync to the disk (`full`) or not (`normal`), for
   * {@link WriteOptions.durable} (SQLite's `synchronous` pragma on every attached file). Unset:
   * every commit is as durable as the store makes it (PostgreSQL).
   */
  synchronous?: { full: readonly string[]; normal: readonly string[] } | undefined;
  /**
   * Reads outside a transaction need not wait for the running write transaction (a pool of
   * connections, as on PostgreSQL, rather than SQLite's one connection). Default `false`.
   */
  concurrentReads?: boolean | undefined;
  /**
   * The most bytes of one big BLOB (a member-list chunk) a read takes in one statement, with a
   * turn of the event loop between statements. Default: the whole value (SQLite hands a BLOB over
   * as it is). PostgreSQL sends a BLOB as text (`bytea` hex, or base64 with
   * {@link blobAsBase64}), which node-postgres receives and decodes on the event loop.
   */
  blobReadBytes?: number | undefined;
  /**
   * Read big BLOBs (member-list chunks) as base64 text the store encodes (PostgreSQL's
   * `encode(…, 'base64')`), which Node decodes natively, instead of the store's own text form:
   * `bytea` hex is twice the bytes to receive and turn into a string on the event loop, base64
   * a third more. Default `false` (SQLite hands a BLOB over as it is).
   */
  blobAsBase64?: boolean | undefined;
  /**
   * Run each write that joins an open transaction in a savepoint of its own, so that a statement
   * that fails (and that the caller catches) undoes only that write: on PostgreSQL a failed
   * statement otherwise aborts the whole transaction, where SQLite carries on. Default `false`.
   */
  nestedSavepoints?: boolean | undefined;
  /**
   * Run {@link StoreConnection.snapshot} in a read transaction of its own, opened with this
   * statement, instead of in a write transaction: on PostgreSQL, `begin isolation level
   * repeatable read read only` (one snapshot for every statement, no write lock). Default: unset.
   */
  snapshotBegin?: string | undefined;
  /**
   * The statements run per event-loop turn (reads, the writes of a group commit, the commit).
   * Default: {@link storageTurns}, shared by every connection of the process.
   */
  turns?: TurnBudget | undefined;
  /**
   * Told after each commit, with whether it held a {@link WriteOptions.heavy} write (the WAL
   * checkpoints of a node state that stores member lists, `wal-checkpointer.ts`).
   */
  onCommit?: ((heavy: boolean) => void) | undefined;
  /** Where a write run again after a deadlock or conflict is reported. Default: nowhere. */
  logger?: Logger | undefined;
  /**
   * Told of every retriable failure and of the success after it (`store-outage.ts`): once per
   * call, by the outermost one (a read or write that joins a caller's transaction is not told).
   */
  outage?: StoreOutage | undefined;
  /**
   * Runs a statement without parameters or rows (`BEGIN IMMEDIATE`, `COMMIT`, `ROLLBACK`,
   * `SAVEPOINT`, `RELEASE`, the `synchronous` pragmas) at once on the connection that the
   * running transaction holds, throwing what SQLite throws. Set for a better-sqlite3 connection
   * (SQLite runs them synchronously anyway): each write of a group commit then costs no promise
   * chain through kysely and its driver for its savepoint and release. Default: through kysely.
   */
  control?: ((text: string) => void) | undefined;
}

/**
 * Most writes in one group commit: about one event-loop slice of statements per 8 turns, and a
 * bound on how much one failed commit has to retry alone.
 */
export const MAX_WRITES_PER_COMMIT = 512;

/**
 * Storage statements per event-loop turn, shared by every connection of the process (they share
 * one event loop). A statement of ours costs 0.05–0.3 ms on a busy two-core machine, a commit a
 * few ms: 64 of them stay well under the 50 ms a node may block.
 */
export const storageTurns = new TurnBudget(64);

/** How one write is committed. */
export interface WriteOptions {
  /**
   * Resolve only once the write is on the disk, so that it survives a power loss or an operating
   * system crash, not only the process's crash: for what is promised to another party before it
   * is sent (a submit intent is written before the submit leaves). Its transaction commits with
   * `synchronous = FULL`; every other commit runs with `NORMAL` (see the module notes). A write
   * that joins a caller's transaction is as durable as that transaction. Default `false`.
   */
  durable?: boolean | undefined;
  /**
   * The write is as heavy as a whole turn's budget of statements (a megabyte BLOB): it runs in a
   * transaction of its own, in a turn of the event loop with no other heavy write, and its commit
   * in the next turn (`group-commit.ts`). Without it, the chunks of several member lists stored
   * at once would be committed together, a megabyte each, in one block of the event loop. A write
   * that joins a caller's transaction runs in it, as any other. Default `false`.
   */
  heavy?: boolean | undefined;
  /**
   * `fn` changes the database only through its `db` argument: it calls no repository method, so
   * nothing inside it needs to find the transaction. It then runs outside the
   * `AsyncLocalStorage` scope in which such calls join it (see the module notes), and costs
   * no async hooks. Repositories set it on their own single-statement writes. Default `false`.
   */
  plain?: boolean | undefined;
}

/** The connection every repository of one {@link NodeState} shares. */
export class StoreConnection {
  readonly #root: Kysely<NodeStateTables>;
  readonly #scope = new AsyncLocalStorage<TransactionScope>();
  readonly #readonly: boolean;
  readonly #ownTables: ReadonlySet<string> | undefined;
  readonly #turns: TurnBudget;
  readonly #commits: GroupCommit<Kysely<NodeStateTables>>;
  readonly #concurrentReads: boolean;
  readonly #blobReadBytes: number;
  readonly #blobAsBase64: boolean;
  readonly #nestedSavepoints: boolean;
  readonly #snapshotBegin: string | undefined;
  readonly #fences = new Map<string, WriteFence>();
  readonly #outage: StoreOutage | undefined;
  /** Scopes running now (see `#inScope`). */
  #scopes = 0;
  #closed = false;

  constructor(root: Kysely<NodeStateTables>, lock: WriteLock, mode: StoreConnectionMode = {}) {
    this.#root = root;
    this.#readonly = mode.readonly === true;
    this.#ownTables = this.#readonly ? (mode.ownTables ?? new Set()) : undefined;
    this.#turns = mode.turns ?? storageTurns;
    this.#concurrentReads = mode.concurrentReads === true;
    this.#blobReadBytes = mode.blobReadBytes ?? Number.POSITIVE_INFINITY;
    this.#blobAsBase64 = mode.blobAsBase64 === true;
    this.#nestedSavepoints = mode.nestedSavepoints === true;
    this.#snapshotBegin = mode.snapshotBegin;
    this.#outage = mode.outage;
    const logger = mode.logger ?? silentLogger;
    this.#commits = new GroupCommit({
      lock,
      begin: mode.begin,
      synchronous: mode.synchronous,
      maxWrites: mode.maxWritesPerCommit ?? MAX_WRITES_PER_COMMIT,
      turns: this.#turns,
      transaction: (run) => this.#root.connection().execute(run),
      statement:
        mode.control === undefined
          ? async (db, text) => {
              await sql.raw(text).execute(db);
            }
          : (_db, text) => {
              (mode.control as (text: string) => void)(text);
              return undefined;
            },
      runWrite: (db, write) => {
        const context = write.context;
        if (context === undefined) return write.fn(db);
        return context.runInAsyncScope(() => this.#inScope({ db, open: true }, () => write.fn(db)));
      },
      closed: () => this.#closed,
      isConflict: isTransactionConflict,
      chainSavepoints: mode.nestedSavepoints === true,
      onCommit: mode.onCommit,
      onConflict: (err) => {
        const code = (err as { code?: unknown } | undefined)?.code;
        logger.warn(
          { code: typeof code === "string" ? code : undefined, err },
          "the database aborted a write to break a deadlock or conflict with another process; running it again",
        );
      },
    });
  }

  /** The outage of the store under way, or `undefined` (see `store-outage.ts`). */
  get outage(): StoreOutageStatus | undefined {
    return this.#outage?.current;
  }

  /**
   * `err` as a storage error of a call of kind `call`, reported to the outage tracker. Only for a
   * call outside a caller's transaction: one that joined it fails the caller's write, which is
   * reported, and reporting both would count one failure twice.
   */
  #failure(err: unknown, place: OperationPlace, call: StoreCall): PoetError {
    const error = toStorageError(err, place);
    if (isRetriableStoreFailure(error)) this.#outage?.failed(error, call);
    return error;
  }

  /**
   * Runs `fn` in `scope`: repository calls inside it find the transaction. The
   * `AsyncLocalStorage` is enabled only while a scope runs, since an enabled one puts async hooks
   * on every promise the process makes (twice the CPU of promise-heavy code, and a bigger promise):
   * the writes that need no scope ({@link WriteOptions.plain}) then run without any.
   */
  #inScope<T>(scope: TransactionScope, fn: () => Promise<T>): Promise<T> {
    this.#scopes++;
    let result: Promise<T>;
    try {
      result = this.#scope.run(scope, fn);
    } catch (err) {
      result = Promise.reject(err);
    }
    return result.finally(() => {
      scope.open = false;
      this.#scopes--;
      // No scope left: getStore() answers undefined until the next run, which enables it again.
      if (this.#scopes === 0) this.#scope.disable();
    });
  }

  /** Whether every write is refused. */
  get readonly(): boolean {
    return this.#readonly;
  }

  /** Writes run again because the server aborted them to break a deadlock or conflict. */
  get conflictRetries(): number {
    return this.#commits.conflictRetries;
  }

  /** How many transactions this connection has committed (group commits count once). */
  get commits(): number {
    return this.#commits.commits;
  }

  /** Of {@link commits}, how many synced to the disk for a durable write. */
  get durableCommits(): number {
    return this.#commits.durableCommits;
  }

  /** The most bytes of one big BLOB to read in one statement (see {@link StoreConnectionMode.blobReadBytes}). */
  get blobReadBytes(): number {
    return this.#blobReadBytes;
  }

  /** Whether big BLOBs are read as base64 text (see {@link StoreConnectionMode.blobAsBase64}). */
  get blobAsBase64(): boolean {
    return this.#blobAsBase64;
  }

  /** Whether the file has this table of ours (always, once migrated; maybe not when read-only). */
  hasOwnTable(name: string): boolean {
    return this.#ownTables === undefined || this.#ownTables.has(name);
  }

  /**
   * Fences the writes for `identity` (hex of the node id) with `fence`, or stops fencing them
   * (`undefined`). See the module notes.
   */
  setFence(identity: string, fence: WriteFence | undefined): void {
    if (fence === undefined) this.#fences.delete(identity);
    else this.#fences.set(identity, fence);
  }

  /**
   * Runs the fence of `identity` (hex), if any, on `db`: for a write that touches several
   * identities, once per identity, inside its callback.
   */
  async checkFence(db: Kysely<NodeStateTables>, identity: string): Promise<void> {
    const fence = this.#fences.get(identity);
    if (fence === undefined) return;
    const scope = this.#scope.getStore();
    const inScope = scope?.open === true && scope.db === db;
    // Passed already in this transaction, by the same fence (a lease taken anew fences anew).
    if (inScope && scope.fenced?.get(identity) === fence) return;
    await fence(db);
    if (inScope) {
      scope.fenced ??= new Map();
      scope.fenced.set(identity, fence);
    }
  }

  /** `fn`, preceded by the fence of the identity `place` names, when it has one. */
  #fenced<T>(
    place: OperationPlace,
    fn: (db: Kysely<NodeStateTables>) => Promise<T>,
  ): (db: Kysely<NodeStateTables>) => Promise<T> {
    if (place.identity === undefined) return fn;
    const identity = place.identity;
    return async (db) => {
      // Looked up when the write runs: a lease taken or released while it waited counts.
      await this.checkFence(db, identity);
      return fn(db);
    };
  }

  /**
   * Marks the connection closed: later calls fail with kind `"closed"`, queued writes too. Resolves
   * once the transaction running now (if any) has ended.
   */
  markClosed(): Promise<void> {
    this.#closed = true;
    return this.#commits.idle();
  }

  #check(signal: AbortSignal | undefined): void {
    if (this.#closed) throw closedError();
    throwIfAborted(signal);
  }

  /** Runs reads on the current transaction, or directly on the connection. */
  async read<T>(
    signal: AbortSignal | undefined,
    place: OperationPlace,
    fn: (db: Kysely<NodeStateTables>) => Promise<T>,
  ): Promise<T> {
    this.#check(signal);
    const scope = this.#scope.getStore();
    if (scope?.open) {
      try {
        return await fn(scope.db);
      } catch (err) {
        // The caller's write reports it (see `#failure`).
        throw toStorageError(err, place);
      }
    }
    try {
      const wait = this.#readTurn(signal);
      if (wait !== undefined) await wait;
      const value = await fn(this.#root);
      this.#outage?.succeeded("read");
      return value;
    } catch (err) {
      throw this.#failure(err, place, "read");
    }
  }

  /**
   * `undefined` when this read may run now: no transaction holds the connection (else the reads
   * that waited for it would all run in one block when it ends), and the turn has budget left
   * (it is taken). Otherwise a promise of the moment it may. Most reads need not wait, and then
   * cost no promise (tens of thousands of reads per round with many identities).
   */
  #readTurn(signal: AbortSignal | undefined): Promise<void> | undefined {
    if (this.#concurrentReads || this.#commits.busy() === undefined) {
      const turn = this.#turns.take();
      if (turn === undefined) return undefined;
      return this.#readTurnAfter(turn, signal);
    }
    return this.#waitReadTurn(signal);
  }

  async #readTurnAfter(turn: Promise<void>, signal: AbortSignal | undefined): Promise<void> {
    await turn;
    this.#check(signal);
    if (this.#concurrentReads || this.#commits.busy() === undefined) return;
    await this.#waitReadTurn(signal);
  }

  /** Waits, turn after turn, until no transaction holds the connection and the turn has budget. */
  async #waitReadTurn(signal: AbortSignal | undefined): Promise<void> {
    for (;;) {
      const busy = this.#concurrentReads ? undefined : this.#commits.busy();
      if (busy !== undefined) {
        await busy;
        this.#check(signal);
        continue;
      }
      const turn = this.#turns.take();
      if (turn === undefined) return;
      await turn;
      this.#check(signal);
      if (this.#concurrentReads || this.#commits.busy() === undefined) return;
    }
  }

  /**
   * Runs reads that must see one snapshot of the file: in a write transaction on a writable
   * connection (as before), in a deferred `BEGIN` … `COMMIT` on a read-only one, or in a
   * transaction of its own opened with {@link StoreConnectionMode.snapshotBegin} when set.
   */
  async snapshot<T>(
    signal: AbortSignal | undefined,
    place: OperationPlace,
    fn: (db: Kysely<NodeStateTables>) => Promise<T>,
  ): Promise<T> {
    // Reads only: not fenced (a holder that lost a lease may still look).
    if (!this.#readonly && this.#snapshotBegin === undefined) return this.#write(signal, place, fn);
    this.#check(signal);
    const current = this.#scope.getStore();
    if (current?.open) {
      try {
        return await fn(current.db);
      } catch (err) {
        // The caller's write reports it (see `#failure`).
        throw toStorageError(err, place);
      }
    }
    try {
      const value = await this.#root.connection().execute(async (db) => {
        await sql.raw(this.#snapshotBegin ?? "begin").execute(db);
        try {
          return await this.#inScope({ db, open: true }, () => fn(db));
        } finally {
          await sql`commit`.execute(db);
        }
      });
      this.#outage?.succeeded("read");
      return value;
    } catch (err) {
      throw this.#failure(err, place, "read");
    }
  }

  /**
   * Runs `fn` in a write transaction: joins the caller's transaction if there is one, otherwise
   * queues it for the next group commit (see the module notes). `fn` runs in a savepoint of its
   * own: if it throws, or `signal` aborts before it is done, only its own changes are undone and
   * only this call rejects. The promise resolves once the transaction is committed.
   *
   * `fn` may run a second time, alone, when the transaction it shared could not be committed
   * (a failed `COMMIT`, or an error after which SQLite ended the whole transaction): it must only
   * change the database through `db` or the repositories, and keep no other effects of a run that
   * did not commit.
   */
  write<T>(
    signal: AbortSignal | undefined,
    place: OperationPlace,
    fn: (db: Kysely<NodeStateTables>) => Promise<T>,
    options: WriteOptions = {},
  ): Promise<T> {
    // Not `async`: `#write` is, and one promise per write is enough.
    return this.#write(signal, place, this.#fenced(place, fn), options);
  }

  async #write<T>(
    signal: AbortSignal | undefined,
    place: OperationPlace,
    run: (db: Kysely<NodeStateTables>) => Promise<T>,
    options: WriteOptions = {},
  ): Promise<T> {
    this.#check(signal);
    if (this.#readonly) {
      throw new StorageError(
        "the node state is open read-only",
        withPlace({ kind: "readonly" }, place),
      );
    }
    const current = this.#scope.getStore();
    if (current?.open) {
      try {
        if (!this.#nestedSavepoints) return await run(current.db);
        return await this.#inSavepoint(current.db, run);
      } catch (err) {
        // The caller's write reports it (see `#failure`).
        throw toStorageError(err, place);
      }
    }
    try {
      const value = await new Promise<T>((resolve, reject) => {
        const write: QueuedWrite<Kysely<NodeStateTables>> = {
          fn: run,
          signal,
          durable: options.durable === true,
          cost: options.heavy === true ? this.#turns.perTurn : 1,
          context: options.plain === true ? undefined : new AsyncResource("poet-client-write"),
          resolve: resolve as (value: unknown) => void,
          reject,
        };
        this.#commits.enqueue(write);
      });
      this.#outage?.succeeded("write");
      return value;
    } catch (err) {
      throw this.#failure(err, place, "write");
    }
  }

  /** Runs `fn` in a savepoint of the open transaction: if it throws, only its changes are undone. */
  async #inSavepoint<T>(
    db: Kysely<NodeStateTables>,
    fn: (db: Kysely<NodeStateTables>) => Promise<T>,
  ): Promise<T> {
    await sql.raw(`savepoint ${NESTED_SAVEPOINT}`).execute(db);
    let value: T;
    try {
      value = await fn(db);
    } catch (err) {
      await sql.raw(`rollback to ${NESTED_SAVEPOINT}`).execute(db);
      await sql.raw(`release ${NESTED_SAVEPOINT}`).execute(db);
      throw err;
    }
    await sql.raw(`release ${NESTED_SAVEPOINT}`).execute(db);
    return value;
  }
}

const NESTED_SAVEPOINT = "poet_client_nested";

function closedError(): StorageError {
  return new StorageError("the node state is closed", { kind: "closed" });
}
