/**
 * A deadlock between a group commit and another worker's transaction on PostgreSQL, provoked in a
 * fixed order: the other worker locks row B; the group commit's first write locks row A and its
 * second waits at a gate (row C, locked by a third connection); the other worker asks for A and
 * waits; the gate opens and the group commit's third write asks for B. PostgreSQL aborts the group
 * commit's waiting statement (40P01) to break the cycle; that write is rolled back to its
 * savepoint, the rest of the batch commits, and the aborted write is run again alone
 * (`group-commit.ts`), so every caller's write lands and none gets an error.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { setTimeout as realPause } from "node:timers/promises";
import pg from "pg";
import { openPostgresState, type PoetRegistration } from "../src/storage/index.js";
import { postgresDatabase } from "./helpers/postgres-database.js";
import { filled } from "./helpers/storage-go-db.js";

async function scalar(url: string, text: string, values: unknown[] = []): Promise<string> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query(text, values);
    return String(Object.values(rows[0] ?? {})[0]);
  } finally {
    await client.end();
  }
}

/** Waits until `count` backends of the database wait for a row lock. */
async function waitForLockWaits(url: string, count: number): Promise<void> {
  for (;;) {
    const waiting = Number(
      await scalar(
        url,
        "select count(*) from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'",
      ),
    );
    if (waiting >= count) return;
    await realPause(5);
  }
}

describe("deadlocks on PostgreSQL", () => {
  it("runs again the write of a group commit that PostgreSQL aborted to break a deadlock, and commits the rest", async () => {
    const url = await postgresDatabase();
    // The state's backends look for deadlocks after 50 ms; the other worker's never do (60 s), so
    // the group commit's statement is the one PostgreSQL aborts.
    const stateUrl = new URL(url);
    stateUrl.searchParams.set("options", "-c deadlock_timeout=50ms");
    const warnings: Array<{ message: string; fields: { code?: unknown } }> = [];
    const logger = {
      debug: () => {},
      info: () => {},
      warn: (fields: { code?: unknown }, message: string) => warnings.push({ message, fields }),
      error: () => {},
    };
    await using state = await openPostgresState({
      connection: stateUrl.toString(),
      schema: "dl",
      logger,
    });
    const reg = (b: number, roundId: string): PoetRegistration => ({
      nodeId: filled(32, b),
      hash: filled(32, 100 + b),
      address: "https://poet.example",
      roundId,
      roundEnd: new Date(Date.UTC(2024, 0, 1)),
    });
    const a = reg(1, "1");
    const b = reg(2, "1");
    const c = reg(3, "1");
    await state.registrations.addMany([a, b, c]);

    const other = new pg.Client({ connectionString: url });
    const gate = new pg.Client({ connectionString: url });
    await other.connect();
    await gate.connect();
    try {
      await other.query("set deadlock_timeout = '60s'");
      await other.query("begin");
      await gate.query("begin");
      const lock = (client: pg.Client, r: PoetRegistration) =>
        client.query("select 1 from dl.poet_registration where id = $1 for update", [r.nodeId]);
      await lock(other, b);
      await lock(gate, c);

      // One group commit: A's update (locks A), C's (waits for the gate), then B's.
      const writes = [
        state.registrations.update({ ...a, roundId: "2" }),
        state.registrations.update({ ...c, roundId: "2" }),
        state.registrations.update({ ...b, roundId: "2" }),
      ];
      const settled = writes.map((w) =>
        w.then(
          (v) => ({ ok: true as const, v }),
          (error: unknown) => ({ ok: false as const, error }),
        ),
      );
      // The group commit waits at C, holding A; the other worker then asks for A and waits.
      await waitForLockWaits(url, 1);
      const otherLocksA = lock(other, a);
      await waitForLockWaits(url, 2);
      // The gate opens: the group commit goes on to B, held by the other worker, which waits for
      // A, held by the group commit — a cycle, found by the group commit's backend 50 ms later.
      await gate.query("commit");
      await otherLocksA; // granted once the group commit has committed A and C
      await other.query("commit");
      const outcomes = await Promise.all(settled);
      for (const o of outcomes) assert.deepEqual(o, { ok: true, v: true });
    } finally {
      await other.end();
      await gate.end();
    }
    // PostgreSQL did detect the deadlock, in the group commit, and the write was run again.
    const conflicts = warnings.filter((w) => w.fields.code === "40P01");
    assert.equal(conflicts.length, 1, JSON.stringify(warnings.map((w) => w.message)));
    assert.match(conflicts[0]?.message ?? "", /deadlock/);
    for (const r of [a, b, c]) {
      assert.equal((await state.registrations.get(r.nodeId, r.address))?.roundId, "2");
    }
  });
});
