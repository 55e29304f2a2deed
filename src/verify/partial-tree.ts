/**
 * @module verify/partial-tree
 *
 * Rebuilds the root of a Merkle tree from some of its leaves and the sibling nodes that a proof
 * supplies, and records for every proven leaf the "parking snapshot" the label check needs
 * (docs/protocol.md §5.4). The same walk validates membership proofs (§4.3), only with a
 * different node hash, so the hash is a parameter.
 *
 * The walk must consume proof nodes exactly as the reference validator does, because the order
 * of `proofNodes` is defined by it and nothing else:
 * - Each proven leaf climbs from height 0. At each height its sibling is either the subtree that
 *   holds the next proven leaf (computed recursively, stopping at the current height) or the next
 *   proof node.
 * - The top of the tree is not derived from the leaf count: the outermost climb goes on while
 *   proof nodes remain and stops when it needs one and none is left. Extra or missing nodes
 *   therefore show up only as a different root, and proven leaves the walk never reached show
 *   up only as fewer snapshots than leaves — both are for the caller to check.
 * - A snapshot has one entry per height climbed: the left sibling where the leaf's ancestor is a
 *   right child, `null` where it is a left child. When a left child is hashed with a right
 *   subtree that held proven leaves, the left child is the parked node of all of them.
 * Positions are `bigint` because leaf indices are u64; above height 63 every position is 0 and
 * the walk keeps climbing on proof nodes alone, as the reference does.
 */
import { ProofVerificationError } from "../errors.js";

/** Parent of two nodes: `HASH(left, right)`, a fresh 32-byte array. */
export type NodeHash = (left: Uint8Array, right: Uint8Array) => Uint8Array;

/**
 * The parked (left-sibling) nodes seen on one proven leaf's path, one entry per height climbed,
 * `null` where the path's node is a left child.
 */
export type ParkingSnapshot = (Uint8Array | null)[];

/** What {@link validatePartialTree} rebuilt. */
export interface PartialTree {
  /** The root the proof leads to; the proof is valid when it equals the expected root. */
  root: Uint8Array;
  /** One snapshot per proven leaf the walk reached, in index order. */
  snapshots: ParkingSnapshot[];
  /** Height of the rebuilt root above the leaves. */
  height: number;
}

/**
 * Rebuilds a Merkle root from proven leaves and proof nodes, the way the reference validator does
 * (docs/protocol.md §5.4), and returns it with the parking snapshots of the leaves.
 *
 * @param indices the proven leaf indices, strictly ascending.
 * @param leaves the leaf values, one per index.
 * @param nodes the proof nodes, consumed front to back.
 * @param hash the parent function of the tree.
 * @throws {ProofVerificationError} (`malformed`) with the reference's wording when the index and
 *   leaf counts differ, there is no leaf, or the indices are not strictly ascending.
 * @example
 * ```ts
 * const { root, snapshots } = validatePartialTree(indices, proof.provenLeaves, proof.proofNodes,
 *   (l, r) => merkleHash(statement, l, r));
 * const valid = equalBytes(root, proof.root) && snapshots.length === indices.length;
 * ```
 */
export function validatePartialTree(
  indices: readonly bigint[],
  leaves: readonly Uint8Array[],
  nodes: readonly Uint8Array[],
  hash: NodeHash,
): PartialTree {
  checkLeafIndices(indices, leaves.length);
  const count = indices.length;
  let nextLeaf = 0;
  let nextNode = 0;

  // Returns the node reached, the snapshots of the leaves below it and the height it stopped at.
  const climb = (stopHeight: number): PartialTree => {
    let position = indices[nextLeaf]!;
    let value = leaves[nextLeaf]!;
    nextLeaf++;
    let height = 0;
    let snapshots: ParkingSnapshot[] = [[]];
    let rightSnapshots: ParkingSnapshot[] = [];
    while (height !== stopHeight) {
      const siblingPosition = position ^ 1n;
      let sibling: Uint8Array;
      if (nextLeaf < count && indices[nextLeaf]! >> BigInt(height) === siblingPosition) {
        const subtree = climb(height);
        sibling = subtree.root;
        rightSnapshots = subtree.snapshots;
      } else {
        if (nextNode === nodes.length) break;
        sibling = nodes[nextNode]!;
        nextNode++;
      }
      if ((position & 1n) === 1n) {
        for (const snapshot of snapshots) snapshot.push(sibling);
        value = hash(sibling, value);
      } else {
        for (const snapshot of snapshots) snapshot.push(null);
        if (rightSnapshots.length > 0) {
          for (const snapshot of rightSnapshots) snapshot.push(value);
          snapshots = snapshots.concat(rightSnapshots);
          rightSnapshots = [];
        }
        value = hash(value, sibling);
      }
      position >>= 1n;
      height++;
    }
    return { root: value, snapshots, height };
  };

  return climb(Number.POSITIVE_INFINITY);
}

/**
 * The reference's preconditions on a leaf set: as many leaves as indices, at least one, indices
 * strictly ascending.
 */
export function checkLeafIndices(indices: readonly bigint[], leafCount: number): void {
  if (indices.length !== leafCount) {
    throw new ProofVerificationError(
      "malformed",
      `number of leaves (${leafCount}) must equal number of indices (${indices.length})`,
    );
  }
  if (leafCount === 0) {
    throw new ProofVerificationError("malformed", "at least one leaf is required for validation");
  }
  for (let j = 1; j < indices.length; j++) {
    if (indices[j]! < indices[j - 1]!) {
      throw new ProofVerificationError("malformed", "leafIndices are not sorted");
    }
  }
  for (let j = 1; j < indices.length; j++) {
    if (indices[j] === indices[j - 1]) {
      throw new ProofVerificationError("malformed", "leafIndices contain duplicates");
    }
  }
}
