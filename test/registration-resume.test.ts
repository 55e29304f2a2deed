import assert from "node:assert/strict";
import { describe, it } from "node:test";
import BetterSqlite3 from "better-sqlite3";
import { AbortedError } from "../src/errors.js";
import type { RegistrationEvent } from "../src/registration/index.js";
import {
  build,
  drive,
  driveTo,
  type Harness,
  hex,
  type Identity,
  identity,
  nextChallenge,
  ofType,
  ready,
  schedule,
  setup,
} from "./registration-harness.js";

/** Runs SQL on the node state file the way an operator does with `sqlite3`. */
function operator(h: Harness, sql: string): void {
  const db = new BetterSqlite3(h.dbPath);
  try {
    db.exec(sql);
  } finally {
    db.close();
  }
}

/**
 * Starts building `id`'s NiPoST on `manager`, runs the clock to `atMs` and closes the manager
 * there, as a node process stopping mid-way; the build gives up with `AbortedError`.
 */
async function interruptAt(h: Harness, id: Identity, atMs: number, manager = h.manager) {
  const run = build(h, id, manager);
  await driveTo(h.clock, atMs);
  await Promise.all([assert.rejects(run, AbortedError), manager.close()]);
}

describe("RegistrationManager resuming from the node state", () => {
  it("continues after being closed and restarted mid-round, without submitting again", async () => {
    const h = await setup([{ leavesPerRound: 15n }, { leavesPerRound: 25n }]);
    try {
      const id = identity(1);
      await interruptAt(h, id, schedule.roundStart(0).getTime() + 5_000);
      // close() stopped every loop: nothing waits on the clock any more.
      assert.equal(h.clock.pending, 0);
      // The process dies: even the database connection goes.
      await h.state.close();
      await h.reopenState();
      const manager = await h.restart();
      manager.addIdentity(id.signer);
      const events: RegistrationEvent[] = [];
      manager.onEvent((e) => events.push(e));
      const nipost = ready(await drive(h.clock, manager.buildNiPost({ nodeId: id.signer.nodeId })));
      assert.equal(nipost.leaves, 25n);
      const registered = ofType(events, "registered");
      assert.equal(registered.length, 2);
      assert.ok(registered.every((e) => e.resumed));
      for (const poet of h.poets) assert.equal(poet.state.round(0)?.registrations.length, 1);
    } finally {
      await h.close();
    }
  });

  it("stops a background registration that is still retrying when it is closed", async () => {
    const h = await setup([{ leavesPerRound: 15n }, { leavesPerRound: 25n }]);
    try {
      const id = identity(1);
      await h.poets[1]!.faults.down();
      const events: RegistrationEvent[] = [];
      h.manager.onEvent((e) => events.push(e));
      const run = build(h, id);
      // PoET 0 accepts; PoET 1 keeps failing, retried in the background until the round start.
      await driveTo(h.clock, schedule.roundStart(0).getTime() - 5_000);
      assert.ok(ofType(events, "registration-failed").length > 0, "PoET 1 is being retried");
      assert.equal(ofType(events, "registered").length, 1);
      const before = events.length;
      await Promise.all([assert.rejects(run, AbortedError), h.manager.close()]);
      // The run heard the manager's close (its own signal, no composite): nothing waits on the
      // clock and no failure is reported for the stop.
      assert.equal(h.clock.pending, 0);
      assert.equal(ofType(events.slice(before), "registration-failed").length, 0);
    } finally {
      await h.poets[1]!.faults.up();
      await h.close();
    }
  });

  for (const step of [
    "registered",
    "waiting-for-round-end",
    "proof-downloaded",
    "best-proof-selected",
    "post-started",
  ] as const) {
    it(`resumes to the same NiPoST when interrupted at "${step}"`, async () => {
      const h = await setup([{ leavesPerRound: 15n }]);
      try {
        const id = identity(1);
        let stopped = false;
        h.manager.onEvent((e) => {
          if (e.type === step && !stopped) {
            stopped = true;
            void h.manager.close();
          }
        });
        await assert.rejects(drive(h.clock, build(h, id)), AbortedError);
        assert.ok(stopped);
        const manager = await h.restart();
        const nipost = ready(await drive(h.clock, build(h, id, manager)));
        assert.equal(nipost.leaves, 15n);
        assert.equal(nipost.roundId, "0");
        assert.equal(h.poets[0]!.state.round(0)?.registrations.length, 1);
        assert.ok(h.postCalls.length <= 2);
        assert.deepEqual(h.postCalls.at(-1), nipost.proofRef);
        const row = await h.state.nipost.get(id.signer.nodeId);
        assert.deepEqual(row?.poetProofRef, nipost.proofRef);
      } finally {
        await h.close();
      }
    });
  }

  it("does not download or verify a proof twice after a restart", async () => {
    const h = await setup([{ leavesPerRound: 15n }]);
    try {
      const id = identity(1);
      h.manager.onEvent((e) => {
        if (e.type === "best-proof-selected") void h.manager.close();
      });
      await assert.rejects(drive(h.clock, build(h, id)), AbortedError);
      const manager = await h.restart();
      const events: RegistrationEvent[] = [];
      manager.onEvent((e) => events.push(e));
      ready(await drive(h.clock, build(h, id, manager)));
      const downloads = ofType(events, "proof-downloaded");
      assert.ok(downloads.every((e) => e.fromCache));
    } finally {
      await h.close();
    }
  });

  it("builds NiPoSTs for three identities end to end with one download per PoET", async () => {
    const h = await setup([{ leavesPerRound: 15n }, { leavesPerRound: 27n }]);
    try {
      const ids = [identity(1), identity(1), identity(1)];
      const outcomes = await drive(h.clock, Promise.all(ids.map((id) => build(h, id))));
      const niposts = outcomes.map(ready);
      for (const [i, nipost] of niposts.entries()) {
        assert.equal(hex(nipost.nodeId), hex(ids[i]!.signer.nodeId));
        assert.equal(nipost.leaves, 27n);
        assert.deepEqual(nipost.proofRef, niposts[0]!.proofRef);
      }
      // Distinct membership proofs, one round.
      assert.equal(new Set(niposts.map((n) => n.membership.leafIndex)).size, 3);
      const downloads = ofType(h.events, "proof-downloaded").filter((e) => !e.fromCache);
      assert.equal(downloads.length, 2);
      assert.equal(h.poets[1]!.state.round(0)?.registrations.length, 3);
    } finally {
      await h.close();
    }
  });
});

