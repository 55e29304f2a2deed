import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { MAX_U64, ScaleReader, ScaleWriter } from "../src/wire/index.js";
import { rejects } from "./helpers/wire-format-error.js";

const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");
const bytes = (h: string): Uint8Array => new Uint8Array(Buffer.from(h, "hex"));

function encodeCompact(v: bigint): string {
  return hex(new ScaleWriter().compact("v", v).finish());
}

describe("ScaleWriter.compact / ScaleReader.compact", () => {
  const known: [bigint, string][] = [
    [0n, "00"],
    [1n, "04"],
    [63n, "fc"],
    [64n, "0101"],
    [16383n, "fdff"],
    [16384n, "02000100"],
    [(1n << 30n) - 1n, "feffffff"],
    [1n << 30n, "0300000040"],
    [1735689600n, "0380857467"],
    [(1n << 32n) - 1n, "03ffffffff"],
    [1n << 32n, "070000000001"],
    [86831894949n, "07a591953714"],
    [1n << 56n, "1300000000000000" + "01"],
    [MAX_U64, "13ffffffffffffffff"],
  ];

  it("writes each value in its one canonical form", () => {
    for (const [v, h] of known) assert.equal(encodeCompact(v), h, `value ${v}`);
  });

  it("reads every canonical form back to the same value", () => {
    for (const [v, h] of known) {
      const reader = new ScaleReader(bytes(h));
      assert.equal(reader.compact("v"), v);
      reader.end("v");
    }
  });

  it("round-trips values around every mode boundary", () => {
    const values: bigint[] = [];
    for (const b of [6n, 14n, 30n, 32n, 40n, 48n, 56n, 64n]) {
      const edge = 1n << b;
      values.push(edge - 2n, edge - 1n);
      if (b < 64n) values.push(edge, edge + 1n);
    }
    for (const v of values) {
      const encoded = new ScaleWriter().compact("v", v).finish();
      assert.equal(new ScaleReader(encoded).compact("v"), v, `value ${v}`);
    }
  });

  it("accepts safe-integer numbers as well as bigints", () => {
    assert.equal(hex(new ScaleWriter().compact("v", 150).finish()), "5902");
  });

  it("rejects an over-long 2-byte form naming the field", () => {
    rejects(() => new ScaleReader(bytes("fd00")).compact("X.len"), "X.len", /non-canonical/);
  });

  it("rejects an over-long 4-byte form", () => {
    rejects(() => new ScaleReader(bytes("feff0000")).compact("X.a"), "X.a", /non-canonical/);
  });

  it("rejects a big-integer form for a value below 2^30", () => {
    rejects(() => new ScaleReader(bytes("03ffffff3f")).compact("X.b"), "X.b", /non-canonical/);
  });

  it("rejects a big-integer form with a zero top byte", () => {
    rejects(() => new ScaleReader(bytes("070000004000")).compact("X.c"), "X.c", /non-canonical/);
  });

  it("rejects a header announcing more than 8 bytes", () => {
    rejects(
      () => new ScaleReader(bytes(`17${"ff".repeat(9)}`)).compact("X.d"),
      "X.d",
      /announces 9 bytes/,
    );
  });

  it("rejects truncated compact integers in every mode", () => {
    for (const h of ["", "01", "020000", "03ffffff", "13ffffffffffffff"]) {
      rejects(() => new ScaleReader(bytes(h)).compact("X.t"), "X.t", /truncated/);
    }
  });

  it("refuses to write values outside the u64 range", () => {
    rejects(() => new ScaleWriter().compact("X.big", MAX_U64 + 1n), "X.big", /u64 range/);
    rejects(() => new ScaleWriter().compact("X.neg", -1n), "X.neg", /u64 range/);
    rejects(() => new ScaleWriter().compact("X.n", 2 ** 60), "X.n", /safe integer/);
  });
});

