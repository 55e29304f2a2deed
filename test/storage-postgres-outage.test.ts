/**
 * A PostgreSQL server that goes away under a running node state: its backends terminated by an
 * operator (`pg_terminate_backend`, SQLSTATE 57P01), or the whole server stopped (fast shutdown)
 * and started again. Never an unhandled `'error'` (node:test fails a test on an uncaught
 * exception), the calls that met the outage fail with a retriable {@link StorageError}, the log
 * says what broke, nothing stored before is lost, and the state (and a registration manager on
 * it) goes on once the server is back.
 *
 * These tests start a server of their own, since they stop it.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import { after, before, describe, it } from "node:test";
import pg from "pg";
import { StorageError } from "../src/errors.js";
import { type NodeState, openPostgresState, type PgPool } from "../src/storage/index.js";
import { isTransientStoreFailure } from "../src/storage/transient-failure.js";
import { runClock, waitFor } from "./helpers/clock-driver.js";
import { type PostgresServer, startPostgresServer } from "./helpers/postgres-server.js";
import { recordingLogger } from "./helpers/recording-logger.js";
import { filled } from "./helpers/storage-go-db.js";
import { trackedPool } from "./helpers/tracked-pool.js";
import { build, drive, driveTo, identity, ofType, ready, setup } from "./registration-harness.js";

let server: PostgresServer;
let counter = 0;

before(async () => {
  // Where scripts/test.mjs starts its own: the test's TMPDIR is private to this user, and the
  // server runs as another when we are root.
  server = await startPostgresServer(fs.existsSync("/dev/shm") ? "/dev/shm" : undefined);
});
after(async () => {
  await server?.stop();
});

async function admin<T>(text: string, database = "postgres"): Promise<T[]> {
  const u = new URL(server.url);
  u.pathname = `/${database}`;
  const client = new pg.Client({ connectionString: u.toString() });
  await client.connect();
  try {
    return (await client.query(text)).rows as T[];
  } finally {
    await client.end();
  }
}

/** A new database on the test's own server. */
async function database(): Promise<{ name: string; url: string }> {
  const name = `outage_${process.pid}_${counter++}`;
  await admin(`create database "${name}"`);
  const u = new URL(server.url);
  u.pathname = `/${name}`;
  return { name, url: u.toString() };
}

/** Terminates every backend of `name` but the one asking; how many there were. */
async function terminateBackends(name: string): Promise<number> {
  const rows = await admin<{ pid: number }>(
    `select pg_terminate_backend(pid), pid from pg_stat_activity where datname = '${name}' and pid <> pg_backend_pid()`,
  );
  return rows.length;
}

const challenge = {
  publishEpoch: 1,
  sequence: 0n,
  prevAtx: filled(32, 2),
  positioningAtx: filled(32, 3),
};

/** The outcome of each call: "ok", or the StorageError's kind and whether it is retriable. */
async function outcomes(calls: Array<Promise<unknown>>): Promise<string[]> {
  return Promise.all(
    calls.map((call) =>
      call.then(
        () => "ok",
        (err: unknown) => {
          assert.ok(err instanceof StorageError, `not a StorageError: ${String(err)}`);
          return `${err.kind}${err.retriable ? " retriable" : ""}`;
        },
      ),
    ),
  );
}

