/**
 * @module membership/membership-tree
 *
 * The membership tree of a PoET round (docs/protocol.md §4.2, §4.3), the one implementation that
 * every caller uses: the statement's root, a node's sibling path, multi-leaf proofs, and the
 * registration manager's shared tree of a mainnet round.
 *
 * Its leaves are the challenges registered in the round, as they are and in the order the PoET
 * lists them; a parent is `BLAKE3(0x01 ‖ left ‖ right)`; wherever a right sibling is missing, at
 * any height, it is 32 zero bytes (not a hash of zeros). One member is its own root, no members
 * give the empty byte string.
 *
 * Built for mainnet sizes (millions of members, thousands of identities asking for their path,
 * an event loop that must never stop for long):
 *
 * - **Levels cached, packed.** The leaves are one {@link PackedMembers} buffer; the tree keeps the
 *   levels from height {@link BOTTOM_HEIGHT} up, as packed buffers: about `N` bytes for `N`
 *   members instead of `64·N` for every level. A node below that height is rehashed from the
 *   64-leaf block that holds it (at most 63 hashes); everything above is read off the levels.
 * - **Sliced or in one go, the same code.** Building hashes `N − 1` nodes, half a second for
 *   3,000,000 members with the WebAssembly kernel. The build is one generator that reports the
 *   work done after every slice of a bounded number of hashes: {@link MembershipTree.build}
 *   awaits the caller's `pause` there (the registration layer yields to the event loop),
 *   {@link MembershipTree.buildSync} runs straight through. This module stays pure: no timers,
 *   no clock.
 *
 * The hashing is the shared WebAssembly SIMD BLAKE3 kernel by default (`@noble/hashes` where the
 * engine lacks SIMD). {@link membershipRoot} of separate 32-byte members lets a kernel that can
 * fold a whole root inside the module do so, since no level is needed; rounds with members that
 * are not 32 bytes (the PoET does not enforce the size) get their root from the same rule over
 * the raw bytes, as the PoET computes it. Proofs require 32-byte members, which is all a node's
 * challenge can be.
 */
import type { AbortOptions } from "../abort-options.js";
import { equalBytes } from "../bytes.js";
import { ConfigError, throwIfAborted } from "../errors.js";
import { membershipNodeHash } from "../verify/blake3-hasher.js";
import type { MembershipHasher } from "../verify/hasher.js";
import { partialTreeProofPositions, treeHeight } from "../verify/partial-tree-proof.js";
import { sharedMembershipHasher } from "../verify/wasm/select-hasher.js";
import { PackedMembers } from "../wire/index.js";

/** Height of the lowest kept level: nodes below it are rehashed from blocks of `2^BOTTOM_HEIGHT` leaves. */
export const BOTTOM_HEIGHT = 6;
const ZERO32 = new Uint8Array(32);
const DEFAULT_SLICE = 16_384;

/** Options of the membership-tree functions. */
export interface MembershipTreeOptions {
  /**
   * The BLAKE3 implementation: the shared WebAssembly SIMD kernel by default (`@noble/hashes` where
   * the engine lacks SIMD); `createBlake3MembershipHasher()` for the JavaScript one.
   */
  hasher?: MembershipHasher | undefined;
}

/** How long work runs between pauses, and how it pauses. */
export interface SliceOptions extends MembershipTreeOptions, AbortOptions {
  /**
   * Awaited between slices (for example a yield to the event loop). Without it the work runs in
   * one go.
   */
  pause?: (() => Promise<void>) | undefined;
  /** Most hashes (or members, for an index) per slice. Default 16,384 (a few ms with the kernel). */
  sliceSize?: number | undefined;
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

function sliceSizeOf(options: SliceOptions): number {
  const size = options.sliceSize ?? DEFAULT_SLICE;
  return Number.isSafeInteger(size) && size > 0 ? size : DEFAULT_SLICE;
}

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
    this.size = sliceSizeOf(options);
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

/** The kept levels of a tree: heights `bottom … height`, index 0 is height `bottom`. */
interface Levels {
  height: number;
  bottom: number;
  levels: Uint8Array[];
  counts: number[];
}

/**
 * Hashes the kept levels of the tree over `members`, yielding the number of hashes done after
 * every slice of about `sliceSize` of them. The one place the tree is built.
 */
function* hashLevels(
  members: PackedMembers,
  hasher: MembershipHasher,
  sliceSize: number,
): Generator<number, Levels, void> {
  const n = members.length;
  const height = n <= 1 ? 0 : treeHeight(BigInt(n));
  const bottom = Math.min(BOTTOM_HEIGHT, height);
  if (n <= 1) return { height: 0, bottom: 0, levels: [], counts: [] };
  const blockLeaves = 2 ** bottom;
  const blocks = Math.ceil(n / blockLeaves);
  // Blocks per slice: at least one, about `sliceSize` hashes.
  const perSlice = Math.min(blocks, Math.max(1, Math.ceil(sliceSize / blockLeaves)));
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
    yield Math.min(perSlice * blockLeaves, n - first);
  }
  const levels = [firstLevel];
  const counts = [blocks];
  for (let h = bottom; h < height; h++) {
    const below = levels.at(-1) as Uint8Array;
    const belowCount = counts.at(-1) as number;
    const count = Math.ceil(belowCount / 2);
    const level = new Uint8Array(32 * count);
    // Slices of whole pairs: nodes [start, end) of the level below.
    const step = 2 * Math.max(1, Math.floor(sliceSize / 2));
    for (let start = 0; start < belowCount; start += step) {
      const end = Math.min(belowCount, start + step);
      hashLevel(
        hasher,
        below.subarray(32 * start, 32 * end),
        end - start,
        level.subarray(16 * start),
        scratch,
      );
      yield end - start;
    }
    levels.push(level);
    counts.push(count);
  }
  return { height, bottom, levels, counts };
}

