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
 * straight to the connection and each write opens its own transaction.
 *
 * SQLite errors become {@link StorageError}s: constraint violations are `"duplicate"`, damaged
 * files `"corrupt"`, the rest `"io"`.
 *
 * A read-only connection (`openNodeState(path, { readonly: true })`) refuses every write with kind
 * `"readonly"` before touching SQLite, and knows which of our own tables the file has, so that the
 * repositories of a table that is absent read as empty instead of failing (a go-spacemesh file
 * that this library never migrated has none of them).
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { type Kysely, sql } from "kysely";
import { PoetError, StorageError, type StorageErrorInit, throwIfAborted } from "../errors.js";
import type { NodeStateTables } from "./schema.js";
import type { WriteLock } from "./write-lock.js";

interface TransactionScope {
  db: Kysely<NodeStateTables>;
  open: boolean;
}

/** Where an operation was, for error messages. */
export interface OperationPlace {
  table?: string;
  column?: string;
  identity?: string;
}

/** Turns anything thrown by SQLite or kysely into a {@link PoetError}. */
export function toStorageError(err: unknown, place: OperationPlace = {}): PoetError {
  if (err instanceof PoetError) return err;
  const code = (err as { code?: unknown } | null)?.code;
  const message = err instanceof Error ? err.message : String(err);
  let kind: StorageErrorInit["kind"] = "io";
  if (typeof code === "string") {
    if (code === "SQLITE_CONSTRAINT_PRIMARYKEY" || code === "SQLITE_CONSTRAINT_UNIQUE") {
      kind = "duplicate";
    } else if (code.startsWith("SQLITE_CORRUPT") || code === "SQLITE_NOTADB") {
      kind = "corrupt";
    }
  }
  return new StorageError(message, withPlace({ kind, cause: err }, place));
}

/** `init` with the fields of `place` that are set. */
function withPlace(init: StorageErrorInit, place: OperationPlace): StorageErrorInit {
  if (place.table !== undefined) init.table = place.table;
  if (place.column !== undefined) init.column = place.column;
  if (place.identity !== undefined) init.identity = place.identity;
  return init;
}

/** How a {@link StoreConnection} may be used. */
export interface StoreConnectionMode {
  /** Refuse every write with kind `"readonly"`. */
  readonly?: boolean | undefined;
  /**
   * For a read-only connection: the names of our own (`poet_client_*`) tables the file has. A
   * writable connection has migrated them all.
   */
  ownTables?: ReadonlySet<string> | undefined;
}

/** The connection every repository of one {@link NodeState} shares. */
export class StoreConnection {
  readonly #root: Kysely<NodeStateTables>;
  readonly #lock: WriteLock;
  readonly #scope = new AsyncLocalStorage<TransactionScope>();
  readonly #readonly: boolean;
  readonly #ownTables: ReadonlySet<string> | undefined;
  #closed = false;

  constructor(root: Kysely<NodeStateTables>, lock: WriteLock, mode: StoreConnectionMode = {}) {
    this.#root = root;
    this.#lock = lock;
    this.#readonly = mode.readonly === true;
    this.#ownTables = this.#readonly ? (mode.ownTables ?? new Set()) : undefined;
  }

  /** Whether every write is refused. */
  get readonly(): boolean {
    return this.#readonly;
  }

  /** Whether the file has this table of ours (always, once migrated; maybe not when read-only). */
  hasOwnTable(name: string): boolean {
    return this.#ownTables === undefined || this.#ownTables.has(name);
  }

  /** Marks the connection closed; later calls fail with kind `"closed"`. */
  markClosed(): void {
    this.#closed = true;
  }

  #check(signal: AbortSignal | undefined): void {
    if (this.#closed) throw new StorageError("the node state is closed", { kind: "closed" });
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
    try {
      return await fn(scope?.open ? scope.db : this.#root);
    } catch (err) {
      throw toStorageError(err, place);
    }
  }

  /**
   * Runs reads that must see one snapshot of the file: in a write transaction on a writable
   * connection (as before), in a deferred `BEGIN` … `COMMIT` on a read-only one.
   */
  async snapshot<T>(
    signal: AbortSignal | undefined,
    place: OperationPlace,
    fn: (db: Kysely<NodeStateTables>) => Promise<T>,
  ): Promise<T> {
    if (!this.#readonly) return this.write(signal, place, fn);
    this.#check(signal);
    const current = this.#scope.getStore();
    try {
      if (current?.open) return await fn(current.db);
      return await this.#root.connection().execute(async (db) => {
        await sql`begin`.execute(db);
        const scope: TransactionScope = { db, open: true };
        try {
          return await this.#scope.run(scope, () => fn(db));
        } finally {
          scope.open = false;
          await sql`commit`.execute(db);
        }
      });
    } catch (err) {
      throw toStorageError(err, place);
    }
  }

  /**
   * Runs `fn` in one write transaction: joins the caller's transaction if there is one, otherwise
   * waits for this process's writers on the same file, then `BEGIN IMMEDIATE` … `COMMIT`
   * (`ROLLBACK` if `fn` throws or `signal` aborts before the commit).
   */
  async write<T>(
    signal: AbortSignal | undefined,
    place: OperationPlace,
    fn: (db: Kysely<NodeStateTables>) => Promise<T>,
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
        return await fn(current.db);
      } catch (err) {
        throw toStorageError(err, place);
      }
    }
    const release = await this.#lock.acquire(signal);
    try {
      this.#check(signal);
      return await this.#root.connection().execute(async (db) => {
        await sql`begin immediate`.execute(db);
        const scope: TransactionScope = { db, open: true };
        try {
          const result = await this.#scope.run(scope, () => fn(db));
          throwIfAborted(signal);
          await sql`commit`.execute(db);
          return result;
        } catch (err) {
          try {
            await sql`rollback`.execute(db);
          } catch {
            // SQLite already rolled back (for example after SQLITE_FULL); nothing is left to undo.
          }
          throw err;
        } finally {
          scope.open = false;
        }
      });
    } catch (err) {
      throw toStorageError(err, place);
    } finally {
      release();
    }
  }
}
