/**
 * @module membership/packed-tree
 *
 * The membership tree of a whole round (docs/protocol.md §4.2, §4.3) built for mainnet sizes:
 * millions of members, thousands of identities asking for their proof, and an event loop that
 * must never stop for long.
 *
 * - **Packed.** The leaves are a {@link PackedMembers} (one buffer); the tree keeps only the levels
 *   from height {@link BOTTOM_HEIGHT} up, as packed buffers: about `N` bytes for `N` members
 *   instead of `64·N` for every level. A membership proof hashes again the 64-leaf block that
 *   holds its leaf (63 hashes) and reads the rest of its path from the kept levels.
 * - **Sliced.** Building hashes `N − 1` nodes, half a second for 3,000,000 members with the
 *   WebAssembly kernel; it runs in slices of a bounded number of hashes with an awaited `pause`
 *   between them, which the caller provides (the registration layer yields to the event loop
 *   there). This module stays pure: no timers, no clock.
 *
 * The tree is the protocol's: a parent is `BLAKE3(0x01 ‖ left ‖ right)`, a missing right sibling
 * at any height is 32 zero bytes, one member is its own root and no members give an empty root.
 */
import { throwIfAborted } from "../errors.js";
import type { MembershipHasher } from "../verify/hasher.js";
import { sharedMembershipHasher } from "../verify/wasm/select-hasher.js";
import type { PackedMembers } from "../wire/index.js";

/** Height of the lowest kept level: proofs rehash blocks of `2^BOTTOM_HEIGHT` leaves. */
export const BOTTOM_HEIGHT = 6;
const ZERO32 = new Uint8Array(32);

/** How long work runs between pauses, and how it pauses. */
export interface SliceOptions {
  /**
   * Awaited between slices (for example a yield to the event loop). Without it the work runs in
   * one go.
   */
  pause?: (() => Promise<void>) | undefined;
  /** Most hashes (or members, for an index) per slice. Default 16,384 (a few ms with the kernel). */
  sliceSize?: number | undefined;
  signal?: AbortSignal | undefined;
  /** The BLAKE3 implementation (default the shared kernel). */
  hasher?: MembershipHasher | undefined;
}

/** A sibling path, bottom-up, of the member at `leafIndex`. */
export interface PackedTreePath {
  nodes: Uint8Array[];
  leafIndex: number;
}

const DEFAULT_SLICE = 16_384;

/** Runs slices of work with the caller's pause between them. */
export class Slicer {
  readonly #pause: (() => Promise<void>) | undefined;
  readonly #signal: AbortSignal | undefined;
  readonly size: number;
  #done = 0;
  /** Pauses taken so far. */
  pauses = 0;

  constructor(options: SliceOptions = {}) {
    this.#pause = options.pause;
    this.#signal = options.signal;
    const size = options.sliceSize ?? DEFAULT_SLICE;
    this.size = Number.isSafeInteger(size) && size > 0 ? size : DEFAULT_SLICE;
  }

