/**
 * @module storage/open-node-state
 *
 * {@link openNodeState} opens the node state: go-spacemesh's own local database — `local.sql`
 * (`node_state.sql` before v1.4) — in Go's exact layout (docs/node-client.md §1.4, §1.8, §2.6), and
 * beside it the companion file with the library's own tables, attached to the same connection
 * (`companion-file.ts`), through kysely over better-sqlite3.
 *
 * Opening by data directory finds `local.sql`, else `node_state.sql`; a path that does not exist is
 * refused unless `create: true` (`node-state-file.ts`). A file created from nothing gets
 * go-spacemesh v1.7.x's layout exactly (9 tables, the index, `user_version` 9, WAL).
 *
 * Opening sets WAL mode and a busy timeout on both files (commits then run with `synchronous =
 * NORMAL`, go-spacemesh's own setting, and those of durable writes with `FULL`: see
 * `store-connection.ts`, "Durability"), then, in one durable `BEGIN IMMEDIATE` transaction,
 * creates or checks go-spacemesh's tables, moves tables of ours that an earlier release left in the
 * node's file into the companion, and runs our migrations (see `go-spacemesh-tables.ts` and
 * `migrations.ts`): a crash while opening leaves the files as they were.
 *
 * Integers are read with better-sqlite3's safe integers, so u64 columns come back as `bigint`
 * without losing a bit. For a path or a `Database` we switch them on per statement (a caller's
 * `Database` keeps its own default); a caller's `Kysely` must already return `bigint`s
 * (`database.defaultSafeIntegers(true)`), which we check.
 *
 * Sharing the file with go-spacemesh: its tables and `user_version` are never changed, and nothing
 * of ours is left in it, so go-spacemesh ≥ 1.7's open-time schema check ("schema drift detected")
 * keeps accepting the file after any use of the library.
 *
 * To only look at a node's file (a status report, a dry run), open it with `{ readonly: true }`:
 * SQLite opens the files read-only, nothing is migrated or moved, no pragma that writes is issued
 * (the journal mode stays what the Go node chose), and every write method rejects with kind
 * `"readonly"`. Our tables are read from the companion when it exists (or from the node's file, as
 * an earlier release left them); when there are none, their repositories read as empty. A state
 * migrated by a newer release is still refused, since we cannot know what its tables mean. (Like
 * any SQLite reader, the connection may create the empty `-wal` and `-shm` side files of a WAL-mode
 * database; the database file itself is not changed.)
 */

import { existsSync } from "node:fs";
import BetterSqlite3 from "better-sqlite3";
import { Kysely, type SqliteDatabase, SqliteDialect, sql } from "kysely";
import type { AbortOptions } from "../abort-options.js";
import { toHex } from "../bytes.js";
import type { Clock } from "../clock.js";
import { ConfigError, StorageError, throwIfAborted } from "../errors.js";
import { type Logger, silentLogger } from "../logger.js";
import { CertificateRepository } from "./certificate-repository.js";
import { ChallengeRepository } from "./challenge-repository.js";
import { hashParam } from "./columns.js";
import {
  attachCompanion,
  companionAttached,
  companionPath,
  moveOwnTablesToCompanion,
  ownTablesIn,
} from "./companion-file.js";
import {
  type CheckOptions,
  checkNodeState,
  type Inconsistency,
  repairNodeState,
} from "./consistency-check.js";
import { checkGoSpacemeshTables, ensureGoSpacemeshTables } from "./go-spacemesh-tables.js";
import type { LeaseRepository } from "./lease-repository.js";
import { MemberListRepository } from "./member-list-repository.js";
import {
  COMPANION_SCHEMA,
  checkSchemaKnown,
  hasTable,
  MIGRATION_NAMES,
  MIGRATION_TABLE,
  migrateNodeState,
} from "./migrations.js";
import { NipostRepository } from "./nipost-repository.js";
import { isInMemory, resolveNodeStateFile } from "./node-state-file.js";
import { ProofClaimRepository } from "./proof-claim-repository.js";
import { RegistrationRepository } from "./registration-repository.js";
import type { NodeStateTables } from "./schema.js";
import type { SqliteConnection, SqliteConnectionStatement } from "./sqlite-connection.js";
import { SqliteLeaseRepository } from "./sqlite-lease-repository.js";
import { StoreConnection, toStorageError } from "./store-connection.js";
import { StoreOutage, type StoreOutageStatus } from "./store-outage.js";
import { SubmitIntentRepository } from "./submit-intent-repository.js";
import { VerifiedProofRepository } from "./verified-proof-repository.js";
import { WalCheckpointer } from "./wal-checkpointer.js";
import { WriteLock, writeLockFor } from "./write-lock.js";

