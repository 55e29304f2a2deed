import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { WireFormatError } from "../src/errors.js";
import { PackedMembers, ProofResponseJsonReader } from "../src/wire/index.js";
import { prng } from "./helpers/prng.js";

const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString("base64");
const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex");

function members(count: number, seed: number): Uint8Array[] {
  const random = prng(seed);
  return Array.from({ length: count }, () =>
    Uint8Array.from({ length: 32 }, () => Math.floor(random() * 256)),
  );
}

function body(list: readonly Uint8Array[], encode: (m: Uint8Array) => string = b64): string {
  return JSON.stringify({
    proof: {
      proof: {
        root: b64(new Uint8Array(32).fill(1)),
        provenLeaves: [b64(new Uint8Array(32).fill(2))],
        proofNodes: [b64(new Uint8Array(32).fill(3))],
      },
      members: list.map(encode),
      leaves: "1234",
    },
    pubkey: b64(new Uint8Array(32).fill(4)),
  });
}

/** Reads `text` pushed in the given chunk sizes (cycled). */
function read(text: string | Uint8Array, sizes: readonly number[] = [text.length]) {
  const bytes = typeof text === "string" ? new TextEncoder().encode(text) : text;
  const reader = new ProofResponseJsonReader({ expectedBytes: bytes.length });
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

describe("ProofResponseJsonReader", () => {
  it("packs the members and keeps every other field for the protobuf reader", () => {
    const list = members(50, 1);
    const out = read(body(list));
    assert.ok(out.members instanceof PackedMembers);
    assert.deepEqual(out.members.map(hex), list.map(hex));
    assert.equal(out.response.proof?.leaves, 1234n);
    assert.equal(out.response.proof?.members.length, 0);
    assert.equal(hex(out.response.pubkey), "04".repeat(32));
    assert.equal(
      hex(out.response.proof?.proof?.proofNodes[0] ?? new Uint8Array()),
      "03".repeat(32),
    );
    assert.equal(out.oddMembers, undefined);
  });

  it("gives the same answer wherever the chunks are cut: inside base64, escapes, keys and numbers", () => {
    const list = members(7, 2);
    // Escapes and the URL-safe alphabet, no padding, odd spacing: every path of the lexer.
    const encode = (m: Uint8Array, i: number) => {
      const text = b64(m);
      if (i === 1) return text.replace(/=+$/, "");
      if (i === 2) return text.replace(/\+/g, "-").replace(/\//g, "_");
      return text;
    };
    let json = body(list, (m) => encode(m, list.indexOf(m)));
    json = json.replace('"members":[', '"members" :\n [ ').replace(
      `"${b64(list[3] as Uint8Array)}"`,
      `"${b64(list[3] as Uint8Array)
        .replace(/\//g, "\\/")
        .replace(/\+/g, "\\u002b")}"`,
    );
    const whole = read(json);
    assert.deepEqual(whole.members.map(hex), list.map(hex));
    for (let size = 1; size <= 48; size++) {
      const out = read(json, [size]);
      assert.deepEqual(out.members.map(hex), list.map(hex), `chunks of ${size}`);
      assert.equal(out.response.proof?.leaves, 1234n);
    }
    const random = prng(3);
    for (let trial = 0; trial < 50; trial++) {
      const sizes = Array.from({ length: 9 }, () => 1 + Math.floor(random() * 90));
      assert.deepEqual(read(json, sizes).members.map(hex), list.map(hex), `sizes ${sizes}`);
    }
  });

  it("accepts the members anywhere in the proof object, the name spellings and unknown fields", () => {
    const list = members(3, 4);
    const json = `{"pubkey":"${b64(new Uint8Array(32))}","extra":{"members":["AA=="]},"proof":{"leaves":5,"members":[${list
      .map((m) => `"${b64(m)}"`)
      .join(
        ",",
      )}],"proof":{"root":"${b64(new Uint8Array(32))}","proven_leaves":[],"proof_nodes":[]}}}`;
    const out = read(json, [5]);
    assert.deepEqual(out.members.map(hex), list.map(hex));
    assert.equal(out.response.proof?.leaves, 5n);
  });

  it("reads an empty or null member list", () => {
    assert.equal(read(body([])).members.length, 0);
    assert.equal(read('{"proof":{"members":null,"leaves":"1"},"pubkey":""}').members.length, 0);
    assert.equal(read('{"proof":null}').members.length, 0);
  });

  it("counts members that are not 32 bytes instead of keeping them", () => {
    const list = members(4, 5);
    const json = body(list).replace(
      `"${b64(list[1] as Uint8Array)}"`,
      `"${b64(new Uint8Array(14))}"`,
    );
    const out = read(json, [7]);
    assert.deepEqual(out.oddMembers, { count: 1, total: 4, first: 1, firstLength: 14 });
    assert.equal(out.members.length, 3);
    const long = read(body([new Uint8Array(40), ...list]));
    assert.deepEqual(long.oddMembers, { count: 1, total: 5, first: 0, firstLength: 40 });
  });

  it("grows its buffer when the size was not announced", () => {
    const list = members(3000, 6);
    const bytes = new TextEncoder().encode(body(list));
    const reader = new ProofResponseJsonReader();
    for (let at = 0; at < bytes.length; at += 1000) reader.push(bytes.subarray(at, at + 1000));
    const out = reader.finish();
    assert.equal(out.members.length, 3000);
    assert.equal(hex(out.members.at(2999) as Uint8Array), hex(list[2999] as Uint8Array));
    assert.equal(out.members.bytes.length, 32 * 3000);
  });

  it("refuses malformed input with a WireFormatError", () => {
    const list = members(2, 7);
    const good = body(list);
    const cases: [string, RegExp][] = [
      [good.slice(0, good.length - 10), /ends early/],
      [good.slice(0, good.indexOf('"members":[') + 20), /ends early/],
      [good.replace('"members":[', '"members":[1,'), /expected a base64 string/],
      [good.replace('"members":[', '"members":[null,'), /expected a base64 string/],
      [good.replace(`"${b64(list[0] as Uint8Array)}"`, '"AB*D"'), /not base64: the character "\*"/],
      [good.replace(`"${b64(list[0] as Uint8Array)}"`, '"AB=C"'), /data after '=' padding/],
      [good.replace(`"${b64(list[0] as Uint8Array)}"`, '"A"'), /base64 length/],
      [good.replace(`"${b64(list[0] as Uint8Array)}"`, '"AA==="'), /padding/],
      [good.replace(`"${b64(list[0] as Uint8Array)}"`, '"\\n"'), /escape/],
      [good.replace('],"leaves"', ' 5],"leaves"'), /expected ',' or '\]'/],
      [good.replace(',"leaves"', ',"members":[],"leaves"'), /given twice/],
      [good.replace('"leaves":"1234"', '"leaves":"x"'), /leaves|ProofResponse/],
      [`${good}}`, /unexpected '\}'/],
      [`${good} {}`, /invalid JSON/],
      ["", /ends early|invalid JSON/],
    ];
    for (const [json, pattern] of cases) {
      for (const size of [1, 3, json.length || 1]) rejectsWire(() => read(json, [size]), pattern);
    }
    // Not UTF-8 outside the members.
    const marked = good.replace('"1234"', '"12X4"');
    const bytes = new TextEncoder().encode(marked);
    bytes[marked.indexOf('"12X4"') + 3] = 0xff;
    rejectsWire(() => read(bytes), /not UTF-8/);
  });

  it("caps the JSON outside the members", () => {
    const json = body(members(1, 8)).replace(
      '"leaves"',
      `"padding":"${"x".repeat(5000)}","leaves"`,
    );
    const reader = new ProofResponseJsonReader({ maxOtherBytes: 1000 });
    rejectsWire(() => reader.push(new TextEncoder().encode(json)), /more than 1000 bytes/);
  });
});

describe("PackedMembers", () => {
  it("packs, reads and copies members", () => {
    const list = members(3, 9);
    const packed = PackedMembers.from(list);
    assert.equal(packed.length, 3);
    assert.equal(hex(packed.at(1) as Uint8Array), hex(list[1] as Uint8Array));
    assert.equal(packed.at(3), undefined);
    assert.deepEqual([...packed].map(hex), list.map(hex));
    const copies = packed.toArray();
    const first = copies[0] as Uint8Array;
    first[0] = (first[0] as number) ^ 1;
    assert.equal(hex(packed.at(0) as Uint8Array), hex(list[0] as Uint8Array));
    assert.throws(() => PackedMembers.from([new Uint8Array(31)]), WireFormatError);
    assert.throws(() => new PackedMembers(new Uint8Array(33)), WireFormatError);
  });
});