describe("RegistrationManager and the operator's hands", () => {
  it("re-registers the same challenge after the registrations and NiPoST rows were deleted before the round start", async () => {
    const h = await setup([{}, {}]);
    try {
      const id = identity(1);
      await interruptAt(h, id, schedule.roundStart(0).getTime() - 10_000);
      operator(h, "delete from poet_registration; delete from nipost;");
      const manager = await h.restart();
      const nipost = ready(await drive(h.clock, build(h, id, manager)));
      assert.equal(nipost.roundId, "0");
      assert.equal((await h.state.registrations.listFor(id.signer.nodeId)).length, 2);
      for (const poet of h.poets) assert.equal(poet.state.round(0)?.registrations.length, 1);
    } finally {
      await h.close();
    }
  });

  it("reports the window missed, and resets, when the rows were deleted after the round start", async () => {
    const h = await setup([{}]);
    try {
      const id = identity(1);
      await interruptAt(h, id, schedule.roundStart(0).getTime() + 5_000);
      operator(h, "delete from poet_registration; delete from nipost;");
      const manager = await h.restart();
      const outcome = await drive(h.clock, build(h, id, manager));
      assert.equal(outcome.kind, "window-missed");
      assert.equal(await h.state.challenges.get(id.signer.nodeId), undefined);
    } finally {
      await h.close();
    }
  });

  it("runs PoST again when only the NiPoST row was deleted", async () => {
    const h = await setup([{}]);
    try {
      const id = identity(1);
      const first = ready(await drive(h.clock, build(h, id)));
      operator(h, "delete from nipost;");
      const again = ready(
        await drive(h.clock, h.manager.buildNiPost({ nodeId: id.signer.nodeId })),
      );
      assert.deepEqual(again.proofRef, first.proofRef);
      assert.equal(h.postCalls.length, 2);
    } finally {
      await h.close();
    }
  });

  it("drops registrations of a deleted challenge instead of trusting them", async () => {
    const h = await setup([{}]);
    try {
      const id = identity(1);
      await interruptAt(h, id, schedule.roundStart(0).getTime() - 10_000);
      operator(h, "delete from challenge;");
      const manager = await h.restart();
      const other = { ...identity(1), signer: id.signer };
      const outcome = await drive(h.clock, build(h, other, manager));
      const repaired = ofType(h.events, "state-repaired");
      assert.ok(repaired.some((e) => /another challenge/.test(e.problem)));
      // The PoET holds the old challenge for this round and refuses another one (409).
      assert.equal(outcome.kind, "registration-failed");
      if (outcome.kind === "registration-failed") {
        assert.equal(
          (outcome.failures[0]?.error as { kind?: string } | undefined)?.kind,
          "conflicting-registration",
        );
      }
    } finally {
      await h.close();
    }
  });

  it("deletes a NiPoST row that belongs to another proof than the challenge's", async () => {
    const h = await setup([{}]);
    try {
      const id = identity(1);
      ready(await drive(h.clock, build(h, id)));
      operator(h, "delete from challenge; delete from poet_registration;");
      await driveTo(h.clock, schedule.roundStart(1).getTime() - 30_000);
      const next = nextChallenge(id, 2);
      const nipost = ready(await drive(h.clock, build(h, next)));
      assert.equal(nipost.roundId, "1");
      assert.ok(
        ofType(h.events, "state-repaired").some((e) => /NiPoST/.test(e.problem)),
        "the stale NiPoST was reported",
      );
    } finally {
      await h.close();
    }
  });
});

