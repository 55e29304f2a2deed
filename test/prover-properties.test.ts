import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { toHex } from "../src/bytes.js";
import { ConfigError, ProofVerificationError } from "../src/errors.js";
import { membershipRoot, verifyRoundProofSync } from "../src/membership/index.js";
import { prove } from "../src/testing/prover.js";
import { verifyPoetProofSync } from "../src/verify/index.js";
import type { PoetProof } from "../src/wire/index.js";
import { prng } from "./helpers/prng.js";
import { fromHex, loadProofVectors } from "./helpers/proof-vectors.js";

const vectors = loadProofVectors("test/fixtures/poet-proofs.json");

/** Vectors up to this many leaves are re-proved by default; set POET_SLOW_TESTS=1 for all. */
const FAST_LIMIT = process.env.POET_SLOW_TESTS === "1" ? Number.POSITIVE_INFINITY : 1000;

const flipBit = (bytes: Uint8Array, bit: number) => {
  const copy = bytes.slice();
  copy[bit >>> 3]! ^= 1 << (bit & 7);
  return copy;
};
const rejects = (proof: PoetProof, statement: Uint8Array, what: string) =>
  assert.throws(
    () => verifyPoetProofSync(proof, statement),
    (err) => err instanceof ProofVerificationError,
    what,
  );

describe("prove", () => {
  for (const v of vectors.filter((x) => x.leaves <= FAST_LIMIT)) {
    it(`reproduces the reference vector ${v.name}`, () => {
      const proof = prove(fromHex(v.statement), v.leaves, { securityParam: v.security_param });
      assert.equal(toHex(proof.root), v.root);
      assert.deepEqual(proof.provenLeaves.map(toHex), v.proven_leaves);
      assert.deepEqual(proof.proofNodes.map(toHex), v.proof_nodes);
      assert.equal(proof.leaves, BigInt(v.leaves));
    });
  }

  it("accepts a bigint leaf count and proves a round's statement end to end", () => {
    const members = [fromHex("11".repeat(32)), fromHex("22".repeat(32)), fromHex("33".repeat(32))];
    const proof = prove(membershipRoot(members), 300n);
    assert.equal(proof.proofNodes.length > 0, true);
    verifyRoundProofSync({ proof, members, challenge: members[1] });
  });

  it("rejects leaf counts it cannot prove", () => {
    for (const leaves of [0, -1, 1.5, 2 ** 40, 2n ** 64n]) {
      assert.throws(() => prove(new Uint8Array(32), leaves), ConfigError);
    }
  });
});

describe("prove then verify, over random statements and leaf counts", () => {
  const random = prng(0x5eed);
  for (let c = 0; c < 20; c++) {
    // Log-uniform from 150 to 2,000: every tree height from 8 to 11 is drawn about as often, at
    // two thirds of a uniform draw's proving time (labels cost 400 SHA-256 each).
    const leaves = Math.floor(150 * (2000 / 150) ** random());
    const statement = Uint8Array.from({ length: 32 }, () => Math.floor(random() * 256));
    const picks = Array.from({ length: 6 }, () => random());
    it(`case ${c}: ${leaves} leaves verify, and any single change is rejected`, () => {
      const proof = prove(statement, leaves);
      verifyPoetProofSync(proof, statement);

      const bit = (p: number) => Math.floor(p * 256);
      const j = Math.floor(picks[0]! * proof.provenLeaves.length);
      const k = Math.floor(picks[1]! * proof.proofNodes.length);
      rejects({ ...proof, root: flipBit(proof.root, bit(picks[2]!)) }, statement, "root");
      const provenLeaves = [...proof.provenLeaves];
      provenLeaves[j] = flipBit(provenLeaves[j]!, bit(picks[3]!));
      rejects({ ...proof, provenLeaves }, statement, `proven leaf ${j}`);
      const proofNodes = [...proof.proofNodes];
      proofNodes[k] = flipBit(proofNodes[k]!, bit(picks[4]!));
      rejects({ ...proof, proofNodes }, statement, `proof node ${k}`);
      const delta = 1n + BigInt(Math.floor(picks[5]! * leaves));
      rejects({ ...proof, leaves: proof.leaves + delta }, statement, `leaves + ${delta}`);
      rejects({ ...proof, leaves: proof.leaves - 1n }, statement, "leaves - 1");
      rejects(proof, flipBit(statement, bit(picks[5]!)), "statement");
    });
  }
});
