import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { setImmediate as yieldToEventLoop } from "node:timers/promises";
import { AbortedError } from "../src/errors.js";
import {
  MemberIndex,
  MembershipTree,
  membershipMultiProof,
  membershipProof,
  membershipRoot,
  verifyMembership,
} from "../src/membership/index.js";
import { LINEAR_LOOKUPS, RoundMembers } from "../src/registration/round-members.js";
import {
  collectTreeNodes,
  createBlake3MembershipHasher,
  partialTreeProofPositions,
  treeHeight,
} from "../src/verify/index.js";
import { PackedMembers } from "../src/wire/index.js";
import { prng } from "./helpers/prng.js";
import { turnCounter } from "./helpers/turn-counter.js";

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex");

function packed(count: number, seed: number): PackedMembers {
  const random = prng(seed);
  const bytes = new Uint8Array(32 * count);
  for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(random() * 256);
  return new PackedMembers(bytes);
}

/** Multi-leaf proof nodes the long way: every level of the whole tree, reduced in place. */
function referenceMultiProof(list: PackedMembers, indices: number[]): Uint8Array[] {
  const hasher = createBlake3MembershipHasher();
  const n = list.length;
  const level = new Uint8Array(32 * (n + 1));
  level.set(list.bytes);
  const positions = partialTreeProofPositions(
    indices.map((i) => BigInt(i)),
    treeHeight(BigInt(n)),
  );
  const parents = new Uint8Array(32 * Math.ceil(n / 2));
  return collectTreeNodes(level, n, positions, (nodes, count) => {
    const pairs = Math.ceil(count / 2);
    hasher.hashPairs(nodes, pairs, parents);
    nodes.set(parents.subarray(0, 32 * pairs));
  }).nodes;
}

describe("MembershipTree", () => {
  it("has the root and paths of the membership tree, for every size around the kept levels", async () => {
    for (const n of [0, 1, 2, 3, 5, 63, 64, 65, 127, 128, 129, 200, 1000, 4097]) {
      const list = packed(n, n + 1);
      const members = list.toArray();
      const tree = await MembershipTree.build(list, { sliceSize: 100 });
      assert.equal(hex(tree.root), hex(membershipRoot(members)), `root of ${n}`);
      assert.equal(hex(membershipRoot(list)), hex(membershipRoot(members)), `packed root of ${n}`);
      const random = prng(n);
      const picks = new Set([0, n - 1, Math.floor(n / 2), Math.floor(random() * n)]);
      for (const i of picks) {
        if (i < 0 || i >= n) continue;
        const path = tree.path(i);
        assert.deepEqual(
          path.nodes.map(hex),
          membershipProof(members, i).nodes.map(hex),
          `${n}/${i}`,
        );
        if (n > 1) assert.ok(verifyMembership(tree.root, [i], [members[i]!], path.nodes));
      }
      assert.throws(() => tree.path(n), RangeError);
    }
  });

  it("gives the nodes of multi-leaf proofs, below and above the kept levels", () => {
    for (const n of [2, 3, 64, 65, 130, 1000, 4097]) {
      const list = packed(n, 100 + n);
      const random = prng(n + 7);
      const picks = [
        ...new Set([0, n - 1, ...Array.from({ length: 5 }, () => Math.floor(random() * n))]),
      ].sort((a, b) => a - b);
      const proof = membershipMultiProof(list, picks);
      assert.deepEqual(proof.nodes.map(hex), referenceMultiProof(list, picks).map(hex), `${n}`);
      const leaves = picks.map((i) => list.at(i)!.slice());
      assert.ok(verifyMembership(membershipRoot(list), picks, leaves, proof.nodes), `${n}`);
    }
  });

  it("is the same tree built in one go and in slices", async () => {
    const list = packed(3_001, 13);
    const sliced = await MembershipTree.build(list, { sliceSize: 64, pause: async () => {} });
    const whole = MembershipTree.buildSync(list.toArray());
    assert.equal(hex(sliced.root), hex(whole.root));
    assert.deepEqual(sliced.path(2_999).nodes.map(hex), whole.path(2_999).nodes.map(hex));
  });

  it("hashes in slices with the caller's pause between them", async () => {
    const list = packed(20_000, 7);
    let pauses = 0;
    const tree = await MembershipTree.build(list, {
      sliceSize: 1_000,
      pause: async () => {
        pauses++;
      },
    });
    // 20,000 leaves hashed 64 at a time in slices of 1,000 hashes, then the upper levels.
    assert.ok(pauses >= 20, `${pauses} pauses`);
    assert.equal(hex(tree.root), hex(membershipRoot(list.toArray())));
  });

  it("stops between slices when its signal fires", async () => {
    const controller = new AbortController();
    await assert.rejects(
      MembershipTree.build(packed(5_000, 8), {
        sliceSize: 500,
        signal: controller.signal,
        pause: async () => controller.abort(),
      }),
      AbortedError,
    );
  });
});