describe("RegistrationManager with stale challenges", () => {
  it("clears a challenge of an older publish epoch and registers the new one", async () => {
    const h = await setup([{}]);
    try {
      const id = identity(1);
      await interruptAt(h, id, schedule.roundStart(0).getTime() + 1_000);
      // The node was down for two rounds.
      await driveTo(h.clock, schedule.roundStart(2).getTime() + 1_000);
      const manager = await h.restart();
      const next = nextChallenge(id, 4);
      const nipost = ready(await drive(h.clock, build(h, next, manager)));
      assert.equal(nipost.roundId, "3");
      assert.ok(ofType(h.events, "state-repaired").some((e) => /stale challenge/.test(e.problem)));
    } finally {
      await h.close();
    }
  });

  it("expires a stored challenge whose publish epoch ended while the node was down", async () => {
    const h = await setup([{}]);
    try {
      const id = identity(1);
      await interruptAt(h, id, schedule.roundStart(0).getTime() + 1_000);
      await driveTo(h.clock, schedule.publishEpochEnd(0).getTime() + 1_000);
      const manager = await h.restart();
      const outcome = await drive(h.clock, build(h, id, manager));
      assert.equal(outcome.kind, "expired");
      // The publish epoch passing is not a call's time limit: `deadline-passed`, not `timeout`.
      assert.equal(outcome.error.code, "deadline-passed");
      assert.equal(await h.state.challenges.get(id.signer.nodeId), undefined);
    } finally {
      await h.close();
    }
  });

  it("reports the window missed at once for a round that already started", async () => {
    const h = await setup([{}]);
    try {
      await driveTo(h.clock, schedule.roundStart(0).getTime() + 1_000);
      const outcome = await drive(h.clock, build(h, identity(1)));
      assert.equal(outcome.kind, "window-missed");
      assert.equal(h.poets[0]!.state.round(0)?.registrations.length ?? 0, 0);
    } finally {
      await h.close();
    }
  });
});

