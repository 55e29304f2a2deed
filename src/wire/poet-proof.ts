/**
 * @module wire/poet-proof
 *
 * The PoET proof as the library handles it, and its SCALE layout (docs/protocol.md §4.3;
 * docs/node-client.md §1.8): the Merkle proof (`encodeMerkleProof`) followed by the leaf
 * count as a compact u64. Those bytes are exactly what a node hashes with BLAKE3 into the proof
 * reference, its PoST challenge; the members, the PoET's key and the round id are not part of
 * them. Decoding is strict so that one proof has one encoding and therefore one reference.
 */
import { merkleProofSizeHint, readMerkleProof, writeMerkleProof } from "./merkle-proof.js";
import { ScaleReader, ScaleWriter } from "./scale.js";

/**
 * A PoET's proof of sequential work for one round: the partial Merkle tree over the labels and the
 * number of leaves (labels) it covers.
 */
export interface PoetProof {
  /** Root of the sequential-work Merkle tree (32 bytes); also the Fiat–Shamir seed. */
  root: Uint8Array;
  /** The labels at the Fiat–Shamir indices, in ascending index order (150 × 32 bytes). */
  provenLeaves: Uint8Array[];
  /** Merkle siblings in the order the validator consumes them (32 bytes each). */
  proofNodes: Uint8Array[];
  /** Number of leaves proven: the sequential work done. */
  leaves: bigint;
}

/**
 * SCALE-encodes a PoET proof: the bytes whose BLAKE3 hash is the proof reference.
 *
 * @throws {WireFormatError} when an element is over 32 bytes, a list is over its limit or
 *   `leaves` is outside the u64 range.
 * @example
 * ```ts
 * import { blake3 } from "@noble/hashes/blake3.js";
 * const ref = blake3(encodePoetProof(proof));
 * ```
 */
export function encodePoetProof(proof: PoetProof): Uint8Array {
  const writer = new ScaleWriter(merkleProofSizeHint(proof) + 9);
  writeMerkleProof(writer, proof, "PoetProof");
  writer.compact("PoetProof.leaves", proof.leaves);
  return writer.finish();
}

/**
 * Decodes the SCALE bytes of a PoET proof strictly: the whole input must be one proof.
 *
 * @throws {WireFormatError} naming the field (for example `PoetProof.proofNodes[12]`) on
 *   truncated input, a non-canonical compact integer, a length over its limit or trailing bytes.
 * @example
 * ```ts
 * const proof = decodePoetProof(bytes);
 * console.log(proof.leaves); // 86831894949n
 * ```
 */
export function decodePoetProof(bytes: Uint8Array): PoetProof {
  const reader = new ScaleReader(bytes);
  const { root, provenLeaves, proofNodes } = readMerkleProof(reader, "PoetProof");
  const leaves = reader.compact("PoetProof.leaves");
  reader.end("PoetProof");
  return { root, provenLeaves, proofNodes, leaves };
}
