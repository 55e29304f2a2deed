/**
 * The two stores of the node state, for the suites that every store must pass: SQLite (a file in
 * a temp folder, `openNodeState`) and PostgreSQL (a schema of its own in a database of the test
 * server, `openPostgresState`). Each `open()` gives a fresh, empty state and a way to change its
 * rows behind the library's back, as go-spacemesh or an operator would.
 *
 *   for (const store of NODE_STATE_STORES) describe(store.name, () => { … store.open() … });
 */
import { after } from "node:test";
import Database from "better-sqlite3";
import {
  companionPath,
  MIGRATION_TABLE,
  type NodeState,
  openNodeState,
  openPostgresState,
} from "../../src/storage/index.js";
import { afterFile, inGroup, runningTestFile } from "./after-file.js";
import { postgresDatabase, type RawConnection, rawConnection } from "./postgres-database.js";
import { type TempDir, tempDir } from "./temp-dir.js";

/** An open state and raw access to its tables. */
export interface OpenedStore {
  state: NodeState;
  /**
   * Runs one statement on the state's tables outside the library, with `$1`, `$2`, … for the
   * parameters (bytes as `Uint8Array`, integers as `bigint`).
   */
  exec: (statement: string, params?: unknown[]) => Promise<void>;
  /** Runs one query on the state's tables outside the library and returns its rows. */
  query: (statement: string, params?: unknown[]) => Promise<Record<string, unknown>[]>;
  /** Closes the state and the raw connection. */
  close: () => Promise<void>;
}

/** One store under test. */
export interface StoreUnderTest {
  name: "sqlite" | "postgres";
  open: () => Promise<OpenedStore>;
}

// Made at import, so that it is removed after the file's tests (not after the first test's); in a
// group of `npm test`, one per member file, made by its first test that asks (`after-file.ts`).
const ownFiles = inGroup() ? undefined : tempDir("node-state-store-");
let memberFiles: { member: unknown; dir: TempDir } | undefined;
function sqliteFiles(): TempDir {
  if (ownFiles !== undefined) return ownFiles;
  const member = runningTestFile();
  if (memberFiles === undefined || memberFiles.member !== member) {
    memberFiles = { member, dir: tempDir("node-state-store-", afterFile) };
  }
  return memberFiles.dir;
}

const sqlite: StoreUnderTest = {
  name: "sqlite",
  async open() {
    const file = sqliteFiles().file();
    const state = await openNodeState(file, { create: true });
    return {
      state,
      async exec(statement, params = []) {
        await sqliteRun(file, statement, params, (s, p) => {
          s.run(...p);
          return [];
        });
      },
      async query(statement, params = []) {
        return sqliteRun(
          file,
          statement,
          params,
          (s, p) => s.all(...p) as Record<string, unknown>[],
        );
      },
      close: () => state.close(),
    };
  },
};

/** Runs `fn` on one statement of a connection of its own, with our companion attached. */
function sqliteRun<T>(
  file: string,
  statement: string,
  params: unknown[],
  fn: (s: Database.Statement, params: unknown[]) => T,
): T {
  const db = new Database(file);
  try {
    // Our own tables are in the companion file: unqualified names find them there too.
    db.prepare("attach database ? as poet_client").run(companionPath(file));
    return fn(
      db.prepare(statement.replace(/\$\d+/g, "?")),
      params.map((p) => (p instanceof Uint8Array ? Buffer.from(p) : p)),
    );
  } finally {
    db.close();
  }
}

/**
 * The running file's database (in a group of `npm test`, each member file has its own), with
 * the schemas of closed states, emptied, for the next states to open on, and one connection that
 * empties them (ended with the file).
 */
let database:
  | { member: unknown; url: Promise<string>; emptied: string[]; cleaner: RawConnection }
  | undefined;
let schemas = 0;
// Run on its own, after the file's tests (the database may be dropped by then: the connection's
// end is all that is left to do).
if (!inGroup()) after(() => database?.cleaner.end());

const postgres: StoreUnderTest = {
  name: "postgres",
  async open() {
    // One database per test file, one schema per open state: a schema is much cheaper than a
    // database. A closed state's schema, its rows deleted, serves the next state: making the
    // tables of an empty schema costs the server about 35 ms of CPU, emptying them a few.
    const member = runningTestFile();
    if (database === undefined || database.member !== member) {
      const url = postgresDatabase();
      const cleaner = rawConnection(url, "public");
      database = { member, url, emptied: [], cleaner };
      // Run on its own, the file's top-level hook below ends it.
      if (inGroup()) afterFile(() => cleaner.end());
    }
    const { url: pending, emptied, cleaner } = database;
    const url = await pending;
    const schema = emptied.pop() ?? `state_${schemas++}`;
    const state = await openPostgresState({ connection: url, schema, maxConnections: 4 });
    const raw = rawConnection(pending, schema);
    return {
      state,
      async exec(statement, params = []) {
        await raw.run(statement, params);
      },
      query: (statement, params = []) => raw.run(statement, params),
      async close() {
        await raw.end();
        await state.close();
        await emptySchema(cleaner, schema);
        emptied.push(schema);
      },
    };
  },
};

/**
 * Deletes every row of the state's tables in `schema` but the record of its migrations: what a
 * state opened there next finds is a fresh state's, its tables already made.
 */
async function emptySchema(raw: RawConnection, schema: string): Promise<void> {
  const tables = await raw.run(
    "select table_name as name from information_schema.tables where table_schema = $1 and table_type = 'BASE TABLE' and table_name <> $2",
    [schema, MIGRATION_TABLE],
  );
  for (const t of tables) {
    await raw.run(`delete from "${schema}"."${String(t.name)}"`, []);
  }
}

/** Every store the node state can live in. */
export const NODE_STATE_STORES: readonly StoreUnderTest[] = [sqlite, postgres];