/** Options of {@link openNodeState}. */
export interface OpenNodeStateOptions {
  /** How long a write waits for another process's write lock, in ms. Default 5000. */
  busyTimeoutMs?: number | undefined;
  logger?: Logger | undefined;
  /** The clock of {@link NodeState.outage}'s instants. Default: the system clock. */
  clock?: Clock | undefined;
  signal?: AbortSignal | undefined;
  /**
   * Open without changing the file: no migration, no table created, no WAL switch, and every
   * write method rejects with a {@link StorageError} of kind `"readonly"`. A path is opened by
   * SQLite read-only and must exist. go-spacemesh's tables are read as they are; ours are read when
   * the file has them, and read as empty when it has not. Default `false`.
   *
   * With a caller's `Database` or `Kysely`, the connection is used as it is (open it read-only
   * yourself to have SQLite enforce it) and only this library's writes are refused.
   *
   * @example
   * ```ts
   * // Inspect a go-spacemesh node's file without adding our tables to it.
   * await using state = await openNodeState("node_data/local.sql", { readonly: true });
   * const registrations = await state.registrations.listFor(nodeId);
   * await state.registrations.delete(nodeId, address); // rejects: StorageError, kind "readonly"
   * ```
   */
  readonly?: boolean | undefined;
  /**
   * Create the node-state file when it does not exist (for a data directory: `local.sql` in it),
   * with go-spacemesh v1.7.x's layout. Default `false`: a missing file is refused with a
   * {@link StorageError} of kind `"missing"` naming the file and the names looked for.
   *
   * @example
   * ```ts
   * await using state = await openNodeState("./my-node", { create: true }); // ./my-node/local.sql
   * ```
   */
  create?: boolean | undefined;
}

/** The repositories of the node state; inside {@link NodeState.transaction} they share its transaction. */
export interface NodeStateRepositories {
  /** `challenge`: each identity's NiPoST challenge and selected proof. */
  readonly challenges: ChallengeRepository;
  /** `poet_registration`: accepted registrations per identity and PoET. */
  readonly registrations: RegistrationRepository;
  /** `nipost`: each identity's PoST result. */
  readonly nipost: NipostRepository;
  /** `poet_certificates`: certifier certificates per identity and certifier. */
  readonly certificates: CertificateRepository;
  /** Ours: verified proofs by ref. */
  readonly proofs: VerifiedProofRepository;
  /** Ours: downloaded member lists per PoET and round. */
  readonly members: MemberListRepository;
  /** Ours: each identity's lease, one worker per identity (see `lease-repository.ts`). */
  readonly leases: LeaseRepository;
  /** Ours: submits recorded before they leave, until the PoET's answer is stored. */
  readonly intents: SubmitIntentRepository;
  /** Ours: who downloads each PoET round's proof for every worker on the state. */
  readonly proofClaims: ProofClaimRepository;
}

/** What {@link NodeState.resetIdentity} deleted. */
export interface ResetResult {
  registrations: number;
  nipost: boolean;
  challenge: boolean;
}

/**
 * The node state database, open. Create it with {@link openNodeState}.
 *
 * Every write is one transaction; {@link NodeState.transaction} groups several writes (and reads)
 * into one. Reads and writes may be called concurrently from independent tasks: writes are queued.
 */
