/**
 * One worker per identity across processes: two registration managers in one test process, each
 * with its own connection to the same node-state file and its own lease holder, as two processes
 * would be. Only the lease holder submits and runs PoST; the other reports the holder up front and
 * waits, takes over when the holder dies (stops renewing) once its lease expired, and resumes from
 * the node state without submitting again. All time is a `ManualClock`.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import Database from "better-sqlite3";
import { ConfigError, LeaseLostError } from "../src/errors.js";
import {
  type RegistrationEvent,
  RegistrationManager,
  type RegistrationManagerOptions,
} from "../src/registration/index.js";
import { companionPath } from "../src/storage/companion-file.js";
import { type NodeState, openNodeState } from "../src/storage/index.js";
import { runClock } from "./helpers/clock-driver.js";
import {
  build,
  drive,
  driveTo,
  type Harness,
  identity,
  ofType,
  POST_RESULT,
  ready,
  schedule,
  setup,
  T0,
  until,
} from "./registration-harness.js";

const LEASE_MS = 30_000;

/** A second manager ("process B") on its own connection to the harness's state file. */
async function second(
  h: Harness,
  extra: Partial<RegistrationManagerOptions> = {},
): Promise<{
  state: NodeState;
  manager: RegistrationManager;
  events: RegistrationEvent[];
  postCalls: Uint8Array[];
  close: () => Promise<void>;
}> {
  const state = await openNodeState(h.dbPath);
  const events: RegistrationEvent[] = [];
  const postCalls: Uint8Array[] = [];
  const manager = new RegistrationManager(
    h.managerOptions({
      state,
      leaseHolder: "B",
      onEvent: (e) => events.push(e),
      post: async (request) => {
        postCalls.push(request.challenge);
        return POST_RESULT;
      },
      ...extra,
    }),
  );
  return {
    state,
    manager,
    events,
    postCalls,
    close: async () => {
      await manager.close();
      await state.close();
    },
  };
}

/** Resolves at the first event of `type` that `events` receives. */
function eventOf(events: RegistrationEvent[], type: RegistrationEvent["type"]): Promise<void> {
  return until(() => events.some((e) => e.type === type));
}