  /** Counts `units` of work done; pauses once a slice's worth has been done since the last. */
  async did(units: number): Promise<void> {
    this.#done += units;
    if (this.#done < this.size) return;
    this.#done = 0;
    throwIfAborted(this.#signal);
    if (this.#pause !== undefined) {
      this.pauses++;
      await this.#pause();
      throwIfAborted(this.#signal);
    }
  }
}

/** `count` nodes (packed in `from`) hashed pairwise into `to`; the last pair padded with zeros. */
function hashLevel(
  hasher: MembershipHasher,
  from: Uint8Array,
  count: number,
  to: Uint8Array,
  scratch: Uint8Array,
): number {
  const pairs = Math.ceil(count / 2);
  if (count % 2 === 0) {
    hasher.hashPairs(from, pairs, to);
  } else {
    if (pairs > 1) hasher.hashPairs(from, pairs - 1, to);
    scratch.set(from.subarray(32 * (count - 1), 32 * count), 0);
    scratch.fill(0, 32, 64);
    const last = to.subarray(32 * (pairs - 1), 32 * pairs);
    hasher.hashPairs(scratch, 1, last);
  }
  return pairs;
}

/**
 * A round's membership tree over packed members: its root and any member's proof.
 *
 * @example
 * ```ts
 * const tree = await PackedMembershipTree.build(members, { pause: yieldToEventLoop, signal });
 * tree.root;          // the statement the PoET proved over
 * tree.path(17).nodes; // member 17's siblings, bottom-up
 * ```
 */
export class PackedMembershipTree {
  readonly members: PackedMembers;
  /** The membership root (empty for a round without members). */
  readonly root: Uint8Array;
  /** Tree height: the number of siblings in a path. */
  readonly height: number;
  readonly #hasher: MembershipHasher;
  /** Levels `bottom … height` (index 0 is height `bottom`), packed. */
  readonly #levels: Uint8Array[];
  readonly #counts: number[];
  readonly #bottom: number;

  private constructor(
    members: PackedMembers,
    hasher: MembershipHasher,
    height: number,
    bottom: number,
    levels: Uint8Array[],
    counts: number[],
  ) {
    this.members = members;
    this.#hasher = hasher;
    this.height = height;
    this.#bottom = bottom;
    this.#levels = levels;
    this.#counts = counts;
    const n = members.length;
    this.root =
      n === 0
        ? new Uint8Array(0)
        : n === 1
          ? members.bytes.slice(0, 32)
          : (levels.at(-1) as Uint8Array).slice(0, 32);
  }

  /**
   * Builds the kept levels and the root, in slices of `options.sliceSize` hashes.
   *
   * @throws {AbortedError} when `options.signal` fires between slices.
   */
  static async build(
    members: PackedMembers,
    options: SliceOptions = {},
  ): Promise<PackedMembershipTree> {
    const hasher = options.hasher ?? sharedMembershipHasher();
    const slicer = new Slicer(options);
    const n = members.length;
    const height = n <= 1 ? 0 : (n - 1).toString(2).length;
    const bottom = Math.min(BOTTOM_HEIGHT, height);
    if (n <= 1) return new PackedMembershipTree(members, hasher, 0, 0, [], []);
    const blockLeaves = 2 ** bottom;
    const blocks = Math.ceil(n / blockLeaves);
    // Blocks per slice: at least one, about `sliceSize` hashes.
    const perSlice = Math.max(1, Math.ceil(slicer.size / blockLeaves));
    const firstLevel = new Uint8Array(32 * blocks);
    const a = new Uint8Array(32 * blockLeaves * perSlice);
    const b = new Uint8Array(16 * blockLeaves * perSlice);
    const scratch = new Uint8Array(64);
    for (let block = 0; block < blocks; block += perSlice) {
      const first = block * blockLeaves;
      let count = Math.min(perSlice * blockLeaves, n - first);
      let from = a;
      let to = b;
      from.set(members.bytes.subarray(32 * first, 32 * (first + count)));
      for (let h = 0; h < bottom; h++) {
        count = hashLevel(hasher, from, count, to, scratch);
        [from, to] = [to, from];
      }
      firstLevel.set(from.subarray(0, 32 * count), 32 * block);
      await slicer.did(Math.min(perSlice * blockLeaves, n - first));
    }
    const levels = [firstLevel];
    const counts = [blocks];
    for (let h = bottom; h < height; h++) {
      const below = levels.at(-1) as Uint8Array;
      const belowCount = counts.at(-1) as number;
      const count = Math.ceil(belowCount / 2);
      const level = new Uint8Array(32 * count);
      // Slices of whole pairs: nodes [start, end) of the level below.
      const step = 2 * Math.max(1, Math.floor(slicer.size / 2));
      for (let start = 0; start < belowCount; start += step) {
        const end = Math.min(belowCount, start + step);
        hashLevel(
          hasher,
          below.subarray(32 * start, 32 * end),
          end - start,
          level.subarray(16 * start),
          scratch,
        );
        await slicer.did(end - start);
      }
      levels.push(level);
      counts.push(count);
    }
    return new PackedMembershipTree(members, hasher, height, bottom, levels, counts);
  }

  /**
   * The sibling path of the member at `leafIndex`, bottom-up, padding zeros included.
   *
   * @throws {RangeError} when `leafIndex` is not a member's position.
   */
  path(leafIndex: number): PackedTreePath {
    const n = this.members.length;
    if (!Number.isSafeInteger(leafIndex) || leafIndex < 0 || leafIndex >= n) {
      throw new RangeError(`leaf index ${leafIndex} is outside 0..${n - 1}`);
    }
    const nodes: Uint8Array[] = [];
    const bottom = this.#bottom;
    // The block of 2^bottom leaves holding the leaf, hashed up to height `bottom`.
    const first = (leafIndex >> bottom) << bottom;
    let count = Math.min(2 ** bottom, n - first);
    let from = this.members.bytes.slice(32 * first, 32 * (first + count));
    let i = leafIndex - first;
    const scratch = new Uint8Array(64);
    for (let h = 0; h < bottom; h++) {
      const sibling = i ^ 1;
      nodes.push(sibling < count ? from.slice(32 * sibling, 32 * sibling + 32) : ZERO32.slice());
      const to = new Uint8Array(16 * (count + 1));
      count = hashLevel(this.#hasher, from, count, to, scratch);
      from = to;
      i >>= 1;
    }
    let index = leafIndex >> bottom;
    for (let h = bottom; h < this.height; h++) {
      const level = this.#levels[h - bottom] as Uint8Array;
      const sibling = index ^ 1;
      nodes.push(
        sibling < (this.#counts[h - bottom] as number)
          ? level.slice(32 * sibling, 32 * sibling + 32)
          : ZERO32.slice(),
      );
      index >>= 1;
    }
    return { nodes, leafIndex };
  }
}
