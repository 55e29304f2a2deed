/**
 * @module membership/member-index
 *
 * Finds a challenge among a round's packed members in constant time (docs/protocol.md §4.3: a
 * node's leaf index is the first position of its challenge). A node with thousands of identities
 * looks each of them up in the member list of every PoET; a linear scan of 3,000,000 members per
 * lookup would cost minutes, a map keyed by hex strings about 200 bytes per member.
 *
 * This is an open-addressing table of member positions (4 bytes a slot, at most 2/3 full), keyed
 * by a seeded mix of all 32 bytes of a member. The members come from the PoET, and anyone can
 * register any 32 bytes, so the seed should be secret and random: crafted members then cannot
 * pile up in one run of slots. Identical members keep the first position, as the protocol asks.
 * The table is built in slices like the tree ({@link SliceOptions}).
 */
import type { PackedMembers } from "../wire/index.js";
import { type SliceOptions, Slicer } from "./membership-tree.js";

/** Options of {@link MemberIndex.build}. */
export interface MemberIndexOptions extends SliceOptions {
  /** Seed of the slot hash (32 bits). Use a random one for members from the network. */
  seed: number;
}

function slotHash(words: Uint32Array, at: number, seed: number): number {
  let h = seed | 0;
  for (let w = 0; w < 8; w++) {
    h = Math.imul(h ^ (words[at + w] as number), 0x9e3779b1);
    h ^= h >>> 15;
  }
  h = Math.imul(h ^ (h >>> 13), 0x85ebca6b);
  return (h ^ (h >>> 16)) >>> 0;
}

/** Most members copied at once for hashing (512 KiB). */
const COPY_BLOCK = 16_384;

function sameMember(words: Uint32Array, a: number, b: Uint32Array, at: number): boolean {
  for (let w = 0; w < 8; w++) if (words[a + w] !== b[at + w]) return false;
  return true;
}

/**
 * The first position of every distinct member.
 *
 * @example
 * ```ts
 * const index = await MemberIndex.build(members, { seed, pause: yieldToEventLoop });
 * index.indexOf(challenge); // -1 when the challenge is not a member
 * ```
 */
export class MemberIndex {
  readonly #words: Uint32Array;
  readonly #slots: Int32Array;
  readonly #mask: number;
  readonly #seed: number;

  private constructor(words: Uint32Array, slots: Int32Array, seed: number) {
    this.#words = words;
    this.#slots = slots;
    this.#mask = slots.length - 1;
    this.#seed = seed;
  }

  /**
   * Indexes `members`, in slices of `options.sliceSize` members.
   *
   * @throws {AbortedError} when `options.signal` fires between slices.
   */
  static async build(members: PackedMembers, options: MemberIndexOptions): Promise<MemberIndex> {
    const slicer = new Slicer(options);
    const bytes = members.bytes.byteOffset % 4 === 0 ? members.bytes : members.bytes.slice();
    const words = new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4);
    let size = 16;
    while (size < members.length * 1.5) size *= 2;
    const slots = new Int32Array(size);
    const mask = size - 1;
    const seed = options.seed | 0;
    // Members are hashed from a small plain copy of each block (one memcpy), whatever buffer
    // holds them (a shared one from the wire readers, wire/member-buffer.ts; a resizable one
    // would cost three times more per read): 3,000,000 members index in about 0.5 s instead of
    // 0.7 s. The slicer pauses once a slice's worth of blocks is done.
    const step = Math.min(slicer.size, COPY_BLOCK);
    const slice = new Uint32Array(8 * Math.min(step, members.length));
    for (let start = 0; start < members.length; start += step) {
      const end = Math.min(members.length, start + step);
      slice.set(words.subarray(8 * start, 8 * end));
      for (let i = start; i < end; i++) {
        const at = 8 * (i - start);
        let slot = slotHash(slice, at, seed) & mask;
        for (;;) {
          const held = slots[slot] as number;
          if (held === 0) {
            slots[slot] = i + 1;
            break;
          }
          if (sameMember(words, 8 * (held - 1), slice, at)) break;
          slot = (slot + 1) & mask;
        }
      }
      await slicer.did(end - start);
    }
    return new MemberIndex(words, slots, seed);
  }

  /** The first position of `challenge` among the members, or −1. */
  indexOf(challenge: Uint8Array): number {
    if (challenge.length !== 32) return -1;
    const key = new Uint32Array(challenge.slice().buffer);
    let slot = slotHash(key, 0, this.#seed) & this.#mask;
    for (;;) {
      const held = this.#slots[slot] as number;
      if (held === 0) return -1;
      if (sameMember(this.#words, 8 * (held - 1), key, 0)) return held - 1;
      slot = (slot + 1) & this.#mask;
    }
  }
}
