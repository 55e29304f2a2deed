/**
 * Leases of one PostgreSQL node state taken by several workers at the same time
 * (`storage/sqlite-lease-repository.ts` with row locks): workers that start together, each given
 * the identities in an order of its own, get one lease per identity between them, without
 * deadlocks and without waiting for each other's group commits. Found by the fleet failover test
 * (test/fleet-failover.test.ts): the first lease row of an identity, inserted inside the group
 * commit, made a worker wait for another's commit, and the workers deadlocked in a cycle.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import pg from "pg";
import { toHex } from "../src/bytes.js";
import { type LeaseAcquireResult, openPostgresState } from "../src/storage/index.js";
import { postgresDatabase } from "./helpers/postgres-database.js";

const WORKERS = 3;
const IDENTITIES = 30;
const TTL_MS = 30_000;

async function deadlocks(url: string): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ n: string }>(
      "select deadlocks::text as n from pg_stat_database where datname = current_database()",
    );
    return Number(rows[0]?.n ?? 0);
  } finally {
    await client.end();
  }
}

describe("PostgreSQL leases under contention", () => {
  it("gives each identity to one of the workers that start together, in orders of their own, without deadlock", async () => {
    const url = await postgresDatabase();
    const setup = await openPostgresState({ connection: url, schema: "contention" });
    await setup.close();
    const states = await Promise.all(
      Array.from({ length: WORKERS }, () =>
        openPostgresState({ connection: url, schema: "contention", maxConnections: 4 }),
      ),
    );
    try {
      const ids = Array.from({ length: IDENTITIES }, (_, i) => new Uint8Array(32).fill(i + 1));
      const at = new Date(Date.UTC(2024, 0, 1));
      const before = await deadlocks(url);
      // Worker k asks from identity k·10 on: each starts on identities the others reach last.
      const answers = await Promise.all(
        states.map((state, k) =>
          Promise.all(
            ids
              .map((_, i) => ids[(i + k * (IDENTITIES / WORKERS)) % IDENTITIES] as Uint8Array)
              .map((id) => state.leases.acquire(id, { holder: `worker-${k}`, at, ttlMs: TTL_MS })),
          ),
        ),
      );
      const holders = new Map<string, string>();
      for (const [k, list] of answers.entries()) {
        for (const answer of list as LeaseAcquireResult[]) {
          if (!answer.held) continue;
          const key = toHex(answer.lease.nodeId);
          assert.equal(holders.get(key), undefined, `${key} held by two workers`);
          holders.set(key, `worker-${k}`);
          assert.equal(answer.lease.token, 1n);
          assert.equal(answer.tookOver, undefined);
        }
      }
      assert.equal(holders.size, IDENTITIES);
      // The others were told who holds it.
      for (const list of answers) {
        for (const answer of list) {
          if (answer.held) continue;
          assert.equal(holders.get(toHex(answer.current.nodeId)), answer.current.holder);
        }
      }
      assert.equal((await deadlocks(url)) - before, 0, "PostgreSQL detected deadlocks");
      // The rows say the same.
      const rows = await (states[0] as (typeof states)[number]).leases.list();
      assert.equal(rows.length, IDENTITIES);
      for (const row of rows) assert.equal(row.holder, holders.get(toHex(row.nodeId)));
    } finally {
      for (const state of states) await state.close();
    }
  });
});
