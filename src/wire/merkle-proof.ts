/**
 * @module wire/merkle-proof
 *
 * The SCALE layout of a PoET's sequential-work Merkle proof (docs/protocol.md §4.3):
 *
 * ```
 * compact(len root) ‖ root ‖ compact(#leaves) ‖ (compact(len) ‖ leaf)… ‖ compact(#nodes) ‖ (compact(len) ‖ node)…
 * ```
 *
 * with the Go encoder's limits: every element at most 32 bytes, at most 150 proven leaves and at
 * most 5,400 proof nodes. These bytes, followed by the compact leaf count, are what a node hashes
 * into the proof reference, so the encoder must reproduce the reference bytes exactly and the
 * decoder must refuse anything the reference encoder would not have written. Elements are byte
 * slices, not fixed 32-byte arrays: a short element is representable (and a verifier rejects it
 * later), which keeps decoding and verification separate concerns.
 */
import { ScaleReader, ScaleWriter } from "./scale.js";

/** Most bytes in the root, a proven leaf or a proof node. */
export const MERKLE_ELEMENT_MAX_BYTES = 32;
/** Most proven leaves in a proof (the security parameter T = 150). */
export const MERKLE_MAX_PROVEN_LEAVES = 150;
/** Most proof nodes in a proof. */
export const MERKLE_MAX_PROOF_NODES = 5400;

/** A partial Merkle tree over the PoET's labels: its root, the proven leaves and their siblings. */
export interface MerkleProof {
  /** Root of the sequential-work Merkle tree (32 bytes). */
  root: Uint8Array;
  /** The labels at the Fiat–Shamir indices, in ascending index order. */
  provenLeaves: Uint8Array[];
  /** Merkle siblings in the order the validator consumes them. */
  proofNodes: Uint8Array[];
}

/**
 * Writes a {@link MerkleProof} at the writer's position, for layouts that embed one; `path`
 * prefixes the field names in errors.
 *
 * @example
 * ```ts
 * const writer = new ScaleWriter();
 * writeMerkleProof(writer, proof, "PoetProof");
 * writer.compact("PoetProof.leaves", leaves);
 * ```
 */
export function writeMerkleProof(writer: ScaleWriter, proof: MerkleProof, path: string): void {
  writer.bytes(`${path}.root`, proof.root, MERKLE_ELEMENT_MAX_BYTES);
  writer.list(`${path}.provenLeaves`, proof.provenLeaves, MERKLE_MAX_PROVEN_LEAVES, (w, b, f) =>
    w.bytes(f, b, MERKLE_ELEMENT_MAX_BYTES),
  );
  writer.list(`${path}.proofNodes`, proof.proofNodes, MERKLE_MAX_PROOF_NODES, (w, b, f) =>
    w.bytes(f, b, MERKLE_ELEMENT_MAX_BYTES),
  );
}

/**
 * Reads a {@link MerkleProof} at the reader's position, for layouts that embed one; `path`
 * prefixes the field names in errors.
 *
 * @example
 * ```ts
 * const reader = new ScaleReader(bytes);
 * const proof = readMerkleProof(reader, "PoetProof");
 * const leaves = reader.compact("PoetProof.leaves");
 * reader.end("PoetProof");
 * ```
 */
export function readMerkleProof(reader: ScaleReader, path: string): MerkleProof {
  const root = reader.bytes(`${path}.root`, MERKLE_ELEMENT_MAX_BYTES);
  const provenLeaves = reader.list(`${path}.provenLeaves`, MERKLE_MAX_PROVEN_LEAVES, (r, f) =>
    r.bytes(f, MERKLE_ELEMENT_MAX_BYTES),
  );
  const proofNodes = reader.list(`${path}.proofNodes`, MERKLE_MAX_PROOF_NODES, (r, f) =>
    r.bytes(f, MERKLE_ELEMENT_MAX_BYTES),
  );
  return { root, provenLeaves, proofNodes };
}

/** Upper bound of the encoded size, so the writer allocates once. */
export function merkleProofSizeHint(proof: MerkleProof): number {
  return 8 + (proof.provenLeaves.length + proof.proofNodes.length + 1) * 34;
}

/**
 * SCALE-encodes a PoET's Merkle proof (the `scale_merkle_proof` of the reference vectors).
 *
 * @throws {WireFormatError} when an element is over 32 bytes or a list is over its limit.
 * @example
 * ```ts
 * const bytes = encodeMerkleProof({ root, provenLeaves, proofNodes });
 * ```
 */
export function encodeMerkleProof(proof: MerkleProof): Uint8Array {
  const writer = new ScaleWriter(merkleProofSizeHint(proof));
  writeMerkleProof(writer, proof, "MerkleProof");
  return writer.finish();
}

/**
 * Decodes a SCALE Merkle proof strictly: the whole input must be one proof.
 *
 * @throws {WireFormatError} naming the field (for example `MerkleProof.proofNodes[12]`) on
 *   truncated input, a non-canonical compact integer, a length over its limit or trailing bytes.
 * @example
 * ```ts
 * const { root, provenLeaves, proofNodes } = decodeMerkleProof(bytes);
 * ```
 */
export function decodeMerkleProof(bytes: Uint8Array): MerkleProof {
  const reader = new ScaleReader(bytes);
  const proof = readMerkleProof(reader, "MerkleProof");
  reader.end("MerkleProof");
  return proof;
}
