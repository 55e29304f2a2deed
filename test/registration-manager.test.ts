import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createPoetClient } from "../src/client/index.js";
import { verifyMembership } from "../src/membership/index.js";
import { adaptPoetClient, type RegistrationPoetClient } from "../src/registration/index.js";
import {
  build,
  drive,
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

describe("RegistrationManager", () => {
  it("registers, waits for the round, verifies the proof, runs PoST and stores the NiPoST", async () => {
    // The manager's own ParallelVerifier here, as in production (the harness verifies in-thread),
    // on a round of the network's size: T = 150, a tick of 100 leaves.
    const h = await setup([{ leavesPerRound: 300n, securityParam: 150 }], {
      verifier: undefined,
      tickSize: 100n,
    });
    try {
      const id = identity(1);
      const outcome = await drive(h.clock, build(h, id));
      const nipost = ready(outcome);
      assert.equal(nipost.publishEpoch, 1);
      assert.equal(nipost.roundId, "0");
      assert.equal(nipost.leaves, 300n);
      assert.equal(nipost.ticks, 3n);
      assert.equal(nipost.ticks, nipost.leaves / 100n);
      assert.equal(nipost.poet, h.poets[0]!.url);
      assert.deepEqual(nipost.post, POST_RESULT.post);
      assert.deepEqual(h.postCalls, [nipost.proofRef]);

      // The membership proof proves the challenge in the round's statement.
      const statement = h.poets[0]!.state.round(0)?.closed?.statement;
      assert.ok(statement !== undefined);
      assert.ok(
        verifyMembership(
          statement,
          [Number(nipost.membership.leafIndex)],
          [id.hash],
          nipost.membership.nodes,
        ),
      );

      // Rows: registration, challenge with ref, nipost.
      const regs = await h.state.registrations.listFor(id.signer.nodeId);
      assert.equal(regs.length, 1);
      assert.equal(regs[0]!.roundId, "0");
      const challenge = await h.state.challenges.get(id.signer.nodeId);
      assert.deepEqual(challenge?.poetProofRef, nipost.proofRef);
      const row = await h.state.nipost.get(id.signer.nodeId);
      assert.deepEqual(row?.poetProofRef, nipost.proofRef);

      // Events, in order, with their instants.
      const types = h.events.map((e) => e.type);
      for (const t of [
        "registered",
        "waiting-for-round-end",
        "proof-downloaded",
        "best-proof-selected",
        "post-started",
        "nipost-ready",
      ] as const) {
        assert.ok(types.includes(t), `missing event ${t} in ${types.join(", ")}`);
      }
      const wait = ofType(h.events, "waiting-for-round-end")[0]!;
      assert.equal(wait.roundEnd.getTime(), schedule.roundEnd(0).getTime());
      assert.equal(wait.proofDeadline.getTime(), schedule.proofDeadline(0).getTime());
      const downloaded = ofType(h.events, "proof-downloaded")[0]!;
      assert.ok(downloaded.at.getTime() >= schedule.roundEnd(0).getTime());
      assert.ok(h.clock.now() < schedule.proofDeadline(0).getTime());
    } finally {
      await h.close();
    }
  });

  it("returns the stored NiPoST at once when called again", async () => {
    const h = await setup([{}]);
    try {
      const id = identity(1);
      const first = ready(await drive(h.clock, build(h, id)));
      const before = h.clock.now();
      const second = ready(await h.manager.buildNiPost({ nodeId: id.signer.nodeId }));
      assert.equal(h.clock.now(), before);
      assert.deepEqual(second.proofRef, first.proofRef);
      assert.equal(second.leaves, first.leaves);
      assert.equal(h.postCalls.length, 1);
    } finally {
      await h.close();
    }
  });

  it("waits for the registration window of a later round and says when it opens", async () => {
    const h = await setup([{}]);
    try {
      const id = identity(3); // round 2 opens at round 1's start: T0 + 80 s
      const nipost = ready(await drive(h.clock, build(h, id)));
      assert.equal(nipost.roundId, "2");
      const waiting = ofType(h.events, "waiting-for-registration-window")[0]!;
      assert.equal(waiting.opensAt.getTime(), T0 + 80_000);
      assert.equal(waiting.deadline.getTime(), T0 + 140_000);
      const registered = ofType(h.events, "registered")[0]!;
      assert.ok(registered.at.getTime() >= T0 + 80_000);
      assert.equal(hex(registered.nodeId), hex(id.signer.nodeId));
    } finally {
      await h.close();
    }
  });

  it("shares one info() and one proof download per PoET among many identities, with submits capped", async () => {
    const calls = { info: 0, proof: 0, submits: 0, inFlight: 0, peak: 0 };
    const h = await setup([{}, {}, {}, {}, {}]);
    await h.manager.close();
    await h.restart({
      maxConcurrentSubmits: 4,
      createClient: (poet) => {
        const client = adaptPoetClient(
          createPoetClient({ url: poet.address, servicePubkey: poet.pubkey, clock: h.clock }),
          { clock: h.clock },
        );
        const wrapped: RegistrationPoetClient = {
          info: (o) => {
            calls.info++;
            return client.info(o);
          },
          proof: (id, o) => {
            calls.proof++;
            return client.proof(id, o);
          },
          register: async (r, o) => {
            calls.submits++;
            calls.peak = Math.max(calls.peak, ++calls.inFlight);
            try {
              return await client.register(r, o);
            } finally {
              calls.inFlight--;
            }
          },
          close: () => client.close?.(),
        };
        return wrapped;
      },
    });
    try {
      const ids = Array.from({ length: 40 }, () => identity(1));
      const all = Promise.all(ids.map((id) => build(h, id)));
      // Registration needs no time to pass; let it finish before moving the clock.
      await until(() => ofType(h.events, "registered").length === 200);
      const outcomes = await drive(h.clock, all);
      assert.equal(outcomes.filter((o) => o.kind === "ready").length, 40);
      assert.deepEqual([calls.info, calls.proof], [5, 5], JSON.stringify(calls));
      assert.equal(calls.proof, 5);
      assert.equal(calls.submits, 200);
      assert.ok(calls.peak <= 4, `peak ${calls.peak}`);
    } finally {
      await h.close();
    }
  });
});
