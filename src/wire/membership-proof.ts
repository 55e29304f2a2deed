/**
 * @module wire/membership-proof
 *
 * The SCALE layout of the membership proof a node keeps for its challenge (docs/protocol.md §4.3,
 * docs/node-client.md §1.8), the `poet_proof_membership` column of the node's database:
 *
 * ```
 * compact(#nodes) ‖ node[32] × #nodes ‖ compact64(leafIndex)
 * ```
 *
 * The nodes are fixed 32-byte hashes, so unlike the PoET's own Merkle proof they carry no
 * per-element length; there are at most 32 of them (a tree of up to 2^32 members). The leaf index
 * is a u64 in compact form, not fixed-width.
 */
import { ScaleReader, ScaleWriter } from "./scale.js";

/** Most sibling nodes in a membership proof. */
export const MEMBERSHIP_MAX_NODES = 32;
/** Bytes in each sibling node. */
export const MEMBERSHIP_NODE_BYTES = 32;

/** The path from a node's challenge to the round's membership root (the statement). */
export interface MembershipProof {
  /** Sibling hashes from the bottom of the tree up, padding zeros included (32 bytes each). */
  nodes: Uint8Array[];
  /** Position of the node's challenge among the round's members. */
  leafIndex: bigint;
}

/**
 * SCALE-encodes a membership proof for the node's database.
 *
 * @throws {WireFormatError} when a node is not 32 bytes, there are more than 32 nodes or the
 *   index is outside the u64 range.
 * @example
 * ```ts
 * const column = encodeMembershipProof({ nodes, leafIndex: 3n });
 * ```
 */
export function encodeMembershipProof(proof: MembershipProof): Uint8Array {
  const writer = new ScaleWriter(10 + proof.nodes.length * MEMBERSHIP_NODE_BYTES);
  writer.list("MembershipProof.nodes", proof.nodes, MEMBERSHIP_MAX_NODES, (w, node, f) =>
    w.fixedBytes(f, node, MEMBERSHIP_NODE_BYTES),
  );
  writer.compact("MembershipProof.leafIndex", proof.leafIndex);
  return writer.finish();
}

/**
 * Decodes a SCALE membership proof strictly: the whole input must be one proof.
 *
 * @throws {WireFormatError} naming the field on truncated input, a non-canonical compact integer,
 *   more than 32 nodes or trailing bytes.
 * @example
 * ```ts
 * const { nodes, leafIndex } = decodeMembershipProof(column);
 * ```
 */
export function decodeMembershipProof(bytes: Uint8Array): MembershipProof {
  const reader = new ScaleReader(bytes);
  const nodes = reader.list("MembershipProof.nodes", MEMBERSHIP_MAX_NODES, (r, f) =>
    r.fixedBytes(f, MEMBERSHIP_NODE_BYTES),
  );
  const leafIndex = reader.compact("MembershipProof.leafIndex");
  reader.end("MembershipProof");
  return { nodes, leafIndex };
}