describe("ScaleReader and ScaleWriter", () => {
  it("round-trips fixed-width u64 little-endian", () => {
    const encoded = new ScaleWriter().u64("x", 0x0102030405060708n).u64("y", MAX_U64).finish();
    assert.equal(hex(encoded), "0807060504030201ffffffffffffffff");
    const reader = new ScaleReader(encoded);
    assert.equal(reader.u64("x"), 0x0102030405060708n);
    assert.equal(reader.u64("y"), MAX_U64);
    reader.end("t");
  });

  it("round-trips byte slices with their compact length", () => {
    const value = new Uint8Array(32).fill(7);
    const encoded = new ScaleWriter()
      .bytes("b", value, 32)
      .bytes("e", new Uint8Array(), 32)
      .finish();
    assert.equal(hex(encoded.subarray(0, 1)), "80");
    assert.equal(encoded.length, 34);
    const reader = new ScaleReader(encoded);
    assert.deepEqual(reader.bytes("b", 32), value);
    assert.deepEqual(reader.bytes("e", 32), new Uint8Array());
    reader.end("t");
  });

  it("rejects a byte slice longer than its limit on both sides", () => {
    rejects(
      () => new ScaleWriter().bytes("C.pubkey", new Uint8Array(33), 32),
      "C.pubkey",
      /33 exceeds the limit of 32/,
    );
    const encoded = new ScaleWriter().bytes("b", new Uint8Array(33), 64).finish();
    rejects(() => new ScaleReader(encoded).bytes("C.pubkey", 32), "C.pubkey", /33 exceeds/);
  });

  it("rejects a length prefix larger than the input before allocating", () => {
    rejects(() => new ScaleReader(bytes("fdff01")).bytes("B", 20000), "B", /truncated/);
    rejects(() => new ScaleReader(bytes("13ffffffffffffffff")).bytes("B", 32), "B", /exceeds/);
  });

  it("names each list item by its index", () => {
    const w = new ScaleWriter().list("L", [1n, 2n, 3n], 4, (wr, v, f) => wr.compact(f, v));
    const encoded = w.finish();
    assert.equal(hex(encoded), "0c04080c");
    assert.deepEqual(
      new ScaleReader(encoded).list("L", 4, (r, f) => r.compact(f)),
      [1n, 2n, 3n],
    );
    rejects(
      () => new ScaleReader(encoded.subarray(0, 3)).list("L", 4, (r, f) => r.compact(f)),
      "L[2]",
      /truncated/,
    );
  });

  it("rejects lists over their count limit", () => {
    rejects(
      () => new ScaleWriter().list("L", [1, 2, 3], 2, () => {}),
      "L",
      /3 exceeds the limit of 2/,
    );
    rejects(
      () => new ScaleReader(bytes("0c04080c")).list("L", 2, (r, f) => r.compact(f)),
      "L",
      /3 exceeds the limit of 2/,
    );
  });

  it("reads fixed-size byte arrays and rejects wrong sizes when writing", () => {
    const reader = new ScaleReader(bytes("aabbcc"));
    assert.equal(hex(reader.fixedBytes("F", 3)), "aabbcc");
    rejects(() => new ScaleWriter().fixedBytes("F", new Uint8Array(31), 32), "F", /exactly 32/);
    rejects(() => new ScaleReader(bytes("aabb")).fixedBytes("F", 3), "F", /truncated/);
  });

  it("writes option tags and reads them strictly or leniently", () => {
    const some = new ScaleWriter().option("O", 5n, (w, v, f) => w.compact(f, v)).finish();
    const none = new ScaleWriter().option<bigint>("O", undefined, () => {}).finish();
    assert.equal(hex(some), "0114");
    assert.equal(hex(none), "00");
    assert.equal(
      new ScaleReader(some).option("O", (r, f) => r.compact(f)),
      5n,
    );
    assert.equal(
      new ScaleReader(none).option("O", (r, f) => r.compact(f)),
      undefined,
    );
    rejects(
      () => new ScaleReader(bytes("02")).option("O", (r, f) => r.compact(f)),
      "O",
      /option tag must be 0 or 1/,
    );
    assert.equal(
      new ScaleReader(bytes("02")).option("O", (r, f) => r.compact(f), { lenient: true }),
      undefined,
    );
  });

  it("reports trailing bytes", () => {
    const reader = new ScaleReader(bytes("0400"));
    reader.compact("x");
    assert.equal(reader.remaining, 1);
    rejects(() => reader.end("Thing"), "Thing", /1 trailing byte/);
  });

  it("grows its buffer past the initial capacity", () => {
    const w = new ScaleWriter(1);
    for (let i = 0; i < 1000; i++) w.u8(i);
    const out = w.finish();
    assert.equal(out.length, 1000);
    assert.equal(out[999], 999 & 0xff);
  });
});
