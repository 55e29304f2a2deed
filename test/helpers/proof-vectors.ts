/**
 * The PoET proof vectors in `test/fixtures/` (made by the Go reference, with its verdicts) as the
 * verifier tests read them.
 */
import { readFileSync } from "node:fs";
import type { PoetProof } from "../../src/wire/index.js";
import { unhex } from "./bytes.js";

/**
 * One vector: a proof, its statement, and what the Go verifier said of it. The optional fields are
 * in some files only: `poet-proofs-invalid.json` has `go_error`, the real server's proofs have
 * `server`, `round_id`, `service_pubkey` and `members`.
 */
export interface ProofVector {
  name: string;
  statement: string;
  security_param: number;
  leaves: number;
  leaves_decimal: string;
  root: string;
  proven_leaves: string[];
  proof_nodes: string[];
  go_verifier_valid: boolean;
  go_error?: string;
  fiat_shamir_indices?: number[];
  scale_merkle_proof?: string;
  proof_ref?: string;
  server?: string;
  round_id?: string;
  service_pubkey?: string;
  members?: string[];
}

export const fromHex = unhex;

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