describe("one worker per identity across processes", () => {
  it("lets only the holder submit and prove; the other waits, takes over after the holder dies, and resumes without a second submit", async () => {
    const h = await setup([{ leavesPerRound: 30n }, { leavesPerRound: 50n }], {
      leaseHolder: "A",
    });
    const b = await second(h);
    try {
      const id = identity(1);
      const runA = build(h, id);
      runA.catch(() => {});
      await eventOf(h.events, "lease-acquired");
      const acquired = ofType(h.events, "lease-acquired")[0]!;
      assert.match(acquired.holder, /^A@.+:\d+:[0-9a-f]{8}$/);
      assert.equal(acquired.holder, h.manager.leaseHolder);
      assert.equal(acquired.token, 1n);
      assert.equal(acquired.expiresAt.getTime(), T0 + LEASE_MS);

      // B learns up front who holds the identity, and until when.
      const runB = build(h, id, b.manager);
      await eventOf(b.events, "identity-held-elsewhere");
      const held = ofType(b.events, "identity-held-elsewhere")[0]!;
      assert.equal(held.holder, acquired.holder);
      assert.equal(held.token, 1n);
      assert.equal(held.action, "wait");
      const statusB = b.manager.status()[0]!;
      assert.equal(statusB.running, true);
      assert.equal(statusB.lease?.state, "held-elsewhere");
      assert.equal(
        statusB.lease?.state === "held-elsewhere" && statusB.lease.holder,
        acquired.holder,
      );
      const statusA = h.manager.status()[0]!;
      assert.equal(statusA.lease?.state, "held");

      // A registers with both PoETs and renews its lease every 10 s while waiting for the round.
      await runClock(h.clock, () => ofType(h.events, "registered").length === 2);
      await driveTo(h.clock, T0 + 15_000);
      const row = await b.state.leases.get(id.signer.nodeId);
      assert.equal(row?.holder, acquired.holder);
      assert.equal(row?.expiresAt.getTime(), T0 + 10_000 + LEASE_MS);

      // A dies: its connection goes, nothing renews the lease any more.
      const deathAt = h.clock.now();
      const lastExpiry = row!.expiresAt.getTime();
      await h.state.close();
      await assert.rejects(drive(h.clock, runA));

      const nipost = ready(await drive(h.clock, runB));
      assert.equal(nipost.leaves, 50n);
      const takeover = ofType(b.events, "lease-taken-over")[0]!;
      assert.ok(takeover, "B took the lease over");
      assert.equal(takeover.previous.holder, acquired.holder);
      assert.equal(takeover.previous.token, 1n);
      assert.equal(takeover.token, 2n);
      // Taken over exactly when A's last lease ran out: at most the lease time after A's death.
      assert.equal(takeover.at.getTime(), lastExpiry);
      assert.ok(takeover.at.getTime() - deathAt <= LEASE_MS);
      // A stopped itself at that same instant, without an answer from its store.
      const lostA = ofType(h.events, "lease-lost");
      assert.equal(lostA.length, 1);
      assert.equal(lostA[0]!.reason, "expired");
      assert.equal(lostA[0]!.at.getTime(), lastExpiry);
      // In ManualClock terms: died at +15 s, last renewal at +10 s, taken over at +40 s.
      assert.equal(deathAt, T0 + 15_000);
      assert.equal(takeover.at.getTime(), T0 + 40_000);

      // B resumed from the node state: no second submit to a PoET that had accepted, one PoST.
      const registeredB = ofType(b.events, "registered");
      assert.equal(registeredB.length, 2);
      assert.ok(registeredB.every((e) => e.resumed));
      for (const poet of h.poets) assert.equal(poet.state.round(0)?.registrations.length, 1);
      assert.equal(h.postCalls.length, 0);
      assert.equal(b.postCalls.length, 1);
      // Before the takeover, B did nothing for the identity.
      const firstWork = b.events.findIndex((e) => e.type === "registered");
      assert.ok(b.events.findIndex((e) => e.type === "lease-taken-over") < firstWork);
      const statusAfter = b.manager.status()[0]!;
      assert.equal(statusAfter.lease?.state, "held");
      assert.equal(statusAfter.lease?.state === "held" && statusAfter.lease.token, 2n);
    } finally {
      await b.close();
      await h.manager.close();
      await Promise.all(h.poets.map((p) => p.stop()));
    }
  });

  it("keeps a live holder's identity: the other never submits or proves, and after a release finds the NiPoST stored", async () => {
    const h = await setup([{ leavesPerRound: 30n }], { leaseHolder: "A" });
    const b = await second(h);
    try {
      const id = identity(1);
      const runA = build(h, id);
      await eventOf(h.events, "lease-acquired");
      const runB = build(h, id, b.manager);
      let settledB = false;
      runB.then(
        () => {
          settledB = true;
        },
        () => {
          settledB = true;
        },
      );
      const nipostA = ready(await drive(h.clock, runA));
      // A holds on to the identity after its NiPoST: B still waits, and has done nothing.
      await driveTo(h.clock, T0 + 200_000);
      assert.equal(settledB, false);
      assert.equal(ofType(b.events, "identity-held-elsewhere").length, 1);
      assert.deepEqual(
        b.events.map((e) => e.type),
        ["identity-held-elsewhere"],
      );
      assert.equal(b.postCalls.length, 0);
      assert.equal(h.postCalls.length, 1);
      assert.equal(h.poets[0]!.state.round(0)?.registrations.length, 1);

      // A shuts down cleanly: its lease is released, and B gets it at the expiry it was told.
      await h.manager.close();
      const row = await b.state.leases.get(id.signer.nodeId);
      assert.equal(row?.released, true);
      const nipostB = ready(await drive(h.clock, runB));
      assert.deepEqual(nipostB.proofRef, nipostA.proofRef);
      assert.equal(b.postCalls.length, 0);
      const acquiredB = ofType(b.events, "lease-acquired")[0]!;
      assert.equal(acquiredB.token, 2n);
      assert.equal(ofType(b.events, "lease-taken-over").length, 0);
      assert.equal(h.poets[0]!.state.round(0)?.registrations.length, 1);
    } finally {
      await b.close();
      await h.close();
    }
  });

  it("skips an identity held elsewhere when told to", async () => {
    const h = await setup([{}], { leaseHolder: "A" });
    const b = await second(h, { whenHeldElsewhere: "skip" });
    try {
      const id = identity(1);
      const runA = build(h, id);
      runA.catch(() => {});
      await eventOf(h.events, "lease-acquired");
      const err = await build(h, id, b.manager).catch((e: unknown) => e);
      assert.ok(err instanceof LeaseLostError, String(err));
      assert.equal(err.reason, "held-elsewhere");
      assert.equal(err.current?.holder, h.manager.leaseHolder);
      assert.equal(ofType(b.events, "identity-held-elsewhere")[0]?.action, "skip");
      const status = b.manager.status()[0]!;
      assert.equal(status.running, false);
      assert.equal(status.lease?.state, "held-elsewhere");
    } finally {
      await b.close();
      await h.close();
    }
  });

  it("stops an identity at once when its lease is taken from it, and rejects buildNiPost with LeaseLostError", async () => {
    const h = await setup([{ leavesPerRound: 30n }], { leaseHolder: "A" });
    try {
      const id = identity(1);
      const run = build(h, id);
      run.catch(() => {});
      await runClock(h.clock, () => ofType(h.events, "registered").length === 1);
      // An operator (or a process with a skewed clock) forces the lease to another holder.
      const db = new Database(companionPath(h.dbPath));
      db.prepare(
        "update poet_client_lease set holder = 'C@elsewhere:1:00000000', token = token + 1, expires_at = ?",
      ).run(BigInt(h.clock.now() + 600_000));
      db.close();
      const err = await drive(h.clock, run).catch((e: unknown) => e);
      assert.ok(err instanceof LeaseLostError, String(err));
      assert.equal(err.reason, "taken-over");
      assert.equal(err.token, 1n);
      assert.equal(err.current?.holder, "C@elsewhere:1:00000000");
      const lost = ofType(h.events, "lease-lost");
      assert.equal(lost.length, 1);
      assert.equal(lost[0]!.current?.token, 2n);
      // Found at the next renewal (every 10 s), well before the round end: no PoST, and the
      // identity's writes through this state are refused.
      assert.ok(lost[0]!.at.getTime() <= T0 + 10_000 + 1);
      assert.ok(lost[0]!.at.getTime() < schedule.roundEnd(0).getTime());
      assert.equal(h.postCalls.length, 0);
      assert.equal(ofType(h.events, "post-started").length, 0);
      await assert.rejects(h.state.resetIdentity(id.signer.nodeId), LeaseLostError);
      const status = h.manager.status()[0]!;
      assert.equal(status.lease?.state, "lost");
    } finally {
      await h.close();
    }
  });

  it("refuses lease settings that cannot work", async () => {
    const h = await setup([{}]);
    try {
      assert.throws(
        () => new RegistrationManager(h.managerOptions({ leaseTimeMs: 0 })),
        ConfigError,
      );
      assert.throws(
        () => new RegistrationManager(h.managerOptions({ leaseHolder: "" })),
        ConfigError,
      );
      assert.throws(
        () =>
          new RegistrationManager(
            h.managerOptions({ whenHeldElsewhere: "steal" as unknown as "wait" }),
          ),
        ConfigError,
      );
    } finally {
      await h.close();
    }
  });

  it("releases the leases on close, so that a restart takes them without waiting", async () => {
    const h = await setup([{ leavesPerRound: 30n }]);
    try {
      const id = identity(1);
      const run = build(h, id);
      await eventOf(h.events, "lease-acquired");
      await Promise.all([assert.rejects(run), h.manager.close()]);
      const row = await h.state.leases.get(id.signer.nodeId);
      assert.equal(row?.released, true);
      assert.equal(h.clock.pending, 0);
      const manager = await h.restart();
      const events: RegistrationEvent[] = [];
      manager.onEvent((e) => events.push(e));
      ready(await drive(h.clock, build(h, id, manager)));
      assert.equal(ofType(events, "identity-held-elsewhere").length, 0);
      assert.equal(ofType(events, "lease-acquired")[0]?.token, 2n);
      assert.match(manager.leaseHolder, /^poet-client@/);
      // Held between cycles; given back when the identity is removed.
      assert.equal((await h.state.leases.get(id.signer.nodeId))?.released, false);
      manager.removeIdentity(id.signer.nodeId);
      while ((await h.state.leases.get(id.signer.nodeId))?.released !== true) {
        await new Promise((resolve) => setImmediate(resolve));
      }
    } finally {
      await h.close();
    }
  });
});
