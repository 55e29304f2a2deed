/**
 * A fresh PostgreSQL database for each test that asks for one, on the server `npm test` started
 * (its URL in `POET_CLIENT_TEST_POSTGRES_URL`, see `scripts/test.mjs`), or, when a test file runs
 * on its own (`node --import tsx --test test/x.test.ts`), on a server this file starts for itself
 * and stops after its tests. The databases are dropped after the test file's tests (in a group of
 * `npm test`, after the member file's: `after-file.ts`).
 *
 * There is no skipping: when no server can be started, the test fails and says why.
 */
import { after } from "node:test";
import pg from "pg";
import { afterFile, inGroup } from "./after-file.js";
import { POSTGRES_URL_ENV, type PostgresServer, startPostgresServer } from "./postgres-server.js";

export { trackedPool } from "./tracked-pool.js";

let ownServer: Promise<PostgresServer> | undefined;
const created: string[] = [];
let serverUrl: string | undefined;
let counter = 0;

async function server(): Promise<string> {
  const fromEnv = process.env[POSTGRES_URL_ENV];
  if (fromEnv !== undefined && fromEnv !== "") return fromEnv;
  ownServer ??= startPostgresServer();
  return (await ownServer).url;
}

function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

/**
 * One connection to the server's `postgres` database for the `create database` and `drop database`
 * of the running file (in a group, of the running member), opened at its first and ended with the
 * drops.
 */
let admin: RawConnection | undefined;
/** ` strategy = file_copy` where the server knows it (PostgreSQL ≥ 15), asked once. */
let strategy: Promise<string> | undefined;

/** Drops the databases made so far (those of the file whose tests just ended). */
async function dropCreated(): Promise<void> {
  if (serverUrl !== undefined && created.length > 0) {
    admin ??= rawConnection(serverUrl, "public");
    for (const name of created.splice(0)) {
      await admin.run(`drop database if exists "${name}" with (force)`, []);
    }
  }
  await admin?.end();
}

// Run on its own, a file's databases are dropped after its tests, and this file's server stopped.
// In a group (scripts/test.mjs), each member's are dropped when it ends (`afterFile` below), and
// the server is `npm test`'s.
if (!inGroup()) {
  after(async () => {
    await dropCreated();
    if (ownServer !== undefined) await (await ownServer).stop();
  });
}

/**
 * Creates an empty database and returns its connection string.
 *
 * @example
 * ```ts
 * const url = await postgresDatabase();
 * await using state = await openPostgresState({ connection: url });
 * ```
 */
export async function postgresDatabase(): Promise<string> {
  const url = await server();
  serverUrl = url;
  const name = `poet_client_test_${process.pid}_${counter++}`;
  admin ??= rawConnection(url, "public");
  const connection = admin;
  // FILE_COPY copies the template's files (fsync is off on the test server); the default since
  // PostgreSQL 15, WAL_LOG, writes them all through the WAL: about five times the server's CPU.
  strategy ??= connection
    .run("select current_setting('server_version_num') as v", [])
    .then((rows) => (Number(rows[0]?.v) >= 150000 ? " strategy = file_copy" : ""));
  await connection.run(`create database "${name}"${await strategy}`, []);
  created.push(name);
  if (inGroup()) afterFile(dropCreated);
  return withDatabase(url, name);
}

/** One connection of a test's own: statements in, rows out. */
export interface RawConnection {
  run: (statement: string, params: unknown[]) => Promise<Record<string, unknown>[]>;
  end: () => Promise<void>;
}

/**
 * One connection with `schema` first on the search path, opened at its first statement and kept
 * until `end()` (a statement after that opens it again): a backend's start costs the server tens
 * of milliseconds of CPU, more than most statements a test runs on it.
 */
export function rawConnection(url: string | Promise<string>, schema: string): RawConnection {
  let client: Promise<pg.Client> | undefined;
  return {
    async run(statement, params) {
      client ??= (async () => {
        const c = new pg.Client({
          connectionString: await url,
          options: `-c search_path=${schema}`,
        });
        // A connection left open when its database is dropped ends with an error: nothing to do.
        c.on("error", () => {});
        await c.connect();
        return c;
      })();
      const result = await (await client).query(
        statement,
        params.map((p) => (typeof p === "bigint" ? p.toString() : p)),
      );
      return result.rows;
    },
    async end() {
      const opened = client;
      client = undefined;
      if (opened !== undefined) await (await opened).end();
    },
  };
}
