/**
 * @module wire/member-buffer
 *
 * Room for a round's members while its proof streams in: one contiguous buffer (what
 * {@link PackedMembers} hands to the hashing kernels), grown a slab at a time as members arrive
 * instead of allocated for the whole round up front. A mainnet round's members are about 93 MiB
 * at 3 million; allocating that at once costs its own block of the event loop and makes the
 * garbage collector count 93 MiB of new external memory (a full collection), and growing a plain
 * buffer by doubling copies the members again and again (each copy one long block).
 *
 * How: the buffer is a growable `SharedArrayBuffer` that reserves address space for every member
 * the answer can hold (from its announced size) and commits memory only as it grows, one
 * {@link MEMBER_SLAB_BYTES} slab per step, so the members are never copied and a slab costs a
 * fraction of a millisecond. A shared buffer, not a resizable `ArrayBuffer`: the engine counts
 * neither its size nor its growth as memory of the isolate, so hundreds of megabytes of members
 * (five PoETs at 3 million) start no garbage collection at all, where a resizable buffer starts a
 * full one per 64 MiB of growth; and views of it read and write as fast as plain ones (those of a
 * resizable buffer about three times slower). Nothing else shares it: it is only a way to keep
 * the members outside the collector's accounting. The price: a list dropped by the program is
 * freed at the next full collection, which its size does not hasten. Where the runtime cannot
 * reserve that much (or has no growable buffers), it falls back to a plain buffer grown by
 * doubling.
 */
import { MEMBER_BYTES, PackedMembers } from "./packed-members.js";

/** Bytes committed per growth step: 131,072 members (a few hundred kilobytes of JSON per step, ~0.1 ms). */
export const MEMBER_SLAB_BYTES = 4 * 1024 * 1024;

/** Address space reserved when the answer's size is not announced: 64 Mi members (2 GiB). */
const DEFAULT_RESERVED_BYTES = 2 ** 31;

interface GrowableSharedArrayBuffer extends SharedArrayBuffer {
  readonly maxByteLength: number;
  grow(byteLength: number): void;
}

/** A growable buffer of at most `maxBytes`, or `undefined` where that cannot be reserved. */
function growable(maxBytes: number): GrowableSharedArrayBuffer | undefined {
  try {
    const Ctor = SharedArrayBuffer as unknown as new (
      length: number,
      options: { maxByteLength: number },
    ) => GrowableSharedArrayBuffer;
    const buffer = new Ctor(0, { maxByteLength: maxBytes });
    return typeof buffer.grow === "function" && buffer.maxByteLength === maxBytes
      ? buffer
      : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Members written one by one into a buffer that grows as needed: {@link room} before writing
 * member `count`, then {@link take} the first `count` members.
 *
 * @example
 * ```ts
 * const buffer = new MemberBuffer(expectedMembers);
 * let bytes = buffer.room(count);   // room for member `count`
 * bytes.set(member, 32 * count++);
 * const members = buffer.take(count); // PackedMembers over the same memory
 * ```
 */
export class MemberBuffer {
  #buffer: GrowableSharedArrayBuffer | undefined;
  /** The committed room, a plain (fixed-length) view: the parsers write through it. */
  #bytes: Uint8Array;

  /**
   * @param maxMembers - an upper bound on the members when the answer's size is announced (room
   *   beyond it is still given, by copying); address space only, no memory is committed for it.
   */
  constructor(maxMembers?: number) {
    const bound =
      maxMembers !== undefined && Number.isSafeInteger(maxMembers) && maxMembers >= 0
        ? MEMBER_BYTES * maxMembers
        : DEFAULT_RESERVED_BYTES;
    this.#buffer = growable(Math.max(MEMBER_SLAB_BYTES, bound));
    this.#bytes = new Uint8Array(this.#buffer ?? new ArrayBuffer(0));
  }

  /**
   * The buffer, with room for at least `count + 1` members (member `count` can be written at
   * `32 · count`). The view returned changes when the buffer grows: use the latest one.
   */
  room(count: number): Uint8Array {
    const need = MEMBER_BYTES * (count + 1);
    if (need <= this.#bytes.length) return this.#bytes;
    const buffer = this.#buffer;
    if (buffer !== undefined && need <= buffer.maxByteLength) {
      const length = Math.min(
        buffer.maxByteLength,
        MEMBER_SLAB_BYTES * Math.ceil(need / MEMBER_SLAB_BYTES),
      );
      buffer.grow(length);
      this.#bytes = new Uint8Array(buffer, 0, length);
      return this.#bytes;
    }
    // Beyond the reservation (more members than announced) or no growable buffers: a copy.
    const grown = new Uint8Array(Math.max(need, MEMBER_SLAB_BYTES, 2 * this.#bytes.length));
    grown.set(this.#bytes.subarray(0, MEMBER_BYTES * count));
    this.#buffer = undefined;
    this.#bytes = grown;
    return grown;
  }

  /** The first `count` members, over the same memory (not copied); the buffer is then empty. */
  take(count: number): PackedMembers {
    const used = MEMBER_BYTES * count;
    const buffer = this.#buffer;
    let bytes: Uint8Array;
    if (buffer !== undefined) {
      // The unused end of the last slab stays (a shared buffer does not shrink); pages never
      // written take no memory.
      bytes = new Uint8Array(buffer, 0, used);
    } else {
      bytes = this.#bytes.subarray(0, used);
    }
    this.#buffer = undefined;
    this.#bytes = new Uint8Array(0);
    return new PackedMembers(bytes);
  }
}
