/**
 * @module wire/scale
 *
 * The subset of SCALE that Spacemesh uses for PoET data (docs/protocol.md §4.3, §2.8): compact
 * integers up to 2^64−1, length-prefixed byte slices, fixed-size byte arrays, counted lists, option
 * tags and fixed-width little-endian integers.
 *
 * Compact integers (docs/protocol.md §4.3): below 2^6 one byte `v<<2`; below 2^14 two bytes LE of
 * `v<<2 | 0b01`; below 2^30 four bytes LE of `v<<2 | 0b10`; otherwise a header byte
 * `((n−4)<<2) | 0b11` followed by the value in the minimal `n` (4–8) little-endian bytes. Every
 * value has exactly one encoding, so the reader rejects over-long forms instead of accepting them:
 * two encodings of one proof would give two proof references.
 *
 * Decoding is strict and says where it failed. Each read takes the field's path (for example
 * `PoetProof.proofNodes[12]`) and every failure — truncated input, a non-canonical compact form, a
 * length or count over its limit, bytes left over — is a {@link WireFormatError} carrying that
 * path. Limits are checked before anything is allocated, so a hostile length prefix cannot make
 * the reader reserve memory. The writer enforces the same limits, as the Go encoder does, so that
 * nothing this library writes is unreadable by a node.
 *
 * 64-bit values are `bigint` throughout; lengths and counts (bounded by their limits) are `number`.
 */
import { WireFormatError } from "../errors.js";

/** The largest value a compact integer (and a u64) can carry: 2^64 − 1. */
export const MAX_U64 = (1n << 64n) - 1n;

const TWO_POW_6 = 1n << 6n;
const TWO_POW_14 = 1n << 14n;
const TWO_POW_30 = 1n << 30n;

/** Number of bytes in the minimal little-endian form of `value` (at least 1). */
function byteLength(value: bigint): number {
  let n = 0;
  let v = value;
  while (v > 0n) {
    v >>= 8n;
    n++;
  }
  return Math.max(n, 1);
}

/**
 * Reads SCALE values from a byte array, strictly.
 *
 * @example
 * ```ts
 * const reader = new ScaleReader(bytes);
 * const pubkey = reader.bytes("Certificate.pubkey", 32);
 * const leaves = reader.compact("PoetProof.leaves");
 * reader.end("PoetProof");
 * ```
 */
export class ScaleReader {
  readonly #bytes: Uint8Array;
  #offset = 0;

  constructor(bytes: Uint8Array) {
    this.#bytes = bytes;
  }

  /** Bytes consumed so far. */
  get offset(): number {
    return this.#offset;
  }

  /** Bytes not yet consumed. */
  get remaining(): number {
    return this.#bytes.length - this.#offset;
  }

