import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { decodeMembershipProof, encodeMembershipProof, MAX_U64 } from "../src/wire/index.js";
import { rejects } from "./helpers/wire-format-error.js";

interface MembershipFixture {
  trees: { member_count: number; proofs: { leaf_index: number; nodes: string[] }[] }[];
}

const fixture: MembershipFixture = JSON.parse(
  readFileSync(new URL("./fixtures/membership.json", import.meta.url), "utf8"),
);

const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");
const bytes = (h: string): Uint8Array => new Uint8Array(Buffer.from(h, "hex"));

const node = (b: number): Uint8Array => new Uint8Array(32).fill(b);

describe("encodeMembershipProof / decodeMembershipProof", () => {
  it("lays out a compact count, bare 32-byte nodes and a compact leaf index", () => {
    const encoded = encodeMembershipProof({ nodes: [node(0xaa), node(0xbb)], leafIndex: 2n });
    assert.equal(hex(encoded), `08${"aa".repeat(32)}${"bb".repeat(32)}08`);
    const big = encodeMembershipProof({ nodes: [], leafIndex: 1n << 32n });
    assert.equal(hex(big), "00070000000001");
  });

  it("round-trips every proof of the membership vectors", () => {
    let count = 0;
    for (const tree of fixture.trees) {
      for (const p of tree.proofs) {
        const proof = { nodes: p.nodes.map(bytes), leafIndex: BigInt(p.leaf_index) };
        const encoded = encodeMembershipProof(proof);
        assert.equal(encoded.length, 1 + 32 * p.nodes.length + (p.leaf_index < 64 ? 1 : 2));
        assert.deepEqual(decodeMembershipProof(encoded), proof);
        count++;
      }
    }
    assert.ok(count > 10);
  });

  it("round-trips the largest leaf index and the full 32 nodes", () => {
    const proof = { nodes: Array.from({ length: 32 }, (_, i) => node(i)), leafIndex: MAX_U64 };
    assert.deepEqual(decodeMembershipProof(encodeMembershipProof(proof)), proof);
  });

  it("rejects more than 32 nodes on both sides", () => {
    const nodes = Array.from({ length: 33 }, () => node(1));
    rejects(
      () => encodeMembershipProof({ nodes, leafIndex: 0n }),
      "MembershipProof.nodes",
      /33 exceeds the limit of 32/,
    );
    const encoded = new Uint8Array([33 << 2, ...new Uint8Array(33 * 32), 0]);
    rejects(() => decodeMembershipProof(encoded), "MembershipProof.nodes", /33 exceeds/);
  });

  it("refuses to encode a node that is not 32 bytes", () => {
    rejects(
      () => encodeMembershipProof({ nodes: [node(1), new Uint8Array(31)], leafIndex: 0n }),
      "MembershipProof.nodes[1]",
      /exactly 32 bytes/,
    );
  });

  it("names the field of truncated, non-canonical and over-long input", () => {
    const encoded = encodeMembershipProof({ nodes: [node(1), node(2)], leafIndex: 5n });
    rejects(
      () => decodeMembershipProof(encoded.subarray(0, 40)),
      "MembershipProof.nodes[1]",
      /truncated/,
    );
    rejects(
      () => decodeMembershipProof(encoded.subarray(0, encoded.length - 1)),
      "MembershipProof.leafIndex",
      /truncated/,
    );
    const nonCanonical = new Uint8Array([...encoded.subarray(0, encoded.length - 1), 0x15, 0x00]);
    rejects(
      () => decodeMembershipProof(nonCanonical),
      "MembershipProof.leafIndex",
      /non-canonical/,
    );
    rejects(
      () => decodeMembershipProof(new Uint8Array([...encoded, 0])),
      "MembershipProof",
      /trailing/,
    );
  });
});
