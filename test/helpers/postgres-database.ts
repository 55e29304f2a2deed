/**
 * A fresh PostgreSQL database for each test that asks for one, on the server `npm test` started
 * (its URL in `POET_CLIENT_TEST_POSTGRES_URL`, see `scripts/test.mjs`), or, when a test file runs
 * on its own (`node --import tsx --test test/x.test.ts`), on a server this file starts for itself
 * and stops after its tests. The databases are dropped after the test file's tests.
 *
 * There is no skipping: when no server can be started, the test fails and says why.
 */
import { after } from "node:test";
import pg from "pg";
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

async function admin<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

after(async () => {
  if (serverUrl !== undefined && created.length > 0) {
    const url = serverUrl;
    await admin(url, async (client) => {
      for (const name of created.splice(0)) {
        await client.query(`drop database if exists "${name}" with (force)`);
      }
    });
  }
  if (ownServer !== undefined) await (await ownServer).stop();
});

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
  await admin(url, async (client) => {
    // FILE_COPY copies the template's files (fsync is off on the test server); the default since
    // PostgreSQL 15, WAL_LOG, writes them all through the WAL: about five times the server's CPU.
    const version = await client.query<{ v: string }>(
      "select current_setting('server_version_num') as v",
    );
    const strategy = Number(version.rows[0]?.v) >= 150000 ? " strategy = file_copy" : "";
    await client.query(`create database "${name}"${strategy}`);
  });
  created.push(name);
  return withDatabase(url, name);
}