export class NodeState implements NodeStateRepositories {
  readonly challenges: ChallengeRepository;
  readonly registrations: RegistrationRepository;
  readonly nipost: NipostRepository;
  readonly certificates: CertificateRepository;
  readonly proofs: VerifiedProofRepository;
  readonly members: MemberListRepository;
  readonly leases: LeaseRepository;
  readonly intents: SubmitIntentRepository;
  readonly proofClaims: ProofClaimRepository;
  /** The go-spacemesh schema version of the file (`PRAGMA user_version`): 9 for a file created by this release, 0 for one an earlier release created. */
  readonly goSchemaVersion: number;
  /**
   * The version of our own tables (number of applied migrations). Opened read-only, the version
   * the file has, which may be lower than this release's (0 if the file has none of our tables).
   */
  readonly schemaVersion: number;
  /** Whether the state was opened with `{ readonly: true }`: every write rejects. */
  readonly readonly: boolean;

  readonly #conn: StoreConnection;
  readonly #dispose: () => Promise<void>;
  #closing: Promise<void> | undefined;

  /** @internal Use {@link openNodeState}. */
  constructor(init: {
    conn: StoreConnection;
    dispose: () => Promise<void>;
    goSchemaVersion: number;
    schemaVersion: number;
    /** The store's lease repository; default the SQLite one. */
    leases?: ((conn: StoreConnection) => LeaseRepository) | undefined;
  }) {
    this.#conn = init.conn;
    this.#dispose = init.dispose;
    this.goSchemaVersion = init.goSchemaVersion;
    this.schemaVersion = init.schemaVersion;
    this.readonly = init.conn.readonly;
    this.challenges = new ChallengeRepository(init.conn);
    this.registrations = new RegistrationRepository(init.conn);
    this.nipost = new NipostRepository(init.conn);
    this.certificates = new CertificateRepository(init.conn);
    this.proofs = new VerifiedProofRepository(init.conn);
    this.members = new MemberListRepository(init.conn);
    this.leases = init.leases?.(init.conn) ?? new SqliteLeaseRepository(init.conn);
    this.intents = new SubmitIntentRepository(init.conn, this.registrations);
    this.proofClaims = new ProofClaimRepository(init.conn);
  }

  /**
   * The outage of the store under way: since when calls fail retriably (a PostgreSQL restart or
   * failover, a broken connection, a busy SQLite file), how many did, and the last failure;
   * `undefined` once it is over (a write succeeded again; a read, when only reads failed). The
   * store logs each outage once, when it begins and when it ends (`store-outage.ts`).
   *
   * @example
   * ```ts
   * const down = state.outage;
   * if (down !== undefined) console.warn(`store down since ${down.since.toISOString()}`);
   * ```
   */
  get outage(): StoreOutageStatus | undefined {
    return this.#conn.outage;
  }

  /**
   * Runs `fn` in one transaction: everything it writes through `tx` (or through this object,
   * from within `fn`) is committed together, or not at all if it throws. Inside `fn`, do not
   * write through another `NodeState` open on the same file: it waits for this transaction.
   *
   * @example
   * ```ts
   * await state.transaction(async (tx) => {
   *   await tx.challenges.setPoetProof(nodeId, ref, membership);
   *   await tx.proofs.put(verified);
   * }, { signal });
   * ```
   */
  async transaction<T>(
    fn: (tx: NodeStateRepositories) => Promise<T>,
    options: AbortOptions = {},
  ): Promise<T> {
    return this.#conn.write(options.signal, {}, () => fn(this));
  }

  /**
   * Reports rows that contradict each other (see `consistency-check.ts`). Nothing is changed.
   *
   * @example
   * ```ts
   * const problems = await state.check({ challengeHash: (c) => hashChallenge(c) });
   * if (problems.length > 0) await state.repair(problems);
   * ```
   */
  async check(options: CheckOptions = {}): Promise<Inconsistency[]> {
    return checkNodeState(this.#conn, options);
  }

  /** Deletes the rows behind `inconsistencies` in one transaction; returns how many. */
  async repair(
    inconsistencies: readonly Inconsistency[],
    options: AbortOptions = {},
  ): Promise<number> {
    return repairNodeState(this.#conn, inconsistencies, options);
  }

  /**
   * Deletes the identity's registrations, NiPoST and challenge in one transaction: go-spacemesh's
   * `ResetState` + `RemoveChallenge`, done atomically, with the submit intents bound to the
   * challenge. Certificates are kept.
   */
  async resetIdentity(nodeId: Uint8Array, options: AbortOptions = {}): Promise<ResetResult> {
    hashParam(nodeId, "nodeId");
    return this.#conn.write(options.signal, { identity: toHex(nodeId) }, async () => {
      const registrations = await this.registrations.clear(nodeId);
      const nipost = await this.nipost.delete(nodeId);
      const challenge = await this.challenges.delete(nodeId);
      await this.intents.clear(nodeId);
      return { registrations, nipost, challenge };
    });
  }

