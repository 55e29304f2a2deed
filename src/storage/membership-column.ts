/**
 * @module storage/membership-column
 *
 * `poet_proof_membership` columns (in `challenge` and `nipost`) hold the SCALE encoding of
 * `MerkleProof{ Nodes: []Hash32 (≤ 32), LeafIndex: compact u64 }`, byte for byte what go-spacemesh
 * writes (docs/node-client.md §1.8, docs/protocol.md §4.3). The codec itself belongs to `wire/`;
 * this file only turns a decoding failure into a {@link StorageError} that names the row.
 */
import { ConfigError } from "../errors.js";
import {
  decodeMembershipProof,
  encodeMembershipProof,
  type MembershipProof,
} from "../wire/index.js";
import { type ColumnPlace, corrupt, readBytes } from "./columns.js";

/** SCALE-encodes a caller's membership proof, checking it first. */
export function membershipParam(value: MembershipProof, field: string): Uint8Array {
  if (typeof value !== "object" || value === null || !Array.isArray(value.nodes)) {
    throw new ConfigError(field, "must be { nodes: Uint8Array[], leafIndex: bigint }");
  }
  if (value.nodes.length > 32) {
    throw new ConfigError(field, `has ${value.nodes.length} nodes; at most 32 are allowed`);
  }
  value.nodes.forEach((node, i) => {
    if (!(node instanceof Uint8Array) || node.length !== 32) {
      throw new ConfigError(`${field}.nodes[${i}]`, "must be 32 bytes");
    }
  });
  if (typeof value.leafIndex !== "bigint" || value.leafIndex < 0n || value.leafIndex >= 1n << 64n) {
    throw new ConfigError(`${field}.leafIndex`, "must be a bigint in [0, 2^64)");
  }
  return encodeMembershipProof({ nodes: value.nodes, leafIndex: value.leafIndex });
}

/** Decodes a stored membership proof; bad SCALE is a `"corrupt"` {@link StorageError}. */
export function readMembership(value: unknown, place: ColumnPlace): MembershipProof {
  const bytes = readBytes(value, place);
  try {
    return decodeMembershipProof(bytes);
  } catch (err) {
    throw corrupt(
      place,
      `not a SCALE MerkleProof: ${err instanceof Error ? err.message : String(err)}`,
      err,
    );
  }
}
