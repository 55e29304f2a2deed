/**
 * A fleet: three registration managers on one PostgreSQL node state, each with its own pool and
 * lease holder, as three worker processes would be, all given every identity. They split the
 * identities through the per-identity lease (each identity is run by one of them; the others skip
 * it), and when a worker dies mid-cycle the others take its identities over after the lease time
 * and finish them from the shared state: every identity gets its NiPoST on the best proof, with no
 * second submit to any PoET and one PoST per identity. All time is a `ManualClock`.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { LeaseLostError } from "../src/errors.js";
import {
  type NiPostOutcome,
  type RegistrationEvent,
  RegistrationManager,
} from "../src/registration/index.js";
import { type NodeState, openPostgresState } from "../src/storage/index.js";
import { runClock } from "./helpers/clock-driver.js";
import { postgresDatabase, trackedPool } from "./helpers/postgres-database.js";
import {
  build,
  drive,
  driveTo,
  hex,
  type Identity,
  identity,
  ofType,
  POST_RESULT,
  ready,
  setup,
  T0,
} from "./registration-harness.js";

const LEASE_MS = 30_000;
const IDENTITIES = 9;

interface Worker {
  name: string;
  state: NodeState;
  manager: RegistrationManager;
  events: RegistrationEvent[];
  postCalls: Uint8Array[];
}

describe("a fleet of workers on one PostgreSQL state", () => {
  it("splits the identities through the lease, and survives a worker's death mid-cycle", async (t) => {
    const connection = await postgresDatabase();
    // Pools the test clock driver sees (it steps time only while no query is on its way).
    const pools: Array<ReturnType<typeof trackedPool>> = [];
    const open = () => {
      const pool = trackedPool(connection);
      pools.push(pool);
      return openPostgresState({ connection: pool, schema: "fleet", maxConnections: 4 });
    };
    const stateA = await open();
    const h = await setup([{ leavesPerRound: 30n }, { leavesPerRound: 50n }, {}], {
      state: stateA,
      leaseHolder: "A",
      whenHeldElsewhere: "skip",
    });
    const workers: Worker[] = [
      {
        name: "A",
        state: stateA,
        manager: h.manager,
        events: h.events,
        postCalls: h.postCalls,
      },
    ];
    for (const name of ["B", "C"]) {
      const state = await open();
      const events: RegistrationEvent[] = [];
      const postCalls: Uint8Array[] = [];
      const manager = new RegistrationManager(
        h.managerOptions({
          state,
          leaseHolder: name,
          whenHeldElsewhere: "skip",
          onEvent: (e) => events.push(e),
          post: async (request) => {
            postCalls.push(request.challenge);
            return POST_RESULT;
          },
        }),
      );
      workers.push({ name, state, manager, events, postCalls });
    }
    try {
      const ids: Identity[] = Array.from({ length: IDENTITIES }, () => identity(1));
      // Every worker is given every identity, at the same instant.
      const runs = new Map<string, Promise<NiPostOutcome>[]>();
      for (const w of workers) {
        runs.set(
          w.name,
          ids.map((id) => {
            const run = build(h, id, w.manager);
            run.catch(() => {});
            return run;
          }),
        );
      }
      // Each identity is run by exactly one worker; the others are told who holds it and skip it.
      const answered = (w: Worker) =>
        ofType(w.events, "lease-acquired").length +
        ofType(w.events, "identity-held-elsewhere").length;
      await runClock(h.clock, () => workers.every((w) => answered(w) === IDENTITIES));
      const holderOf = new Map<string, string>();
      for (const w of workers) {
        for (const e of ofType(w.events, "lease-acquired")) {
          const key = hex(e.nodeId);
          assert.equal(holderOf.get(key), undefined, `${key} acquired by two workers`);
          holderOf.set(key, w.name);
        }
      }
      assert.equal(holderOf.size, IDENTITIES);
      for (const w of workers) {
        const skipped = ofType(w.events, "identity-held-elsewhere").length;
        const held = [...holderOf.values()].filter((n) => n === w.name).length;
        assert.equal(
          skipped + held,
          IDENTITIES,
          `worker ${w.name}: ${held} held, ${skipped} skipped`,
        );
      }

      // The holders register their identities with every PoET.
      const summary = () =>
        workers
          .map((w) => {
            const counts = new Map<string, number>();
            for (const e of w.events) counts.set(e.type, (counts.get(e.type) ?? 0) + 1);
            const lost = ofType(w.events, "lease-lost")[0];
            return `${w.name}: ${[...counts].map(([t, n]) => `${t}=${n}`).join(" ")} ${lost ? JSON.stringify(lost, (_, v) => (typeof v === "bigint" ? String(v) : v instanceof Uint8Array ? "bytes" : v)) : ""}`;
          })
          .join("; ");
      await runClock(
        h.clock,
        () =>
          workers.reduce((n, w) => n + ofType(w.events, "registered").length, 0) === 3 * IDENTITIES,
      ).catch((err) => {
        throw new Error(`${err.message}: ${summary()}`);
      });

      // The worker with the most identities dies (its pool is gone; nothing renews its leases).
      const counts = workers.map((w) => [...holderOf.values()].filter((n) => n === w.name).length);
      const victim = workers[counts.indexOf(Math.max(...counts))] as Worker;
      const orphans = ids.filter((id) => holderOf.get(hex(id.signer.nodeId)) === victim.name);
      const diedAt = h.clock.now();
      await victim.state.close();
      await (pools[workers.indexOf(victim)] as ReturnType<typeof trackedPool>).end();
      const survivors = workers.filter((w) => w !== victim);

      // After the lease time the survivors, retrying the identities they skipped, take them over.
      await driveTo(h.clock, diedAt + LEASE_MS + 1);
      const retries = survivors.map((w) =>
        orphans.map((id) => {
          const run = build(h, id, w.manager);
          run.catch(() => {});
          return run;
        }),
      );
      const all = Promise.allSettled([
        ...survivors.flatMap((w) =>
          (runs.get(w.name) ?? []).filter(
            (_, i) => holderOf.get(hex((ids[i] as Identity).signer.nodeId)) === w.name,
          ),
        ),
        ...retries.flat(),
      ]);
      const settled = await drive(h.clock, all, { maxSteps: 100_000 });

      // Every identity has its NiPoST, on the best proof (500 leaves), from one PoST.
      let built = 0;
      for (const s of settled) {
        if (s.status === "fulfilled") {
          assert.equal(ready(s.value).leaves, 50n);
          built++;
        } else {
          assert.ok(s.reason instanceof LeaseLostError, String(s.reason));
          assert.equal(s.reason.reason, "held-elsewhere");
        }
      }
      assert.equal(built, IDENTITIES);
      const survivorState = (survivors[0] as Worker).state;
      for (const id of ids) {
        const row = await survivorState.nipost.get(id.signer.nodeId);
        assert.ok(row, `identity ${hex(id.signer.nodeId)} has its NiPoST`);
      }
      const takeovers = survivors.flatMap((w) => ofType(w.events, "lease-taken-over"));
      assert.equal(takeovers.length, orphans.length);
      for (const x of takeovers) {
        assert.equal(x.previous.holder.startsWith(`${victim.name}@`), true);
        assert.ok(x.at.getTime() - diedAt <= LEASE_MS + 1);
      }
      const split = workers.map((w, i) => `${w.name} ${counts[i]}`).join(", ");
      t.diagnostic(
        `split ${split}; ${victim.name} died at +${diedAt - T0} ms, its ${orphans.length} identities taken over within ${Math.max(...takeovers.map((x) => x.at.getTime() - diedAt))} ms (lease ${LEASE_MS} ms)`,
      );
      // No second submit: each PoET holds each identity's challenge once.
      for (const poet of h.poets) {
        assert.equal(poet.state.round(0)?.registrations.length, IDENTITIES);
      }
      // One PoST per identity across the fleet (the victim died before any).
      const posts = workers.reduce((n, w) => n + w.postCalls.length, 0);
      assert.equal(posts, IDENTITIES);
      assert.equal(victim.postCalls.length, 0);
    } finally {
      for (const w of workers) await w.manager.close().catch(() => {});
      await Promise.all(h.poets.map((p) => p.stop()));
      for (const w of workers) await w.state.close().catch(() => {});
      await h.state.close().catch(() => {});
      for (const pool of pools) await pool.end().catch(() => {});
    }
  });
});
