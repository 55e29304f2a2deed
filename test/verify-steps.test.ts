import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, it } from "node:test";
import { ConfigError, ProofVerificationError, WireFormatError } from "../src/errors.js";
import type { PoswHasher } from "../src/verify/index.js";
import {
  checkProofStructure,
  checkProofTree,
  collectTreeNodes,
  fiatShamirIndices,
  JsPoswHasher,
  labelInputs,
  partialTreeProofPositions,
  treeHeight,
  validatePartialTree,
  verifyPoetProofSync,
} from "../src/verify/index.js";
import type { PoetProof } from "../src/wire/index.js";

const toHex = (b: Uint8Array) => Buffer.from(b).toString("hex");
const sha256 = (...parts: Uint8Array[]) => {
  const h = createHash("sha256");
  for (const p of parts) h.update(p);
  return Uint8Array.from(h.digest());
};
const filled = (byte: number, length = 32) => new Uint8Array(length).fill(byte);

/** A deterministic byte stream (xorshift32). */
function bytes(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed | 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x;
  }
  return out;
}

/** A hasher that counts calls and delegates to the JS one. */
function countingHasher(): PoswHasher & { calls: number } {
  const inner = new JsPoswHasher();
  return {
    name: "counting",
    calls: 0,
    sha256(data, out) {
      this.calls++;
      inner.sha256(data, out);
    },
    merkle(statement, left, right, out) {
      this.calls++;
      inner.merkle(statement, left, right, out);
    },
    labels(statement, inputs, out) {
      this.calls += inputs.length;
      inner.labels(statement, inputs, out);
    },
  };
}

describe("JsPoswHasher", () => {
  const hasher = new JsPoswHasher();

  it("computes SHA-256 like node:crypto for every length around the block boundaries", () => {
    const out = new Uint8Array(32);
    for (const length of [...Array(200).keys(), 447, 448, 511, 512, 1000, 4097, 100_000]) {
      const data = bytes(length, length + 7);
      hasher.sha256(data, out);
      assert.equal(toHex(out), toHex(sha256(data)), `length ${length}`);
    }
  });

  it("computes Merkle nodes and 400-fold labels like chained node:crypto calls", () => {
    const statement = bytes(32, 1);
    const out = new Uint8Array(64);
    hasher.merkle(statement, filled(0xaa), filled(0xbb), out);
    assert.equal(toHex(out.subarray(0, 32)), toHex(sha256(statement, filled(0xaa), filled(0xbb))));

    const inputs = [bytes(8 + 32 * 3, 2), bytes(8, 3)];
    hasher.labels(statement, inputs, out);
    inputs.forEach((input, j) => {
      let x = sha256(statement, input);
      for (let i = 1; i < 400; i++) x = sha256(x);
      assert.equal(toHex(out.subarray(32 * j, 32 * j + 32)), toHex(x));
    });
  });

  it("reproduces the PoSW hash vectors of the protocol appendix", () => {
    const statement = Uint8Array.from({ length: 32 }, (_, i) => i);
    const a = filled(0xaa);
    const b = filled(0xbb);
    const out = new Uint8Array(32);
    hasher.merkle(statement, a, b, out);
    assert.equal(toHex(out), "7a174c76ec19baf4be550a6631a5fee41ba86ea32cce8d426364caa1e8021cd2");

    const [input5] = labelInputs([5n], [[a, null, b]]);
    assert.equal(toHex(input5!), `0000000000000005${toHex(a)}${toHex(b)}`);
    assert.equal(
      toHex(sha256(statement, input5!)),
      "58919de2fd338cc3f6f9d59669ef0b660e0b9c44998b548ae4d0cdee01a6c1ff",
    );
    hasher.label(statement, input5!, out);
    assert.equal(toHex(out), "d781511ca402f8d39388e0178040d5e066ec53a5680c5d683e359f87bd4a9783");
    hasher.label(statement, labelInputs([0n], [[]])[0]!, out);
    assert.equal(toHex(out), "47c40cc58fe073826e6e4cb5134e24986e3ca7c0ae7505d0a1ea69a6b32d3ead");
  });
});

