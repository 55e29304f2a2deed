/**
 * @module storage/companion-file
 *
 * The library's own tables live in a companion file beside the node's file, attached to the same
 * SQLite connection as schema `poet_client`, so that queries can span both
 * (docs/node-client.md §1.4, §1.11). go-spacemesh v1.7 and later refuse to open a `local.sql` that
 * holds any object their schema does not list, so nothing of ours may stay in the node's file.
 *
 * The companion of `local.sql` is `local.poet-client.sql` (of `X.sql`, `X.poet-client.sql`; of any
 * other name, the name with `.poet-client` appended). Its name must never start with `local.sql-`
 * or `local.sql_`: go-spacemesh deletes or uses such siblings (`-wal`, `-shm`, `-journal`,
 * `_done`, migration copies). Everything in it is a cache or can be recomputed — proofs and member
 * lists are downloaded again, the recorded challenge hashes are recomputed from the `challenge`
 * row — so it is safe to delete.
 *
 * Unqualified table names resolve in `main` first and then in attached schemas, so the
 * repositories name our tables without a schema and find them in the companion.
 *
 * Files written by earlier releases of this library have our `poet_client_*` tables inside the
 * node's file. A writable open moves them out, whole and generically: each table (and its indexes)
 * is recreated in the companion from the DDL SQLite kept, its rows copied, and the original
 * dropped — whatever columns the tables had then, so later migrations run on the companion as they
 * would have on the old file. A table the companion already has takes the rows it lacks.
 *
 * Note on atomicity: in WAL mode SQLite commits a transaction over two files atomically in each
 * file but not across them. The node's file is always the source of truth; the companion can only
 * lag, and what it holds is checked against the node's rows before use.
 */
import { basename, dirname, join } from "node:path";
import { type Kysely, sql } from "kysely";
import { COMPANION_SCHEMA } from "./migrations.js";
import type { NodeStateTables } from "./schema.js";

/** The prefix of every table, index and name of ours. */
export const OWN_TABLE_PREFIX = "poet_client_";
const COMPANION_SUFFIX = ".poet-client";

/**
 * The companion file of a node's file: `local.sql` → `local.poet-client.sql`.
 *
 * @example
 * ```ts
 * companionPath("/var/lib/spacemesh/local.sql"); // "/var/lib/spacemesh/local.poet-client.sql"
 * ```
 */
export function companionPath(nodeFile: string): string {
  const name = basename(nodeFile);
  const companion = name.endsWith(".sql")
    ? `${name.slice(0, -".sql".length)}${COMPANION_SUFFIX}.sql`
    : `${name}${COMPANION_SUFFIX}`;
  return join(dirname(nodeFile), companion);
}

/**
 * Attaches `file` as the companion schema (`""` or `":memory:"`: an in-memory companion, for an
 * in-memory node state). A read-only connection attaches read-only.
 */
export async function attachCompanion(db: Kysely<NodeStateTables>, file: string): Promise<void> {
  await sql`attach database ${file === "" ? ":memory:" : file} as ${sql.raw(COMPANION_SCHEMA)}`.execute(
    db,
  );
}

/** Whether the companion schema is attached on this connection. */
export async function companionAttached(db: Kysely<NodeStateTables>): Promise<boolean> {
  const { rows } = await sql<{ name: unknown }>`
    select name from pragma_database_list`.execute(db);
  return rows.some((r) => r.name === COMPANION_SCHEMA);
}

interface SchemaObject {
  type: string;
  name: string;
  tbl_name: string;
  sql: string | null;
}

async function ownObjects(db: Kysely<NodeStateTables>, schema: string): Promise<SchemaObject[]> {
  const { rows } = await sql<Record<string, unknown>>`
    select type, name, tbl_name, sql from ${sql.table(`${schema}.sqlite_master`)}
    where substr(tbl_name, 1, ${OWN_TABLE_PREFIX.length}) = ${OWN_TABLE_PREFIX}
      and type in ('table', 'index')
    order by case type when 'table' then 0 else 1 end, name`.execute(db);
  return rows.map((r) => ({
    type: String(r.type),
    name: String(r.name),
    tbl_name: String(r.tbl_name),
    sql: r.sql === null ? null : String(r.sql),
  }));
}

/** The names of our tables in `schema`. */
export async function ownTablesIn(
  db: Kysely<NodeStateTables>,
  schema: string,
): Promise<Set<string>> {
  const objects = await ownObjects(db, schema);
  return new Set(objects.filter((o) => o.type === "table").map((o) => o.name));
}

/** `CREATE TABLE x …` / `CREATE [UNIQUE] INDEX x ON …` with `x` put into the companion schema. */
function inCompanion(ddl: string): string {
  return ddl.replace(/^(\s*CREATE\s+(?:UNIQUE\s+)?(?:TABLE|INDEX)\s+)/i, `$1${COMPANION_SCHEMA}.`);
}

async function columnsOf(
  db: Kysely<NodeStateTables>,
  schema: string,
  table: string,
): Promise<string[]> {
  const { rows } = await sql<{ name: unknown }>`
    select name from pragma_table_info(${table}, ${schema})`.execute(db);
  return rows.map((r) => String(r.name));
}

const quote = (name: string) => `"${name.replaceAll('"', '""')}"`;

/**
 * Moves every table of ours (and its indexes) from the node's file into the companion, rows and
 * all, inside the caller's transaction. Returns the names of the tables moved (empty when the
 * node's file had none).
 */
export async function moveOwnTablesToCompanion(db: Kysely<NodeStateTables>): Promise<string[]> {
  const inMain = await ownObjects(db, "main");
  if (inMain.length === 0) return [];
  const companionTables = await ownTablesIn(db, COMPANION_SCHEMA);
  const moved: string[] = [];
  for (const table of inMain.filter((o) => o.type === "table" && o.sql !== null)) {
    const name = quote(table.name);
    if (!companionTables.has(table.name)) {
      await sql.raw(inCompanion(table.sql as string)).execute(db);
      for (const index of inMain.filter(
        (o) => o.type === "index" && o.tbl_name === table.name && o.sql !== null,
      )) {
        await sql.raw(inCompanion(index.sql as string)).execute(db);
      }
      await sql
        .raw(`insert into ${COMPANION_SCHEMA}.${name} select * from main.${name}`)
        .execute(db);
    } else {
      // Both have it: the companion keeps its rows and takes those it lacks.
      const there = new Set(await columnsOf(db, COMPANION_SCHEMA, table.name));
      const shared = (await columnsOf(db, "main", table.name)).filter((c) => there.has(c));
      const columns = shared.map(quote).join(", ");
      await sql
        .raw(
          `insert or ignore into ${COMPANION_SCHEMA}.${name} (${columns}) select ${columns} from main.${name}`,
        )
        .execute(db);
    }
    await sql.raw(`drop table main.${name}`).execute(db);
    moved.push(table.name);
  }
  return moved;
}
