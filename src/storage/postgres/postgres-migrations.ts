/**
 * @module storage/postgres/postgres-migrations
 *
 * The node state's tables on PostgreSQL: the same logical tables as the SQLite store — go-spacemesh's
 * `challenge`, `poet_registration`, `nipost` and `poet_certificates` (docs/node-client.md §1.4,
 * §1.8, §2.6) and our `poet_client_*` tables — in one schema of the caller's choosing, so that the
 * repositories run unchanged on either store.
 *
 * **Column types.** Bytes are `bytea`. Every integer is `bigint`, and every unsigned 64-bit value
 * (`sequence`, `post_pow`, `vrf_nonce`, `labels_per_unit`, `leaves`) is stored exactly as
 * go-spacemesh stores it in SQLite: its two's complement as a signed int64, so 2^63 … 2^64−1 are
 * the negative numbers −2^63 … −1 (see `columns.ts`). That keeps one encoding for both stores (a
 * copy between them moves the integers as they are), fits PostgreSQL's 8-byte `bigint` with no
 * loss, and no query of ours compares or sorts these columns in SQL. u32 columns are `bigint` too
 * (PostgreSQL's `integer` is signed 32-bit). Text columns use the `C` collation, so that `order by`
 * sorts them bytewise as SQLite does.
 *
 * The applied migrations are recorded by name in `<schema>.poet_client_migration`. Migrating runs in
 * one transaction under an advisory lock on the schema's name, so that workers starting together
 * migrate once; a schema migrated by a newer release (a name we do not know) is refused with kind
 * `"schema-too-new"` before anything is written.
 */
import { type Kysely, sql } from "kysely";
import { StorageError } from "../../errors.js";
import { MIGRATION_TABLE } from "../migrations.js";

const TEXT = `text collate "C" not null`;

/** Each migration's DDL, with `%s` standing for the quoted schema name. */
const migrations: Record<string, readonly string[]> = {
  "0001_postgres_tables": [
    `create table %s."challenge" ("id" bytea primary key, "epoch" bigint not null, "sequence" bigint not null, "prev_atx" bytea not null, "pos_atx" bytea not null, "commit_atx" bytea, "post_nonce" bigint, "post_indices" bytea, "post_pow" bigint, "poet_proof_ref" bytea, "poet_proof_membership" bytea)`,
    `create table %s."poet_registration" ("id" bytea not null, "hash" bytea not null, "address" ${TEXT}, "round_id" ${TEXT}, "round_end" bigint not null, primary key ("id", "address"))`,
    `create table %s."nipost" ("id" bytea primary key, "post_nonce" bigint not null, "post_indices" bytea not null, "post_pow" bigint not null, "num_units" bigint not null, "vrf_nonce" bigint not null, "poet_proof_membership" bytea not null, "poet_proof_ref" bytea not null, "labels_per_unit" bigint not null)`,
    `create table %s."poet_certificates" ("node_id" bytea not null, "certifier_id" bytea not null, "certificate" bytea not null, "signature" bytea not null, primary key ("node_id", "certifier_id"))`,
    `create table %s."poet_client_challenge" ("id" bytea primary key, "hash" bytea not null, "fingerprint" bytea not null)`,
    `create table %s."poet_client_proof" ("ref" bytea primary key, "proof" bytea not null, "leaves" bigint not null, "address" ${TEXT}, "round_id" ${TEXT}, "service_pubkey" bytea not null, "statement" bytea not null, "verified_at" bigint not null)`,
    `create index "poet_client_proof_round" on %s."poet_client_proof" ("address", "round_id")`,
    `create table %s."poet_client_members" ("address" ${TEXT}, "round_id" ${TEXT}, "member_count" bigint not null, "members" bytea not null, "statement" bytea, "fetched_at" bigint not null, primary key ("address", "round_id"))`,
  ],
  // One worker per identity: each identity's lease (`postgres-lease-repository.ts`).
  "0002_identity_lease": [
    `create table %s."poet_client_lease" ("id" bytea primary key, "holder" ${TEXT}, "token" bigint not null, "acquired_at" bigint not null, "renewed_at" bigint not null, "expires_at" bigint not null, "released" bigint not null default 0)`,
  ],
  // Write-ahead submits (`submit-intent-repository.ts`).
  "0003_submit_intent": [
    `create table %s."poet_client_submit_intent" ("id" bytea not null, "address" ${TEXT}, "hash" bytea not null, "round_id" ${TEXT}, "round_end" bigint not null, "proof_deadline" bigint not null, "created_at" bigint not null, primary key ("id", "address"))`,
  ],
  // One proof download per PoET and round for the whole fleet (`proof-claim-repository.ts`).
  "0004_proof_claim": [
    `create table %s."poet_client_proof_claim" ("address" ${TEXT}, "round_id" ${TEXT}, "holder" ${TEXT}, "token" bigint not null, "claimed_at" bigint not null, "expires_at" bigint not null, "outcome" ${TEXT}, primary key ("address", "round_id"))`,
  ],
  // Member lists of any size, packed and cut into chunks (`member-list-repository.ts`). The chunks
  // are random bytes: stored out of line without trying to compress them (`storage external`).
  "0005_member_chunks": [
    `alter table %s."poet_client_members" add column "generation" bigint, add column "chunk_count" bigint not null default 0, add column "byte_count" bigint, add column "member_size" bigint`,
    `create table %s."poet_client_member_chunk" ("address" ${TEXT}, "round_id" ${TEXT}, "generation" bigint not null, "chunk" bigint not null, "bytes" bytea not null, "fetched_at" bigint not null, primary key ("address", "round_id", "generation", "chunk"))`,
    `alter table %s."poet_client_member_chunk" alter column "bytes" set storage external`,
    `create index "poet_client_member_chunk_fetched" on %s."poet_client_member_chunk" ("fetched_at")`,
  ],
};

