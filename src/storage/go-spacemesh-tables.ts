/**
 * @module storage/go-spacemesh-tables
 *
 * go-spacemesh's local database (`local.sql`; `node_state.sql` before v1.4): the four tables the
 * PoET client shares with the Go node — `challenge`, `poet_registration`, `nipost` and
 * `poet_certificates` — and the layout of the whole file (docs/node-client.md §1.4, §1.8, §2.6).
 *
 * go-spacemesh versions this file with `PRAGMA user_version` and, since v1.7.0, compares the whole
 * schema with the one it embeds every time it opens the file (`user_version` plus every
 * `sqlite_master.sql`, whitespace ignored); any extra object stops the node with "schema drift
 * detected". So the rules are:
 *
 * - An empty file (no table, `user_version` 0): we write go-spacemesh v1.7.x's layout exactly —
 *   its 9 tables and its index, with the DDL text SQLite keeps for a file Go migrated, and
 *   `user_version` 9 — so that an operator can hand the file to a Go node and keep the
 *   registrations.
 * - `user_version > 0`: a go-spacemesh file. Its tables and version are never touched; we only
 *   check that the columns we use are there, and refuse (kind `"migration-failed"`) a file whose
 *   go-spacemesh version predates them, so that go-spacemesh's own migrations can still run on it.
 * - `user_version` 0 with tables: a file an earlier release of this library created (only the four
 *   shared tables). It is used as it is; missing shared tables are added.
 *
 * Nothing of ours is ever created here: the library's own tables live in the companion file (see
 * `companion-file.ts`). Opened read-only, nothing is created: {@link checkGoSpacemeshTables} only
 * checks, and a file without the tables is refused (kind `"missing"`).
 */
import { type Kysely, sql } from "kysely";
import { StorageError } from "../errors.js";
import type { NodeStateTables } from "./schema.js";

/** The go-spacemesh v1.7.x local schema version (`PRAGMA user_version`) of a file we create. */
export const GO_LOCAL_SCHEMA_VERSION = 9;

/**
 * The objects of go-spacemesh v1.7.x's local database, with the text SQLite keeps for them in a
 * file the Go node migrated (`sql/localsql/schema/schema.sql`; `challenge` and `post` got columns
 * through ALTER TABLE, hence their layout). Tables first, then the index.
 */
