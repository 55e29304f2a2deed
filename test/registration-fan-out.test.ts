/**
 * The manager's fan-out over many identities: cycles that start together begin over several
 * event-loop turns (counted, never timed), the submit limit's long queue keeps its order when
 * waiters give up, and the manual clock skips sleepers whose signal aborted.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import Database from "better-sqlite3";
import { Kysely, SqliteDialect } from "kysely";
import { ManualClock } from "../src/clock.js";
import { AbortedError } from "../src/errors.js";
import { ConcurrencyLimit } from "../src/registration/concurrency-limit.js";
import { RegistrationManager } from "../src/registration/index.js";
import { openNodeState } from "../src/storage/index.js";
import type { NodeStateTables } from "../src/storage/schema.js";
import { tempDir } from "./helpers/temp-dir.js";
import { turnCounter } from "./helpers/turn-counter.js";
import {
  build,
  CYCLE_GAP_MS,
  drive,
  identity,
  ofType,
  PHASE_SHIFT_MS,
  POST_RESULT,
  ready,
  schedule,
  setup,
  T0,
} from "./registration-harness.js";

const tmp = tempDir("registration-fan-out-");

describe("many identities at once", () => {
  it("starts their cycles over several event-loop turns, a bounded number per turn", async () => {
    const database = new Database(tmp.file());
    database.defaultSafeIntegers(true);
    let counter: ReturnType<typeof turnCounter> | undefined;
    /** The turn of each identity's first read of its challenge: when its cycle began. */
    const began = new Map<string, number>();
    const kysely = new Kysely<NodeStateTables>({
      dialect: new SqliteDialect({ database }),
      log: (event) => {
        const q = event.query.sql;
        if (counter === undefined || !q.startsWith("select") || !q.includes('from "challenge"')) {
          return;
        }
        const id = event.query.parameters.find((p) => p instanceof Uint8Array);
        // The state check before resuming reads every challenge at once: not a cycle's start.
        if (!(id instanceof Uint8Array)) return;
        const key = Buffer.from(id as Uint8Array).toString("hex");
        if (!began.has(key)) began.set(key, counter.turn);
      },
    });
    const state = await openNodeState(kysely);
    const clock = new ManualClock(T0);
    const waiting: Uint8Array[] = [];
    const manager = new RegistrationManager({
      schedule,
      poets: [],
      state,
      genesisId: new Uint8Array(20),
      clock,
      verifier: { verify: async () => {} },
      post: async () => POST_RESULT,
      onEvent: (e) => {
        if (e.type === "waiting-for-registration-window") waiting.push(e.nodeId);
      },
    });
    const n = 200;
    const ids = Array.from({ length: n }, () => identity(2));
    for (const id of ids) manager.addIdentity(id.signer);
    counter = turnCounter();
    // What a cycle makes first when it starts: its abort controller (linkedController). The calls
    // return without starting more cycles than one turn's budget (32): the others start later.
    const Controller = globalThis.AbortController;
    let signalsInLoop = 0;
    globalThis.AbortController = class extends Controller {
      constructor() {
        super();
        signalsInLoop++;
      }
    };
    let outcomes: Promise<unknown>[];
    try {
      outcomes = ids.map((id) =>
        manager.buildNiPost(
          { nodeId: id.signer.nodeId, challenge: { challenge: id.challenge, hash: id.hash } },
          {},
        ),
      );
    } finally {
      globalThis.AbortController = Controller;
    }
    assert.equal(signalsInLoop, 32, "only the first turn's cycles started in the calls' loop");
    // A second call for an identity whose start waits joins it.
    const last = ids[n - 1];
    assert.ok(last !== undefined);
    assert.equal(
      manager.buildNiPost({
        nodeId: last.signer.nodeId,
        challenge: { challenge: last.challenge, hash: last.hash },
      }),
      outcomes[n - 1],
    );
    // Round 1's window opens at round 0's start: every cycle waits for it on the clock.
    while (waiting.length < n) await new Promise((r) => setImmediate(r));
    counter.stop();
    assert.equal(began.size, n, "every cycle began by reading its challenge");
    const perTurn = new Map<number, number>();
    for (const turn of began.values()) perTurn.set(turn, (perTurn.get(turn) ?? 0) + 1);
    const counts = [...perTurn.values()];
    // 32 cycle starts per turn, and their reads at most 64 per turn (the storage budget): a
    // read that had to wait for a transaction runs in a later turn, with others that waited.
    assert.ok(Math.max(...counts) <= 64, `at most 64 cycles begin per turn, got ${counts}`);
    assert.ok(perTurn.size >= n / 64, `${n} cycles began over ${perTurn.size} turns`);
    // close() releases every lease (writes): the outcomes' rejections are handled meanwhile.
    await Promise.all([manager.close(), Promise.allSettled(outcomes)]);
    await state.close();
    database.close();
  });
});