  /** Closes the database (only the connection this state opened itself). */
  async close(): Promise<void> {
    this.#closing ??= (async () => {
      await this.#conn.markClosed();
      await this.#dispose();
    })();
    return this.#closing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

type AnyKysely = Kysely<NodeStateTables>;

/** Prepared statements kept per connection (the library runs a few dozen distinct ones). */
const PREPARED_STATEMENTS_KEPT = 256;

/** A view of a better-sqlite3 database whose statements return integers as `bigint`. */
function safeIntegerDatabase(db: SqliteConnection, owned: boolean): SqliteDatabase {
  // Prepared once per SQL text: kysely prepares every query it runs, and preparing cost as much
  // as running (ten thousand identities run the same few statements hundreds of thousands of
  // times). A statement still being iterated (`busy`) is not shared.
  const statements = new Map<string, SqliteConnectionStatement & { busy?: boolean }>();
  return {
    prepare(query: string) {
      let statement = statements.get(query);
      if (statement === undefined || statement.busy === true) {
        statement = db.prepare(query);
        statement.safeIntegers(true);
        if (statements.size >= PREPARED_STATEMENTS_KEPT) {
          const oldest = statements.keys().next().value;
          if (oldest !== undefined) statements.delete(oldest);
        }
        statements.set(query, statement);
      }
      return statement as unknown as ReturnType<SqliteDatabase["prepare"]>;
    },
    close() {
      if (owned) db.close();
    },
  };
}

/**
 * Runs the group commit's statements without parameters or rows (`BEGIN`, `COMMIT`, savepoints,
 * the `synchronous` pragmas) on `db` at once, each prepared once: they run on the connection the
 * transaction holds (kysely's single SQLite connection), in order with its queries.
 */
function controlStatements(db: SqliteConnection): (text: string) => void {
  const statements = new Map<string, { run(): unknown }>();
  return (text) => {
    let statement = statements.get(text);
    if (statement === undefined) {
      statement = db.prepare(text) as unknown as { run(): unknown };
      statements.set(text, statement);
    }
    statement.run();
  };
}

function isBetterSqlite3(value: unknown): value is SqliteConnection {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as { prepare?: unknown }).prepare === "function" &&
    typeof (value as { pragma?: unknown }).pragma === "function"
  );
}

/**
 * Opens the node state — go-spacemesh's `local.sql` and the library's companion file beside it —
 * and brings our schema up to date.
 *
 * `target` is a node's data directory (where `local.sql`, else `node_state.sql`, is looked for), a
 * file path, an open better-sqlite3 `Database`, or a `Kysely` over one. A path that does not exist
 * is refused unless `{ create: true }`, which creates it with go-spacemesh v1.7.x's layout. The returned
 * {@link NodeState} closes only what it opened: a path's connection, not a caller's `Database`
 * or `Kysely`.
 *
 * With `{ readonly: true }` the file is only read, never migrated (see
 * {@link OpenNodeStateOptions.readonly}).
 *
 * Rejects with a {@link StorageError}: kind `"schema-too-new"` for a database migrated by a newer
 * release, `"migration-failed"` for a go-spacemesh file too old to have the tables, `"missing"`
 * for a file opened read-only that has none of them or a path that does not exist (without
 * `create`), `"io"` when the file cannot be opened.
 *
 * @example
 * ```ts
 * await using state = await openNodeState("/var/lib/spacemesh/data", { logger }); // …/data/local.sql
 * const challenge = await state.challenges.get(nodeId);
 * const registrations = await state.registrations.listFor(nodeId);
 *
 * // Read-only: the file is left exactly as it was.
 * await using view = await openNodeState("node_data/local.sql", { readonly: true });
 * ```
 */
