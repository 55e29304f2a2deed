import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { create, toBinary } from "@bufbuild/protobuf";
import { WireFormatError } from "../src/errors.js";
import {
  MerkleProofSchema,
  PoetProofSchema,
  ProofResponseSchema,
} from "../src/gen/rpc/api/v1/api_pb.js";
import { PackedMembers, ProofResponseProtoReader } from "../src/wire/index.js";
import { prng } from "./helpers/prng.js";

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex");

function members(count: number, seed: number): Uint8Array[] {
  const random = prng(seed);
  return Array.from({ length: count }, () =>
    Uint8Array.from({ length: 32 }, () => Math.floor(random() * 256)),
  );
}

function message(list: readonly Uint8Array[], leaves = 1234n): Uint8Array {
  return toBinary(
    ProofResponseSchema,
    create(ProofResponseSchema, {
      proof: create(PoetProofSchema, {
        proof: create(MerkleProofSchema, {
          root: new Uint8Array(32).fill(1),
          provenLeaves: [new Uint8Array(32).fill(2)],
          proofNodes: [new Uint8Array(32).fill(3), new Uint8Array(32).fill(5)],
        }),
        members: [...list],
        leaves,
      }),
      pubkey: new Uint8Array(32).fill(4),
    }),
  );
}

/** Reads `bytes` pushed in the given chunk sizes (cycled). */
function read(bytes: Uint8Array, sizes: readonly number[] = [bytes.length], expected = true) {
  const reader = new ProofResponseProtoReader(expected ? { expectedBytes: bytes.length } : {});
  let at = 0;
  for (let i = 0; at < bytes.length; i++) {
    const size = sizes[i % sizes.length] as number;
    reader.push(bytes.subarray(at, at + size));
    at += size;
  }
  return reader.finish();
}

function rejectsWire(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof WireFormatError, `expected WireFormatError, got ${String(err)}`);
    assert.match(err.message, pattern);
    return true;
  });
}

function assertSame(out: ReturnType<typeof read>, list: readonly Uint8Array[], leaves = 1234n) {
  assert.ok(out.members instanceof PackedMembers);
  assert.deepEqual(out.members.map(hex), list.map(hex));
  assert.equal(out.response.proof?.leaves, leaves);
  assert.equal(out.response.proof?.members.length, 0);
  assert.equal(hex(out.response.pubkey), "04".repeat(32));
  assert.equal(hex(out.response.proof?.proof?.root ?? new Uint8Array()), "01".repeat(32));
  assert.deepEqual(out.response.proof?.proof?.proofNodes.map(hex), [
    "03".repeat(32),
    "05".repeat(32),
  ]);
  assert.equal(out.oddMembers, undefined);
}

describe("ProofResponseProtoReader", () => {
  it("packs the members and decodes every other field like fromBinary", () => {
    const list = members(50, 1);
    assertSame(read(message(list)), list);
  });

  it("gives the same answer wherever the chunks are cut", () => {
    const list = members(9, 2);
    // A leaf count whose varint is several bytes long, so cuts fall inside it too.
    const bytes = message(list, 2n ** 40n + 7n);
    for (const sizes of [[1], [2], [3], [5, 7], [33], [34], [35], [100, 1]]) {
      assertSame(read(bytes, sizes), list, 2n ** 40n + 7n);
    }
  });

  it("reads the fields in any order, a proof given twice (merged) and unknown fields", () => {
    const list = members(4, 3);
    const whole = message(list);
    const decoded = read(whole);
    assert.equal(decoded.members.length, 4);
    // pubkey first, then the proof split in two `proof` fields, then an unknown varint field 9
    // and an unknown fixed64 field 10.
    const first = toBinary(
      ProofResponseSchema,
      create(ProofResponseSchema, {
        proof: create(PoetProofSchema, { members: list.slice(0, 2), leaves: 1234n }),
      }),
    );
    const second = toBinary(
      ProofResponseSchema,
      create(ProofResponseSchema, {
        proof: create(PoetProofSchema, {
          proof: create(MerkleProofSchema, {
            root: new Uint8Array(32).fill(1),
            provenLeaves: [new Uint8Array(32).fill(2)],
            proofNodes: [new Uint8Array(32).fill(3), new Uint8Array(32).fill(5)],
          }),
          members: list.slice(2),
        }),
      }),
    );
    const pubkey = toBinary(
      ProofResponseSchema,
      create(ProofResponseSchema, { pubkey: new Uint8Array(32).fill(4) }),
    );
    const unknown = Uint8Array.of(9 << 3, 0x96, 0x01, (10 << 3) | 1, 1, 2, 3, 4, 5, 6, 7, 8);
    const bytes = Buffer.concat([pubkey, first, unknown, second]);
    for (const sizes of [[bytes.length], [1], [6]]) assertSame(read(bytes, sizes), list);
  });

  it("reads an answer without members, or without a proof", () => {
    const empty = read(message([]));
    assert.equal(empty.members.length, 0);
    assert.equal(empty.response.proof?.leaves, 1234n);
    const none = read(new Uint8Array(0));
    assert.equal(none.response.proof, undefined);
    assert.equal(none.members.length, 0);
  });

  it("counts members that are not 32 bytes instead of keeping them", () => {
    const list = members(5, 4);
    const odd = [list[0]!, new Uint8Array(31), list[1]!, new Uint8Array(0), list[2]!];
    const out = read(message(odd), [7]);
    assert.deepEqual(out.members.map(hex), [list[0]!, list[1]!, list[2]!].map(hex));
    assert.deepEqual(out.oddMembers, { count: 2, total: 5, first: 1, firstLength: 31 });
  });

  it("grows its buffer when the size was not announced", () => {
    const list = members(3000, 5);
    const out = read(message(list), [4096], false);
    assert.equal(out.members.length, 3000);
    assert.equal(hex(out.members.at(2999)!), hex(list[2999]!));
  });

  it("refuses malformed input with a WireFormatError", () => {
    const bytes = message(members(3, 6));
    rejectsWire(() => read(bytes.subarray(0, bytes.length - 5)), /ends early/);
    rejectsWire(() => read(bytes.subarray(0, 40)), /ends early/);
    // A member that claims more bytes than its proof holds.
    const overrun = Uint8Array.of(0x0a, 3, 0x12, 32, 0);
    rejectsWire(() => read(overrun), /runs past the end of the proof/);
    // A varint field cut by the end of the proof.
    rejectsWire(() => read(Uint8Array.of(0x0a, 2, 0x18, 0x80, 0x01)), /runs past the end/);
    rejectsWire(() => read(Uint8Array.of(0x00, 1)), /field number 0/);
    rejectsWire(() => read(Uint8Array.of((3 << 3) | 3)), /wire type 3/);
    rejectsWire(() => read(Uint8Array.of(0x10, ...new Array(11).fill(0x80))), /longer than 10/);
    // The pubkey as a varint: fromBinary refuses the wire type.
    rejectsWire(() => read(Uint8Array.of(0x10, 5)), /not a valid message/);
    const reader = new ProofResponseProtoReader();
    reader.finish();
    rejectsWire(() => reader.push(Uint8Array.of(1)), /after the end/);
  });

  it("caps the bytes outside the members", () => {
    const bytes = message(members(100, 7));
    const reader = new ProofResponseProtoReader({ maxOtherBytes: 100 });
    rejectsWire(() => reader.push(bytes), /more than 100 bytes outside proof.members/);
    // The members themselves do not count.
    const small = new ProofResponseProtoReader({ maxOtherBytes: 250 });
    small.push(bytes);
    assert.equal(small.finish().members.length, 100);
  });
});