describe("fiatShamirIndices", () => {
  it("reproduces the appendix vector for a mainnet-sized leaf count", () => {
    const indices = fiatShamirIndices(filled(0xab), 86_831_894_949n, 150);
    assert.equal(indices.length, 150);
    assert.deepEqual(indices.slice(0, 5), [
      1_295_166_201n,
      1_310_764_079n,
      1_529_957_932n,
      1_953_812_024n,
      2_722_367_943n,
    ]);
    assert.ok(indices.includes(32_597_193_057n) && indices.includes(33_037_623_018n));
    assert.ok(indices.every((x, i) => i === 0 || indices[i - 1]! < x));
  });

  it("returns every leaf when the security parameter exceeds the leaf count", () => {
    assert.deepEqual(fiatShamirIndices(filled(1), 3n, 150), [0n, 1n, 2n]);
    assert.deepEqual(fiatShamirIndices(filled(1), 0n, 150), []);
  });

  it("handles the largest u64 leaf count and rejects counts outside u64", () => {
    const indices = fiatShamirIndices(filled(2), 2n ** 64n - 1n, 150);
    assert.equal(indices.length, 150);
    assert.ok(indices.some((x) => x > 2n ** 53n));
    assert.throws(() => fiatShamirIndices(filled(2), 2n ** 64n, 150), WireFormatError);
    assert.throws(() => fiatShamirIndices(filled(2), -1n, 150), WireFormatError);
  });

  it("rejects a security parameter outside 1..255 with a ConfigError", () => {
    for (const t of [0, 256, 1.5, Number.NaN]) {
      assert.throws(() => fiatShamirIndices(filled(2), 1000n, t), ConfigError);
    }
  });
});

describe("validatePartialTree and partialTreeProofPositions", () => {
  // The upstream merkle-tree test tree: leaf i holds LE64(i), parent = SHA256(left ‖ right).
  const leaf = (i: number) => {
    const out = new Uint8Array(32);
    new DataView(out.buffer).setBigUint64(0, BigInt(i), true);
    return out;
  };
  const parent = (l: Uint8Array, r: Uint8Array) => sha256(l, r);
  const build = (width: number, proven: bigint[]) => {
    const level = new Uint8Array(32 * (width + 1));
    for (let i = 0; i < width; i++) level.set(leaf(i), 32 * i);
    return collectTreeNodes(
      level,
      width,
      partialTreeProofPositions(proven, treeHeight(BigInt(width))),
      (nodes, count) => {
        for (let p = 0; p < Math.ceil(count / 2); p++) {
          nodes.set(
            parent(nodes.slice(64 * p, 64 * p + 32), nodes.slice(64 * p + 32, 64 * p + 64)),
            32 * p,
          );
        }
      },
    );
  };

  it("builds the upstream roots of 8, 9, 10 and 15 leaves, padding with zeros", () => {
    assert.equal(
      toHex(build(8, [0n]).root),
      "89a0f1577268cc19b0a39c7a69f804fd140640c699585eb635ebb03c06154cce",
    );
    assert.equal(
      toHex(build(9, [0n]).root),
      "cb71c80ee780788eedb819ec125a41e0cde57bd0955cdd3157ca363193ab5ff1",
    );
    assert.equal(
      toHex(build(10, [0n]).root),
      "59f32a43534fe4c4c0966421aef624267cdf65bd11f74998c60f27c7caccb12d",
    );
    assert.equal(
      toHex(build(15, [0n]).root),
      "b9746fb884ed07041c5cbb3bb5526e1383928e832a8385e08db995966889b5a8",
    );
  });

  it("emits the upstream proof nodes in the validator's order", () => {
    assert.deepEqual(build(10, [0n, 4n, 7n]).nodes.map(toHex), [
      toHex(leaf(1)),
      "0094579cfc7b716038d416a311465309bea202baa922b224a7b08f01599642fb",
      toHex(leaf(5)),
      toHex(leaf(6)),
      "bc68417a8495de6e22d95b980fca5a1183f29eff0e2a9b7ddde91ed5bcbea952",
    ]);
    assert.deepEqual(build(10, [9n]).nodes.map(toHex), [
      toHex(leaf(8)),
      "00".repeat(32),
      "00".repeat(32),
      "89a0f1577268cc19b0a39c7a69f804fd140640c699585eb635ebb03c06154cce",
    ]);
  });

  it("returns the upstream parking snapshots of leaves 4 and 6 of an 8-leaf tree", () => {
    const { nodes, root } = build(8, [4n, 6n]);
    const tree = validatePartialTree([4n, 6n], [leaf(4), leaf(6)], nodes, parent);
    assert.equal(toHex(tree.root), toHex(root));
    assert.equal(tree.height, 3);
    const ba94 = "ba94ffe7edabf26ef12736f8eb5ce74d15bedb6af61444ae2906e926b1a95084";
    const bd50 = "bd50456d5ad175ae99a1612a53ca229124b65d3eaabd9ff9c7ab979a385cf6b3";
    const show = (s: (Uint8Array | null)[]) => s.map((n) => (n === null ? null : toHex(n)));
    assert.deepEqual(tree.snapshots.map(show), [
      [null, null, ba94],
      [null, bd50, ba94],
    ]);
  });

  it("climbs on proof nodes alone until they run out, like the reference", () => {
    const zero = new Uint8Array(32);
    const tree = validatePartialTree([3n], [leaf(3)], [zero, zero, zero], parent);
    assert.equal(
      toHex(tree.root),
      "2657509b700c67b205c5196ee9a231e0fe567f1dae4a15bb52c0de813d65677a",
    );
    assert.equal(tree.height, 3);
  });

  it("rejects unsorted, duplicate, missing or mismatched indices with the reference's words", () => {
    const cases: [bigint[], number, string][] = [
      [[1n, 0n], 2, "leafIndices are not sorted"],
      [[1n, 1n], 2, "leafIndices contain duplicates"],
      [[], 0, "at least one leaf is required for validation"],
      [[1n, 2n], 1, "number of leaves (1) must equal number of indices (2)"],
    ];
    for (const [indices, count, message] of cases) {
      assert.throws(
        () =>
          validatePartialTree(
            indices,
            Array.from({ length: count }, (_, i) => leaf(i)),
            [],
            parent,
          ),
        (err: ProofVerificationError) => err.reason === "malformed" && err.message === message,
      );
    }
  });
});

