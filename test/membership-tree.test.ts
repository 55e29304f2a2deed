import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { blake3 } from "@noble/hashes/blake3.js";
import { ConfigError, type ProofVerificationError } from "../src/errors.js";
import {
  findMember,
  membershipMultiProof,
  membershipProof,
  membershipRoot,
  verifyMembership,
  verifyRoundProofSync,
} from "../src/membership/index.js";
import { decodeMembershipProof, encodeMembershipProof } from "../src/wire/index.js";

interface Case {
  name?: string;
  member_count?: number;
  root?: string;
  leaf_index?: number;
  leaf?: string;
  leaf_indices?: number[];
  leaves?: string[];
  nodes: string[];
  go_valid: boolean;
  go_validate_partial_tree_error: string;
}
interface Tree {
  member_count: number;
  members: string[];
  root: string;
  proofs: Case[];
  multi_proofs?: Case[];
}
const data = JSON.parse(
  readFileSync(new URL("fixtures/membership.json", import.meta.url), "utf8"),
) as { trees: Tree[]; invalid: Case[]; edge_cases: Case[] };
const hex = (s: string) => Uint8Array.from(Buffer.from(s, "hex"));
const toHex = (b: Uint8Array) => Buffer.from(b).toString("hex");
const filled = (byte: number, length = 32) => new Uint8Array(length).fill(byte);
const indicesOf = (c: Case) => c.leaf_indices ?? (c.leaf_index === undefined ? [] : [c.leaf_index]);
const leavesOf = (c: Case) => (c.leaves ?? (c.leaf === undefined ? [] : [c.leaf])).map(hex);

describe("membershipRoot", () => {
  for (const tree of data.trees) {
    it(`reproduces the root of the ${tree.member_count}-member tree`, () => {
      assert.equal(toHex(membershipRoot(tree.members.map(hex))), tree.root);
    });
  }

  it("reproduces the appendix roots and keeps a single member as the root", () => {
    const members = (n: number) => Array.from({ length: n }, (_, i) => filled(i + 1));
    assert.equal(toHex(membershipRoot(members(1))), "01".repeat(32));
    assert.equal(
      toHex(membershipRoot(members(2))),
      "7dfb6d5986153fae21ad072c102d9b029a7c247f7e4019dc0ad217145a4a3485",
    );
    assert.equal(
      toHex(membershipRoot(members(3))),
      "d2814fc261af4aa4fc561a38699090eb9bf6b4d608de9066505dbe5a338002d0",
    );
    assert.equal(
      toHex(membershipRoot(members(5))),
      "0c97a4e2c62b2c1a75c3c68bcfcf5e8da9c37d01dd52d30e611245694b29279f",
    );
  });

  it("gives the empty statement for an empty round", () => {
    assert.equal(membershipRoot([]).length, 0);
  });

  it("hashes members of other sizes as raw bytes, as the PoET does", () => {
    const [a, b, c] = [filled(1, 31), filled(2), filled(3, 40)];
    const node = (l: Uint8Array, r: Uint8Array) => blake3(Uint8Array.from([1, ...l, ...r]));
    const expected = node(node(a, b), node(c, new Uint8Array(32)));
    assert.equal(toHex(membershipRoot([a, b, c])), toHex(expected));
  });
});

