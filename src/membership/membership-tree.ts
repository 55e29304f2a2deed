/**
 * @module membership/membership-tree
 *
 * The membership tree of a PoET round (docs/protocol.md §4.2, §4.3): its leaves are the challenges
 * registered in the round, as they are and in the order the PoET lists them; a parent is
 * `BLAKE3(0x01 ‖ left ‖ right)`; wherever a right sibling is missing, at any height, it is 32
 * zero bytes (not a hash of zeros). Its root is the statement the PoET proves elapsed time over,
 * and a node proves that its challenge is in it with the sibling path of {@link membershipProof}.
 *
 * The tree is built one level at a time in a packed buffer, so it costs two buffers of the
 * members' size whatever the round's size, and a proof is read off during the same pass instead
 * of keeping every level. The hashing is the shared WebAssembly SIMD BLAKE3 kernel by default
 * (`@noble/hashes` where the engine lacks SIMD), which hashes four nodes of a level per
 * instruction stream and folds a whole root inside the module when only the root is asked for. Rounds with members that are not 32 bytes (the PoET does not enforce the
 * size) get their root from the same rule over the raw bytes, as the PoET computes it; proofs
 * require 32-byte members, which is all a node's challenge can be.
 */
import { equalBytes } from "../bytes.js";
import { ConfigError } from "../errors.js";
import type { MembershipHasher } from "../verify/hasher.js";
import type { TreePosition } from "../verify/partial-tree-proof.js";
import {
  collectTreeNodes,
  partialTreeProofPositions,
  treeHeight,
} from "../verify/partial-tree-proof.js";
import { sharedMembershipHasher } from "../verify/wasm/select-hasher.js";
import { PackedMembers } from "../wire/index.js";
import { membershipNodeHash } from "./blake3-hasher.js";

/** Options of the membership-tree functions. */
export interface MembershipTreeOptions {
  /**
   * The BLAKE3 implementation: the shared WebAssembly SIMD kernel by default (`@noble/hashes` where
   * the engine lacks SIMD); `createBlake3MembershipHasher()` for the JavaScript one.
   */
  hasher?: MembershipHasher | undefined;
}

/** A single-leaf membership proof: the sibling path from `leafIndex` to the root. */
export interface MembershipPath {
  /** Siblings from the bottom of the tree up, padding zeros included (32 bytes each). */
  nodes: Uint8Array[];
  leafIndex: number;
}

/** A multi-leaf membership proof, nodes in the validator's consumption order. */
export interface MembershipMultiPath {
  nodes: Uint8Array[];
  /** Strictly ascending. */
  leafIndices: number[];
}

/**
 * The root of the membership tree: the round's statement. One member is its own root; no members
 * give the empty byte string, as the PoET computes it for an empty round.
 *
 * Members may be separate arrays or a {@link PackedMembers} (what `PoetClient.proof` returns). This
 * runs in one go on the calling thread (half a second at 3,000,000 members); the registration
 * manager builds big rounds' trees in slices instead.
 *
 * @example
 * ```ts
 * const statement = membershipRoot(proofResponse.members);
 * verifyPoetProofSync(proof, statement);
 * ```
 */
export function membershipRoot(
  members: readonly Uint8Array[] | PackedMembers,
  options: MembershipTreeOptions = {},
): Uint8Array {
  if (members instanceof PackedMembers) return packedRoot(members, options.hasher);
  if (members.length === 0) return new Uint8Array(0);
  if (members.length === 1) return members[0]!.slice();
  if (members.some((member) => member.length !== 32)) return rawMembershipRoot(members);
  const hasher = options.hasher ?? sharedMembershipHasher();
  if (hasher.root !== undefined) return hasher.root(members);
  return buildTree(members, [], hasher).root;
}

/**
 * The membership proof of the member at `leafIndex`: its sibling at every height, bottom-up.
 *
 * @throws {ConfigError} when `leafIndex` is not a member's position or a member is not 32 bytes.
 * @example
 * ```ts
 * const index = findMember(members, challenge);
 * const { nodes } = membershipProof(members, index);
 * verifyMembership(statement, [index], [challenge], nodes); // true
 * ```
 */