  #take(field: string, count: number): Uint8Array {
    if (count > this.remaining) {
      throw new WireFormatError(
        field,
        `truncated input: need ${count} byte(s) at offset ${this.#offset}, ${this.remaining} left`,
      );
    }
    const out = this.#bytes.subarray(this.#offset, this.#offset + count);
    this.#offset += count;
    return out;
  }

  /** One byte. */
  u8(field: string): number {
    return this.#take(field, 1)[0]!;
  }

  /** A fixed-width 8-byte little-endian unsigned integer. */
  u64(field: string): bigint {
    const b = this.#take(field, 8);
    let v = 0n;
    for (let i = 7; i >= 0; i--) v = (v << 8n) | BigInt(b[i]!);
    return v;
  }

  /** A compact integer up to 2^64 − 1; over-long (non-canonical) encodings are rejected. */
  compact(field: string): bigint {
    const header = this.u8(field);
    switch (header & 0b11) {
      case 0b00:
        return BigInt(header >> 2);
      case 0b01: {
        const v = BigInt((header | (this.u8(field) << 8)) >>> 2);
        if (v < TWO_POW_6) throw nonCanonical(field, v, "2-byte");
        return v;
      }
      case 0b10: {
        const rest = this.#take(field, 3);
        const raw = (header | (rest[0]! << 8) | (rest[1]! << 16) | (rest[2]! << 24)) >>> 0;
        const v = BigInt(raw >>> 2);
        if (v < TWO_POW_14) throw nonCanonical(field, v, "4-byte");
        return v;
      }
      default: {
        const n = (header >> 2) + 4;
        if (n > 8) {
          throw new WireFormatError(
            field,
            `compact integer header 0x${header.toString(16)} announces ${n} bytes; a u64 has at most 8`,
          );
        }
        const b = this.#take(field, n);
        let v = 0n;
        for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]!);
        if (v < TWO_POW_30 || b[n - 1] === 0) throw nonCanonical(field, v, `${n}-byte big-integer`);
        return v;
      }
    }
  }

  /** A compact length or count, rejected when it is over `max` (checked before allocating). */
  length(field: string, max: number): number {
    const v = this.compact(field);
    if (v > BigInt(max)) {
      throw new WireFormatError(field, `length ${v} exceeds the limit of ${max}`);
    }
    return Number(v);
  }

  /**
   * A compact-length-prefixed byte slice of at most `maxLength` bytes: a copy, and a plain
   * `Uint8Array` even when the input is a Node `Buffer` (whose `slice()` is a view).
   */
  bytes(field: string, maxLength: number): Uint8Array {
    const n = this.length(field, maxLength);
    return new Uint8Array(this.#take(field, n));
  }

  /** Exactly `length` bytes with no prefix: a plain `Uint8Array` copy, like `bytes()`. */
  fixedBytes(field: string, length: number): Uint8Array {
    return new Uint8Array(this.#take(field, length));
  }

  /**
   * A compact count (at most `maxCount`) followed by that many items; item `i` is read with the
   * path `${field}[i]`.
   */
  list<T>(field: string, maxCount: number, readItem: (reader: this, field: string) => T): T[] {
    const n = this.length(field, maxCount);
    const out: T[] = new Array(n);
    for (let i = 0; i < n; i++) out[i] = readItem(this, `${field}[${i}]`);
    return out;
  }

  /**
   * An option tag followed by the value when present. Strict mode accepts only `0x00` (absent) and
   * `0x01` (present); lenient mode reads any tag other than `0x01` as absent, as the Go decoder does.
   */
  option<T>(
    field: string,
    readValue: (reader: this, field: string) => T,
    options: { lenient?: boolean } = {},
  ): T | undefined {
    const tag = this.u8(field);
    if (tag === 1) return readValue(this, field);
    if (tag !== 0 && options.lenient !== true) {
      throw new WireFormatError(field, `option tag must be 0 or 1, got ${tag}`);
    }
    return undefined;
  }

  /** Asserts that the whole input was consumed. */
  end(field: string): void {
    if (this.remaining !== 0) {
      throw new WireFormatError(
        field,
        `${this.remaining} trailing byte(s) after the value (at offset ${this.#offset})`,
      );
    }
  }
}

function nonCanonical(field: string, value: bigint, form: string): WireFormatError {
  return new WireFormatError(field, `non-canonical compact integer: ${value} in the ${form} form`);
}

/**
 * Writes SCALE values into a growing buffer; `finish()` returns the bytes.
 *
 * @example
 * ```ts
 * const writer = new ScaleWriter();
 * writer.bytes("Certificate.pubkey", nodeId, 32);
 * writer.u8(1);
 * writer.compact("Certificate.expiration", 1735689600n);
 * const data = writer.finish();
 * ```
 */
export class ScaleWriter {
  #buf: Uint8Array;
  #length = 0;

  constructor(initialCapacity = 256) {
    this.#buf = new Uint8Array(Math.max(initialCapacity, 16));
  }

  /** Bytes written so far. */
  get length(): number {
    return this.#length;
  }

  #reserve(extra: number): void {
    const needed = this.#length + extra;
    if (needed <= this.#buf.length) return;
    let cap = this.#buf.length * 2;
    while (cap < needed) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.#buf.subarray(0, this.#length));
    this.#buf = next;
  }

  /** One byte (0–255). */
  u8(value: number): this {
    this.#reserve(1);
    this.#buf[this.#length++] = value & 0xff;
    return this;
  }

  /** A fixed-width 8-byte little-endian unsigned integer. */
  u64(field: string, value: bigint): this {
    checkU64(field, value);
    this.#reserve(8);
    let v = value;
    for (let i = 0; i < 8; i++) {
      this.#buf[this.#length++] = Number(v & 0xffn);
      v >>= 8n;
    }
    return this;
  }

  /** A compact integer in its one canonical form. */
  compact(field: string, value: bigint | number): this {
    const v = typeof value === "bigint" ? value : toBigInt(field, value);
    checkU64(field, v);
    if (v < TWO_POW_6) return this.u8(Number(v) << 2);
    if (v < TWO_POW_14) {
      const x = (Number(v) << 2) | 0b01;
      return this.u8(x).u8(x >> 8);
    }
    if (v < TWO_POW_30) {
      const x = ((Number(v) << 2) | 0b10) >>> 0;
      return this.u8(x)
        .u8(x >>> 8)
        .u8(x >>> 16)
        .u8(x >>> 24);
    }
    const n = byteLength(v);
    this.u8(((n - 4) << 2) | 0b11);
    let rest = v;
    for (let i = 0; i < n; i++) {
      this.u8(Number(rest & 0xffn));
      rest >>= 8n;
    }
    return this;
  }

  /** Raw bytes with no prefix, checked to be exactly `length` long. */
  fixedBytes(field: string, value: Uint8Array, length: number): this {
    if (value.length !== length) {
      throw new WireFormatError(field, `must be exactly ${length} bytes, got ${value.length}`);
    }
    return this.raw(value);
  }

  /** A compact-length-prefixed byte slice of at most `maxLength` bytes. */
  bytes(field: string, value: Uint8Array, maxLength: number): this {
    if (value.length > maxLength) {
      throw new WireFormatError(field, `length ${value.length} exceeds the limit of ${maxLength}`);
    }
    this.compact(field, value.length);
    return this.raw(value);
  }

  /** A compact count (at most `maxCount`) followed by each item, written with path `${field}[i]`. */
  list<T>(
    field: string,
    items: readonly T[],
    maxCount: number,
    writeItem: (writer: this, item: T, field: string) => void,
  ): this {
    if (items.length > maxCount) {
      throw new WireFormatError(field, `length ${items.length} exceeds the limit of ${maxCount}`);
    }
    this.compact(field, items.length);
    for (let i = 0; i < items.length; i++) writeItem(this, items[i]!, `${field}[${i}]`);
    return this;
  }

  /** An option tag (`0x00` absent, `0x01` present) followed by the value when present. */
  option<T>(
    field: string,
    value: T | undefined,
    writeValue: (writer: this, value: T, field: string) => void,
  ): this {
    if (value === undefined) return this.u8(0);
    this.u8(1);
    writeValue(this, value, field);
    return this;
  }

  /** Appends bytes as they are. */
  raw(value: Uint8Array): this {
    this.#reserve(value.length);
    this.#buf.set(value, this.#length);
    this.#length += value.length;
    return this;
  }

  /** The bytes written, as a new array of exactly that length. */
  finish(): Uint8Array {
    return this.#buf.slice(0, this.#length);
  }
}

function toBigInt(field: string, value: number): bigint {
  if (!Number.isSafeInteger(value)) {
    throw new WireFormatError(field, `${value} is not a safe integer; pass a bigint`);
  }
  return BigInt(value);
}

function checkU64(field: string, value: bigint): void {
  if (value < 0n || value > MAX_U64) {
    throw new WireFormatError(field, `${value} is outside the u64 range 0..2^64−1`);
  }
}