export async function openNodeState(
  // biome-ignore lint/suspicious/noExplicitAny: any caller's Kysely, whatever its table types.
  target: string | SqliteConnection | Kysely<any>,
  options: OpenNodeStateOptions = {},
): Promise<NodeState> {
  const { signal, logger = silentLogger } = options;
  const readonly = options.readonly === true;
  const busyTimeoutMs = options.busyTimeoutMs ?? 5000;
  if (!Number.isInteger(busyTimeoutMs) || busyTimeoutMs < 0) {
    throw new ConfigError("busyTimeoutMs", "must be a non-negative integer");
  }
  throwIfAborted(signal);

  let kysely: AnyKysely;
  let ownsKysely = true;
  /** The control statements at once on a better-sqlite3 connection of ours (not through a caller's Kysely). */
  let control: ((text: string) => void) | undefined;
  if (typeof target === "string") {
    const file = resolveNodeStateFile(target, { create: options.create === true && !readonly });
    let database: SqliteConnection;
    try {
      database = new BetterSqlite3(
        file,
        readonly && !isInMemory(file)
          ? { timeout: busyTimeoutMs, readonly: true, fileMustExist: true }
          : { timeout: busyTimeoutMs },
      );
    } catch (err) {
      throw toStorageError(err, {});
    }
    kysely = new Kysely<NodeStateTables>({
      dialect: new SqliteDialect({ database: safeIntegerDatabase(database, true) }),
    });
    control = controlStatements(database);
  } else if (target instanceof Kysely) {
    kysely = target as unknown as AnyKysely;
    ownsKysely = false;
  } else if (isBetterSqlite3(target)) {
    kysely = new Kysely<NodeStateTables>({
      dialect: new SqliteDialect({ database: safeIntegerDatabase(target, false) }),
    });
    control = controlStatements(target);
  } else {
    throw new ConfigError("target", "must be a path, a better-sqlite3 Database or a Kysely");
  }

  let attached = false;
  let checkpointer: WalCheckpointer | undefined;
  const dispose = async () => {
    if (attached && typeof target !== "string") {
      // A caller's connection is handed back as it came.
      await sql`detach database ${sql.raw(COMPANION_SCHEMA)}`.execute(kysely).catch(() => {});
    }
    const closeMain = async () => {
      if (ownsKysely) await kysely.destroy();
    };
    // A large write-ahead log's last checkpoint runs on a thread, not in this close.
    if (checkpointer !== undefined) await checkpointer.close(closeMain);
    else await closeMain();
  };
  let releaseLock = () => {};
  try {
    if (!ownsKysely) {
      const { rows } = await sql<{ v: unknown }>`select 9007199254740993 as v`.execute(kysely);
      if (typeof rows[0]?.v !== "bigint") {
        throw new ConfigError(
          "target",
          "the Kysely's database must return integers as bigint: call database.defaultSafeIntegers(true)",
        );
      }
    }
    // busy_timeout belongs to the connection and writes nothing to the file.
    await sql`pragma busy_timeout = ${sql.raw(String(busyTimeoutMs))}`.execute(kysely);
    const file = await mainFile(kysely);
    if (!(await companionAttached(kysely))) {
      const companion = file === "" ? "" : companionPath(file);
      // Read-only, a companion that does not exist is not created: our tables read as empty.
      if (!readonly || companion === "" || existsSync(companion)) {
        await attachCompanion(kysely, companion);
        attached = true;
      }
    }
    if (readonly) {
      const view = await openReadonly(kysely, signal);
      logger.debug(
        {
          file: view.file,
          goSchemaVersion: view.goSchemaVersion,
          schemaVersion: view.schemaVersion,
        },
        "node state open read-only",
      );
      return new NodeState({ ...view, dispose });
    }
    const schemas = ["main", COMPANION_SCHEMA];
    const synchronous = {
      full: schemas.map((schema) => `pragma ${schema}.synchronous = full`),
      normal: schemas.map((schema) => `pragma ${schema}.synchronous = normal`),
    };
    for (const schema of schemas) {
      await sql.raw(`pragma ${schema}.journal_mode = wal`).execute(kysely);
    }
    const shared = writeLockFor(file);
    releaseLock = shared.release;
    // Checkpoints off the event loop once member lists are stored, on a connection of our own.
    if (typeof target === "string" && file !== "") {
      checkpointer = new WalCheckpointer({
        files: [file, companionPath(file)],
        lock: shared.lock,
        setAutocheckpoint: async (pages) => {
          await sql.raw(`pragma wal_autocheckpoint = ${pages}`).execute(kysely);
        },
        logger,
        clock: options.clock,
      });
    }
    const walCheckpoints = checkpointer;
    const outage = new StoreOutage({ logger, clock: options.clock, store: `SQLite ${file}` });
    const conn = new StoreConnection(kysely, shared.lock, {
      synchronous,
      outage,
      control,
      onCommit:
        walCheckpoints === undefined ? undefined : (heavy) => walCheckpoints.committed(heavy),
    });

    const { applied, goVersion, moved } = await conn.write(
      signal,
      {},
      async (db) => {
        // Refuse a newer release's tables before anything is moved or written.
        await checkSchemaKnown(db, "main");
        const goVersion = await ensureGoSpacemeshTables(db);
        const moved = await moveOwnTablesToCompanion(db);
        return { applied: await migrateNodeState(db), goVersion, moved };
      },
      { durable: true },
    );
    if (moved.length > 0) {
      logger.info(
        { file, companion: companionPath(file), tables: moved },
        "moved the library's tables out of the node's file into the companion",
      );
    }
    if (applied.length > 0) {
      logger.info({ file, migrations: applied }, "node state migrated");
    }
    logger.debug(
      { file, goSchemaVersion: goVersion, schemaVersion: MIGRATION_NAMES.length },
      "node state open",
    );
    return new NodeState({
      conn,
      dispose: async () => {
        releaseLock();
        await dispose();
      },
      goSchemaVersion: goVersion,
      schemaVersion: MIGRATION_NAMES.length,
    });
  } catch (err) {
    releaseLock();
    await dispose().catch(() => {});
    throw toStorageError(err, {});
  }
}

