import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ProofVerificationError } from "../src/errors.js";
import { membershipRoot } from "../src/membership/index.js";
import type { PoswHasher } from "../src/verify/index.js";
import { JsPoswHasher, verifyPoetProofSync } from "../src/verify/index.js";
import { createMembershipHasher, createWasmPoswHasher } from "../src/verify/wasm/index.js";
import { fromHex, loadProofVectors, type ProofVector, proofOf } from "./helpers/proof-vectors.js";

/** `"valid"`, or the failing check's reason and message. */
function verdict(vector: ProofVector, hasher: PoswHasher): string {
  try {
    verifyPoetProofSync(proofOf(vector), fromHex(vector.statement), {
      hasher,
      securityParam: vector.security_param,
    });
    return "valid";
  } catch (err) {
    if (!(err instanceof ProofVerificationError)) throw err;
    return `${err.reason}: ${err.message}`;
  }
}

const kernels: PoswHasher[] = [new JsPoswHasher(), createWasmPoswHasher()];

const files = [
  { path: "test/fixtures/poet-proofs.json", valid: true },
  { path: "test/fixtures/poet-proofs-invalid.json", valid: false },
  { path: "test/fixtures/real-server/poet-proofs-real-server.json", valid: true },
];

describe("the kernels on the reference vectors", () => {
  for (const file of files) {
    it(`give the reference's verdict on every vector of ${file.path}, with every kernel`, () => {
      const vectors = loadProofVectors(file.path);
      assert.ok(vectors.length > 0);
      for (const vector of vectors) {
        const verdicts = kernels.map((hasher) => verdict(vector, hasher));
        assert.equal(verdicts[0], verdicts[1], `${vector.name}: kernels disagree`);
        if (file.valid) assert.equal(verdicts[0], "valid", vector.name);
        else assert.notEqual(verdicts[0], "valid", vector.name);
      }
    });
  }

  it("rebuild the statements of the real-server proofs from their members", () => {
    const hasher = createMembershipHasher("wasm");
    for (const vector of loadProofVectors(
      "test/fixtures/real-server/poet-proofs-real-server.json",
    )) {
      const members = (vector.members ?? []).map(fromHex);
      assert.equal(
        Buffer.from(membershipRoot(members, { hasher })).toString("hex"),
        vector.statement,
        vector.name,
      );
    }
  });
});