function packedOf(members: readonly Uint8Array[] | PackedMembers): PackedMembers {
  if (members instanceof PackedMembers) return members;
  const bad = members.findIndex((member) => member.length !== 32);
  if (bad >= 0) {
    throw new ConfigError("members", `members[${bad}] is ${members[bad]!.length} bytes, not 32`);
  }
  return PackedMembers.from(members);
}

/**
 * A round's membership tree over 32-byte members, with its upper levels cached: its root, any
 * member's sibling path, any node a multi-leaf proof needs.
 *
 * @example
 * ```ts
 * const tree = await MembershipTree.build(members, { pause: yieldToEventLoop, signal });
 * tree.root;           // the statement the PoET proved over
 * tree.path(17).nodes; // member 17's siblings, bottom-up
 * ```
 */
export class MembershipTree {
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
  /** See `#pathWork` (made on the first path). */
  #work: Uint8Array[] | undefined;

  private constructor(members: PackedMembers, hasher: MembershipHasher, built: Levels) {
    this.members = members;
    this.#hasher = hasher;
    this.height = built.height;
    this.#bottom = built.bottom;
    this.#levels = built.levels;
    this.#counts = built.counts;
    const n = members.length;
    this.root =
      n === 0
        ? new Uint8Array(0)
        : n === 1
          ? members.bytes.slice(0, 32)
          : (built.levels.at(-1) as Uint8Array).slice(0, 32);
  }

  /**
   * Builds the kept levels and the root, in slices of `options.sliceSize` hashes with
   * `options.pause` awaited between them.
   *
   * @throws {ConfigError} when a member is not 32 bytes.
   * @throws {AbortedError} when `options.signal` fires between slices.
   */
  static async build(
    members: readonly Uint8Array[] | PackedMembers,
    options: SliceOptions = {},
  ): Promise<MembershipTree> {
    const packed = packedOf(members);
    const hasher = options.hasher ?? sharedMembershipHasher();
    const slicer = new Slicer(options);
    const work = hashLevels(packed, hasher, slicer.size);
    for (;;) {
      const step = work.next();
      if (step.done) return new MembershipTree(packed, hasher, step.value);
      await slicer.did(step.value);
    }
  }

  /**
   * Builds the tree in one go on the calling thread (half a second at 3,000,000 members).
   *
   * @throws {ConfigError} when a member is not 32 bytes.
   */
  static buildSync(
    members: readonly Uint8Array[] | PackedMembers,
    options: MembershipTreeOptions = {},
  ): MembershipTree {
    const packed = packedOf(members);
    const hasher = options.hasher ?? sharedMembershipHasher();
    // Slices keep the working buffers small; here nothing waits between them.
    const work = hashLevels(packed, hasher, DEFAULT_SLICE);
    for (;;) {
      const step = work.next();
      if (step.done) return new MembershipTree(packed, hasher, step.value);
    }
  }

  /** The number of members (leaves). */
  get count(): number {
    return this.members.length;
  }