const GO_LAYOUT: readonly string[] = [
  `CREATE TABLE atx_sync_requests 
(
    epoch     INT NOT NULL,
    timestamp INT NOT NULL, total INTEGER, downloaded INTEGER,
    PRIMARY KEY (epoch)
) WITHOUT ROWID`,
  `CREATE TABLE atx_sync_state 
(
    epoch     INT NOT NULL,
    id        CHAR(32) NOT NULL,
    requests  INT NOT NULL DEFAULT 0, 
    PRIMARY KEY (epoch, id)
) WITHOUT ROWID`,
  `CREATE TABLE "challenge"
(
    id            CHAR(32) PRIMARY KEY,
    epoch         UNSIGNED INT NOT NULL,
    sequence      UNSIGNED INT NOT NULL,
    prev_atx      CHAR(32) NOT NULL,
    pos_atx       CHAR(32) NOT NULL,
    commit_atx    CHAR(32),
    post_nonce    UNSIGNED INT,
    post_indices  VARCHAR,
    post_pow      UNSIGNED LONG INT
, poet_proof_ref        CHAR(32), poet_proof_membership VARCHAR) WITHOUT ROWID`,
  `CREATE TABLE malfeasance_sync_state
(
  id INT NOT NULL PRIMARY KEY,
  timestamp INT NOT NULL
)`,
  `CREATE TABLE nipost
(
    id            CHAR(32) PRIMARY KEY,
    post_nonce    UNSIGNED INT NOT NULL,
    post_indices  VARCHAR NOT NULL,
    post_pow      UNSIGNED LONG INT NOT NULL,

    num_units UNSIGNED INT NOT NULL,
    vrf_nonce UNSIGNED LONG INT NOT NULL,

    poet_proof_membership VARCHAR NOT NULL,
    poet_proof_ref        CHAR(32) NOT NULL,
    labels_per_unit       UNSIGNED INT NOT NULL
) WITHOUT ROWID`,
  `CREATE TABLE poet_certificates
(
    node_id      BLOB NOT NULL,
    certifier_id BLOB NOT NULL,
    certificate  BLOB NOT NULL,
    signature    BLOB NOT NULL
)`,
  `CREATE TABLE poet_registration
(
    id            CHAR(32) NOT NULL,
    hash          CHAR(32) NOT NULL,
    address       VARCHAR NOT NULL,
    round_id      VARCHAR NOT NULL,
    round_end     INT NOT NULL,

    PRIMARY KEY (id, address)
) WITHOUT ROWID`,
  `CREATE TABLE "post"
(
    id            CHAR(32) PRIMARY KEY,
    post_nonce    UNSIGNED INT NOT NULL,
    post_indices  VARCHAR NOT NULL,
    post_pow      UNSIGNED LONG INT NOT NULL,

    num_units     UNSIGNED INT NOT NULL,
    commit_atx    CHAR(32) NOT NULL,
    vrf_nonce     UNSIGNED LONG INT NOT NULL
, challenge BLOB NOT NULL DEFAULT x'0000000000000000000000000000000000000000000000000000000000000000')`,
  `CREATE TABLE prepared_activeset
(
    kind          UNSIGNED INT NOT NULL,    
    epoch         UNSIGNED INT NOT NULL,
    id            CHAR(32) NOT NULL,
    weight        UNSIGNED INT NOT NULL,
    data          BLOB NOT NULL,
    PRIMARY KEY (kind, epoch)
) WITHOUT ROWID`,
  "CREATE UNIQUE INDEX idx_poet_certificates ON poet_certificates (node_id, certifier_id)",
];

/** The shared tables, with the DDL an earlier release created them with in a file of its own. */
const GO_TABLES: ReadonlyArray<{ name: string; ddl: string; index?: string; columns: string[] }> = [
  {
    name: "challenge",
    ddl: `CREATE TABLE IF NOT EXISTS "challenge"
(
    id            CHAR(32) PRIMARY KEY,
    epoch         UNSIGNED INT NOT NULL,
    sequence      UNSIGNED INT NOT NULL,
    prev_atx      CHAR(32) NOT NULL,
    pos_atx       CHAR(32) NOT NULL,
    commit_atx    CHAR(32),
    post_nonce    UNSIGNED INT,
    post_indices  VARCHAR,
    post_pow      UNSIGNED LONG INT,
    poet_proof_ref        CHAR(32),
    poet_proof_membership VARCHAR
) WITHOUT ROWID`,
    columns: [
      "id",
      "epoch",
      "sequence",
      "prev_atx",
      "pos_atx",
      "commit_atx",
      "post_nonce",
      "post_indices",
      "post_pow",
      "poet_proof_ref",
      "poet_proof_membership",
    ],
  },
  {
    name: "poet_registration",
    ddl: `CREATE TABLE IF NOT EXISTS poet_registration
(
    id            CHAR(32) NOT NULL,
    hash          CHAR(32) NOT NULL,
    address       VARCHAR NOT NULL,
    round_id      VARCHAR NOT NULL,
    round_end     INT NOT NULL,

    PRIMARY KEY (id, address)
) WITHOUT ROWID`,
    columns: ["id", "hash", "address", "round_id", "round_end"],
  },
  {
    name: "nipost",
    ddl: `CREATE TABLE IF NOT EXISTS nipost
(
    id            CHAR(32) PRIMARY KEY,
    post_nonce    UNSIGNED INT NOT NULL,
    post_indices  VARCHAR NOT NULL,
    post_pow      UNSIGNED LONG INT NOT NULL,

    num_units UNSIGNED INT NOT NULL,
    vrf_nonce UNSIGNED LONG INT NOT NULL,

    poet_proof_membership VARCHAR NOT NULL,
    poet_proof_ref        CHAR(32) NOT NULL,
    labels_per_unit       UNSIGNED INT NOT NULL
) WITHOUT ROWID`,
    columns: [
      "id",
      "post_nonce",
      "post_indices",
      "post_pow",
      "num_units",
      "vrf_nonce",
      "poet_proof_membership",
      "poet_proof_ref",
      "labels_per_unit",
    ],
  },
  {
    name: "poet_certificates",
    ddl: `CREATE TABLE IF NOT EXISTS poet_certificates
(
    node_id      BLOB NOT NULL,
    certifier_id BLOB NOT NULL,
    certificate  BLOB NOT NULL,
    signature    BLOB NOT NULL
)`,
    index:
      "CREATE UNIQUE INDEX IF NOT EXISTS idx_poet_certificates ON poet_certificates (node_id, certifier_id)",
    columns: ["node_id", "certifier_id", "certificate", "signature"],
  },
];

