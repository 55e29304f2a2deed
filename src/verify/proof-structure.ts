/**
 * @module verify/proof-structure
 *
 * Checks on the shape of a proof that need no hashing (docs/protocol.md §5.5): they run first, so
 * that a malformed or oversized proof costs nothing and its rejection says exactly what is wrong.
 *
 * The reference verifier only checks the number of proven leaves itself; the rest is what every
 * honest proof satisfies and what a node needs anyway to store the proof and hash it into its
 * proof reference (32-byte elements, at most 5400 proof nodes, a u64 leaf count). Being stricter
 * than the reference here only rejects proofs no honest PoET produces.
 */
import { ProofVerificationError } from "../errors.js";
import type { PoetProof } from "../wire/index.js";
import { MAX_U64 } from "../wire/index.js";
import { MAX_PROOF_NODES, NODE_BYTES, resolveSecurityParam } from "./params.js";

/**
 * Rejects a proof whose shape is wrong, in this order: leaf count outside u64 (`malformed`), zero
 * leaves (`empty-proof`: the placeholder of a registration-only PoET), proven leaves other than
 * `securityParam` (`wrong-leaf-count`), fewer leaves than `securityParam` (`too-few-leaves`),
 * more than 5400 proof nodes or any root, proven leaf or proof node that is not 32 bytes
 * (`malformed`).
 *
 * @param securityParam `T`, 150 by default.
 * @throws {ProofVerificationError} naming the failed check and the element.
 * @throws {ConfigError} when `securityParam` is not an integer from 1 to 255.
 * @example
 * ```ts
 * checkProofStructure(proof); // before any hashing
 * ```
 */
export function checkProofStructure(proof: PoetProof, securityParam?: number): void {
  const t = resolveSecurityParam(securityParam);
  const { leaves, provenLeaves, proofNodes, root } = proof;
  if (!Array.isArray(provenLeaves) || !Array.isArray(proofNodes)) {
    throw new ProofVerificationError("malformed", "provenLeaves and proofNodes must be arrays");
  }
  if (typeof leaves !== "bigint" || leaves < 0n || leaves > MAX_U64) {
    throw new ProofVerificationError("malformed", `leaves must be a u64, got ${String(leaves)}`);
  }
  if (leaves === 0n) {
    throw new ProofVerificationError(
      "empty-proof",
      "the proof covers 0 leaves: the PoET did no sequential work for this round",
    );
  }
  if (provenLeaves.length !== t) {
    throw new ProofVerificationError(
      "wrong-leaf-count",
      `number of proven leaves (${provenLeaves.length}) must be equal to security param (${t})`,
    );
  }
  if (leaves < BigInt(t)) {
    throw new ProofVerificationError(
      "too-few-leaves",
      `the proof covers ${leaves} leaves, fewer than the security param (${t})`,
    );
  }
  if (proofNodes.length > MAX_PROOF_NODES) {
    throw new ProofVerificationError(
      "malformed",
      `${proofNodes.length} proof nodes, more than the limit of ${MAX_PROOF_NODES}`,
    );
  }
  if (!isNode(root)) throw malformedNode("root", root);
  for (let j = 0; j < provenLeaves.length; j++) {
    if (!isNode(provenLeaves[j])) throw malformedNode(`provenLeaves[${j}]`, provenLeaves[j]);
  }
  for (let k = 0; k < proofNodes.length; k++) {
    if (!isNode(proofNodes[k])) throw malformedNode(`proofNodes[${k}]`, proofNodes[k]);
  }
}

function isNode(value: unknown): boolean {
  return value instanceof Uint8Array && value.length === NODE_BYTES;
}

function malformedNode(field: string, value: unknown): ProofVerificationError {
  const size = value instanceof Uint8Array ? `${value.length} bytes` : typeof value;
  return new ProofVerificationError("malformed", `${field} is ${size}, expected ${NODE_BYTES}`);
}
