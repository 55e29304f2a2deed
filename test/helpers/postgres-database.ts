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
import type { PgPool } from "../../src/storage/index.js";
import { beginWork } from "./clock-driver.js";
import { POSTGRES_URL_ENV, type PostgresServer, startPostgresServer } from "./postgres-server.js";

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
 * A `pg.Pool` on `url` whose connections and queries count as work in progress for the test clock
 * driver (`clock-driver.ts`), which cannot see PostgreSQL's sockets: a test that steps a
 * `ManualClock` then never moves time while a query is on its way.
 */
export function trackedPool(url: string, max = 4): PgPool & { end: () => Promise<void> } {
  const pool = new pg.Pool({ connectionString: url, max });
  pool.on("error", () => {});
  return {
    async connect() {
      const done = beginWork();
      let client: pg.PoolClient;
      try {
        client = await pool.connect();
      } finally {
        done();
      }
      return {
        async query(config) {
          const done = beginWork();
          try {
            return await client.query(config as pg.QueryConfig);
          } finally {
            done();
          }
        },
        release: (err) => client.release(err),
        on: (event, listener) => client.on(event, listener),
        off: (event, listener) => client.off(event, listener),
      };
    },
    end: () => pool.end(),
  };
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
  await admin(url, (client) => client.query(`create database "${name}"`));
  created.push(name);
  return withDatabase(url, name);
}