describe("MemberIndex", () => {
  it("finds the first position of a member and nothing else", async () => {
    const list = packed(3_000, 9);
    const bytes = list.bytes.slice();
    bytes.copyWithin(32 * 2000, 32 * 17, 32 * 18); // member 2000 repeats member 17
    const withDuplicate = new PackedMembers(bytes);
    for (const seed of [0, 1, 0x7fffffff]) {
      const index = await MemberIndex.build(withDuplicate, { seed, sliceSize: 256 });
      for (const i of [0, 5, 17, 1999, 2001, 2999]) {
        assert.equal(index.indexOf(withDuplicate.at(i)!.slice()), i);
      }
      assert.equal(index.indexOf(withDuplicate.at(2000)!.slice()), 17);
      assert.equal(index.indexOf(new Uint8Array(32).fill(0xee)), -1);
      assert.equal(index.indexOf(new Uint8Array(31)), -1);
    }
  });

  it("stays correct when every member is the same", async () => {
    const same = new PackedMembers(new Uint8Array(32 * 5_000).fill(3));
    const index = await MemberIndex.build(same, { seed: 5 });
    assert.equal(index.indexOf(new Uint8Array(32).fill(3)), 0);
  });

  it("reads members that do not start on a 4-byte boundary", async () => {
    const source = packed(10, 10);
    const shifted = new Uint8Array(32 * 10 + 1);
    shifted.set(source.bytes, 1);
    const list = new PackedMembers(shifted.subarray(1));
    const index = await MemberIndex.build(list, { seed: 1 });
    assert.equal(index.indexOf(source.at(9)!.slice()), 9);
  });
});

describe("RoundMembers of a big round", () => {
  it("builds the tree once in slices that let other work run, then answers every identity", async () => {
    const n = 250_000;
    const list = packed(n, 11);
    // Other work on the event loop: counts the turns it gets while the round is prepared.
    let turns = 0;
    let running = true;
    const ticker = (async () => {
      while (running) {
        turns++;
        await yieldToEventLoop();
      }
    })();
    const round = await RoundMembers.build(list);
    const treeSlices = round.slices;
    // 250,000 leaves hashed 16,384 at a time: at least 15 slices, each followed by a turn of
    // the event loop.
    assert.ok(treeSlices >= 15, `${treeSlices} slices`);
    assert.ok(turns >= treeSlices / 2, `${turns} turns for ${treeSlices} slices`);
    assert.equal(hex(round.root), hex(membershipRoot(list.toArray())));
    // The first lookups scan; later ones build the index once (in slices too) and use it.
    const picks = Array.from({ length: LINEAR_LOOKUPS + 4 }, (_, k) => (k * 20_011) % n);
    picks.push(n - 1);
    for (const [k, i] of picks.entries()) {
      const member = list.at(i)!.slice();
      assert.equal(await round.indexOf(member), i);
      assert.equal(round.indexed, k >= LINEAR_LOOKUPS, `lookup ${k}`);
      const proof = round.proofFor(i);
      assert.equal(proof.leafIndex, BigInt(i));
      assert.ok(verifyMembership(round.root, [i], [member], proof.nodes));
    }
    running = false;
    await ticker;
    assert.ok(round.slices >= treeSlices + 15, `${round.slices} slices with the index`);
    assert.equal(await round.indexOf(new Uint8Array(32).fill(0xab)), -1);
  });

  it("runs one slice per turn of the event loop for all rounds prepared at once", async () => {
    const rounds = [packed(4_096, 21), packed(4_096, 22), packed(4_096, 23)];
    const counter = turnCounter();
    const built = await Promise.all(
      rounds.map((list) => RoundMembers.build(list, { sliceSize: 256 })),
    );
    counter.stop();
    const slices = built.reduce((sum, round) => sum + round.slices, 0);
    // 4,095 hashes per tree, 256 at a time: at least 15 pauses each. Each round on its own would
    // yield as often, but the three would share their turns; taking turns, they need one turn per
    // slice.
    assert.ok(slices >= 3 * 15, `${slices} slices`);
    assert.ok(counter.turn >= slices, `${counter.turn} turns for ${slices} slices`);
    for (const [k, round] of built.entries()) {
      assert.equal(hex(round.root), hex(membershipRoot(rounds[k]!.toArray())));
    }
  });

  it("finds the first of repeated members by scan and by index alike", async () => {
    const bytes = packed(1_000, 12).bytes;
    bytes.copyWithin(32 * 900, 32 * 30, 32 * 31);
    const round = await RoundMembers.build(new PackedMembers(bytes));
    const repeated = bytes.slice(32 * 900, 32 * 901);
    for (let k = 0; k < LINEAR_LOOKUPS + 2; k++) assert.equal(await round.indexOf(repeated), 30);
    assert.equal(round.indexed, true);
  });
});
