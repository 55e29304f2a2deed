import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, it } from "node:test";
import { blake3 } from "@noble/hashes/blake3.js";
import { ProofVerificationError } from "../src/errors.js";
import {
  createBlake3MembershipHasher,
  membershipMultiProof,
  membershipProof,
  membershipRoot,
} from "../src/membership/index.js";
import { prove } from "../src/testing/prover.js";
import {
  checkProofTree,
  defaultPoswHasher,
  fiatShamirIndices,
  JsPoswHasher,
  type PoswHasher,
  partialTreeProofPositions,
  proofRef,
  type TreeHasher,
  treeHeight,
  validatePartialTree,
  verifyPoetProof,
  verifyPoetProofSync,
} from "../src/verify/index.js";
import { sharedMembershipHasher, sharedPoswHasher } from "../src/verify/wasm/index.js";
import { encodePoetProof, type PoetProof } from "../src/wire/index.js";
import { prng } from "./helpers/prng.js";

function bytes(random: () => number, length: number): Uint8Array {
  return Uint8Array.from({ length }, () => Math.floor(random() * 256));
}

const toHex = (b: Uint8Array): string => Buffer.from(b).toString("hex");
const sha256 = (...parts: Uint8Array[]): Uint8Array =>
  new Uint8Array(createHash("sha256").update(Buffer.concat(parts)).digest());

/** `"valid"`, or the rejection's reason and message. */
function verdict(proof: PoetProof, statement: Uint8Array, hasher?: PoswHasher): string {
  try {
    verifyPoetProofSync(proof, statement, hasher === undefined ? {} : { hasher });
    return "valid";
  } catch (err) {
    if (!(err instanceof ProofVerificationError)) throw err;
    return `${err.reason}: ${err.message}`;
  }
}

/** A copy of `proof` with one bit of one element flipped, chosen by `random`. */
function mutate(proof: PoetProof, random: () => number): PoetProof {
  const flip = (value: Uint8Array): Uint8Array => {
    const copy = value.slice();
    copy[Math.floor(random() * copy.length)]! ^= 1 << Math.floor(random() * 8);
    return copy;
  };
  const which = Math.floor(random() * 4);
  if (which === 0) return { ...proof, root: flip(proof.root) };
  if (which === 1) {
    const provenLeaves = [...proof.provenLeaves];
    const j = Math.floor(random() * provenLeaves.length);
    provenLeaves[j] = flip(provenLeaves[j]!);
    return { ...proof, provenLeaves };
  }
  if (which === 2 && proof.proofNodes.length > 0) {
    const proofNodes = [...proof.proofNodes];
    const k = Math.floor(random() * proofNodes.length);
    proofNodes[k] = flip(proofNodes[k]!);
    return { ...proof, proofNodes };
  }
  return { ...proof, leaves: proof.leaves + 1n };
}

describe("the default hashers", () => {
  it("are the shared WebAssembly kernels on an engine with SIMD", () => {
    assert.equal(defaultPoswHasher(), sharedPoswHasher());
    assert.equal(defaultPoswHasher().name, "wasm-simd");
    assert.equal(sharedMembershipHasher().name, "wasm-simd-blake3");
  });

  it("give the JavaScript hasher's verdict on random proofs and on every single-bit change", async () => {
    const random = prng(91);
    const js = new JsPoswHasher();
    for (let round = 0; round < 6; round++) {
      const statement = bytes(random, 32);
      const leaves = 150 + Math.floor(random() * 400);
      const proof = prove(statement, leaves, { hasher: js });
      assert.equal(verdict(proof, statement), "valid");
      assert.equal(verdict(proof, statement, js), "valid");
      await verifyPoetProof(proof, statement);
      for (let change = 0; change < 4; change++) {
        const bad = mutate(proof, random);
        const fast = verdict(bad, statement);
        assert.notEqual(fast, "valid");
        assert.equal(fast, verdict(bad, statement, js));
      }
      const other = bytes(random, 32);
      assert.equal(verdict(proof, other), verdict(proof, other, js));
    }
  });

  it("verify proofs whose statement is not 32 bytes like the JavaScript hasher", () => {
    const js = new JsPoswHasher();
    for (const statement of [new Uint8Array(0), new Uint8Array(33).fill(7)]) {
      const proof = prove(statement, 300, { hasher: js });
      assert.equal(verdict(proof, statement), "valid");
      const bad = { ...proof, proofNodes: proof.proofNodes.slice(1) };
      assert.equal(verdict(bad, statement), verdict(bad, statement, js));
    }
  });
});

describe("fiatShamirIndices with a batch hasher", () => {
  it("hashes the counters in batches and agrees with the one-at-a-time walk", () => {
    const random = prng(5);
    const js = new JsPoswHasher();
    let batches = 0;
    let singles = 0;
    const counting: PoswHasher = {
      name: "counting",
      sha256: (data, out) => {
        singles++;
        js.sha256(data, out);
      },
      merkle: (s, l, r, out) => js.merkle(s, l, r, out),
      labels: (s, inputs, out) => js.labels(s, inputs, out),
      sha256Many: (messages, out) => {
        batches++;
        for (const [j, message] of messages.entries()) {
          js.sha256(message, out.subarray(32 * j, 32 * j + 32));
        }
      },
    };
    for (const leaves of [150n, 151n, 1000n, 2n ** 40n, 2n ** 64n - 1n]) {
      const root = bytes(random, 32);
      const expected = fiatShamirIndices(root, leaves, 150, js);
      assert.deepEqual(fiatShamirIndices(root, leaves, 150, counting), expected);
      assert.deepEqual(fiatShamirIndices(root, leaves, 150), expected);
    }
    assert.ok(batches > 0);
    assert.equal(singles, 0);
  });
});