export function membershipProof(
  members: readonly Uint8Array[],
  leafIndex: number,
  options: MembershipTreeOptions = {},
): MembershipPath {
  const { nodes } = membershipMultiProof(members, [leafIndex], options);
  return { nodes, leafIndex };
}

/**
 * The proof that the members at `leafIndices` are in the tree, the multi-leaf form used for
 * merged identities (docs/protocol.md §4.3).
 *
 * @throws {ConfigError} when the indices are not strictly ascending member positions or a member
 *   is not 32 bytes.
 * @example
 * ```ts
 * const { nodes } = membershipMultiProof(members, [1, 4, 7]);
 * verifyMembership(statement, [1, 4, 7], [members[1], members[4], members[7]], nodes); // true
 * ```
 */
export function membershipMultiProof(
  members: readonly Uint8Array[],
  leafIndices: readonly number[],
  options: MembershipTreeOptions = {},
): MembershipMultiPath {
  for (const index of leafIndices) {
    if (!Number.isSafeInteger(index) || index < 0 || index >= members.length) {
      throw new ConfigError(
        "leafIndex",
        `${index} is not the position of one of the ${members.length} members`,
      );
    }
  }
  const bad = members.findIndex((member) => member.length !== 32);
  if (bad >= 0) {
    throw new ConfigError("members", `members[${bad}] is ${members[bad]!.length} bytes, not 32`);
  }
  const positions = partialTreeProofPositions(
    leafIndices.map((index) => BigInt(index)),
    treeHeight(BigInt(members.length)),
  );
  return {
    nodes: buildTree(members, positions, options.hasher).nodes,
    leafIndices: [...leafIndices],
  };
}

/**
 * The position of the first member equal to `challenge`, or `undefined`: the node's leaf index
 * (docs/protocol.md §4.3).
 *
 * @example
 * ```ts
 * if (findMember(members, challenge) === undefined) throw new Error("not registered");
 * ```
 */
export function findMember(
  members: readonly Uint8Array[],
  challenge: Uint8Array,
): number | undefined {
  const index = members.findIndex((member) => equalBytes(member, challenge));
  return index < 0 ? undefined : index;
}

function buildTree(
  members: readonly Uint8Array[],
  positions: readonly TreePosition[],
  hasher: MembershipHasher = sharedMembershipHasher(),
) {
  const width = members.length;
  const level = new Uint8Array(32 * (width + 1));
  for (const [i, member] of members.entries()) level.set(member, 32 * i);
  const parents = new Uint8Array(32 * Math.ceil(width / 2));
  return collectTreeNodes(level, width, positions, (nodes, count) => {
    const pairs = Math.ceil(count / 2);
    hasher.hashPairs(nodes, pairs, parents);
    nodes.set(parents.subarray(0, 32 * pairs));
  });
}

/** The root over packed 32-byte members, one level at a time in one buffer. */
function packedRoot(members: PackedMembers, hasher = sharedMembershipHasher()): Uint8Array {
  let count = members.length;
  if (count === 0) return new Uint8Array(0);
  if (count === 1) return members.bytes.slice(0, 32);
  const level = new Uint8Array(32 * (count + 1));
  level.set(members.bytes);
  const parents = new Uint8Array(32 * Math.ceil(count / 2));
  while (count > 1) {
    const pairs = Math.ceil(count / 2);
    level.fill(0, 32 * count, 32 * (count + 1));
    hasher.hashPairs(level, pairs, parents);
    level.set(parents.subarray(0, 32 * pairs));
    count = pairs;
  }
  return level.slice(0, 32);
}

/** The same tree over members of any length, one node object at a time. */
function rawMembershipRoot(members: readonly Uint8Array[]): Uint8Array {
  const zero = new Uint8Array(32);
  let level: Uint8Array[] = [...members];
  while (level.length > 1) {
    const next: Uint8Array[] = [];
    for (let i = 0; i < level.length; i += 2) {
      next.push(membershipNodeHash(level[i]!, level[i + 1] ?? zero));
    }
    level = next;
  }
  return level[0]!.slice();
}
