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
 * drops: a backend's start costs the server more CPU than the statement.
 */
let adminClient: Promise<pg.Client> | undefined;
/** ` strategy = file_copy` where the server knows it (PostgreSQL ≥ 15), asked once. */
let strategy: Promise<string> | undefined;

function admin(url: string): Promise<pg.Client> {
  adminClient ??= (async () => {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    return client;
  })();
  return adminClient;
}

async function endAdmin(): Promise<void> {
  const opened = adminClient;
  adminClient = undefined;
  if (opened !== undefined) await (await opened).end();
}

/** Drops the databases made so far (those of the file whose tests just ended). */
async function dropCreated(): Promise<void> {
  if (serverUrl !== undefined && created.length > 0) {
    const client = await admin(serverUrl);
    for (const name of created.splice(0)) {
      await client.query(`drop database if exists "${name}" with (force)`);
    }
  }
  await endAdmin();
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
  const client = await admin(url);
  // FILE_COPY copies the template's files (fsync is off on the test server); the default since
  // PostgreSQL 15, WAL_LOG, writes them all through the WAL: about five times the server's CPU.
  strategy ??= client
    .query<{ v: string }>("select current_setting('server_version_num') as v")
    .then((version) => (Number(version.rows[0]?.v) >= 150000 ? " strategy = file_copy" : ""));
  await client.query(`create database "${name}"${await strategy}`);
  created.push(name);
  if (inGroup()) afterFile(dropCreated);
  return withDatabase(url, name);
}