describe("validatePartialTree's plan", () => {
  const parent = (l: Uint8Array, r: Uint8Array): Uint8Array => sha256(l, r);

  /** A tree hasher that counts its batch calls and checks the plan's level promise. */
  function batching(counter: { levels: number }): TreeHasher {
    return {
      parent: (l, r, out) => out.set(parent(l, r)),
      parents: (arena, plan) => {
        let start = 0;
        for (const end of plan.levelEnds) {
          const written = new Set<number>();
          for (let k = start; k < end; k++) written.add(plan.ops[3 * k + 2]!);
          for (let k = start; k < end; k++) {
            const [l, r, p] = [plan.ops[3 * k]!, plan.ops[3 * k + 1]!, plan.ops[3 * k + 2]!];
            assert.ok(!written.has(l) && !written.has(r), "an input is computed in its own level");
            arena.set(
              parent(arena.subarray(32 * l, 32 * l + 32), arena.subarray(32 * r, 32 * r + 32)),
              32 * p,
            );
          }
          counter.levels++;
          start = end;
        }
      },
    };
  }

  it("gives the same root and snapshots in one batch per level as one parent at a time", () => {
    const random = prng(17);
    for (let round = 0; round < 40; round++) {
      const height = 1 + Math.floor(random() * 12);
      const width = 2 ** height;
      const picked = new Set<bigint>();
      const count = 1 + Math.floor(random() * Math.min(width, 20));
      while (picked.size < count) picked.add(BigInt(Math.floor(random() * width)));
      const indices = [...picked].sort((a, b) => (a < b ? -1 : 1));
      const leaves = indices.map(() => bytes(random, 32));
      const nodes = partialTreeProofPositions(indices, height).map(() => bytes(random, 32));
      // sometimes too few or too many nodes: the walk must still match
      if (random() < 0.2) nodes.pop();
      if (random() < 0.2) nodes.push(bytes(random, 32));
      const counter = { levels: 0 };
      const one = validatePartialTree(indices, leaves, nodes, parent);
      const many = validatePartialTree(indices, leaves, nodes, batching(counter));
      const show = (s: (Uint8Array | null)[]) => s.map((n) => (n === null ? null : toHex(n)));
      assert.equal(toHex(many.root), toHex(one.root));
      assert.equal(many.height, one.height);
      assert.deepEqual(many.snapshots.map(show), one.snapshots.map(show));
      assert.ok(counter.levels <= Math.max(one.height, 1) + 1);
    }
  });

  it("handles indices above 2^32 and the top of the u64 range", () => {
    const random = prng(3);
    for (const indices of [
      [2n ** 32n - 1n, 2n ** 32n, 2n ** 33n + 5n],
      [0n, 2n ** 63n],
      [2n ** 64n - 2n, 2n ** 64n - 1n],
    ]) {
      const height = 64;
      const leaves = indices.map(() => bytes(random, 32));
      const nodes = partialTreeProofPositions(indices, height).map(() => bytes(random, 32));
      const counter = { levels: 0 };
      const one = validatePartialTree(indices, leaves, nodes, parent);
      const many = validatePartialTree(indices, leaves, nodes, batching(counter));
      assert.equal(toHex(many.root), toHex(one.root));
      assert.equal(one.height, 64);
      assert.equal(one.snapshots.length, indices.length);
    }
  });

  it("is what checkProofTree runs with the WebAssembly kernel, giving the JavaScript snapshots", () => {
    const js = new JsPoswHasher();
    const statement = new Uint8Array(32).fill(9);
    // Proved with the default kernel (the same bytes as the JavaScript one's, checked above).
    const proof = prove(statement, 5000);
    const indices = fiatShamirIndices(proof.root, proof.leaves, 150);
    const fast = checkProofTree(proof, statement, indices);
    const slow = checkProofTree(proof, statement, indices, js);
    const show = (s: (Uint8Array | null)[]) => s.map((n) => (n === null ? null : toHex(n)));
    assert.deepEqual(fast.map(show), slow.map(show));
    assert.equal(treeHeight(5000n), 13);
  });
});

describe("membership trees and proof references by default", () => {
  it("build the same roots and proofs as @noble/hashes", () => {
    const random = prng(23);
    const noble = createBlake3MembershipHasher();
    for (const count of [1, 2, 3, 7, 64, 65, 1000, 4097]) {
      const members = Array.from({ length: count }, () => bytes(random, 32));
      assert.equal(
        toHex(membershipRoot(members)),
        toHex(membershipRoot(members, { hasher: noble })),
      );
      const index = Math.floor(random() * count);
      assert.deepEqual(
        membershipProof(members, index).nodes.map(toHex),
        membershipProof(members, index, { hasher: noble }).nodes.map(toHex),
      );
      const multi = [...new Set([0, index, count - 1])].sort((a, b) => a - b);
      assert.deepEqual(
        membershipMultiProof(members, multi).nodes.map(toHex),
        membershipMultiProof(members, multi, { hasher: noble }).nodes.map(toHex),
      );
    }
  });

  it("hash the proof reference like @noble/hashes", () => {
    for (const leaves of [150, 1000, 3000]) {
      const proof = prove(new Uint8Array(32).fill(leaves & 0xff), leaves);
      assert.equal(toHex(proofRef(proof)), toHex(blake3(encodePoetProof(proof))));
    }
  });
});