/** The go-spacemesh schema version (`PRAGMA user_version`) of the file; 0 for an older file of ours. */
async function goSchemaVersion(db: Kysely<NodeStateTables>): Promise<number> {
  const { rows } = await sql<{ user_version: unknown }>`pragma user_version`.execute(db);
  return Number(rows[0]?.user_version ?? 0);
}

async function columnsOf(db: Kysely<NodeStateTables>, table: string): Promise<Set<string>> {
  const { rows } = await sql<{
    name: unknown;
  }>`select name from pragma_table_info(${table}, 'main')`.execute(db);
  return new Set(rows.map((r) => String(r.name)));
}

/**
 * Creates the go-spacemesh tables in a file of ours, or checks them in a go-spacemesh file, and
 * returns the file's go-spacemesh schema version (0 for a file that is ours). Runs inside the
 * opening transaction.
 */
export async function ensureGoSpacemeshTables(db: Kysely<NodeStateTables>): Promise<number> {
  return goSpacemeshTables(db, true);
}

/**
 * Checks, without creating anything, that the file has the go-spacemesh tables and columns we use,
 * and returns its go-spacemesh schema version.
 */
export async function checkGoSpacemeshTables(db: Kysely<NodeStateTables>): Promise<number> {
  return goSpacemeshTables(db, false);
}

/** Whether the main file holds no schema object at all (a file just created). */
async function isEmpty(db: Kysely<NodeStateTables>): Promise<boolean> {
  const { rows } = await sql<{ n: unknown }>`
    select count(*) as n from main.sqlite_master`.execute(db);
  return Number(rows[0]?.n ?? 0) === 0;
}

async function goSpacemeshTables(db: Kysely<NodeStateTables>, create: boolean): Promise<number> {
  let version = await goSchemaVersion(db);
  if (create && version === 0 && (await isEmpty(db))) {
    for (const ddl of GO_LAYOUT) await sql.raw(ddl).execute(db);
    await sql.raw(`pragma user_version = ${GO_LOCAL_SCHEMA_VERSION}`).execute(db);
    version = GO_LOCAL_SCHEMA_VERSION;
  }
  for (const table of GO_TABLES) {
    let columns = await columnsOf(db, table.name);
    if (columns.size === 0) {
      if (!create && version === 0) {
        throw new StorageError(
          "the database has no such table: not a node state file, or never opened writable",
          { kind: "missing", table: table.name },
        );
      }
      if (version !== 0) {
        throw new StorageError(
          `go-spacemesh database at schema version ${version} has no table ${table.name}; let go-spacemesh migrate it first`,
          { kind: "migration-failed", table: table.name },
        );
      }
      await sql.raw(table.ddl).execute(db);
      if (table.index) await sql.raw(table.index).execute(db);
      columns = await columnsOf(db, table.name);
    }
    for (const column of table.columns) {
      if (!columns.has(column)) {
        throw new StorageError(
          `column is missing (go-spacemesh schema version ${version}); let go-spacemesh migrate the database first`,
          { kind: "migration-failed", table: table.name, column },
        );
      }
    }
  }
  return version;
}
