import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { blake3 } from "@noble/hashes/blake3.js";
import { WireFormatError } from "../src/errors.js";
import {
  decodeMerkleProof,
  decodePoetProof,
  encodeMerkleProof,
  encodePoetProof,
  MAX_U64,
  ScaleWriter,
} from "../src/wire/index.js";
import { hex } from "./helpers/bytes.js";
import { fromHex, loadProofVectors, proofOf } from "./helpers/proof-vectors.js";
import { rejects } from "./helpers/wire-format-error.js";

const valid = loadProofVectors("test/fixtures/poet-proofs.json");
const realServer = loadProofVectors("test/fixtures/real-server/poet-proofs-real-server.json");
const invalid = loadProofVectors("test/fixtures/poet-proofs-invalid.json");

const sample = proofOf(valid.find((v) => v.name === "leaves-1000-T-150") ?? valid[0]!);

describe("encodeMerkleProof / decodeMerkleProof", () => {
  it("has vectors to test against", () => {
    assert.ok(valid.length >= 10);
    assert.equal(realServer.length, 3);
  });

  for (const v of [...valid, ...realServer]) {
    it(`decodes and re-encodes ${v.name} byte-identically`, () => {
      const scale = fromHex(v.scale_merkle_proof!);
      const decoded = decodeMerkleProof(scale);
      assert.equal(hex(decoded.root), v.root);
      assert.deepEqual(decoded.provenLeaves.map(hex), v.proven_leaves);
      assert.deepEqual(decoded.proofNodes.map(hex), v.proof_nodes);
      assert.equal(hex(encodeMerkleProof(decoded)), v.scale_merkle_proof);
      assert.equal(hex(encodeMerkleProof(proofOf(v))), v.scale_merkle_proof);
    });
  }
});

describe("encodePoetProof / decodePoetProof", () => {
  it("hashes to the proof reference of every vector", () => {
    for (const v of [...valid, ...realServer]) {
      const encoded = encodePoetProof(proofOf(v));
      assert.equal(hex(blake3(encoded)), v.proof_ref, v.name);
      assert.ok(hex(encoded).startsWith(v.scale_merkle_proof!), v.name);
    }
  });

  it("round-trips every valid and invalid vector, including 31-byte nodes and 2^64-1 leaves", () => {
    for (const v of [...valid, ...realServer, ...invalid]) {
      const proof = proofOf(v);
      if (proof.provenLeaves.length > 150) {
        assert.throws(() => encodePoetProof(proof), WireFormatError, v.name);
        continue;
      }
      assert.deepEqual(decodePoetProof(encodePoetProof(proof)), proof, v.name);
    }
    const max = invalid.find((v) => v.leaves_decimal === MAX_U64.toString());
    assert.ok(max, "the 2^64-1 vector exists");
    assert.ok(hex(encodePoetProof(proofOf(max))).endsWith("13ffffffffffffffff"));
  });

  it("names the proof node where the input is cut short", () => {
    const encoded = encodePoetProof(sample);
    // Cut inside proof node 12: everything before it is intact.
    const before = encodeMerkleProof({ ...sample, proofNodes: sample.proofNodes.slice(0, 12) });
    const cut = before.length + 10 + (sample.proofNodes.length >= 64 ? 1 : 0);
    rejects(
      () => decodePoetProof(encoded.subarray(0, cut)),
      "PoetProof.proofNodes[12]",
      /truncated/,
    );
  });

  it("reports a missing leaf count", () => {
    rejects(() => decodePoetProof(encodeMerkleProof(sample)), "PoetProof.leaves", /truncated/);
  });

  it("rejects trailing bytes", () => {
    const encoded = encodePoetProof(sample);
    const longer = new Uint8Array(encoded.length + 1);
    longer.set(encoded);
    rejects(() => decodePoetProof(longer), "PoetProof", /1 trailing byte/);
    rejects(() => decodeMerkleProof(longer), "MerkleProof", /trailing/);
  });

  it("rejects a non-canonical leaf count", () => {
    const merkle = encodeMerkleProof(sample);
    const bad = new Uint8Array([...merkle, 0xa2, 0x0f, 0x00, 0x00]); // 1000 in the 4-byte form
    rejects(() => decodePoetProof(bad), "PoetProof.leaves", /non-canonical/);
  });

  it("rejects more than 150 proven leaves and elements over 32 bytes when decoding", () => {
    const w = new ScaleWriter();
    w.bytes("r", sample.root, 32);
    w.list("l", new Array(151).fill(sample.root), 200, (wr, b, f) => wr.bytes(f, b, 32));
    rejects(
      () => decodePoetProof(w.finish()),
      "PoetProof.provenLeaves",
      /151 exceeds the limit of 150/,
    );

    const big = new ScaleWriter();
    big.bytes("r", sample.root, 32);
    big.list("l", [sample.root, new Uint8Array(33)], 150, (wr, b, f) => wr.bytes(f, b, 64));
    rejects(() => decodePoetProof(big.finish()), "PoetProof.provenLeaves[1]", /33 exceeds/);

    const root = new ScaleWriter().bytes("r", new Uint8Array(40), 64).finish();
    rejects(() => decodeMerkleProof(root), "MerkleProof.root", /40 exceeds the limit of 32/);
  });

  it("rejects more than 5400 proof nodes when decoding", () => {
    const w = new ScaleWriter();
    w.bytes("r", sample.root, 32).compact("l", 0).compact("n", 5401);
    rejects(
      () => decodeMerkleProof(w.finish()),
      "MerkleProof.proofNodes",
      /5401 exceeds the limit of 5400/,
    );
  });

  it("refuses to encode what the Go encoder refuses", () => {
    rejects(
      () => encodePoetProof({ ...sample, provenLeaves: new Array(151).fill(sample.root) }),
      "PoetProof.provenLeaves",
      /151 exceeds/,
    );
    rejects(
      () => encodePoetProof({ ...sample, proofNodes: new Array(5401).fill(sample.root) }),
      "PoetProof.proofNodes",
      /5401 exceeds/,
    );
    rejects(
      () => encodePoetProof({ ...sample, root: new Uint8Array(33) }),
      "PoetProof.root",
      /33 exceeds/,
    );
    rejects(() => encodePoetProof({ ...sample, leaves: -1n }), "PoetProof.leaves", /u64 range/);
  });
});
