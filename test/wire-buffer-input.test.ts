import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { decodeMembershipProof } from "../src/wire/index.js";
import { ScaleReader } from "../src/wire/scale.js";

describe("decoded bytes do not share memory with a Buffer input", () => {
  it("bytes() and fixedBytes() return plain Uint8Array copies", () => {
    // compact(3) ‖ 3 bytes ‖ 2 fixed bytes
    const input = Buffer.from([3 << 2, 1, 2, 3, 4, 5]);
    const reader = new ScaleReader(input);
    const slice = reader.bytes("slice", 8);
    const fixed = reader.fixedBytes("fixed", 2);
    reader.end("value");
    assert.equal(Object.getPrototypeOf(slice), Uint8Array.prototype);
    assert.equal(Object.getPrototypeOf(fixed), Uint8Array.prototype);
    input.fill(0xff);
    assert.deepEqual([...slice], [1, 2, 3]);
    assert.deepEqual([...fixed], [4, 5]);
  });

  it("a membership proof decoded from a Buffer keeps its nodes when the Buffer is reused", () => {
    const input = Buffer.concat([Buffer.from([1 << 2]), Buffer.alloc(32, 0xaa), Buffer.from([0])]);
    const proof = decodeMembershipProof(input);
    input.fill(0);
    assert.equal(Object.getPrototypeOf(proof.nodes[0]), Uint8Array.prototype);
    assert.deepEqual(proof.nodes[0], new Uint8Array(32).fill(0xaa));
  });
});
