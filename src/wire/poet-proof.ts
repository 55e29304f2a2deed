/**
 * @module wire/poet-proof
 *
 * The PoET proof as the library handles it, and its SCALE layout (docs/protocol.md §4.3).
 */

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
