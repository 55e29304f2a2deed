import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { toHex } from "../src/bytes.js";
import { ProofVerificationError } from "../src/errors.js";
import { verifyRoundProof } from "../src/membership/index.js";
import {
  fiatShamirIndices,
  proofRef,
  verifyPoetProof,
  verifyPoetProofSync,
} from "../src/verify/index.js";
import { fromHex, loadProofVectors, type ProofVector, proofOf } from "./helpers/proof-vectors.js";

const valid = loadProofVectors("test/fixtures/poet-proofs.json");
const invalid = loadProofVectors("test/fixtures/poet-proofs-invalid.json");
const realServer = loadProofVectors("test/fixtures/real-server/poet-proofs-real-server.json");

/** Our reason for each Go error; the only divergence is a 31-byte node, caught before hashing. */
function expectedReason(v: ProofVector): string {
  if (v.name === "n1000-truncated-proof-node") return "malformed";
  const error = v.go_error ?? "";
  if (error === "merkle proof not valid") return "merkle-root-mismatch";
  if (error.startsWith("number of proven leaves")) return "wrong-leaf-count";
  if (error.includes("must equal number of indices (0)")) return "empty-proof";
  if (error.startsWith("label at index")) return "label-mismatch";
  throw new Error(`no mapping for ${v.name}: ${error}`);
}

function rejection(v: ProofVector, err: unknown): boolean {
  assert.ok(err instanceof ProofVerificationError, `${v.name}: ${String(err)}`);
  assert.equal(err.name, "ProofVerificationError");
  assert.equal(err.reason, expectedReason(v), `${v.name}: ${err.message}`);
  return true;
}

describe("verifyPoetProofSync on the Go reference vectors", () => {
  for (const v of valid) {
    it(`accepts ${v.name}`, () => {
      verifyPoetProofSync(proofOf(v), fromHex(v.statement), { securityParam: v.security_param });
    });
  }

  for (const v of invalid) {
    it(`rejects ${v.name} as Go does`, () => {
      assert.throws(
        () =>
          verifyPoetProofSync(proofOf(v), fromHex(v.statement), {
            securityParam: v.security_param,
          }),
        (err) => rejection(v, err),
      );
    });
  }

  it("names the same label and the same expected and actual values as Go", () => {
    for (const v of invalid.filter((x) => x.go_error?.startsWith("label at index"))) {
      const [, index, expected, actual] =
        /label at index (\d+) incorrect - expected: ([0-9a-f]+) actual: ([0-9a-f]+)/.exec(
          v.go_error!,
        )!;
      const leaf = fiatShamirIndices(fromHex(v.root), BigInt(v.leaves_decimal), 150)[Number(index)];
      assert.throws(
        () => verifyPoetProofSync(proofOf(v), fromHex(v.statement)),
        (err: ProofVerificationError) => {
          assert.equal(
            err.message,
            `label at index ${index} (leaf ${leaf}) incorrect - expected: ${expected} actual: ${actual}`,
          );
          return true;
        },
      );
    }
  });
});

describe("verifyPoetProof", () => {
  it("accepts the largest valid vector and rejects a corrupted label asynchronously", async () => {
    const big = valid.find((v) => v.name === "leaves-1048576-T-150")!;
    await verifyPoetProof(proofOf(big), fromHex(big.statement));
    const bad = invalid.find((v) => v.name === "n1000-labels-corrupted-from-leaf-600")!;
    await assert.rejects(verifyPoetProof(proofOf(bad), fromHex(bad.statement)), (err) =>
      rejection(bad, err),
    );
  });

  it("rejects with AbortedError when the signal aborts", async () => {
    const v = valid.find((x) => x.name === "leaves-1000-T-150")!;
    const controller = new AbortController();
    const pending = verifyPoetProof(proofOf(v), fromHex(v.statement), {
      signal: controller.signal,
    });
    controller.abort(new Error("stop"));
    await assert.rejects(pending, { name: "AbortedError", code: "aborted" });
    await assert.rejects(
      verifyPoetProof(proofOf(v), fromHex(v.statement), { signal: AbortSignal.abort() }),
      {
        name: "AbortedError",
      },
    );
  });
});

describe("fiatShamirIndices and proofRef on the vectors", () => {
  for (const v of [...valid, ...realServer]) {
    it(`reproduce the indices and the proof ref of ${v.name}`, () => {
      const indices = fiatShamirIndices(
        fromHex(v.root),
        BigInt(v.leaves_decimal),
        v.security_param,
      );
      assert.deepEqual(indices, v.fiat_shamir_indices!.map(BigInt));
      assert.equal(toHex(proofRef(proofOf(v))), v.proof_ref);
    });
  }

  it("reproduce the indices of every invalid vector that records them", () => {
    for (const v of invalid.filter((x) => x.fiat_shamir_indices !== undefined)) {
      const indices = fiatShamirIndices(
        fromHex(v.root),
        BigInt(v.leaves_decimal),
        v.security_param,
      );
      assert.deepEqual(indices, v.fiat_shamir_indices!.map(BigInt), v.name);
    }
  });
});

describe("verifyRoundProof on proofs served by a live PoET", () => {
  for (const v of realServer) {
    it(`accepts ${v.name} with the statement rebuilt from its members`, async () => {
      const members = v.members!.map(fromHex);
      const challenge = members[0];
      const result = await verifyRoundProof({ proof: proofOf(v), members, challenge });
      assert.equal(toHex(result.statement), v.statement);
      assert.equal(result.memberIndex, challenge === undefined ? undefined : 0);
    });
  }
});
