/**
 * @module wire/packed-members
 *
 * The members of a PoET round packed into one buffer (docs/protocol.md §3.4, §4.2): member `i`
 * is bytes `32·i … 32·i+31`. A mainnet round has millions of members; as JavaScript objects (one
 * `Uint8Array` each, plus the base64 string it was decoded from) a member costs about 0.9 KB of
 * memory, packed it costs its 32 bytes, and the whole list is one allocation that hashing kernels
 * and worker threads read without copying member by member. Every member of a list is 32 bytes:
 * a round with a member of another size is refused before a list is built (`bad-members`).
 */
import { WireFormatError } from "../errors.js";

/** Bytes of one member (a challenge hash). */
export const MEMBER_BYTES = 32;

/**
 * A round's members, packed: `count` members of 32 bytes in `bytes`.
 *
 * @example
 * ```ts
 * const { members } = await client.proof("30", { signal });
 * members.length;                 // 3_000_000
 * members.at(7);                  // member 7 (a view, 32 bytes)
 * const copies = members.toArray(); // one Uint8Array per member, for small rounds
 * ```
 */
export class PackedMembers {
  /** The members back to back, `32 · length` bytes. */
  readonly bytes: Uint8Array;
  /** The number of members. */
  readonly length: number;

  /**
   * Wraps packed members (not copied).
   *
   * @throws {WireFormatError} when `bytes` is not a whole number of 32-byte members.
   */
  constructor(bytes: Uint8Array) {
    if (bytes.length % MEMBER_BYTES !== 0) {
      throw new WireFormatError(
        "members",
        `${bytes.length} bytes is not a whole number of members`,
      );
    }
    this.bytes = bytes;
    this.length = bytes.length / MEMBER_BYTES;
  }

  /**
   * Packs separate members into a new list (one copy).
   *
   * @throws {WireFormatError} (`members[i]`) when a member is not 32 bytes.
   * @example
   * ```ts
   * const list = PackedMembers.from([challengeA, challengeB]);
   * ```
   */
  static from(members: readonly Uint8Array[]): PackedMembers {
    const bytes = new Uint8Array(MEMBER_BYTES * members.length);
    for (let i = 0; i < members.length; i++) {
      const member = members[i] as Uint8Array;
      if (member.length !== MEMBER_BYTES) {
        throw new WireFormatError(
          `members[${i}]`,
          `is ${member.length} bytes, not ${MEMBER_BYTES}`,
        );
      }
      bytes.set(member, MEMBER_BYTES * i);
    }
    return new PackedMembers(bytes);
  }

  /** Member `index` as a view into {@link bytes} (do not modify it), or `undefined` out of range. */
  at(index: number): Uint8Array | undefined {
    if (!Number.isInteger(index) || index < 0 || index >= this.length) return undefined;
    return this.bytes.subarray(MEMBER_BYTES * index, MEMBER_BYTES * (index + 1));
  }

  /** Every member as its own copy: one object per member, so meant for small rounds. */
  toArray(): Uint8Array[] {
    return this.map((member) => member.slice());
  }

  /** `fn` applied to every member (a view) in order, like `Array.prototype.map`. */
  map<T>(fn: (member: Uint8Array, index: number) => T): T[] {
    const out = new Array<T>(this.length);
    for (let i = 0; i < this.length; i++) {
      out[i] = fn(this.bytes.subarray(MEMBER_BYTES * i, MEMBER_BYTES * (i + 1)), i);
    }
    return out;
  }

  /** The members in order, as views. */
  *[Symbol.iterator](): IterableIterator<Uint8Array> {
    for (let i = 0; i < this.length; i++) {
      yield this.bytes.subarray(MEMBER_BYTES * i, MEMBER_BYTES * (i + 1));
    }
  }
}
