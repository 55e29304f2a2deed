/**
 * @module storage/migrations
 *
 * The library's own schema, in the companion file (attached as schema `poet_client`, see
 * `companion-file.ts`; docs/node-client.md §1.11, §8). The applied migrations are recorded by name
 * in `poet_client_migration` (the table layout kysely's `Migrator` used when our tables lived in
 * the node's file, so that rows moved from there read the same), never in `PRAGMA user_version`,
 * which belongs to go-spacemesh.
 *
 * Our tables keep what go-spacemesh keeps only in memory, so that a restart neither downloads nor
 * verifies a proof twice: proofs that passed verification (keyed by their ref), the member lists of
 * each PoET round (in chunks of at most 1 MiB), and the challenge hash each identity registered; and what go-spacemesh does not
 * keep at all: the submits sent and not yet confirmed (write-ahead intents), each identity's
 * lease, and who downloads each PoET round's proof for the workers sharing the state.
 *
 * The runner is ours rather than kysely's `Migrator` because the tables must be created in the
 * attached schema, which the `Migrator` cannot do on SQLite (it would try `CREATE SCHEMA`). Each
 * migration is plain DDL with the schema named. A database migrated by a newer release of this
 * library (a migration name we do not know) is refused with kind `"schema-too-new"` before
 * anything is written.
 */
import { type Kysely, sql } from "kysely";
import { StorageError } from "../errors.js";
import type { NodeStateTables } from "./schema.js";

/** The schema name the companion file is attached under. */
export const COMPANION_SCHEMA = "poet_client";
/** Name of the table where the applied migrations are recorded. */
export const MIGRATION_TABLE = "poet_client_migration";
/**
 * Name of the migration lock table kysely's `Migrator` kept beside {@link MIGRATION_TABLE} in
 * earlier releases; no longer created, and moved out of the node's file like our other tables.
 */
export const MIGRATION_LOCK_TABLE = "poet_client_migration_lock";

const S = COMPANION_SCHEMA;

/**
 * A migration: DDL statements that name the companion schema (`poet_client."table"`), or a
 * function given the connection and the schema name. With kysely's builder, tables go through
 * `db.schema.withSchema(schema)`; an index must be raw SQL (`create index poet_client."i" on "t"
 * (…)`: SQLite takes the schema on the index name only).
 */
// biome-ignore lint/suspicious/noExplicitAny: a migration works on the schema, not on typed rows.
type CompanionMigration = readonly string[] | ((db: Kysely<any>, schema: string) => Promise<void>);

const migrations: Record<string, CompanionMigration> = {
  "0001_poet_client_tables": [
    `create table if not exists ${S}."poet_client_challenge" ("id" blob not null primary key, "hash" blob not null, "fingerprint" blob not null) without rowid`,
    `create table if not exists ${S}."poet_client_proof" ("ref" blob not null primary key, "proof" blob not null, "leaves" integer not null, "address" text not null, "round_id" text not null, "service_pubkey" blob not null, "statement" blob not null, "verified_at" integer not null) without rowid`,
    `create index if not exists ${S}."poet_client_proof_round" on "poet_client_proof" ("address", "round_id")`,
    `create table if not exists ${S}."poet_client_members" ("address" text not null, "round_id" text not null, "member_count" integer not null, "members" blob not null, "statement" blob, "fetched_at" integer not null, constraint "poet_client_members_pk" primary key ("address", "round_id")) without rowid`,
  ],
  // One worker per identity: the lease of each identity (see `lease-repository.ts`).
  "0002_identity_lease": [
    `create table if not exists ${S}."poet_client_lease" ("id" blob not null primary key, "holder" text not null, "token" integer not null, "acquired_at" integer not null, "renewed_at" integer not null, "expires_at" integer not null, "released" integer not null default 0) without rowid`,
  ],
  // Write-ahead submits (submit-intent-repository.ts): one row per identity and PoET whose submit
  // may have left without its `poet_registration` row being written.
  "0003_submit_intent": [
    `create table if not exists ${S}."poet_client_submit_intent" ("id" blob not null, "address" text not null, "hash" blob not null, "round_id" text not null, "round_end" integer not null, "proof_deadline" integer not null, "created_at" integer not null, constraint "poet_client_submit_intent_pk" primary key ("id", "address")) without rowid`,
  ],
  // One proof download per PoET and round for every worker on the state (proof-claim-repository.ts).
  "0004_proof_claim": [
    `create table if not exists ${S}."poet_client_proof_claim" ("address" text not null, "round_id" text not null, "holder" text not null, "token" integer not null, "claimed_at" integer not null, "expires_at" integer not null, "outcome" text not null, constraint "poet_client_proof_claim_pk" primary key ("address", "round_id")) without rowid`,
  ],
  // Member lists of any size (mainnet rounds of millions of members), packed and cut into chunks
  // (member-list-repository.ts). A rowid table: SQLite keeps big rows better in one.
  "0005_member_chunks": [
    `alter table ${S}."poet_client_members" add column "generation" integer`,
    `alter table ${S}."poet_client_members" add column "chunk_count" integer not null default 0`,
    `alter table ${S}."poet_client_members" add column "byte_count" integer`,
    `alter table ${S}."poet_client_members" add column "member_size" integer`,
    `create table if not exists ${S}."poet_client_member_chunk" ("address" text not null, "round_id" text not null, "generation" integer not null, "chunk" integer not null, "bytes" blob not null, "fetched_at" integer not null, constraint "poet_client_member_chunk_pk" primary key ("address", "round_id", "generation", "chunk"))`,
    `create index if not exists ${S}."poet_client_member_chunk_fetched" on "poet_client_member_chunk" ("fetched_at")`,
  ],
};

