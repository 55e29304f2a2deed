/**
 * The PoET proof vectors in `test/fixtures/` (made by the Go reference, with its verdicts) as the
 * verifier tests read them.
 */
import { readFileSync } from "node:fs";
import type { PoetProof } from "../../src/wire/index.js";

/** One vector: a proof, its statement, and what the Go verifier said of it. */
export interface ProofVector {
  name: string;
  statement: string;
  security_param: number | string;
  leaves_decimal: string;
  root: string;
  proven_leaves: string[];
  proof_nodes: string[];
  members?: string[];
  go_verifier_valid?: boolean | string;
  go_error?: string;
}

export const fromHex = (text: string): Uint8Array => new Uint8Array(Buffer.from(text, "hex"));

/** The vectors of a fixture file, by its path from the repository root. */
export function loadProofVectors(path: string): ProofVector[] {
  return (JSON.parse(readFileSync(path, "utf8")) as { vectors: ProofVector[] }).vectors;
}

/** The proof of a vector, decoded. */
export function proofOf(vector: ProofVector): PoetProof {
  return {
    root: fromHex(vector.root),
    provenLeaves: vector.proven_leaves.map(fromHex),
    proofNodes: vector.proof_nodes.map(fromHex),
    leaves: BigInt(vector.leaves_decimal),
  };
}
