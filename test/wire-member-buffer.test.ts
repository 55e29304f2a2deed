/**
 * The room members stream into (wire/member-buffer.ts): grown a slab at a time, never copied
 * while the announced bound holds, handed over as one contiguous list.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { MEMBER_SLAB_BYTES, MemberBuffer } from "../src/wire/member-buffer.js";
import { prng } from "./helpers/prng.js";

const SLAB_MEMBERS = MEMBER_SLAB_BYTES / 32;

/** Writes `count` seeded members through `room`, keeping what was written. */
function fill(buffer: MemberBuffer, count: number, seed: number): Uint8Array {
  const random = prng(seed);
  const expected = new Uint8Array(32 * count);
  for (let i = 0; i < count; i++) {
    const bytes = buffer.room(i);
    assert.ok(bytes.length >= 32 * (i + 1));
    for (let b = 0; b < 32; b++) {
      const value = Math.floor(random() * 256);
      bytes[32 * i + b] = value;
      expected[32 * i + b] = value;
    }
  }
  return expected;
}

describe("MemberBuffer", () => {
  it("grows one slab at a time and hands over exactly the members written", () => {
    const count = 2 * SLAB_MEMBERS + 5;
    const buffer = new MemberBuffer(3 * SLAB_MEMBERS);
    assert.equal(buffer.room(0).length, MEMBER_SLAB_BYTES);
    const expected = fill(buffer, count, 1);
    assert.equal(buffer.room(count - 1).length, 3 * MEMBER_SLAB_BYTES);
    const members = buffer.take(count);
    assert.equal(members.length, count);
    assert.equal(members.bytes.length, 32 * count);
    assert.deepEqual(members.bytes, expected);
    assert.deepEqual(members.at(count - 1), expected.subarray(32 * (count - 1)));
  });

  it("keeps the members written when they outgrow the announced bound", () => {
    const count = SLAB_MEMBERS + 3;
    const buffer = new MemberBuffer(10);
    const expected = fill(buffer, count, 2);
    assert.deepEqual(buffer.take(count).bytes, expected);
  });

  it("works without an announced bound, and for no members", () => {
    const buffer = new MemberBuffer();
    const expected = fill(buffer, 100, 3);
    assert.deepEqual(buffer.take(100).bytes, expected);
    const empty = new MemberBuffer(0).take(0);
    assert.equal(empty.length, 0);
  });
});