describe("membershipProof and membershipMultiProof", () => {
  for (const tree of data.trees) {
    it(`reproduce every reference proof of the ${tree.member_count}-member tree`, () => {
      const members = tree.members.map(hex);
      for (const c of tree.proofs) {
        const proof = membershipProof(members, c.leaf_index!);
        assert.deepEqual(proof.nodes.map(toHex), c.nodes, `leaf ${c.leaf_index}`);
        assert.equal(proof.leafIndex, c.leaf_index);
      }
      for (const c of tree.multi_proofs ?? []) {
        const proof = membershipMultiProof(members, c.leaf_indices!);
        assert.deepEqual(proof.nodes.map(toHex), c.nodes, `leaves ${c.leaf_indices}`);
      }
    });
  }

  it("round-trips through the SCALE membership proof", () => {
    const tree = data.trees.find((t) => t.member_count === 1000)!;
    const proof = membershipProof(tree.members.map(hex), 767);
    const decoded = decodeMembershipProof(
      encodeMembershipProof({ nodes: proof.nodes, leafIndex: BigInt(proof.leafIndex) }),
    );
    assert.deepEqual(decoded.nodes.map(toHex), proof.nodes.map(toHex));
    assert.equal(decoded.leafIndex, 767n);
  });

  it("rejects positions that are not members and members that are not 32 bytes", () => {
    const members = [filled(1), filled(2), filled(3)];
    for (const index of [-1, 3, 1.5]) {
      assert.throws(() => membershipProof(members, index), ConfigError);
    }
    assert.throws(() => membershipMultiProof(members, [2, 1]), ConfigError);
    assert.throws(() => membershipProof([filled(1), filled(2, 31)], 0), ConfigError);
  });

  it("finds the first position of a challenge", () => {
    const members = [filled(1), filled(2), filled(2)];
    assert.equal(findMember(members, filled(2)), 1);
    assert.equal(findMember(members, filled(3)), undefined);
  });
});

describe("verifyMembership", () => {
  for (const tree of data.trees) {
    it(`accepts every reference proof of the ${tree.member_count}-member tree`, () => {
      const root = hex(tree.root);
      for (const c of [...tree.proofs, ...(tree.multi_proofs ?? [])]) {
        assert.equal(
          verifyMembership(root, indicesOf(c), leavesOf(c), c.nodes.map(hex)),
          c.go_valid,
        );
      }
    });
  }

  for (const c of [...data.invalid, ...data.edge_cases]) {
    it(`decides ${c.name} as go-spacemesh does (${c.go_valid ? "accept" : "reject"})`, () => {
      assert.equal(
        verifyMembership(hex(c.root!), indicesOf(c), leavesOf(c), c.nodes.map(hex)),
        c.go_valid,
      );
    });
  }

  it("rejects a multi-leaf proof that never reaches one of its leaves", () => {
    const tree = data.trees.find((t) => t.member_count === 8)!;
    const members = tree.members.map(hex);
    const { nodes } = membershipProof(members, 0);
    assert.equal(verifyMembership(hex(tree.root), [0], [members[0]!], nodes), true);
    // Index 16 lies past the top of the 8-leaf tree: the walk reaches the root and runs out of
    // nodes before it, so the reference never looks at that leaf (and accepts). We reject.
    assert.equal(
      verifyMembership(hex(tree.root), [0, 16], [members[0]!, filled(0xee)], nodes),
      false,
    );
    assert.equal(verifyMembership(hex(tree.root), [-1], [members[0]!], nodes), false);
  });
});

describe("verifyRoundProofSync membership checks", () => {
  const proof = { root: filled(1), provenLeaves: [], proofNodes: [], leaves: 1000n };

  it("rejects a member that is not 32 bytes as bad-members", () => {
    assert.throws(
      () => verifyRoundProofSync({ proof, members: [filled(1), filled(2, 31)] }),
      (err: ProofVerificationError) =>
        err.reason === "bad-members" && err.message.startsWith("members[1] is 31 bytes"),
    );
  });

  it("rejects a challenge that is not a member as missing-member", () => {
    assert.throws(
      () => verifyRoundProofSync({ proof, members: [filled(1)], challenge: filled(2) }),
      { reason: "missing-member" },
    );
    assert.throws(() => verifyRoundProofSync({ proof, members: [], challenge: filled(2) }), {
      reason: "missing-member",
    });
    assert.throws(
      () => verifyRoundProofSync({ proof, members: [filled(1)], challenge: filled(1, 20) }),
      ConfigError,
    );
  });

  it("goes on to verify the proof once the members are sound", () => {
    assert.throws(
      () => verifyRoundProofSync({ proof, members: [filled(1)], challenge: filled(1) }),
      { reason: "wrong-leaf-count" },
    );
  });
});
