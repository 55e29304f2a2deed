/**
 * @module storage/postgres/open-postgres-state
 *
 * {@link openPostgresState} opens the node state in PostgreSQL, for operators who run many
 * identities on several hosts against one store they trust. It returns the same {@link NodeState}
 * as {@link openNodeState}: the same repositories, the same queries through kysely (here its
 * Postgres dialect over node-postgres), so nothing above `storage/` knows which store it has.
 *
 * - **Tables** live in one schema (default `poet_client`), created and migrated on open
 *   (`postgres-migrations.ts`: `bytea` for bytes, `bigint` for integers, u64 values as Go's signed
 *   int64 two's complement — no precision is lost anywhere).
 * - **Writes** go through the same group commit as on SQLite (`store-connection.ts`): the writes
 *   of many identities that arrive together share one transaction (one WAL flush), each in a
 *   savepoint of its own, so a failing write is undone alone. A write that joins an open
 *   transaction gets a savepoint too, since a failed statement aborts a PostgreSQL transaction.
 * - **Isolation** is PostgreSQL's `read committed`, as every write of ours either changes one
 *   identity's rows (which, across processes, one worker at a time owns) or is an idempotent upsert
 *   of a shared cache row (proofs, member lists); primary keys turn a racing insert into a
 *   `"duplicate"` {@link StorageError}, as on SQLite.
 * - **Reads** outside a transaction take any connection of the pool and do not wait for the write
 *   transaction running now. Reads that must agree with each other (`check()`) run in one
 *   `repeatable read` read-only transaction: one snapshot, whatever other workers commit meanwhile.
 * - **Read-only** (`{ readonly: true }`, for a status report): nothing is created or migrated, and
 *   every write is refused with kind `"readonly"`.
 *
 * `connection` is a connection string (the state owns a pool of `maxConnections` and ends it on
 * close) or the caller's `pg.Pool` (used as it is and never ended; while the state is open it
 * listens to the pool's `'error'` events, so that a connection that breaks while idle in the
 * pool, as every one does when the server restarts, is logged instead of crashing the process). Integers are read as `bigint`
 * per query, without touching the pool's or the `pg` module's type parsers.
 */
import { Kysely, PostgresDialect } from "kysely";
import type { Clock } from "../../clock.js";
import { ConfigError, throwIfAborted } from "../../errors.js";
import { type Logger, silentLogger } from "../../logger.js";
import { GO_LOCAL_SCHEMA_VERSION } from "../go-spacemesh-tables.js";
import { NodeState } from "../open-node-state.js";
import type { NodeStateTables } from "../schema.js";
import { StoreConnection, toStorageError } from "../store-connection.js";
import { StoreOutage } from "../store-outage.js";
import { WriteLock } from "../write-lock.js";
import { postgresLeaseRepository } from "./postgres-lease-repository.js";
import { inspectPostgresState, migratePostgresState } from "./postgres-migrations.js";
import {
  bigintTypes,
  kyselyPool,
  type PgPool,
  type PgPoolClient,
  type PgTypeParsers,
} from "./postgres-pool.js";

/** The schema our tables are created in when none is given. */
export const DEFAULT_POSTGRES_SCHEMA = "poet_client";

/** Options of {@link openPostgresState}. */
export interface OpenPostgresStateOptions {
  /**
   * A connection string (`postgres://user:password@host:5432/database`), for which the state
   * opens a pool of its own and ends it on close, or a `pg.Pool` of the caller's, used as it is
   * and never ended.
   */
  connection: string | PgPool;
  /** The schema that holds the tables; created if it does not exist. Default `poet_client`. */
  schema?: string | undefined;
  /**
   * Most connections the state uses at once (the size of the pool it opens for a connection
   * string; with a caller's pool, at most that pool's size). Calls beyond it wait in order, without
   * a time limit. Default 10.
   */
  maxConnections?: number | undefined;
  /** How long to wait for a new connection, in ms (connection string only). Default 10000. */
  connectTimeoutMs?: number | undefined;
  /**
   * Open without changing anything: no schema or table is created, nothing migrated, and every
   * write method rejects with a {@link StorageError} of kind `"readonly"`. The schema must have
   * been created by a writable open. Default `false`.
   *
   * @example
   * ```ts
   * await using view = await openPostgresState({ connection: url, readonly: true });
   * const leases = await view.registrations.list();
   * ```
   */
  readonly?: boolean | undefined;
  logger?: Logger | undefined;
  /** The clock of {@link NodeState.outage}'s instants. Default: the system clock. */
  clock?: Clock | undefined;
  signal?: AbortSignal | undefined;
}

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * Opens the node state in a PostgreSQL database and brings its schema up to date.
 *
 * The returned {@link NodeState} is the one {@link openNodeState} returns for SQLite: hand it to a
 * `RegistrationManager` the same way. `goSchemaVersion` reads 9: the tables have go-spacemesh
 * v1.7.x's columns.
 *
 * Rejects with a {@link StorageError}: kind `"schema-too-new"` for a schema migrated by a newer
 * release, `"migration-failed"` when the DDL fails, `"io"` when the server cannot be reached;
 * with a {@link ConfigError} for a bad schema name or pool size.
 *
 * @example
 * ```ts
 * await using state = await openPostgresState({
 *   connection: "postgres://poet@db.internal/fleet",
 *   schema: "poet_client",
 *   signal,
 * });
 * const manager = new RegistrationManager({ state, poets, schedule, signers, clock });
 * ```
 */
