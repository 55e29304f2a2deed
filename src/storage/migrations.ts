/**
 * @module storage/migrations
 *
 * The library's own schema, versioned with kysely's `Migrator` and an in-code provider
 * (docs/node-client.md §1.11, §8). The migration bookkeeping lives in tables of its own,
 * `poet_client_migration` and `poet_client_migration_lock`, never in `PRAGMA user_version`, which
 * belongs to go-spacemesh.
 *
 * Our tables keep what go-spacemesh keeps only in memory, so that a restart neither downloads nor
 * verifies a proof twice: proofs that passed verification (keyed by their ref), the member lists of
 * each PoET round, and the challenge hash each identity registered.
 *
 * A database migrated by a newer release of this library (a migration name we do not know) is
 * refused with kind `"schema-too-new"` before anything is written.
 */
import { type Kysely, type Migration, type MigrationProvider, Migrator, sql } from "kysely";
import { StorageError } from "../errors.js";
import type { NodeStateTables } from "./schema.js";

/** Name of the table where the applied migrations are recorded. */
export const MIGRATION_TABLE = "poet_client_migration";
/** Name of kysely's migration lock table. */
export const MIGRATION_LOCK_TABLE = "poet_client_migration_lock";

// Migrations take the untyped kysely: they describe the tables before the types exist.
// biome-ignore lint/suspicious/noExplicitAny: a migration works on the schema, not on typed rows.
type AnyKysely = Kysely<any>;

const migrations: Record<string, Migration> = {
  "0001_poet_client_tables": {
    async up(db: AnyKysely) {
      await db.schema
        .createTable("poet_client_challenge")
        .ifNotExists()
        .addColumn("id", "blob", (c) => c.primaryKey().notNull())
        .addColumn("hash", "blob", (c) => c.notNull())
        .addColumn("fingerprint", "blob", (c) => c.notNull())
        .modifyEnd(sql`without rowid`)
        .execute();
      await db.schema
        .createTable("poet_client_proof")
        .ifNotExists()
        .addColumn("ref", "blob", (c) => c.primaryKey().notNull())
        .addColumn("proof", "blob", (c) => c.notNull())
        .addColumn("leaves", "integer", (c) => c.notNull())
        .addColumn("address", "text", (c) => c.notNull())
        .addColumn("round_id", "text", (c) => c.notNull())
        .addColumn("service_pubkey", "blob", (c) => c.notNull())
        .addColumn("statement", "blob", (c) => c.notNull())
        .addColumn("verified_at", "integer", (c) => c.notNull())
        .modifyEnd(sql`without rowid`)
        .execute();
      await db.schema
        .createIndex("poet_client_proof_round")
        .ifNotExists()
        .on("poet_client_proof")
        .columns(["address", "round_id"])
        .execute();
      await db.schema
        .createTable("poet_client_members")
        .ifNotExists()
        .addColumn("address", "text", (c) => c.notNull())
        .addColumn("round_id", "text", (c) => c.notNull())
        .addColumn("member_count", "integer", (c) => c.notNull())
        .addColumn("members", "blob", (c) => c.notNull())
        .addColumn("statement", "blob")
        .addColumn("fetched_at", "integer", (c) => c.notNull())
        .addPrimaryKeyConstraint("poet_client_members_pk", ["address", "round_id"])
        .modifyEnd(sql`without rowid`)
        .execute();
    },
  },
};

/** The migrations this release knows, in order. */
export const MIGRATION_NAMES: readonly string[] = Object.keys(migrations).sort();

/** The schema version of this release: the number of migrations it knows. */
export const NODE_STATE_SCHEMA_VERSION = MIGRATION_NAMES.length;

const provider: MigrationProvider = { getMigrations: async () => migrations };

async function appliedMigrations(db: Kysely<NodeStateTables>): Promise<string[]> {
  const { rows: tables } = await sql<{ name: unknown }>`
    select name from sqlite_master where type = 'table' and name = ${MIGRATION_TABLE}`.execute(db);
  if (tables.length === 0) return [];
  const { rows } = await sql<{ name: unknown }>`
    select name from ${sql.table(MIGRATION_TABLE)} order by name`.execute(db);
  return rows.map((r) => String(r.name));
}

/**
 * Refuses (kind `"schema-too-new"`) a database migrated by a newer release; otherwise returns the
 * migrations applied to it, which may be fewer than this release knows. Reads only.
 */
export async function checkSchemaKnown(db: Kysely<NodeStateTables>): Promise<string[]> {
  const applied = await appliedMigrations(db);
  const unknown = applied.filter((name) => !MIGRATION_NAMES.includes(name));
  if (unknown.length > 0) {
    throw new StorageError(
      `the database was migrated by a newer release (schema version ${applied.length} > ${NODE_STATE_SCHEMA_VERSION}; unknown migrations: ${unknown.join(", ")})`,
      { kind: "schema-too-new", table: MIGRATION_TABLE },
    );
  }
  return applied;
}

/**
 * Brings our tables to the latest version. Runs inside the opening transaction, so a failure
 * leaves the file as it was. Returns the names of the migrations it applied.
 */
export async function migrateNodeState(db: Kysely<NodeStateTables>): Promise<string[]> {
  await checkSchemaKnown(db);
  const migrator = new Migrator({
    db,
    provider,
    migrationTableName: MIGRATION_TABLE,
    migrationLockTableName: MIGRATION_LOCK_TABLE,
  });
  const { error, results } = await migrator.migrateToLatest();
  if (error !== undefined) {
    const failed = results?.find((r) => r.status === "Error")?.migrationName;
    throw new StorageError(
      `migration ${failed ?? "(setup)"} failed: ${error instanceof Error ? error.message : String(error)}`,
      { kind: "migration-failed", cause: error },
    );
  }
  return (results ?? []).filter((r) => r.status === "Success").map((r) => r.migrationName);
}
