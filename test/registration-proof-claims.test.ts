/**
 * One proof download per PoET and round for a whole fleet (`registration/proof-claims.ts`):
 * registration managers on one PostgreSQL node state, each with its own pool and holder as worker
 * processes would be, each running its own identities, all needing the same PoET rounds' proofs.
 * One worker downloads each round (the mock PoET counts what it serves); the others read the proof
 * from the store. When the worker downloading a round dies, another takes its claim over once it
 * expires and downloads it. All time is a `ManualClock`.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { compareBytes } from "../src/bytes.js";
import {
  type NiPostOutcome,
  type RegistrationEvent,
  RegistrationManager,
  type RegistrationManagerOptions,
} from "../src/registration/index.js";
import { type NodeState, openNodeState, openPostgresState } from "../src/storage/index.js";
import { runClock } from "./helpers/clock-driver.js";
import { postgresDatabase, trackedPool } from "./helpers/postgres-database.js";
import {
  build,
  drive,
  driveTo,
  type Harness,
  type Identity,
  identity,
  ofType,
  POST_RESULT,
  ready,
  setup,
  T0,
} from "./registration-harness.js";

interface Worker {
  name: string;
  state: NodeState;
  pool: ReturnType<typeof trackedPool>;
  manager: RegistrationManager;
  events: RegistrationEvent[];
}

/** Mock PoETs and `names.length` workers on one fresh PostgreSQL schema. */
async function fleet(
  names: readonly string[],
  poets: number,
  extra: Partial<RegistrationManagerOptions> = {},
): Promise<{ h: Harness; workers: Worker[]; close: () => Promise<void> }> {
  const connection = await postgresDatabase();
  const open = async () => {
    const pool = trackedPool(connection);
    const state = await openPostgresState({
      connection: pool,
      schema: "claims",
      maxConnections: 4,
    });
    return { pool, state };
  };
  const first = await open();
  const h = await setup(
    Array.from({ length: poets }, (_, i) => ({ leavesPerRound: BigInt(20 + 10 * i) })),
    { state: first.state, leaseHolder: names[0], ...extra },
  );
  const workers: Worker[] = [
    { name: names[0] as string, ...first, manager: h.manager, events: h.events },
  ];
  for (const name of names.slice(1)) {
    const { pool, state } = await open();
    const events: RegistrationEvent[] = [];
    const manager = new RegistrationManager(
      h.managerOptions({
        state,
        leaseHolder: name,
        onEvent: (e) => events.push(e),
        post: async () => POST_RESULT,
        ...extra,
      }),
    );
    workers.push({ name, state, pool, manager, events });
  }
  const close = async () => {
    for (const w of workers) await w.manager.close().catch(() => {});
    await Promise.all(h.poets.map((p) => p.stop()));
    for (const w of workers) await w.state.close().catch(() => {});
    await h.state.close().catch(() => {});
    for (const w of workers) await w.pool.end().catch(() => {});
  };
  return { h, workers, close };
}

/** Each worker builds the NiPoSTs of its own `perWorker` identities. */
function start(h: Harness, workers: Worker[], perWorker: number) {
  const runs = new Map<Worker, { ids: Identity[]; runs: Promise<NiPostOutcome>[] }>();
  for (const w of workers) {
    const ids = Array.from({ length: perWorker }, () => identity(1));
    const promises = ids.map((id) => {
      const run = build(h, id, w.manager);
      run.catch(() => {});
      return run;
    });
    runs.set(w, { ids, runs: promises });
  }
  return runs;
}

/** More members than the 65,536 up to which earlier releases shared a round's download. */
const FILLERS = 70_000;

const downloads = (w: Worker) =>
  ofType(w.events, "proof-downloaded").filter((e) => !e.fromCache).length;

const warnings: string[] = [];
const logger = {
  debug: () => {},
  info: () => {},
  error: () => {},
  warn: (obj: unknown, msg?: string) => {
    warnings.push(`${msg} ${obj instanceof Object && "err" in obj ? String(obj.err) : ""}`);
  },
};

