import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ripemd256 } from "../src/auth/index.js";
import { hex, utf8 } from "./helpers/bytes.js";

// The published RIPEMD-256 test vectors (the RIPEMD authors' page; the first three also appear in
// the Go package the PoET uses for its proof of work).
const VECTORS: [string, string][] = [
  ["", "02ba4c4e5f8ecd1877fc52d64d30e37a2d9774fb1e5d026380ae0168e3c5522d"],
  ["a", "f9333e45d857f5d90a91bab70a1eba0cfb1be4b0783c9acfcd883a9134692925"],
  ["abc", "afbd6e228b9d8cbbcef5ca2d03e6dba10ac0bc7dcbe4680e1e42d2e975459b65"],
  ["message digest", "87e971759a1ce47a514d5c914c392c9018c7c46bc14465554afcdf54a5070c0e"],
  [
    "abcdefghijklmnopqrstuvwxyz",
    "649d3034751ea216776bf9a18acc81bc7896118a5197968782dd1fd97d8d5133",
  ],
  [
    "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
    "3843045583aac6c8c8d9128573e7a9809afb2a0f34ccc36ea9e72f16f6368e3f",
  ],
  [
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
    "5740a408ac16b720b84424ae931cbb1fe363d1d0bf4017f1a89f7ea6de77a0b8",
  ],
  ["1234567890".repeat(8), "06fdcc7a409548aaf91368c06a6275b553e3f099bf0ea4edfd6778df89a890dd"],
  ["123", "8536753ad7bface2dba89fb318c95b1b42890016057d4c3a2f351cec3acbb28b"],
  ["123456", "77093b1266befed58d512e67b3a8a15398c3ce5c1333d66a190becc9baa329e9"],
];

describe("ripemd256", () => {
  for (const [input, digest] of VECTORS) {
    it(`hashes ${JSON.stringify(input.length > 20 ? `${input.slice(0, 20)}…` : input)} to the published digest`, () => {
      assert.equal(hex(ripemd256(utf8(input))), digest);
    });
  }

  it("hashes a million 'a' to the published digest", () => {
    const input = new Uint8Array(1_000_000).fill(0x61);
    assert.equal(
      hex(ripemd256(input)),
      "ac953744e10e31514c150d4d8d7b677342e33399788296e43ae4850ce4f97978",
    );
  });

  it("returns 32 bytes for inputs on every padding boundary", () => {
    const seen = new Set<string>();
    for (let length = 50; length <= 130; length++) {
      const digest = ripemd256(new Uint8Array(length).fill(7));
      assert.equal(digest.length, 32);
      seen.add(hex(digest));
    }
    assert.equal(seen.size, 81);
  });
});