describe("a PostgreSQL server that goes away", () => {
  it("does not crash a process whose bare pg.Pool has no 'error' listener when idle backends are terminated", async () => {
    const db = await database();
    // The caller's pool, as an operator creates it: no 'error' listener of its own.
    const pool = new pg.Pool({ connectionString: db.url, max: 4 });
    const logger = recordingLogger();
    try {
      const state = await openPostgresState({
        connection: pool as unknown as PgPool,
        maxConnections: 4,
        logger,
      });
      await Promise.all(
        [1, 2, 3, 4, 5, 6].map((b) => state.challenges.add(filled(32, b), challenge)),
      );
      assert.ok(pool.idleCount > 0, "the pool keeps idle connections");
      assert.ok((await terminateBackends(db.name)) > 0);
      // The idle connections break in the pool: logged, never thrown.
      await waitFor(() => logger.warnings.length > 0);
      const broke = logger.warnings.filter((w) =>
        /connection of the node state broke/.test(w.message),
      );
      assert.ok(broke.length > 0, "the broken connections are logged");
      assert.equal((broke[0] as { fields: { code?: string } }).fields.code, "57P01");
      // The pool opens new connections: everything stored is there, and new writes work.
      await state.challenges.add(filled(32, 7), challenge);
      assert.equal((await state.challenges.list()).length, 7);
      await state.close();
      // Closed: the state no longer listens to the caller's pool.
      assert.equal(pool.listenerCount("error"), 0);
    } finally {
      await pool.end();
    }
  });

  it("fails the calls that meet a stopped server with a retriable StorageError, and works again once it is back", async () => {
    const db = await database();
    const logger = recordingLogger();
    await using state = await openPostgresState({ connection: db.url, maxConnections: 4, logger });
    const stored = Array.from({ length: 20 }, (_, i) => filled(32, i + 1));
    await Promise.all(stored.map((id) => state.challenges.add(id, challenge)));

    // Backends terminated while writes are on their way: each write is committed or rejected as
    // retriable (the group commit redoes the others alone), none hangs, nothing crashes.
    const during = stored.map((_, i) => state.challenges.add(filled(32, 100 + i), challenge));
    await terminateBackends(db.name);
    for (const outcome of await outcomes(during)) {
      assert.ok(outcome === "ok" || outcome === "io retriable", outcome);
    }

    // The whole server stops (as for a restart).
    await server.halt();
    try {
      const down = await outcomes([
        state.challenges.add(filled(32, 200), challenge),
        state.challenges.list(),
        state.leases.list(),
      ]);
      assert.deepEqual(down, ["io retriable", "io retriable", "io retriable"]);
    } finally {
      await server.resume();
    }
    // Back: the first calls may still meet a connection broken by the stop, never a crash.
    let back: string[] = [];
    for (let attempt = 0; attempt < 5; attempt++) {
      back = await outcomes([state.challenges.add(filled(32, 210 + attempt), challenge)]);
      if (back[0] === "ok") break;
      assert.equal(back[0], "io retriable");
    }
    assert.equal(back[0], "ok");
    // Nothing stored before the outage is lost.
    const ids = new Set(
      (await state.challenges.list()).map((c) => Buffer.from(c.nodeId).toString("hex")),
    );
    for (const id of stored) assert.ok(ids.has(Buffer.from(id).toString("hex")));
    assert.ok(
      logger.warnings.some((w) => /connection of the node state broke/.test(w.message)),
      "the broken connections are logged",
    );
  });

  it("classifies the failures worth trying again", () => {
    for (const code of ["57P01", "57P02", "57P03", "40P01", "40001", "08006", "08001", "53300"]) {
      assert.equal(isTransientStoreFailure(Object.assign(new Error("x"), { code })), true, code);
    }
    assert.equal(isTransientStoreFailure(new Error("Connection terminated unexpectedly")), true);
    assert.equal(
      isTransientStoreFailure(
        new Error("x", { cause: Object.assign(new Error("y"), { code: "ECONNREFUSED" }) }),
      ),
      true,
    );
    for (const code of ["23505", "42P01", "XX001", "SQLITE_CONSTRAINT_PRIMARYKEY"]) {
      assert.equal(isTransientStoreFailure(Object.assign(new Error("x"), { code })), false, code);
    }
  });
});

describe("a registration manager on a PostgreSQL server that goes away", () => {
  it("keeps its lease and builds its NiPoST through terminated backends and a server restart", async () => {
    const db = await database();
    const logger = recordingLogger();
    // A pool without a listener of its own: the state's listener is all there is.
    const pool = trackedPool(db.url, 4, { listen: false });
    let state: NodeState | undefined;
    const h = await setup([{ leavesPerRound: 30n }, { leavesPerRound: 50n }], {
      leaseHolder: "A",
      logger,
    });
    try {
      state = await openPostgresState({ connection: pool, schema: "outage", logger });
      // The harness's manager is on SQLite: this one is on PostgreSQL.
      await h.manager.close();
      await h.restart({ state });
      const id = identity(1);
      const run = build(h, id);
      run.catch(() => {});
      await runClock(h.clock, () => ofType(h.events, "registered").length === 2);

      // An operator terminates every backend of the database.
      assert.ok((await terminateBackends(db.name)) > 0);
      await driveTo(h.clock, h.clock.now() + 10_001); // a lease renewal
      // The server stops for longer than one renewal period, less than the lease time.
      await server.halt();
      try {
        await driveTo(h.clock, h.clock.now() + 10_001);
      } finally {
        await server.resume();
      }
      // Back: the manager goes on, on the same lease, to its NiPoST.
      const nipost = ready(await drive(h.clock, run));
      assert.equal(nipost.leaves, 50n);
      assert.equal(ofType(h.events, "lease-lost").length, 0);
      assert.equal(h.postCalls.length, 1);
      for (const poet of h.poets) assert.equal(poet.state.round(0)?.registrations.length, 1);
      // The operator can read what happened.
      assert.ok(
        logger.warnings.some((w) => /could not renew the leases/.test(w.message)),
        logger.warnings.map((w) => w.message).join("; "),
      );
      // Nothing stored is lost: the challenge and both registrations are in the state.
      assert.equal((await state.registrations.list()).length, 2);
    } finally {
      // The state stops listening to the caller's pool when it closes; the halt's last broken
      // connection may report after that, before the pool ends: from here on that is the test's
      // own teardown, not the state's (on a busy machine it came late and crashed the file).
      pool.on?.("error", () => {});
      await h.manager.close();
      await Promise.all(h.poets.map((p) => p.stop()));
      await state?.close();
      await h.state.close();
      await pool.end();
    }
  });
});