  /**
   * The node at `index` of the level `height` above the leaves; 32 zero bytes where the level
   * has no such node (the padding rule).
   */
  node(height: number, index: number): Uint8Array {
    const n = this.members.length;
    if (height >= this.#bottom && height > 0) {
      const level = height - this.#bottom;
      return index < (this.#counts[level] as number)
        ? (this.#levels[level] as Uint8Array).slice(32 * index, 32 * index + 32)
        : ZERO32.slice();
    }
    // Below the kept levels: hash up the block of leaves under the node.
    const first = index << height;
    if (first >= n) return ZERO32.slice();
    let count = Math.min(2 ** height, n - first);
    let from = this.members.bytes.slice(32 * first, 32 * (first + count));
    const scratch = new Uint8Array(64);
    for (let h = 0; h < height; h++) {
      const to = new Uint8Array(16 * (count + 1));
      count = hashLevel(this.#hasher, from, count, to, scratch);
      from = to;
    }
    return from.slice(0, 32);
  }

  /** Two buffers for the levels of one block of leaves, and the odd node's scratch. */
  #pathWork(): Uint8Array[] {
    this.#work ??= [
      new Uint8Array(16 * (2 ** this.#bottom + 1)),
      new Uint8Array(16 * (2 ** this.#bottom + 1)),
      new Uint8Array(64),
    ];
    return this.#work;
  }

  /**
   * The sibling path of the member at `leafIndex`, bottom-up, padding zeros included.
   *
   * @throws {RangeError} when `leafIndex` is not a member's position.
   */
  path(leafIndex: number): MembershipPath {
    const n = this.members.length;
    if (!Number.isSafeInteger(leafIndex) || leafIndex < 0 || leafIndex >= n) {
      throw new RangeError(`leaf index ${leafIndex} is outside 0..${n - 1}`);
    }
    const nodes: Uint8Array[] = [];
    const bottom = this.#bottom;
    // The block of 2^bottom leaves holding the leaf, hashed up to height `bottom` once, read in
    // place and hashed into the tree's two work buffers (thousands of identities ask for a path:
    // no copy of the block nor an array per level for each).
    const first = (leafIndex >> bottom) << bottom;
    let count = Math.min(2 ** bottom, n - first);
    let from = this.members.bytes.subarray(32 * first, 32 * (first + count));
    let i = leafIndex - first;
    const work = this.#pathWork();
    for (let h = 0; h < bottom; h++) {
      const sibling = i ^ 1;
      nodes.push(sibling < count ? from.slice(32 * sibling, 32 * sibling + 32) : ZERO32.slice());
      const to = work[h % 2] as Uint8Array;
      count = hashLevel(this.#hasher, from, count, to, work[2] as Uint8Array);
      from = to;
      i >>= 1;
    }
    for (let h = bottom, index = leafIndex >> bottom; h < this.height; h++, index >>= 1) {
      nodes.push(this.node(h, index ^ 1));
    }
    return { nodes, leafIndex };
  }
}

/**
 * The root of the membership tree: the round's statement. One member is its own root; no members
 * give the empty byte string, as the PoET computes it for an empty round.
 *
 * Members may be separate arrays or a {@link PackedMembers} (what `PoetClient.proof` returns). This
 * runs in one go on the calling thread (half a second at 3,000,000 members); the registration
 * manager builds big rounds' trees in slices instead (`MembershipTree.build`).
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
  if (!(members instanceof PackedMembers)) {
    if (members.length === 0) return new Uint8Array(0);
    if (members.length === 1) return members[0]!.slice();
    if (members.some((member) => member.length !== 32)) return rawMembershipRoot(members);
    const hasher = options.hasher ?? sharedMembershipHasher();
    if (hasher.root !== undefined) return hasher.root(members);
  }
  return MembershipTree.buildSync(members, options).root;
}

function checkLeafIndex(index: number, count: number): void {
  if (!Number.isSafeInteger(index) || index < 0 || index >= count) {
    throw new ConfigError(
      "leafIndex",
      `${index} is not the position of one of the ${count} members`,
    );
  }
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
  members: readonly Uint8Array[] | PackedMembers,
  leafIndex: number,
  options: MembershipTreeOptions = {},
): MembershipPath {
  checkLeafIndex(leafIndex, members.length);
  return MembershipTree.buildSync(members, options).path(leafIndex);
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
  members: readonly Uint8Array[] | PackedMembers,
  leafIndices: readonly number[],
  options: MembershipTreeOptions = {},
): MembershipMultiPath {
  for (const index of leafIndices) checkLeafIndex(index, members.length);
  const positions = partialTreeProofPositions(
    leafIndices.map((index) => BigInt(index)),
    treeHeight(BigInt(members.length)),
  );
  const tree = MembershipTree.buildSync(members, options);
  return {
    nodes: positions.map((position) => tree.node(position.height, Number(position.index))),
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
