// npm test: a process of its own
/**
 * A registration manager on PostgreSQL whose server stops and starts again (a restart, a
 * failover) as the registration window opens, while submits are on their way to the PoETs,
 * while the best proof arrives, and while the identities run PoST: nothing is lost and nothing is done twice. Each identity is submitted once to each PoET (counted at the
 * mock PoETs), keeps every registration, runs PoST once, and gets its NiPoST on the best proof;
 * the outage is logged once per stop, not per failed write. All time is a `ManualClock`.
 *
 * The test starts a server of its own, since it stops it.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import { after, before, describe, it } from "node:test";
import pg from "pg";
import { toHex } from "../src/bytes.js";
import { ConfigError } from "../src/errors.js";
import { type NiPostOutcome, RegistrationManager } from "../src/registration/index.js";
import { type NodeState, openPostgresState } from "../src/storage/index.js";
import { runClock } from "./helpers/clock-driver.js";
import { type PostgresServer, startPostgresServer } from "./helpers/postgres-server.js";
import { recordingLogger } from "./helpers/recording-logger.js";
import { trackedPool } from "./helpers/tracked-pool.js";
import {
  build,
  drive,
  driveTo,
  type Harness,
  identity,
  ofType,
  POST_RESULT,
  setup,
  T0,
} from "./registration-harness.js";

let server: PostgresServer;

before(async () => {
  // Where scripts/test.mjs starts its own: the test's TMPDIR is private to this user, and the
  // server runs as another when we are root.
  server = await startPostgresServer(fs.existsSync("/dev/shm") ? "/dev/shm" : undefined);
});
after(async () => {
  await server?.stop();
});

async function database(name: string): Promise<string> {
  const admin = new pg.Client({ connectionString: server.url });
  await admin.connect();
  try {
    await admin.query(`create database "${name}"`);
  } finally {
    await admin.end();
  }
  const u = new URL(server.url);
  u.pathname = `/${name}`;
  return u.toString();
}

const IDENTITIES = 6;
const LEAVES = [30n, 50n, 40n];

/** Each submit a mock PoET answered, by PoET index and node id. */
function countSubmits(h: Harness): Map<string, number> {
  const submits = new Map<string, number>();
  h.poets.forEach((poet, i) => {
    const handlers = poet.handlers;
    const submit = handlers.submit.bind(handlers);
    handlers.submit = (request) => {
      const key = `${i}:${toHex(request.pubkey)}`;
      submits.set(key, (submits.get(key) ?? 0) + 1);
      return submit(request);
    };
  });
  return submits;
}