describe("checkProofStructure", () => {
  const good = (): PoetProof => ({
    root: filled(1),
    provenLeaves: Array.from({ length: 150 }, () => filled(2)),
    proofNodes: [filled(3)],
    leaves: 1000n,
  });
  const reasonOf = (proof: PoetProof, securityParam?: number) => {
    const hasher = countingHasher();
    try {
      verifyPoetProofSync(proof, filled(9), { securityParam, hasher });
    } catch (err) {
      assert.equal(hasher.calls, 0, "no hashing before the shape is checked");
      assert.ok(err instanceof ProofVerificationError);
      return `${err.reason}: ${err.message}`;
    }
    return "accepted";
  };

  it("rejects each malformed shape before any hashing, saying what is wrong", () => {
    assert.match(reasonOf({ ...good(), leaves: 0n }), /^empty-proof/);
    assert.match(reasonOf({ ...good(), leaves: -1n }), /^malformed: leaves must be a u64/);
    assert.match(reasonOf({ ...good(), leaves: 2n ** 64n }), /^malformed/);
    assert.match(
      reasonOf({ ...good(), provenLeaves: good().provenLeaves.slice(1) }),
      /^wrong-leaf-count: number of proven leaves \(149\) must be equal to security param \(150\)/,
    );
    assert.match(reasonOf({ ...good(), leaves: 149n }), /^too-few-leaves: .*149 leaves/);
    assert.match(reasonOf({ ...good(), root: filled(1, 31) }), /^malformed: root is 31 bytes/);
    const leaves = good().provenLeaves;
    leaves[77] = filled(2, 33);
    assert.match(
      reasonOf({ ...good(), provenLeaves: leaves }),
      /^malformed: provenLeaves\[77\] is 33 bytes/,
    );
    assert.match(
      reasonOf({ ...good(), proofNodes: [filled(3), filled(3, 0)] }),
      /^malformed: proofNodes\[1\] is 0 bytes/,
    );
    assert.match(
      reasonOf({ ...good(), proofNodes: Array.from({ length: 5401 }, () => filled(3)) }),
      /^malformed: 5401 proof nodes, more than the limit of 5400/,
    );
  });

  it("takes the security parameter from the options", () => {
    const proof = { ...good(), provenLeaves: good().provenLeaves.slice(0, 10) };
    assert.doesNotThrow(() => checkProofStructure(proof, 10));
    assert.throws(() => checkProofStructure(proof), { reason: "wrong-leaf-count" });
    assert.throws(() => checkProofStructure(proof, 0), ConfigError);
  });
});

describe("checkProofTree", () => {
  it("reports proven leaves the walk never reached as a snapshot-count mismatch", () => {
    const hasher = new JsPoswHasher();
    const statement = filled(9);
    const [a, b, x] = [filled(1), filled(2), filled(3)];
    // Leaf 0 takes x at height 0, then needs a node at height 1 and finds none: leaf 5 is left out.
    const root = new Uint8Array(32);
    hasher.merkle(statement, a, x, root);
    const proof = { root, provenLeaves: [a, b], proofNodes: [x], leaves: 8n };
    assert.throws(() => checkProofTree(proof, statement, [0n, 5n], hasher), {
      reason: "snapshot-count-mismatch",
      message: /after 1 of 2 proven leaves \(leaf 5 was never reached\)/,
    });
    assert.throws(
      () => checkProofTree({ ...proof, root: filled(0) }, statement, [0n, 5n], hasher),
      {
        reason: "merkle-root-mismatch",
      },
    );
  });
});
