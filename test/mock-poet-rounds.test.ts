import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { ed25519 } from "@noble/curves/ed25519.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { ConfigError, ProofVerificationError } from "../src/errors.js";
import { PoetService } from "../src/gen/rpc/api/v1/api_pb.js";
import { membershipRoot, verifyRoundProof } from "../src/membership/index.js";
import { ManualClock } from "../src/testing/index.js";
import { type MockPoet, type MockPoetOptions, startMockPoet } from "../src/testing/mock-poet.js";
import { solvePowSync } from "../src/testing/pow-check.js";
import { verifyPoetProof } from "../src/verify/index.js";

const bytesOf = (label: string) => sha256(new TextEncoder().encode(label));

function identity(label: string) {
  const seed = bytesOf(`node:${label}`);
  return { seed, pubkey: ed25519.getPublicKey(seed), challenge: bytesOf(`challenge:${label}`) };
}

/** A mock PoET on a `ManualClock` at `genesisIso`: epochs of 10 s, phase shift 2 s, cycle gap 4 s. */
async function manualClockPoet(
  genesisIso: string,
  leaves: Pick<MockPoetOptions, "leavesPerSecond" | "leavesPerRound" | "securityParam">,
) {
  const genesis = Date.parse(genesisIso);
  const clock = new ManualClock(genesis);
  const poet = await startMockPoet({
    clock,
    genesis: new Date(genesis),
    epochDurationMs: 10_000,
    phaseShiftMs: 2_000,
    cycleGapMs: 4_000,
    ...leaves,
  });
  return { genesis, clock, poet };
}

/** Registers over gRPC; returns the round id the mock put the challenge in. */
async function registerGrpc(poet: MockPoet, label: string) {
  const client = createClient(PoetService, createGrpcTransport({ baseUrl: poet.url }));
  const node = identity(label);
  const { powParams } = await client.powParams({});
  assert.ok(powParams);
  const nonce = solvePowSync(
    { challenge: powParams.challenge, difficulty: powParams.difficulty },
    node.pubkey,
    node.challenge,
  );
  const { roundId } = await client.submit({
    nonce,
    powParams,
    challenge: node.challenge,
    pubkey: node.pubkey,
    signature: ed25519.sign(node.challenge, node.seed),
  });
  return { roundId, challenge: node.challenge, client };
}

describe("mock PoET rounds", () => {
  it("three mocks with different tick rates each finish a round with leaves that follow them", async () => {
    // A ManualClock, not the real one: on a busy machine one-second rounds on the real clock end
    // faster than the mocks prove them, and a run took over 100 s.
    const genesis = Date.parse("2032-01-01T00:00:00Z");
    const clock = new ManualClock(genesis);
    const rates = [400, 800, 1600];
    const poets = await Promise.all(
      rates.map((leavesPerSecond) =>
        startMockPoet({
          clock,
          genesis: new Date(genesis),
          epochDurationMs: 1000,
          phaseShiftMs: 300,
          cycleGapMs: 500,
          powDifficulty: 2,
          leavesPerSecond,
        }),
      ),
    );
    try {
      const registered = await Promise.all(poets.map((poet, i) => registerGrpc(poet, `tick-${i}`)));
      assert.deepEqual(
        registered.map((r) => r.roundId),
        ["0", "0", "0"],
      );
      await clock.set(genesis + 800); // round 0 ran from 300 ms to 800 ms
      const leaves = await Promise.all(
        registered.map(async ({ roundId, challenge, client }) => {
          const { proof } = await client.proof({ roundId });
          assert.ok(proof?.proof);
          const verified = await verifyRoundProof({
            proof: {
              root: proof.proof.root,
              provenLeaves: proof.proof.provenLeaves,
              proofNodes: proof.proof.proofNodes,
              leaves: proof.leaves,
            },
            members: proof.members,
            challenge,
          });
          assert.equal(verified.memberIndex, 0);
          return proof.leaves;
        }),
      );
      // Each round executes for 0.5 s, so the leaves follow the tick rates.
      assert.deepEqual(leaves, [200n, 400n, 800n]);
    } finally {
      await Promise.all(poets.map((poet) => poet.stop()));
    }
  });

  it("moves through rounds as a manual clock advances, proving every round", async () => {
    const {
      genesis,
      clock,
      poet: started,
    } = await manualClockPoet("2032-02-02T00:00:00Z", {
      leavesPerSecond: 50,
    });
    await using poet = started;
    assert.equal(poet.state.openRound(), 0);
    const labels = ["m1", "m2", "m3", "m4", "m5"];
    for (const label of labels) await registerGrpc(poet, label);
    await clock.set(genesis + 2_000);
    assert.equal(poet.state.openRound(), 1);
    const closed = poet.state.round(0)?.closed;
    assert.ok(closed);
    const byKey = labels
      .map(identity)
      .sort((a, b) => Buffer.compare(a.pubkey, b.pubkey))
      .map((n) => n.challenge);
    assert.deepEqual(closed.members, byKey);
    assert.deepEqual(closed.statement, membershipRoot(byKey));
    assert.equal(poet.state.round(0)?.proof, undefined);
    await clock.set(genesis + 8_000);
    const proof = poet.state.round(0)?.proof;
    assert.ok(proof);
    assert.equal(proof.leaves, 300n);
    await verifyPoetProof(proof, closed.statement);
    await clock.set(genesis + 38_000);
    const rounds = poet.state.rounds();
    assert.deepEqual(
      rounds.map((r) => [r.round, r.proof !== undefined]),
      [
        [0, true],
        [1, true],
        [2, true],
        [3, true],
      ],
    );
    assert.deepEqual(poet.state.powParams().challenge, rounds[3]?.proof?.root);
  });

  it("proves rounds that open `securityParam` leaves, and refuses a bad one up front", async () => {
    const {
      genesis,
      clock,
      poet: started,
    } = await manualClockPoet("2032-03-03T00:00:00Z", {
      leavesPerRound: 17,
      securityParam: 16,
    });
    await using poet = started;
    await registerGrpc(poet, "t16");
    await clock.set(genesis + 8_000);
    const round = poet.state.round(0);
    assert.ok(round?.proof && round.closed);
    assert.equal(round.proof.leaves, 17n);
    assert.equal(round.proof.provenLeaves.length, 16);
    await verifyPoetProof(round.proof, round.closed.statement, { securityParam: 16 });
    await assert.rejects(
      verifyPoetProof(round.proof, round.closed.statement),
      (err) => err instanceof ProofVerificationError,
    );
    await assert.rejects(
      startMockPoet({ clock, securityParam: 0 }),
      (err) => err instanceof ConfigError,
    );
  });
});