describe("RegistrationManager when the PoET set changes", () => {
  it("registers the missing PoETs when one is added before the round start", async () => {
    const h = await setup([{ leavesPerRound: 15n }, { leavesPerRound: 26n }]);
    try {
      const id = identity(1);
      const only = h.managerOptions().poets.slice(0, 1);
      await h.manager.close();
      let manager = await h.restart({ poets: only });
      await interruptAt(h, id, schedule.roundStart(0).getTime() - 10_000, manager);
      manager = await h.restart();
      const nipost = ready(await drive(h.clock, build(h, id, manager)));
      assert.equal(nipost.leaves, 26n);
      assert.equal((await h.state.registrations.listFor(id.signer.nodeId)).length, 2);
    } finally {
      await h.close();
    }
  });

  it("goes on with the remaining PoETs when one is removed after the round start", async () => {
    const h = await setup([{ leavesPerRound: 15n }, { leavesPerRound: 26n }]);
    try {
      const id = identity(1);
      await interruptAt(h, id, schedule.roundStart(0).getTime() + 5_000);
      const manager = await h.restart({ poets: h.managerOptions().poets.slice(0, 1) });
      const nipost = ready(await drive(h.clock, build(h, id, manager)));
      assert.equal(nipost.poet, h.poets[0]!.url);
      // The row of the removed PoET is ignored, not deleted.
      assert.equal((await h.state.registrations.listFor(id.signer.nodeId)).length, 2);
    } finally {
      await h.close();
    }
  });

  it("reports a PoET set mismatch, without exiting, when no registered PoET is configured after the round start", async () => {
    const h = await setup([{}, {}]);
    try {
      const id = identity(1);
      const poets = h.managerOptions().poets;
      await h.manager.close();
      let manager = await h.restart({ poets: poets.slice(0, 1) });
      await interruptAt(h, id, schedule.roundStart(0).getTime() + 5_000, manager);
      manager = await h.restart({ poets: poets.slice(1) });
      const outcome = await drive(h.clock, build(h, id, manager));
      assert.equal(outcome.kind, "poet-set-mismatch");
      if (outcome.kind === "poet-set-mismatch") {
        assert.deepEqual(outcome.registeredAt, [h.poets[0]!.url]);
      }
      assert.equal(ofType(h.events, "poet-set-mismatch").length, 1);
      assert.equal((await h.state.registrations.listFor(id.signer.nodeId)).length, 1);
    } finally {
      await h.close();
    }
  });

  it("switchPoets before the round start drops the old registration and registers at the new PoET", async () => {
    const h = await setup([{ leavesPerRound: 15n }, { leavesPerRound: 26n }]);
    try {
      const id = identity(1);
      const poets = h.managerOptions().poets;
      await h.manager.close();
      const manager = await h.restart({ poets: poets.slice(0, 1) });
      const run = build(h, id, manager);
      await driveTo(h.clock, schedule.roundStart(0).getTime() - 10_000);
      const result = await manager.switchPoets({ poets: poets.slice(1) });
      assert.equal(result.registrationsDeleted, 1);
      const nipost = ready(await drive(h.clock, run));
      assert.equal(nipost.poet, h.poets[1]!.url);
      const regs = await h.state.registrations.listFor(id.signer.nodeId);
      assert.deepEqual(
        regs.map((r) => r.address),
        [h.poets[1]!.url],
      );
      assert.equal(ofType(h.events, "poets-switched").length, 1);
    } finally {
      await h.close();
    }
  });

  it("switchPoets after the round start still takes the proof of the round already running", async () => {
    const h = await setup([{ leavesPerRound: 15n }, { leavesPerRound: 26n }]);
    try {
      const id = identity(1);
      const poets = h.managerOptions().poets;
      await h.manager.close();
      const manager = await h.restart({ poets: poets.slice(0, 1) });
      const run = build(h, id, manager);
      await driveTo(h.clock, schedule.roundStart(0).getTime() + 5_000);
      const result = await manager.switchPoets({ poets: poets.slice(1) });
      assert.equal(result.registrationsDeleted, 0);
      assert.deepEqual(manager.poets, [h.poets[1]!.url]);
      const nipost = ready(await drive(h.clock, run));
      assert.equal(nipost.poet, h.poets[0]!.url);
    } finally {
      await h.close();
    }
  });

  it("plans a phase switch per identity and names the lost publish epoch", async () => {
    const h = await setup([{}]);
    try {
      const id = identity(1);
      const run = build(h, id);
      await driveTo(h.clock, schedule.roundStart(0).getTime() + 5_000);
      // The new phase's round 1 starts before round 0 ends: publish epoch 2 is lost.
      const plan = await h.manager.planPhaseSwitch({
        to: { phaseShiftMs: 5_000, cycleGapMs: 10_000 },
        postDurationMs: 5_000,
      });
      assert.equal(plan.identities.length, 1);
      assert.equal(plan.mode, "after-proof");
      assert.deepEqual(plan.lostPublishEpochs, [2]);
      assert.ok(!plan.safe);
      const safe = await h.manager.planPhaseSwitch({
        to: { phaseShiftMs: 40_000, cycleGapMs: 10_000 },
        postDurationMs: 5_000,
      });
      assert.ok(safe.safe);
      ready(await drive(h.clock, run));
    } finally {
      await h.close();
    }
  });
});
