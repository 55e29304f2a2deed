import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import {
  decodeNipostChallenge,
  decodeNipostChallengeV2,
  encodeNipostChallenge,
  encodeNipostChallengeV2,
  type InitialPost,
  type NipostChallenge,
  type NipostChallengeV2,
  nipostChallengeHash,
  nipostChallengeV2Hash,
} from "../src/index.js";
import { hex, unhex } from "./helpers/bytes.js";
import { rejects } from "./helpers/wire-format-error.js";

// Vectors assembled by scripts/nipost-challenge-vectors.py from go-spacemesh v1.7's
// activation/wire layout, with its own BLAKE3 (see test/fixtures/README.md).
interface JsonPost {
  nonce: number;
  indices: string;
  pow: string;
}
interface JsonChallenge {
  publishEpoch: number;
  sequence?: string;
  prevAtx: string;
  positioningAtx: string;
  commitmentAtx?: string;
  initialPost?: JsonPost;
}
interface Vector {
  name: string;
  challenge: JsonChallenge;
  scale: string;
  hash: string;
}
const fixture: { v1: Vector[]; v2: Vector[] } = JSON.parse(
  readFileSync(new URL("./fixtures/nipost-challenge.json", import.meta.url), "utf8"),
);

function post(p: JsonPost | undefined): InitialPost | undefined {
  return p === undefined
    ? undefined
    : { nonce: p.nonce, indices: unhex(p.indices), pow: BigInt(p.pow) };
}

function v1(c: JsonChallenge): NipostChallenge {
  const out: NipostChallenge = {
    publishEpoch: c.publishEpoch,
    sequence: BigInt(c.sequence ?? "0"),
    prevAtx: unhex(c.prevAtx),
    positioningAtx: unhex(c.positioningAtx),
  };
  if (c.commitmentAtx !== undefined) out.commitmentAtx = unhex(c.commitmentAtx);
  if (c.initialPost !== undefined) out.initialPost = post(c.initialPost);
  return out;
}

function v2(c: JsonChallenge): NipostChallengeV2 {
  const out: NipostChallengeV2 = {
    publishEpoch: c.publishEpoch,
    prevAtx: unhex(c.prevAtx),
    positioningAtx: unhex(c.positioningAtx),
  };
  if (c.initialPost !== undefined) out.initialPost = post(c.initialPost);
  return out;
}

const atx = (fill: number) => new Uint8Array(32).fill(fill);

describe("encodeNipostChallenge (NIPostChallengeV1)", () => {
  it("has six vectors computed outside the library", () => {
    assert.equal(fixture.v1.length, 6);
  });

  for (const vector of fixture.v1) {
    it(`encodes, hashes and decodes ${vector.name}`, () => {
      const challenge = v1(vector.challenge);
      assert.equal(hex(encodeNipostChallenge(challenge)), vector.scale);
      assert.equal(hex(nipostChallengeHash(challenge)), vector.hash);
      assert.deepEqual(decodeNipostChallenge(unhex(vector.scale)), challenge);
    });
  }

  it("lays the fields out as go-spacemesh's scale code does (hand-assembled)", () => {
    const challenge: NipostChallenge = {
      publishEpoch: 42, // compact: 42 << 2 = 0xa8
      sequence: 7n, // compact: 0x1c
      prevAtx: atx(0x11),
      positioningAtx: atx(0x22),
      commitmentAtx: atx(0x33), // option: 0x01 ‖ 32 bytes
      initialPost: { nonce: 64, indices: new Uint8Array([0xaa, 0xbb]), pow: 1n },
    };
    const expected =
      "a8" +
      "1c" +
      "11".repeat(32) +
      "22".repeat(32) +
      `01${"33".repeat(32)}` +
      // option tag, nonce 64 (two-byte compact 0x0101), length 2, indices, pow 1
      "01" +
      "0101" +
      "08" +
      "aabb" +
      "04";
    assert.equal(hex(encodeNipostChallenge(challenge)), expected);
  });

  it("writes absent options as one zero byte each: 68 bytes for a small non-initial challenge", () => {
    const bytes = encodeNipostChallenge({
      publishEpoch: 1,
      sequence: 0n,
      prevAtx: atx(1),
      positioningAtx: atx(2),
    });
    assert.equal(bytes.length, 68);
    assert.equal(hex(bytes.subarray(66)), "0000");
  });

  it("hashes with a leading 0x00: the hash differs from BLAKE3 of the bare encoding", async () => {
    const { blake3 } = await import("@noble/hashes/blake3.js");
    const challenge = v1(fixture.v1[1]!.challenge);
    const bare = blake3(encodeNipostChallenge(challenge));
    assert.notEqual(hex(nipostChallengeHash(challenge)), hex(bare));
  });

  it("refuses values Go cannot hold", () => {
    const base = v1(fixture.v1[1]!.challenge);
    rejects(
      () => encodeNipostChallenge({ ...base, publishEpoch: 2 ** 32 }),
      "NipostChallenge.publishEpoch",
      /not a u32/,
    );
    rejects(
      () => encodeNipostChallenge({ ...base, sequence: 1n << 64n }),
      "NipostChallenge.sequence",
      /u64/,
    );
    rejects(
      () => encodeNipostChallenge({ ...base, prevAtx: new Uint8Array(31) }),
      "NipostChallenge.prevAtx",
      /exactly 32 bytes/,
    );
    rejects(
      () =>
        encodeNipostChallenge({
          ...base,
          initialPost: { nonce: 1, indices: new Uint8Array(801), pow: 0n },
        }),
      "NipostChallenge.initialPost.indices",
      /801 exceeds the limit of 800/,
    );
  });

  it("decodes strictly: trailing bytes, bad option tags, u32 overflow and truncation", () => {
    const good = unhex(fixture.v1[1]!.scale);
    rejects(
      () => decodeNipostChallenge(new Uint8Array([...good, 0])),
      "NipostChallenge",
      /trailing/,
    );
    const badTag = good.slice();
    badTag[66] = 2;
    rejects(() => decodeNipostChallenge(badTag), "NipostChallenge.commitmentAtx", /0 or 1/);
    // publishEpoch 2^32 in the 5-byte big-integer form.
    const overflow = new Uint8Array([0x07, 0, 0, 0, 0, 1, ...good.subarray(1)]);
    rejects(() => decodeNipostChallenge(overflow), "NipostChallenge.publishEpoch", /u32/);
    rejects(
      () => decodeNipostChallenge(good.subarray(0, 20)),
      "NipostChallenge.prevAtx",
      /truncated/,
    );
  });
});

describe("encodeNipostChallengeV2 (NIPostChallengeV2)", () => {
  for (const vector of fixture.v2) {
    it(`encodes, hashes and decodes ${vector.name}`, () => {
      const challenge = v2(vector.challenge);
      assert.equal(hex(encodeNipostChallengeV2(challenge)), vector.scale);
      assert.equal(hex(nipostChallengeV2Hash(challenge)), vector.hash);
      assert.deepEqual(decodeNipostChallengeV2(unhex(vector.scale)), challenge);
    });
  }

  it("has no sequence and no commitment: 66 bytes for a non-initial challenge", () => {
    const bytes = encodeNipostChallengeV2({
      publishEpoch: 42,
      prevAtx: atx(1),
      positioningAtx: atx(2),
    });
    assert.equal(hex(bytes), `a8${"01".repeat(32)}${"02".repeat(32)}00`);
  });
});