export async function openPostgresState(options: OpenPostgresStateOptions): Promise<NodeState> {
  const { signal, logger = silentLogger } = options;
  const schema = options.schema ?? DEFAULT_POSTGRES_SCHEMA;
  if (typeof schema !== "string" || !SCHEMA_NAME.test(schema)) {
    throw new ConfigError(
      "schema",
      "must be a lower-case SQL identifier (letters, digits, _; at most 63 characters)",
    );
  }
  const maxConnections = options.maxConnections ?? 10;
  if (!Number.isInteger(maxConnections) || maxConnections < 2) {
    throw new ConfigError("maxConnections", "must be an integer ≥ 2 (one writer, one reader)");
  }
  const connectTimeoutMs = options.connectTimeoutMs ?? 10_000;
  if (!Number.isInteger(connectTimeoutMs) || connectTimeoutMs <= 0) {
    throw new ConfigError("connectTimeoutMs", "must be a positive integer");
  }
  const { connection } = options;
  if (typeof connection !== "string" && typeof connection?.connect !== "function") {
    throw new ConfigError("connection", "must be a connection string or a pg.Pool");
  }
  throwIfAborted(signal);

  // node-postgres is loaded only by those who use PostgreSQL.
  const pg = (await import("pg")).default;
  const types = bigintTypes(pg.types as PgTypeParsers);
  let pool: PgPool & { end?: () => Promise<void> };
  const owned = typeof connection === "string";
  if (typeof connection === "string") {
    pool = new pg.Pool({
      connectionString: connection,
      max: maxConnections,
      connectionTimeoutMillis: connectTimeoutMs,
    }) as unknown as PgPool & { end: () => Promise<void> };
  } else {
    pool = connection;
  }
  // A connection that breaks (server restart, terminated backend, network cut) must never crash
  // the process: node-postgres emits `'error'` on the connection, or on the pool once it is idle
  // there, and an `'error'` nobody listens to is thrown. The pool drops the connection; the next
  // query opens a new one, and a query that was on it fails with a retriable StorageError.
  const onBroken = (err: Error) => {
    const code = (err as { code?: unknown }).code;
    logger.warn(
      { err: err.message, code: typeof code === "string" ? code : undefined, schema },
      "a PostgreSQL connection of the node state broke; the next query opens a new one",
    );
  };
  // Ours, or the caller's (theirs may have listeners of its own: ours only logs, and goes on close).
  // On a pool of our own it stays after close: node-postgres's `end()` resolves before the
  // connections it ends are closed, and one that the server breaks in between (a restart at the
  // node's shutdown) still reports on the pool.
  pool.on?.("error", onBroken);
  const unlisten = () => {
    if (!owned) pool.off?.("error", onBroken);
  };
  const root = new Kysely<NodeStateTables>({
    dialect: new PostgresDialect({
      pool: kyselyPool(pool, types, owned, onBroken, maxConnections),
    }),
  });
  const kysely = root.withSchema(schema);
  const mode = {
    begin: "begin isolation level read committed",
    concurrentReads: true,
    nestedSavepoints: true,
    snapshotBegin: "begin isolation level repeatable read read only",
    // A member-list chunk (1 MiB) is read a quarter at a time, as base64 text (a third more bytes
    // than the chunk, where bytea's hex is twice as many): the text costs milliseconds per MiB to
    // receive and decode on the event loop.
    blobReadBytes: 256 * 1024,
    blobAsBase64: true,
    logger,
    outage: new StoreOutage({ logger, clock: options.clock, store: `PostgreSQL schema ${schema}` }),
  };
  try {
    let conn: StoreConnection;
    let version: number;
    if (options.readonly === true) {
      const found = await inspectPostgresState(root, schema);
      version = found.version;
      const ownTables = new Set([...found.tables].filter((t) => t.startsWith("poet_client_")));
      conn = new StoreConnection(kysely, new WriteLock(), { ...mode, readonly: true, ownTables });
    } else {
      const migrated = await migratePostgresState(root, schema);
      version = migrated.version;
      if (migrated.applied.length > 0) {
        logger.info({ schema, migrations: migrated.applied }, "node state migrated");
      }
      conn = new StoreConnection(kysely, new WriteLock(), mode);
    }
    throwIfAborted(signal);
    logger.debug(
      { schema, schemaVersion: version, readonly: conn.readonly },
      "node state open (PostgreSQL)",
    );
    return new NodeState({
      conn,
      dispose: async () => {
        try {
          await root.destroy();
        } finally {
          unlisten();
        }
      },
      goSchemaVersion: GO_LOCAL_SCHEMA_VERSION,
      schemaVersion: version,
      leases: postgresLeaseRepository,
    });
  } catch (err) {
    await root.destroy().catch(() => {});
    unlisten();
    throw toStorageError(err, {});
  }
}

export type { PgPool, PgPoolClient };
