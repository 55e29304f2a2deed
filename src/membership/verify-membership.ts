/**
 * @module membership/verify-membership
 *
 * Checks a membership proof against a round's statement (docs/protocol.md §4.3): the §5.4 walk
 * with the BLAKE3 node hash and no labels, as go-spacemesh validates the membership in an ATX.
 *
 * It agrees with the reference on every proof with one deliberate exception: the reference accepts
 * a multi-leaf proof whose nodes run out before some of the claimed leaves were reached (those
 * leaves are then never checked); this function rejects it. No honest proof leaves a leaf out.
 * Like the reference it applies the padding rule literally (docs/protocol.md §4.2): the 32 zero
 * bytes verify as a "member" at the position just past the last member when that position's
 * siblings are what the tree holds there. Callers that need a real member check that the index is
 * below the member count.
 */

import { equalBytes } from "../bytes.js";
import { ProofVerificationError } from "../errors.js";
import { membershipNodeHash } from "../verify/blake3-hasher.js";
import { validatePartialTree } from "../verify/partial-tree.js";

/**
 * Whether `leaves` sit at `leafIndices` (strictly ascending) of the membership tree with root
 * `root`, given the proof `nodes`. Malformed input (no leaves, unsorted or duplicate indices,
 * mismatched lengths) is `false`.
 *
 * @example
 * ```ts
 * const { nodes, leafIndex } = membershipProof(members, 3);
 * verifyMembership(statement, [leafIndex], [members[3]], nodes); // true
 * ```
 */
export function verifyMembership(
  root: Uint8Array,
  leafIndices: readonly number[],
  leaves: readonly Uint8Array[],
  nodes: readonly Uint8Array[],
): boolean {
  if (!leafIndices.every((index) => Number.isSafeInteger(index) && index >= 0)) return false;
  try {
    const tree = validatePartialTree(
      leafIndices.map((index) => BigInt(index)),
      leaves,
      nodes,
      membershipNodeHash,
    );
    return equalBytes(tree.root, root) && tree.snapshots.length === leaves.length;
  } catch (err) {
    if (err instanceof ProofVerificationError) return false;
    throw err;
  }
}