describe("proof downloads shared by a fleet on one PostgreSQL state", () => {
  it("downloads each PoET's proof of the round once for all workers", async (t) => {
    const { h, workers, close } = await fleet(["A", "B", "C"], 3, { logger });
    try {
      const runs = start(h, workers, 2);
      const all = Promise.all([...runs.values()].flatMap((r) => r.runs));
      const outcomes = await drive(h.clock, all, { maxSteps: 100_000 });
      // Every identity has its NiPoST on the best proof (400 leaves, the third PoET).
      for (const outcome of outcomes) assert.equal(ready(outcome).leaves, 40n);
      const trace = () =>
        workers
          .map(
            (w) =>
              `${w.name}: ${w.events
                .filter((e) => e.type.startsWith("proof-"))
                .map((e) =>
                  e.type === "proof-downloaded"
                    ? `downloaded ${e.poet}${e.fromCache ? " (store)" : ""} at +${e.at.getTime() - T0}`
                    : `${e.type} ${"poet" in e ? e.poet : ""} at +${e.at.getTime() - T0}${"error" in e && e.error ? ` ${e.error.message}` : ""}`,
                )
                .join("; ")}`,
          )
          .join("\n");
      if (warnings.length > 0) t.diagnostic(warnings.join("\n"));
      // One worker downloaded each PoET's proof, for the whole fleet ...
      assert.equal(
        workers.reduce((n, w) => n + downloads(w), 0),
        h.poets.length,
        trace(),
      );
      // ... and each PoET served it once.
      for (const poet of h.poets) {
        assert.equal(poet.state.round(0)?.proofsServed, 1, `${poet.url}\n${trace()}`);
      }
      // Every worker had every PoET's proof: downloaded, or read from the store.
      for (const w of workers) {
        const got = new Set(ofType(w.events, "proof-downloaded").map((e) => e.poet));
        assert.equal(got.size, h.poets.length, `worker ${w.name}`);
      }
      assert.equal(
        workers.reduce((n, w) => n + ofType(w.events, "proof-claim-taken-over").length, 0),
        0,
      );
      // Every claim is finished with the result in the store.
      const claims = await (workers[0] as Worker).state.proofClaims.list();
      assert.deepEqual(
        claims.map((c) => [c.roundId, c.outcome]),
        h.poets.map(() => ["0", "stored"]),
      );
      t.diagnostic(
        `downloads per worker: ${workers.map((w) => `${w.name} ${downloads(w)}`).join(", ")}`,
      );
    } finally {
      await close();
    }
  });

  it("shares a round of more members than the old 65,536 limit with one download for the fleet", async (t) => {
    const { h, workers, close } = await fleet(["A", "B"], 1, { logger });
    const poet = h.poets[0];
    assert.ok(poet);
    try {
      const runs = start(h, workers, 1);
      await runClock(
        h.clock,
        () => workers.reduce((n, w) => n + ofType(w.events, "registered").length, 0) === 2,
      );
      // Other registrants of the round, as on mainnet: 70,000 more members, in node-id order.
      const round = poet.state.round(0);
      assert.ok(round !== undefined && round.closed === undefined, "round 0 is still open");
      for (let i = 0; i < FILLERS; i++) {
        const pubkey = new Uint8Array(32);
        new DataView(pubkey.buffer).setUint32(0, i * 61_357);
        const challenge = new Uint8Array(32).fill(0x5a);
        new DataView(challenge.buffer).setUint32(0, i);
        round.registrations.push({ pubkey, challenge });
      }
      round.registrations.sort((a, b) => compareBytes(a.pubkey, b.pubkey));
      const all = Promise.all([...runs.values()].flatMap((r) => r.runs));
      const outcomes = await drive(h.clock, all, { maxSteps: 100_000 });
      for (const outcome of outcomes) assert.equal(ready(outcome).leaves, 20n);
      // One download for the fleet; the other worker read the round, members and all, from the store.
      assert.equal(poet.state.round(0)?.proofsServed, 1);
      const got = workers.flatMap((w) => ofType(w.events, "proof-downloaded"));
      assert.deepEqual(got.map((e) => e.fromCache).sort(), [false, true]);
      for (const e of got) assert.equal(e.members, FILLERS + 2);
      assert.deepEqual(
        (await (workers[0] as Worker).state.proofClaims.list()).map((c) => c.outcome),
        ["stored"],
      );
      const stored = await (workers[1] as Worker).state.members.read(poet.url, "0");
      assert.equal(stored?.members.length, FILLERS + 2);
      t.diagnostic(
        `downloads per worker: ${workers.map((w) => `${w.name} ${downloads(w)}`).join(", ")}`,
      );
    } finally {
      await close();
    }
  });

  it("takes over the claim of a worker that died while downloading, once it expires", async (t) => {
    const CLAIM_MS = 3_000;
    const { h, workers, close } = await fleet(["A", "B"], 1, { leaseTimeMs: CLAIM_MS });
    const poet = h.poets[0];
    assert.ok(poet);
    try {
      const runs = start(h, workers, 2);
      await runClock(
        h.clock,
        () => workers.reduce((n, w) => n + ofType(w.events, "registered").length, 0) === 4,
      );
      // The PoET answers slowly from now on: a download takes 2 s of the clock.
      poet.faults.delayMs = 2_000;
      const state = (workers[0] as Worker).state;
      let claim = (await state.proofClaims.list())[0];
      for (let step = 0; claim === undefined && step < 10_000; step++) {
        await driveTo(h.clock, h.clock.now() + 100);
        claim = (await state.proofClaims.list())[0];
      }
      assert.ok(claim, "a worker claimed the round's download");
      assert.equal(claim.outcome, "open");
      const victim = workers.find((w) => claim.holder.startsWith(`${w.name}@`)) as Worker;
      const survivor = workers.find((w) => w !== victim) as Worker;
      // The holder dies mid-download: its store is gone (no renewal, no release), its requests end.
      const diedAt = h.clock.now();
      await victim.state.close();
      await victim.pool.end();
      const closing = victim.manager.close().catch(() => {});
      const outcomes = await drive(h.clock, Promise.all(runs.get(survivor)?.runs ?? []), {
        maxSteps: 100_000,
      });
      await closing;
      for (const outcome of outcomes) assert.equal(ready(outcome).leaves, 20n);
      const takeovers = ofType(survivor.events, "proof-claim-taken-over");
      assert.equal(takeovers.length, 1);
      const takeover = takeovers[0];
      assert.ok(takeover);
      assert.equal(takeover.poet, claim.poet);
      assert.equal(takeover.roundId, "0");
      assert.equal(takeover.previous.holder, victim.manager.leaseHolder);
      assert.equal(takeover.token, takeover.previous.token + 1n);
      assert.equal(takeover.holder, survivor.manager.leaseHolder);
      // Not before the dead holder's claim expired, and within one claim time of its death.
      assert.ok(takeover.at.getTime() >= takeover.previous.expiresAt.getTime());
      assert.ok(takeover.at.getTime() - diedAt <= CLAIM_MS + 1_000);
      // The dead worker's download never completed; the survivor's is the only one served.
      assert.equal(downloads(victim), 0);
      assert.equal(downloads(survivor), 1);
      assert.equal(poet.state.round(0)?.proofsServed, 1);
      const after = await survivor.state.proofClaims.get(claim.poet, "0");
      assert.equal(after?.outcome, "stored");
      assert.equal(after?.holder, survivor.manager.leaseHolder);
      t.diagnostic(
        `claim of ${victim.name} taken over by ${survivor.name} ${takeover.at.getTime() - diedAt} ms after its death (claim time ${CLAIM_MS} ms)`,
      );
    } finally {
      await close();
    }
  });

  it("shares them the same way between two processes' managers on one SQLite file", async () => {
    const h = await setup([{ leavesPerRound: 20n }, { leavesPerRound: 30n }], {
      leaseHolder: "A",
    });
    const second = await openNodeState(h.dbPath);
    const events: RegistrationEvent[] = [];
    const b = new RegistrationManager(
      h.managerOptions({
        state: second,
        leaseHolder: "B",
        onEvent: (e) => events.push(e),
        post: async () => POST_RESULT,
      }),
    );
    try {
      const ids = [identity(1), identity(1), identity(1), identity(1)];
      const runs = ids.map((id, i) => {
        const run = build(h, id, i % 2 === 0 ? h.manager : b);
        run.catch(() => {});
        return run;
      });
      const outcomes = await drive(h.clock, Promise.all(runs), { maxSteps: 100_000 });
      for (const outcome of outcomes) assert.equal(ready(outcome).leaves, 30n);
      for (const poet of h.poets) assert.equal(poet.state.round(0)?.proofsServed, 1);
      const fromNetwork = [...h.events, ...events].filter(
        (e) => e.type === "proof-downloaded" && !e.fromCache,
      );
      assert.equal(fromNetwork.length, h.poets.length);
    } finally {
      await b.close();
      await second.close();
      await h.close();
    }
  });
});