/**
 * The read-only half of {@link openNodeState}: checks the tables and the schema version of ours
 * in one read transaction, and finds which of our tables the file has.
 */
async function openReadonly(
  kysely: AnyKysely,
  signal: AbortSignal | undefined,
): Promise<{
  conn: StoreConnection;
  file: string;
  goSchemaVersion: number;
  schemaVersion: number;
}> {
  throwIfAborted(signal);
  const file = await mainFile(kysely);
  const found = await kysely.connection().execute(async (db) => {
    await sql`begin`.execute(db);
    try {
      const goVersion = await checkGoSpacemeshTables(db);
      // Ours are in the companion, or still in the node's file where an earlier release left them.
      const schemas = (await companionAttached(db)) ? ["main", COMPANION_SCHEMA] : ["main"];
      const tables = new Set<string>();
      let applied: string[] = [];
      for (const schema of schemas) {
        for (const name of await ownTablesIn(db, schema)) tables.add(name);
        if (await hasTable(db, schema, MIGRATION_TABLE)) {
          applied = await checkSchemaKnown(db, schema);
        }
      }
      return { applied, tables, goVersion };
    } finally {
      await sql`commit`.execute(db);
    }
  });
  // A read-only state takes no part in this process's queue of writers.
  const conn = new StoreConnection(kysely, new WriteLock(), {
    readonly: true,
    ownTables: found.tables,
  });
  return { conn, file, goSchemaVersion: found.goVersion, schemaVersion: found.applied.length };
}

/** The path of the main database file (empty for an in-memory database). */
async function mainFile(kysely: AnyKysely): Promise<string> {
  const { rows } = await sql<{ name: unknown; file: unknown }>`
    select name, file from pragma_database_list`.execute(kysely);
  return String(rows.find((f) => f.name === "main")?.file ?? "");
}
