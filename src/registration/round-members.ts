/**
 * @module registration/round-members
 *
 * The member list of one PoET round, prepared once for every identity that looks itself up in
 * it (docs/protocol.md §4.2, §4.3; docs/node-client.md §1.6, §5).
 *
 * A mainnet round has millions of members and a node may run thousands of identities, each
 * registered at several PoETs. So, per PoET and round, exactly once: the members stay packed in
 * one buffer ({@link PackedMembers}); the membership tree keeps only its upper levels
 * ({@link MembershipTree}, the one tree every caller uses: a proof rehashes one 64-leaf block). Finding a challenge is a
 * scan of the packed members for the first few identities (a few milliseconds each at 3,000,000
 * members, cheaper than any index for a node with a handful of identities); from the
 * {@link LINEAR_LOOKUPS}+1-th lookup on, a hash table of first positions ({@link MemberIndex}) is
 * built once and answers in constant time, so a thousand identities cost one pass, not a
 * thousand. The tree, the index and the scans run in slices that yield to the event loop between
 * them, so that no step of a 3,000,000-member round blocks the node for more than a few
 * milliseconds (a slice is 16,384 hashes, or members for the index), and the slices of all rounds
 * take turns: one slice per turn of the event loop, however many PoETs' rounds are being
 * prepared at once. The index's seed is random
 * per round, so that members crafted by others cannot crowd its slots.
 */

import { randomInt } from "node:crypto";
import { setImmediate as yieldToEventLoop } from "node:timers/promises";
import type { AbortOptions } from "../abort-options.js";
import { raceAbort } from "../abortable.js";
import { throwIfAborted } from "../errors.js";
import { MemberIndex, MembershipTree, type SliceOptions, Slicer } from "../membership/index.js";
import { TurnBudget } from "../turn-budget.js";
import type { MembershipProof, PackedMembers } from "../wire/index.js";

/**
 * One slice of member work (of a tree, an index or a scan) per turn of the event loop, for all
 * rounds together: the rounds of several PoETs end together, and slices that each only yielded
 * would all run in the same turn, one block as long as all of them.
 */
const memberTurns = new TurnBudget(1);

/** The default pause between slices: a turn of the event loop, then the shared slice turn. */
async function nextSlice(): Promise<void> {
  await yieldToEventLoop();
  const wait = memberTurns.take();
  if (wait !== undefined) await wait;
}

/** Lookups answered by scanning before the index is built. */
export const LINEAR_LOOKUPS = 8;
/**
 * Members compared per slice of a scan: about a millisecond once compiled, and the first slices
 * run before the engine has compiled the scan.
 */
const SCAN_SLICE = 1 << 18;

/** Options of {@link RoundMembers.build}. */
export interface RoundMembersOptions extends AbortOptions {
  /** Most hashes or members per slice (default 16,384). */
  sliceSize?: number | undefined;
  /**
   * Awaited between slices (default: a yield to the event loop, then a turn in which no other
   * round's slice ran).
   */
  pause?: (() => Promise<void>) | undefined;
}

/**
 * A round's members with their root, index and tree, shared by every identity.
 *
 * @example
 * ```ts
 * const round = await RoundMembers.build(proof.members, { signal });
 * round.root;                        // the statement
 * const index = await round.indexOf(challenge, { signal }); // -1 when not a member
 * const membership = round.proofFor(index); // { nodes, leafIndex }
 * ```
 */
export class RoundMembers {
  readonly members: PackedMembers;
  /** The membership root: the statement the PoET proved over. */
  readonly root: Uint8Array;
  readonly #tree: MembershipTree;
  readonly #slicing: SliceOptions;
  readonly #words: Uint32Array;
  #lookups = 0;
  #index: Promise<MemberIndex> | undefined;
  #slices: { count: number };

  private constructor(tree: MembershipTree, slicing: SliceOptions, slices: { count: number }) {
    this.members = tree.members;
    this.root = tree.root;
    this.#tree = tree;
    this.#slicing = slicing;
    this.#slices = slices;
    const bytes =
      this.members.bytes.byteOffset % 4 === 0 ? this.members.bytes : this.members.bytes.slice();
    this.#words = new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4);
  }

  /**
   * Builds the tree of `members`, yielding between slices.
   *
   * @throws {AbortedError} when `options.signal` fires.
   */
  static async build(
    members: PackedMembers,
    options: RoundMembersOptions = {},
  ): Promise<RoundMembers> {
    const slices = { count: 0 };
    const pause = options.pause ?? nextSlice;
    const slicing: SliceOptions = {
      signal: options.signal,
      sliceSize: options.sliceSize,
      pause: async () => {
        slices.count++;
        await pause();
      },
    };
    // The rounds of several PoETs end together: a round bigger than one slice waits for its turn
    // before its first slice too, so first slices do not all run in the turn the downloads ended.
    if (members.length > new Slicer({ sliceSize: options.sliceSize }).size) {
      throwIfAborted(options.signal);
      await pause();
    }
    const tree = await MembershipTree.build(members, slicing);
    // The index outlives this call: it is built later, for lookups, without the caller's signal.
    return new RoundMembers(tree, { ...slicing, signal: undefined }, slices);
  }

  /** The number of members. */
  get count(): number {
    return this.members.length;
  }

  /** Slices the work was cut into so far (pauses taken). */
  get slices(): number {
    return this.#slices.count;
  }

  /** Whether lookups go through the index (built after {@link LINEAR_LOOKUPS} scans). */
  get indexed(): boolean {
    return this.#index !== undefined;
  }

  /**
   * The position of the first member equal to `challenge`, or −1.
   *
   * @throws {AbortedError} when `options.signal` fires.
   */
  async indexOf(challenge: Uint8Array, options: AbortOptions = {}): Promise<number> {
    if (challenge.length !== 32) return -1;
    this.#lookups++;
    if (this.#index === undefined && this.#lookups <= LINEAR_LOOKUPS) {
      return this.#scan(challenge, options.signal);
    }
    this.#index ??= MemberIndex.build(this.members, {
      ...this.#slicing,
      seed: randomInt(2 ** 31),
    });
    const index = await raceAbort(this.#index, options.signal);
    return index.indexOf(challenge);
  }

  /** The first position of `challenge` by comparing members in order, in slices. */
  async #scan(challenge: Uint8Array, signal: AbortSignal | undefined): Promise<number> {
    const key = new Uint32Array(challenge.slice().buffer);
    const first = key[0] as number;
    const words = this.#words;
    const slicer = new Slicer({ ...this.#slicing, signal, sliceSize: SCAN_SLICE });
    const n = this.members.length;
    for (let start = 0; start < n; start += SCAN_SLICE) {
      const end = Math.min(n, start + SCAN_SLICE);
      for (let i = start, at = 8 * start; i < end; i++, at += 8) {
        if (words[at] !== first) continue;
        let w = 1;
        while (w < 8 && words[at + w] === key[w]) w++;
        if (w === 8) return i;
      }
      await slicer.did(end - start);
    }
    return -1;
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