/** The migrations this release knows, in order. */
export const POSTGRES_MIGRATION_NAMES: readonly string[] = Object.keys(migrations).sort();

/**
 * The migrations applied to `schema`, which must have the migration table; refuses (kind
 * `"schema-too-new"`) a schema migrated by a newer release. Reads only.
 */
async function knownMigrations(
  // biome-ignore lint/suspicious/noExplicitAny: reads our own bookkeeping table only.
  db: Kysely<any>,
  schema: string,
): Promise<string[]> {
  const { rows } = await sql<{ name: string }>`select name from ${sql.table(
    `${schema}.${MIGRATION_TABLE}`,
  )} order by name`.execute(db);
  const done = rows.map((r) => r.name);
  const unknown = done.filter((name) => !POSTGRES_MIGRATION_NAMES.includes(name));
  if (unknown.length > 0) {
    throw new StorageError(
      `schema ${schema} was migrated by a newer release (schema version ${done.length} > ${POSTGRES_MIGRATION_NAMES.length}; unknown migrations: ${unknown.join(", ")})`,
      { kind: "schema-too-new", table: MIGRATION_TABLE },
    );
  }
  return done;
}

/** What a read-only open finds in a schema. */
export interface PostgresStateFound {
  /** The tables of the schema. */
  tables: Set<string>;
  /** The number of migrations applied. */
  version: number;
}

/**
 * Looks at `schema` without changing anything: which tables it has and at which version. A schema
 * without our tables is refused with kind `"missing"`, one of a newer release with
 * `"schema-too-new"`.
 */
export async function inspectPostgresState(
  // biome-ignore lint/suspicious/noExplicitAny: reads the catalog, not typed rows.
  db: Kysely<any>,
  schema: string,
): Promise<PostgresStateFound> {
  const { rows } = await sql<{ table_name: string }>`
    select table_name from information_schema.tables where table_schema = ${schema}`.execute(db);
  const tables = new Set(rows.map((r) => r.table_name));
  if (!tables.has(MIGRATION_TABLE)) {
    throw new StorageError(
      `schema ${schema} holds no node state (no ${MIGRATION_TABLE} table): open it writable once to create it`,
      { kind: "missing", table: MIGRATION_TABLE },
    );
  }
  const done = await knownMigrations(db, schema);
  return { tables, version: done.length };
}

/** What {@link migratePostgresState} found and did. */
export interface PostgresMigration {
  /** The migrations applied now. */
  applied: string[];
  /** The schema version afterwards (the number of migrations applied in all). */
  version: number;
}

/**
 * Creates the schema if needed and brings its tables to the latest version, in one transaction on
 * one connection of `db`.
 */
export async function migratePostgresState(
  // biome-ignore lint/suspicious/noExplicitAny: migrations work on the schema, not on typed rows.
  db: Kysely<any>,
  schema: string,
): Promise<PostgresMigration> {
  const s = `"${schema}"`;
  return db.connection().execute(async (conn) => {
    await sql`begin`.execute(conn);
    try {
      // Workers that start together wait for each other here instead of racing on the DDL.
      await sql`select pg_advisory_xact_lock(hashtext(${`poet_client_migrate:${schema}`}))`.execute(
        conn,
      );
      await sql.raw(`create schema if not exists ${s}`).execute(conn);
      await sql
        .raw(
          `create table if not exists ${s}."${MIGRATION_TABLE}" ("name" varchar(255) not null primary key, "timestamp" varchar(255) not null)`,
        )
        .execute(conn);
      const done = new Set(await knownMigrations(conn, schema));
      const applied: string[] = [];
      for (const name of POSTGRES_MIGRATION_NAMES) {
        if (done.has(name)) continue;
        try {
          for (const ddl of migrations[name] ?? []) {
            await sql.raw(ddl.replaceAll("%s", s)).execute(conn);
          }
          await sql`insert into ${sql.table(`${schema}.${MIGRATION_TABLE}`)} (name, timestamp)
            values (${name}, ${""})`.execute(conn);
        } catch (err) {
          throw new StorageError(
            `migration ${name} failed: ${err instanceof Error ? err.message : String(err)}`,
            { kind: "migration-failed", cause: err },
          );
        }
        applied.push(name);
      }
      await sql`commit`.execute(conn);
      return { applied, version: done.size + applied.length };
    } catch (err) {
      await sql`rollback`.execute(conn).catch(() => {});
      throw err;
    }
  });
}
