/**
 * @module storage/go-spacemesh-tables
 *
 * The four tables the PoET client shares with go-spacemesh's local database (`node_state.sql`):
 * `challenge`, `poet_registration`, `nipost` and `poet_certificates`, with the column types and
 * keys the Go node declares (docs/node-client.md §1.4, §1.8, §2.6).
 *
 * go-spacemesh versions its local database with `PRAGMA user_version` and runs its own numbered
 * migrations from there. So the rule is:
 *
 * - `user_version = 0` and none of these tables: a new file. We create the tables with Go's DDL so
 *   that the operators' documented `sqlite3` procedures (`delete from poet_registration; delete
 *   from nipost;`) work on our files too. We leave `user_version` at 0: the file is ours.
 * - `user_version > 0`: a go-spacemesh file. Its tables and version are never touched; we only
 *   check that the columns we use are there, and refuse (kind `"migration-failed"`) a file whose
 *   go-spacemesh version predates them, so that go-spacemesh's own migrations can still run on it.
 *
 * Opened read-only, nothing is created: {@link checkGoSpacemeshTables} only checks, and a file
 * without the tables is refused (kind `"missing"`).
 */
import { type Kysely, sql } from "kysely";
import { StorageError } from "../errors.js";
import type { NodeStateTables } from "./schema.js";

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

/** The go-spacemesh schema version (`PRAGMA user_version`) of the file; 0 for a file that is ours. */
async function goSchemaVersion(db: Kysely<NodeStateTables>): Promise<number> {
  const { rows } = await sql<{ user_version: unknown }>`pragma user_version`.execute(db);
  return Number(rows[0]?.user_version ?? 0);
}

async function columnsOf(db: Kysely<NodeStateTables>, table: string): Promise<Set<string>> {
  const { rows } = await sql<{
    name: unknown;
  }>`select name from pragma_table_info(${table})`.execute(db);
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

async function goSpacemeshTables(db: Kysely<NodeStateTables>, create: boolean): Promise<number> {
  const version = await goSchemaVersion(db);
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