/** The migrations this release knows, in order. */
export const MIGRATION_NAMES: readonly string[] = Object.keys(migrations).sort();

/** The schema version of this release: the number of migrations it knows. */
export const NODE_STATE_SCHEMA_VERSION = MIGRATION_NAMES.length;

/** Whether `schema` has the table `name`. */
export async function hasTable(
  db: Kysely<NodeStateTables>,
  schema: string,
  name: string,
): Promise<boolean> {
  const { rows } = await sql<{ name: unknown }>`
    select name from ${sql.table(`${schema}.sqlite_master`)}
    where type = 'table' and name = ${name}`.execute(db);
  return rows.length > 0;
}

async function appliedMigrations(db: Kysely<NodeStateTables>, schema: string): Promise<string[]> {
  if (!(await hasTable(db, schema, MIGRATION_TABLE))) return [];
  const { rows } = await sql<{ name: unknown }>`
    select name from ${sql.table(`${schema}.${MIGRATION_TABLE}`)} order by name`.execute(db);
  return rows.map((r) => String(r.name));
}

/**
 * Refuses (kind `"schema-too-new"`) a database migrated by a newer release; otherwise returns the
 * migrations applied to it, which may be fewer than this release knows. Reads only. `schema` is
 * where our tables are: the companion (default), or `main` for a file of an earlier release.
 */
export async function checkSchemaKnown(
  db: Kysely<NodeStateTables>,
  schema: string = COMPANION_SCHEMA,
): Promise<string[]> {
  const applied = await appliedMigrations(db, schema);
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
 * Brings our tables in the companion to the latest version. Runs inside the opening transaction,
 * so a failure leaves the files as they were. Returns the names of the migrations it applied.
 */
export async function migrateNodeState(db: Kysely<NodeStateTables>): Promise<string[]> {
  const applied = new Set(await checkSchemaKnown(db));
  await sql
    .raw(
      `create table if not exists ${S}."${MIGRATION_TABLE}" ("name" varchar(255) not null primary key, "timestamp" varchar(255) not null)`,
    )
    .execute(db);
  const done: string[] = [];
  for (const name of MIGRATION_NAMES) {
    if (applied.has(name)) continue;
    try {
      const migration = migrations[name] ?? [];
      if (typeof migration === "function") await migration(db, S);
      else for (const statement of migration) await sql.raw(statement).execute(db);
      // Opening has no clock to ask; nothing reads the time, only the name.
      await sql`insert into ${sql.table(`${S}.${MIGRATION_TABLE}`)} (name, timestamp)
        values (${name}, ${""})`.execute(db);
    } catch (err) {
      throw new StorageError(
        `migration ${name} failed: ${err instanceof Error ? err.message : String(err)}`,
        { kind: "migration-failed", cause: err },
      );
    }
    done.push(name);
  }
  return done;
}
