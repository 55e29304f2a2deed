/**
 * A `pg.Pool` whose queries the test clock driver (`clock-driver.ts`) sees as work in progress.
 * Kept apart from `postgres-database.ts` (which registers `node:test` hooks) so that a child
 * process of a test (the crash test's workers, test/helpers/crash/child.ts) can use it too.
 */
import pg from "pg";
import type { PgPool } from "../../src/storage/index.js";
import { beginWork } from "./clock-driver.js";

/**
 * A `pg.Pool` on `url` whose connections and queries count as work in progress for the test clock
 * driver (`clock-driver.ts`), which cannot see PostgreSQL's sockets: a test that steps a
 * `ManualClock` then never moves time while a query is on its way.
 */
export function trackedPool(
  url: string,
  max = 4,
  options: { listen?: boolean } = {},
): PgPool & { end: () => Promise<void> } {
  const pool = new pg.Pool({ connectionString: url, max });
  // `listen: false`: no listener of the test's own, and the pool's events reach the state, as a
  // caller's bare `pg.Pool` does.
  if (options.listen === false) {
    return {
      ...trackedConnect(pool),
      on: (event, listener) => pool.on(event, listener),
      off: (event, listener) => pool.off(event, listener),
      end: () => pool.end(),
    };
  }
  pool.on("error", () => {});
  return { ...trackedConnect(pool), end: () => pool.end() };
}

function trackedConnect(pool: pg.Pool): Pick<PgPool, "connect"> {
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
  };
}