describe("a registration manager whose PostgreSQL server stops and starts again", () => {
  it("submits once per identity and PoET, loses no registration and runs PoST once, through stops as the registration window opens, with submits on their way, in the proof step and during PoST", async (t) => {
    const url = await database(`store_outage_${process.pid}`);
    const logger = recordingLogger();
    const pool = trackedPool(url, 4);
    let state: NodeState | undefined;
    // The first PoST waits until the test has stopped the server: its NiPoST row meets the outage.
    let openPost!: () => void;
    const postGate = new Promise<void>((resolve) => {
      openPost = resolve;
    });
    const posts: string[] = [];
    const h = await setup(
      LEAVES.map((leavesPerRound) => ({ leavesPerRound })),
      {
        leaseHolder: "A",
        logger,
        storeRetryDelayMs: 1_000,
        // A few at a time: the stop finds submits done, on their way, and not yet sent.
        maxConcurrentSubmits: 4,
        post: async (request) => {
          posts.push(toHex(request.nodeId));
          if (posts.length === 1) await postGate;
          return POST_RESULT;
        },
      },
      T0 - 45_000,
    );
    try {
      state = await openPostgresState({
        connection: pool,
        schema: "outage",
        logger,
        clock: h.clock,
      });
      await h.manager.close();
      // Over REST: the mock PoETs' gateway calls the submit handler the test counts with.
      await h.restart({
        state,
        poets: h.poets.map((m) => ({
          url: m.url,
          pubkey: m.info.servicePubkey,
          protocol: "rest" as const,
        })),
      });
      const submits = countSubmits(h);
      const ids = Array.from({ length: IDENTITIES }, () => identity(1));
      const runs: Promise<NiPostOutcome>[] = [];
      const start = (id: (typeof ids)[number]) => {
        const run = build(h, id);
        run.catch(() => {});
        runs.push(run);
      };
      // Every PoET answers 1 s (of clock time) after a request: a submit is on its way for that
      // long, between its intent's write and its registration row's.
      for (const poet of h.poets) poet.faults.delayMs = 1_000;

      // Round 0's registration window opens at T0 − 40 s (the previous round's start) and closes
      // at T0 + 20 s. The first identities start before it opens and wait for it.
      const early = IDENTITIES - 2;
      for (const id of ids.slice(0, early)) start(id);
      await driveTo(h.clock, T0 - 41_000);
      assert.equal(ofType(h.events, "waiting-for-registration-window").length, early);

      // First stop: the window opens while the server is stopped. The intents cannot be written,
      // so no submit leaves: write-ahead, tried again on the clock.
      await server.halt();
      try {
        await driveTo(h.clock, T0 - 34_700);
        assert.ok(state.outage !== undefined, "the outage is under way");
        assert.equal(submits.size, 0, "no submit left without its durable intent");
      } finally {
        await server.resume();
      }
      // The intents are written at the next attempt (T0 − 34 s), and the submits leave.
      await driveTo(h.clock, T0 - 33_500);
      assert.equal((await state.intents.list()).length, early * LEAVES.length);
      assert.equal(submits.size, 0, "the submits are on their way");

      // Second stop: with the submits on their way. The PoETs accept them; only the rows that
      // confirm them are written again (never the submits), and the last identities start
      // meanwhile (their leases are asked for again).
      await server.halt();
      const haltedAt = h.clock.now();
      try {
        for (const id of ids.slice(early)) start(id);
        await driveTo(h.clock, haltedAt + 6_000);
        const outage = state.outage;
        assert.ok(outage !== undefined, "the outage is under way");
        assert.ok(outage.since.getTime() >= haltedAt);
        assert.ok(submits.size >= LEAVES.length, `submits accepted while down: ${submits.size}`);
      } finally {
        await server.resume();
      }
      const deadline = h.manager.schedule.registrationDeadline(0).getTime();
      assert.ok(h.clock.now() < deadline, "the server came back in the registration window");
      const total = IDENTITIES * LEAVES.length;
      await runClock(h.clock, () => ofType(h.events, "registered").length >= total);
      assert.ok(h.clock.now() < deadline, "registered before the round start");
      // The proof step: the best PoET (500 leaves) answers 3 s after the others, and the server
      // is stopped in between: the identities cannot store the better choice, pause, and resume
      // from the node state once it is back.
      h.poets.forEach((poet, i) => {
        poet.faults.delayMs = LEAVES[i] === 50n ? 3_000 : 0;
      });
      await runClock(
        h.clock,
        () =>
          ofType(h.events, "proof-downloaded").length >= 2 &&
          new Set(ofType(h.events, "best-proof-selected").map((e) => toHex(e.nodeId))).size ===
            IDENTITIES,
      );
      assert.equal(ofType(h.events, "proof-downloaded").length, 2);
      await server.halt();
      const proofHaltedAt = h.clock.now();
      try {
        await driveTo(h.clock, proofHaltedAt + 6_000);
        assert.ok(state.outage !== undefined, "the outage is under way");
        assert.ok(ofType(h.events, "store-failed").length > 0, "cycles paused for the store");
      } finally {
        await server.resume();
      }
      for (const poet of h.poets) poet.faults.delayMs = 0;
      let finished = false;
      void Promise.allSettled(runs).then(() => {
        finished = true;
      });

      // PoST: the first identity's PoST ends while the server is stopped.
      await runClock(h.clock, () => posts.length >= 1);
      await server.halt();
      const postHaltedAt = h.clock.now();
      try {
        openPost();
        await driveTo(h.clock, postHaltedAt + 6_000);
        assert.ok(state.outage !== undefined, "the outage is under way");
      } finally {
        await server.resume();
      }
      await runClock(h.clock, () => finished);
      const outcomes = await Promise.all(runs);

      // Exactly one submit per identity and PoET, as the PoETs counted them.
      assert.equal(submits.size, total);
      for (const [key, n] of submits) assert.equal(n, 1, `submits of ${key}`);
      for (const poet of h.poets) {
        assert.equal(poet.state.round(0)?.registrations.length, IDENTITIES);
      }
      // No registration lost: every identity's row at every PoET is in the state.
      const rows = await state.registrations.list();
      assert.equal(rows.length, total);
      assert.equal((await state.intents.list()).length, 0, "no intent left unresolved");
      // PoST once per identity; every NiPoST on the best proof (500 leaves).
      assert.equal(posts.length, IDENTITIES);
      assert.equal(new Set(posts).size, IDENTITIES);
      for (const outcome of outcomes) {
        assert.equal(outcome.kind, "ready");
        if (outcome.kind === "ready") assert.equal(outcome.nipost.leaves, 50n);
      }
      assert.equal((await state.nipost.list()).length, IDENTITIES);
      assert.equal(ofType(h.events, "lease-lost").length, 0);
      assert.equal(ofType(h.events, "window-missed").length, 0);

      // The operator's view: each stop logged once when it began and once when it ended, not
      // once per failed write.
      const down = logger.lines.filter((l) => /store fails/.test(l.message));
      const back = logger.lines.filter((l) => /store is back/.test(l.message));
      assert.ok(down.length >= 4, `outages logged: ${down.length}`);
      assert.equal(down.length, back.length);
      assert.ok(down.length <= 8, `one line per outage, not per write: ${down.length}`);
      assert.equal(state.outage, undefined);
      const storeFailed = ofType(h.events, "store-failed");
      const intentWrites = logger.lines.filter((l) => /could not write/.test(l.message));
      assert.ok(
        intentWrites.every((l) => l.level === "debug"),
        "failed writes are debug lines only",
      );
      const retried = (what: string) =>
        intentWrites.filter((l) => l.message === `could not write ${what}`).length;
      const rowRetries = retried("the registration row");
      const nipostRetries = logger.lines.filter((l) =>
        /could not write the NiPoST row/.test(l.message),
      ).length;
      assert.ok(rowRetries > 0, "registration rows were written again after the outage");
      assert.ok(retried("the submit intents") > 0, "intents were written again after the outage");
      assert.ok(nipostRetries > 0, "the NiPoST row was written again after the outage");
      const leaseRetries = logger.lines.filter((l) =>
        /could not acquire the identity's lease/.test(l.message),
      ).length;
      assert.ok(leaseRetries > 0, "leases were asked for again after the outage");
      t.diagnostic(
        `store outage: submits ${[...submits.values()].reduce((a, b) => a + b, 0)} (${IDENTITIES} identities × ${LEAVES.length} PoETs), ` +
          `registrations ${rows.length}, PoST calls ${posts.length}, NiPoSTs ${outcomes.filter((o) => o.kind === "ready").length}, ` +
          `store-failed events ${storeFailed.length}, outages logged ${down.length}, ` +
          `writes tried again: intents ${retried("the submit intents")}, registration rows ${rowRetries}, NiPoST rows ${nipostRetries}, lease acquisitions ${leaseRetries}`,
      );
    } finally {
      await h.manager.close();
      await Promise.all(h.poets.map((p) => p.stop()));
      await state?.close();
      await h.state.close();
      await pool.end();
    }
  });

  it("keeps a registration whose row could not be written before the round start: the durable intent goes on to the proof", async (t) => {
    const url = await database(`store_outage_start_${process.pid}`);
    const logger = recordingLogger();
    const pool = trackedPool(url, 4);
    let state: NodeState | undefined;
    const posts: string[] = [];
    const h = await setup(
      LEAVES.map((leavesPerRound) => ({ leavesPerRound })),
      {
        leaseHolder: "A",
        logger,
        storeRetryDelayMs: 1_000,
        post: async (request) => {
          posts.push(toHex(request.nodeId));
          return POST_RESULT;
        },
      },
    );
    try {
      state = await openPostgresState({
        connection: pool,
        schema: "outage",
        logger,
        clock: h.clock,
      });
      await h.manager.close();
      await h.restart({
        state,
        poets: h.poets.map((m) => ({
          url: m.url,
          pubkey: m.info.servicePubkey,
          protocol: "rest" as const,
        })),
      });
      const submits = countSubmits(h);
      for (const poet of h.poets) poet.faults.delayMs = 1_000;
      const ids = [identity(1), identity(1), identity(1)];
      const runs = ids.map((id) => build(h, id));
      for (const run of runs) run.catch(() => {});
      // The intents are durable and the submits on their way when the server stops; it comes
      // back only after the round start (T0 + 20 s), so no row could confirm them in time.
      await driveTo(h.clock, T0 + 500);
      assert.equal((await state.intents.list()).length, ids.length * LEAVES.length);
      await server.halt();
      try {
        await driveTo(h.clock, T0 + 25_000);
        assert.equal(submits.size, ids.length * LEAVES.length, "every submit was accepted");
        assert.equal(ofType(h.events, "registered").length, 0, "no row could be written");
      } finally {
        await server.resume();
      }
      for (const poet of h.poets) poet.faults.delayMs = 0;
      const outcomes = await drive(h.clock, Promise.all(runs));

      for (const [key, n] of submits) assert.equal(n, 1, `submits of ${key}`);
      assert.equal(ofType(h.events, "window-missed").length, 0);
      // Each intent was found among its round's members and became the registration row.
      const confirmed = ofType(h.events, "submit-intent-confirmed").length;
      assert.equal(confirmed, ids.length * LEAVES.length);
      assert.equal((await state.registrations.list()).length, ids.length * LEAVES.length);
      assert.equal((await state.intents.list()).length, 0);
      assert.equal(posts.length, ids.length);
      for (const outcome of outcomes) {
        assert.equal(outcome.kind, "ready");
        if (outcome.kind === "ready") assert.equal(outcome.nipost.leaves, 50n);
      }
      assert.equal(ofType(h.events, "lease-lost").length, 0);
      t.diagnostic(
        `store down over the round start: submits ${submits.size}, intents confirmed from the proofs ${confirmed}, ` +
          `PoST calls ${posts.length}, NiPoSTs ${outcomes.filter((o) => o.kind === "ready").length}, ` +
          `store-failed events ${ofType(h.events, "store-failed").length}`,
      );
    } finally {
      await h.manager.close();
      await Promise.all(h.poets.map((p) => p.stop()));
      await state?.close();
      await h.state.close();
      await pool.end();
    }
  });

  it("refuses a storeRetryDelayMs that cannot work", async () => {
    const h = await setup([{}]);
    try {
      for (const storeRetryDelayMs of [0, -1, 1.5, Number.NaN]) {
        assert.throws(
          () => new RegistrationManager(h.managerOptions({ storeRetryDelayMs })),
          ConfigError,
          String(storeRetryDelayMs),
        );
      }
    } finally {
      await h.close();
    }
  });
});
