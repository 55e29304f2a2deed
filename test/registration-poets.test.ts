import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { AbortedError } from "../src/errors.js";
import {
  build,
  drive,
  driveTo,
  hex,
  identity,
  ofType,
  POST_RESULT,
  ready,
  schedule,
  setup,
  T0,
  until,
} from "./registration-harness.js";

describe("RegistrationManager with several PoETs", () => {
  it("chooses the proof with the most ticks", async () => {
    const h = await setup([
      { leavesPerRound: 16n },
      { leavesPerRound: 35n },
      { leavesPerRound: 25n },
    ]);
    try {
      const id = identity(1);
      const nipost = ready(await drive(h.clock, build(h, id)));
      assert.equal(nipost.poet, h.poets[1]!.url);
      assert.equal(nipost.leaves, 35n);
      assert.equal(nipost.ticks, 3n);
      assert.equal(ofType(h.events, "registered").length, 3);
      assert.equal(ofType(h.events, "proof-downloaded").length, 3);
      const selected = ofType(h.events, "best-proof-selected");
      assert.equal(selected.at(-1)?.leaves, 35n);
    } finally {
      await h.close();
    }
  });

  it("goes on with the PoETs that answer while one hangs at registration", async () => {
    const h = await setup([{ leavesPerRound: 25n }, { leavesPerRound: 15n }]);
    try {
      h.poets[0]!.faults.hang = true;
      const id = identity(1);
      const nipost = ready(await drive(h.clock, build(h, id)));
      assert.equal(nipost.poet, h.poets[1]!.url);
      const regs = await h.state.registrations.listFor(id.signer.nodeId);
      assert.deepEqual(
        regs.map((r) => r.address),
        [h.poets[1]!.url],
      );
      const failed = ofType(h.events, "registration-failed").filter(
        (e) => e.poet === h.poets[0]!.url,
      );
      assert.ok(failed.length > 0);
      // Registration did not wait for the hanging PoET: the round end wait began at once.
      const waiting = ofType(h.events, "waiting-for-round-end")[0]!;
      assert.ok(waiting.at.getTime() < schedule.roundStart(0).getTime());
    } finally {
      h.poets[0]!.faults.hang = false;
      await h.close();
    }
  });

  it("keeps retrying a failing PoET until the round start and registers when it recovers", async () => {
    const h = await setup([{}, {}]);
    try {
      h.poets[0]!.faults.failNext(3, 503);
      const id = identity(1);
      const run = build(h, id);
      await driveTo(h.clock, schedule.roundStart(0).getTime() - 1000);
      const regs = await h.state.registrations.listFor(id.signer.nodeId);
      assert.equal(regs.length, 2);
      const failed = ofType(h.events, "registration-failed");
      assert.ok(failed.length >= 1);
      assert.ok(failed.every((e) => e.nextAttemptAt !== undefined));
      ready(await drive(h.clock, run));
    } finally {
      await h.close();
    }
  });

  it("admits every identity's registration while a PoET that is down is retried", async () => {
    // One submit slot: four runs are admitted at a time. A run gives its slot back once each
    // PoET has had a first answer or failure, so PoET 0 being down (retried until the round
    // start) holds no slot, and all ten identities register with PoET 1 before the round starts.
    const h = await setup([{}, {}], { maxConcurrentSubmits: 1 });
    try {
      await h.poets[0]!.faults.down();
      const ids = Array.from({ length: 10 }, () => identity(1));
      const runs = ids.map((id) => build(h, id));
      await driveTo(h.clock, schedule.roundStart(0).getTime() - 1_000);
      for (const id of ids) {
        const regs = await h.state.registrations.listFor(id.signer.nodeId);
        assert.deepEqual(
          regs.map((r) => r.address),
          [h.manager.poets[1]],
          "registered with the PoET that is up",
        );
      }
      await h.poets[0]!.faults.up();
      for (const run of runs) ready(await drive(h.clock, run));
    } finally {
      await h.close();
    }
  });

  it("lets an identity that waits for an admission slot stop with nothing written or sent, while the others go on", async () => {
    // One submit slot: four runs are admitted at a time, and the PoET holds the first submit, so
    // the fifth and sixth identities wait for a slot (parked: no background registration yet).
    const h = await setup([{}], { maxConcurrentSubmits: 1 });
    try {
      h.poets[0]!.faults.hang = true;
      const ids = Array.from({ length: 6 }, () => identity(1));
      const last = ids[5]!;
      const stop = new AbortController();
      const calls = ids.map((id) => {
        h.manager.addIdentity(id.signer);
        return h.manager.buildNiPost(
          { nodeId: id.signer.nodeId, challenge: { challenge: id.challenge, hash: id.hash } },
          id === last ? { signal: stop.signal } : {},
        );
      });
      const stopped = assert.rejects(calls[5]!, AbortedError);
      await until(() => h.poets[0]!.faults.hanging === 1);
      assert.deepEqual(await h.state.intents.listFor(last.signer.nodeId), []);
      stop.abort();
      await stopped;
      h.poets[0]!.faults.hang = false;
      for (const call of calls.slice(0, 5)) ready(await drive(h.clock, call));
      const nodeId = hex(last.signer.nodeId);
      assert.deepEqual(await h.state.registrations.listFor(last.signer.nodeId), []);
      assert.deepEqual(await h.state.intents.listFor(last.signer.nodeId), []);
      assert.deepEqual(
        h.events.filter(
          (e) =>
            (e.type === "registered" || e.type === "registration-failed") &&
            hex(e.nodeId) === nodeId,
        ),
        [],
        "no submit was made or reported for it",
      );
    } finally {
      await h.close();
    }
  });

  it("restarts the identities that wait for an admission slot when the PoET set changes, and every slot comes back", async () => {
    const h = await setup([{}, {}]);
    try {
      const poets = h.managerOptions().poets;
      await h.manager.close();
      // One submit slot, four runs admitted at a time; the first PoET holds the first submit.
      const manager = await h.restart({ poets: poets.slice(0, 1), maxConcurrentSubmits: 1 });
      h.poets[0]!.faults.hang = true;
      const ids = Array.from({ length: 6 }, () => identity(1));
      const calls = ids.map((id) => build(h, id, manager));
      await until(() => h.poets[0]!.faults.hanging === 1);
      assert.deepEqual(await h.state.intents.listFor(ids[5]!.signer.nodeId), [], "still waiting");
      await manager.switchPoets({ poets: poets.slice(1) });
      h.poets[0]!.faults.hang = false;
      for (const call of calls)
        assert.equal(ready(await drive(h.clock, call)).poet, h.poets[1]!.url);
    } finally {
      await h.close();
    }
  });

  it("stops an identity that waits for its other PoETs to accept as soon as its caller aborts", async () => {
    const h = await setup([{}, {}]);
    try {
      await h.poets[1]!.faults.down();
      const id = identity(1);
      h.manager.addIdentity(id.signer);
      const stop = new AbortController();
      const call = h.manager.buildNiPost(
        { nodeId: id.signer.nodeId, challenge: { challenge: id.challenge, hash: id.hash } },
        { signal: stop.signal },
      );
      const stopped = assert.rejects(call, AbortedError);
      // Registered with the first PoET; the second is retried until the round starts.
      await until(() => ofType(h.events, "registered").length === 1);
      await until(() => ofType(h.events, "registration-failed").length >= 1);
      stop.abort();
      await stopped;
      assert.ok(
        h.clock.now() < schedule.roundStart(0).getTime(),
        "without waiting for the round start",
      );
    } finally {
      await h.poets[1]!.faults.up();
      await h.close();
    }
  });

  it("uses the other PoETs when one hangs at proof time, after the cut-off", async () => {
    const h = await setup([{ leavesPerRound: 35n }, { leavesPerRound: 15n }]);
    try {
      const id = identity(1);
      const run = build(h, id);
      await driveTo(h.clock, schedule.roundEnd(0).getTime() - 1000);
      h.poets[0]!.faults.hang = true;
      const nipost = ready(await drive(h.clock, run));
      assert.equal(nipost.poet, h.poets[1]!.url);
      // PoST started no earlier than the cut-off: the hanging PoET was given its chance.
      const started = ofType(h.events, "post-started")[0]!;
      const cutoff = ofType(h.events, "waiting-for-round-end")[0]!.cutoff;
      assert.ok(started.at.getTime() >= cutoff.getTime());
    } finally {
      h.poets[0]!.faults.hang = false;
      await h.close();
    }
  });

  it("upgrades to a better proof from a PoET that comes back after the first proof was chosen", async () => {
    const h = await setup([{ leavesPerRound: 15n }, { leavesPerRound: 36n }]);
    try {
      const id = identity(1);
      const run = build(h, id);
      await driveTo(h.clock, schedule.roundEnd(0).getTime() - 2000);
      await h.poets[1]!.faults.down();
      await driveTo(h.clock, schedule.roundEnd(0).getTime() + 6000);
      const first = ofType(h.events, "best-proof-selected");
      assert.equal(first.length, 1);
      assert.equal(first[0]!.poet, h.poets[0]!.url);
      assert.ok(ofType(h.events, "proof-fetch-failed").some((e) => e.poet === h.poets[1]!.url));
      await h.poets[1]!.faults.up();
      const nipost = ready(await drive(h.clock, run));
      assert.equal(nipost.poet, h.poets[1]!.url);
      assert.equal(nipost.leaves, 36n);
      const selected = ofType(h.events, "best-proof-selected");
      assert.equal(selected.length, 2);
      assert.deepEqual(selected[1]!.replaces, { poet: h.poets[0]!.url, leaves: 15n, ticks: 1n });
      assert.deepEqual(h.postCalls, [nipost.proofRef]);
      const stored = await h.state.challenges.get(id.signer.nodeId);
      assert.deepEqual(stored?.poetProofRef, nipost.proofRef);
    } finally {
      await h.close();
    }
  });

  it("rejects an invalid proof and uses a valid one", async () => {
    const h = await setup([{ leavesPerRound: 35n }, { leavesPerRound: 15n }]);
    try {
      h.poets[0]!.faults.invalidProof = true;
      const id = identity(1);
      const nipost = ready(await drive(h.clock, build(h, id)));
      assert.equal(nipost.poet, h.poets[1]!.url);
      const rejected = ofType(h.events, "proof-rejected");
      assert.equal(rejected.length, 1);
      assert.equal(rejected[0]!.poet, h.poets[0]!.url);
      assert.equal(rejected[0]!.nodeId, undefined);
      assert.equal(rejected[0]!.error.name, "ProofVerificationError");
      assert.equal(await h.state.proofs.findByRound(h.poets[0]!.url, "0").then((p) => p.length), 0);
    } finally {
      await h.close();
    }
  });

  it("reports no proof, without looping, when the only proof is invalid", async () => {
    const h = await setup([{}]);
    try {
      h.poets[0]!.faults.invalidProof = true;
      const id = identity(1);
      const outcome = await drive(h.clock, build(h, id));
      assert.equal(outcome.kind, "no-proof");
      assert.ok(outcome.kind === "no-proof" && !outcome.expired);
      // An invalid proof is the cause: the outcome is labelled `proof-verification`.
      assert.equal(outcome.error.code, "proof-verification");
      assert.ok(h.clock.now() < schedule.proofDeadline(0).getTime());
      assert.equal(h.postCalls.length, 0);
    } finally {
      await h.close();
    }
  });

  it("skips a proof whose members lack the challenge", async () => {
    const h = await setup([{ leavesPerRound: 35n }, { leavesPerRound: 15n }]);
    try {
      const id = identity(1);
      h.poets[0]!.faults.omitChallenge(id.hash);
      const nipost = ready(await drive(h.clock, build(h, id)));
      assert.equal(nipost.poet, h.poets[1]!.url);
      const rejected = ofType(h.events, "proof-rejected");
      assert.equal(rejected.length, 1);
      assert.equal(hex(rejected[0]!.nodeId!), hex(id.signer.nodeId));
      assert.equal(rejected[0]!.error.name, "ProofVerificationError");
    } finally {
      await h.close();
    }
  });

  it("leaves out a PoET of another phase and reports it, without stopping", async () => {
    const h = await setup([{}, { phaseShiftMs: 30_000 }]);
    try {
      const id = identity(1);
      const nipost = ready(await drive(h.clock, build(h, id)));
      assert.equal(nipost.poet, h.poets[0]!.url);
      const mismatch = ofType(h.events, "phase-mismatch");
      assert.equal(mismatch.length, 1);
      assert.equal(mismatch[0]!.poet, h.poets[1]!.url);
      assert.deepEqual(mismatch[0]!.actual, { phaseShiftMs: 30_000, cycleGapMs: 10_000 });
      assert.equal(mismatch[0]!.error.name, "RegistrationRejectedError");
    } finally {
      await h.close();
    }
  });

  it("reports a missed window with the next one when no PoET accepts before the round start", async () => {
    const h = await setup([{}]);
    try {
      await h.poets[0]!.faults.down();
      const id = identity(1);
      const outcome = await drive(h.clock, build(h, id));
      assert.equal(outcome.kind, "window-missed");
      if (outcome.kind !== "window-missed") return;
      assert.equal(outcome.deadline.getTime(), T0 + 20_000);
      assert.equal(outcome.nextRound, 1);
      assert.equal(outcome.nextPublishEpoch, 2);
      assert.equal(outcome.nextRegistrationDeadline.getTime(), T0 + 80_000);
      assert.equal(outcome.error.code, "registration-window-missed");
      assert.equal(ofType(h.events, "window-missed").length, 1);
      assert.equal(await h.state.challenges.get(id.signer.nodeId), undefined);
    } finally {
      await h.close();
    }
  });
});

describe("RegistrationManager and the PoST provider", () => {
  it("reports a failing PoST provider as an outcome and runs PoST again on the next call", async () => {
    let fail = true;
    const h = await setup([{}], {
      post: async () => {
        if (fail) throw new Error("disk unavailable");
        return POST_RESULT;
      },
    });
    try {
      const id = identity(1);
      const outcome = await drive(h.clock, build(h, id));
      assert.equal(outcome.kind, "post-failed");
      assert.equal(ofType(h.events, "post-failed").length, 1);
      fail = false;
      const nipost = ready(
        await drive(h.clock, h.manager.buildNiPost({ nodeId: id.signer.nodeId })),
      );
      assert.deepEqual(nipost.post, POST_RESULT.post);
    } finally {
      await h.close();
    }
  });
});