describe("many submits at once", () => {
  it("starts them over several event-loop turns, a share of the turn budget each", async () => {
    const clock = new ManualClock(T0);
    const state = await openNodeState(tmp.file(), { create: true });
    let counter: ReturnType<typeof turnCounter> | undefined;
    /** The turn in which each submit was sent. */
    const sentIn: number[] = [];
    const poets = [1, 2].map((i) => ({
      url: `http://poet-${i}.test`,
      pubkey: new Uint8Array(32).fill(i),
    }));
    const manager = new RegistrationManager({
      schedule,
      poets,
      state,
      genesisId: new Uint8Array(20),
      clock,
      verifier: { verify: async () => {} },
      post: async () => POST_RESULT,
      // PoETs that answer at once: nothing but the turn budget spreads the submits.
      createClient: (poet) => ({
        info: async () => ({
          servicePubkey: poet.pubkey as Uint8Array,
          phaseShiftMs: PHASE_SHIFT_MS,
          cycleGapMs: CYCLE_GAP_MS,
        }),
        register: async () => {
          sentIn.push(counter?.turn ?? -1);
          return { roundId: "0", roundEndMs: schedule.roundEnd(0).getTime() - clock.now() };
        },
        proof: async () => {
          throw new Error("not asked in this test");
        },
      }),
    });
    const n = 100;
    const ids = Array.from({ length: n }, () => identity(1));
    for (const id of ids) manager.addIdentity(id.signer);
    counter = turnCounter();
    const outcomes = ids.map((id) =>
      manager.buildNiPost({
        nodeId: id.signer.nodeId,
        challenge: { challenge: id.challenge, hash: id.hash },
      }),
    );
    while (sentIn.length < n * poets.length) await new Promise((r) => setImmediate(r));
    counter.stop();
    const perTurn = new Map<number, number>();
    for (const turn of sentIn) perTurn.set(turn, (perTurn.get(turn) ?? 0) + 1);
    const counts = [...perTurn.values()];
    // 16 submits per budget turn (a submit weighs two cycle steps); the counter's turn may
    // hold two budget turns (the poll phase's and the check phase's).
    assert.ok(Math.max(...counts) <= 32, `at most 32 submits per turn, got ${counts}`);
    assert.ok(perTurn.size >= (n * poets.length) / 32, `sent over ${perTurn.size} turns`);
    await Promise.all([manager.close(), Promise.allSettled(outcomes)]);
    await state.close();
  });
});

describe("signing for many PoETs", () => {
  it("signs an identity's challenge once for all the PoETs it registers with", async () => {
    const h = await setup([{}, {}, {}]);
    try {
      const id = identity();
      let signatures = 0;
      const signer = {
        nodeId: id.signer.nodeId,
        sign: (message: Uint8Array) => {
          signatures++;
          return id.signer.sign(message);
        },
      };
      ready(await drive(h.clock, build(h, { ...id, signer })));
      assert.equal(ofType(h.events, "registered").length, 3, "every PoET accepted the signature");
      assert.equal(signatures, 1);
    } finally {
      await h.close();
    }
  });
});

describe("ConcurrencyLimit with a long queue", () => {
  it("skips waiters that gave up and keeps the others in order", async () => {
    const limit = new ConcurrencyLimit(1);
    const started: number[] = [];
    let release!: () => void;
    const first = limit.run(
      () =>
        new Promise<void>((resolve) => {
          started.push(0);
          release = resolve;
        }),
    );
    const controllers = Array.from({ length: 6 }, () => new AbortController());
    const rest = controllers.map((c, i) =>
      limit.run(
        async () => {
          started.push(i + 1);
        },
        { signal: c.signal },
      ),
    );
    assert.equal(limit.waiting, 6);
    controllers[1]?.abort();
    controllers[3]?.abort();
    assert.equal(limit.waiting, 4, "waiters that gave up are not counted");
    await assert.rejects(rest[1] as Promise<void>, AbortedError);
    await assert.rejects(rest[3] as Promise<void>, AbortedError);
    release();
    await first;
    await Promise.allSettled(rest);
    assert.deepEqual(started, [0, 1, 3, 5, 6]);
    assert.equal(limit.active, 0);
    assert.equal(limit.waiting, 0);
  });
});

describe("ManualClock with many sleepers", () => {
  it("wakes sleepers in time order, skips aborted ones and does not stop at their time", async () => {
    const clock = new ManualClock(0);
    const woke: number[] = [];
    const controllers = new Map<number, AbortController>();
    const sleeps = [50, 10, 30, 10, 40, 20].map((ms, i) => {
      const c = new AbortController();
      controllers.set(i, c);
      return clock.sleep(ms, { signal: c.signal }).then(
        () => woke.push(i),
        () => {},
      );
    });
    controllers.get(1)?.abort();
    controllers.get(5)?.abort();
    assert.equal(clock.pending, 4);
    assert.equal(clock.nextWakeup(), 10);
    await clock.set(35);
    assert.deepEqual(woke, [3, 2]);
    assert.equal(clock.nextWakeup(), 40);
    await clock.set(100);
    await Promise.all(sleeps);
    assert.deepEqual(woke, [3, 2, 4, 0]);
    assert.equal(clock.pending, 0);
  });
});
