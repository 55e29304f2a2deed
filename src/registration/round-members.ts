/**
 * @module registration/round-members
 *
 * The member list of one PoET round, prepared once for every identity that looks itself up in
 * it (docs/protocol.md §4.2, §4.3; docs/node-client.md §1.6, §5).
 *
 * A mainnet round has millions of members and a node may run thousands of identities, each
 * registered at several PoETs. So, per PoET and round, exactly once: the members stay packed in
 * one buffer ({@link MemberList}); the membership tree keeps only its upper levels
 * ({@link PackedMembershipTree}: a proof rehashes one 64-leaf block); the first position of each
 * member is in a hash table ({@link MemberIndex}). Both are built in slices that yield to the
 * event loop between them, so that no step of a 3,000,000-member round blocks the node for more
 * than a few milliseconds (a slice is 16,384 hashes or members). The index's seed is random per
 * round, so that members crafted by others cannot crowd its slots.
 */
import { randomInt } from "node:crypto";
import { setImmediate as yieldToEventLoop } from "node:timers/promises";
import { MemberIndex } from "../membership/member-index.js";
import { PackedMembershipTree, type SliceOptions } from "../membership/packed-tree.js";
import type { MemberList, MembershipProof } from "../wire/index.js";

/** Options of {@link RoundMembers.build}. */
export interface RoundMembersOptions {
  signal?: AbortSignal | undefined;
  /** Most hashes or members per slice (default 16,384). */
  sliceSize?: number | undefined;
  /** Awaited between slices (default: a yield to the event loop). */
  pause?: (() => Promise<void>) | undefined;
}

/**
 * A round's members with their root, index and tree, shared by every identity.
 *
 * @example
 * ```ts
 * const round = await RoundMembers.build(proof.members, { signal });
 * round.root;                        // the statement
 * const index = round.indexOf(challenge); // -1 when the challenge is not a member
 * const membership = round.proofFor(index); // { nodes, leafIndex }
 * ```
 */
export class RoundMembers {
  readonly members: MemberList;
  /** The membership root: the statement the PoET proved over. */
  readonly root: Uint8Array;
  /** Slices the build was cut into (pauses taken). */
  readonly slices: number;
  readonly #tree: PackedMembershipTree;
  readonly #index: MemberIndex;

  private constructor(tree: PackedMembershipTree, index: MemberIndex, slices: number) {
    this.members = tree.members;
    this.root = tree.root;
    this.#tree = tree;
    this.#index = index;
    this.slices = slices;
  }

  /**
   * Builds the tree and the index of `members`, yielding between slices.
   *
   * @throws {AbortedError} when `options.signal` fires.
   */
  static async build(
    members: MemberList,
    options: RoundMembersOptions = {},
  ): Promise<RoundMembers> {
    let slices = 0;
    const pause = options.pause ?? (() => yieldToEventLoop());
    const slicing: SliceOptions = {
      signal: options.signal,
      sliceSize: options.sliceSize,
      pause: async () => {
        slices++;
        await pause();
      },
    };
    const tree = await PackedMembershipTree.build(members, slicing);
    const index = await MemberIndex.build(members, { ...slicing, seed: randomInt(2 ** 31) });
    return new RoundMembers(tree, index, slices);
  }

  /** The number of members. */
  get count(): number {
    return this.members.length;
  }

  /** The position of the first member equal to `challenge`, or −1. */
  indexOf(challenge: Uint8Array): number {
    return this.#index.indexOf(challenge);
  }

  /**
   * The sibling path of the member at `leafIndex`, bottom-up (docs/protocol.md §4.3).
   *
   * @throws {RangeError} when `leafIndex` is not a member's position.
   */
  proofFor(leafIndex: number): MembershipProof {
    const { nodes } = this.#tree.path(leafIndex);
    return { nodes, leafIndex: BigInt(leafIndex) };
  }
}
