/**
 * @module verify/js-hasher
 *
 * The pure-JavaScript {@link PoswHasher}: SHA-256 over the compression function of
 * `sha256-block.ts`, with every buffer allocated once per hasher (docs/protocol.md §5.1).
 *
 * A label is `SHA256(statement ‖ input)` followed by 399 re-hashes of the 32-byte result. Each
 * re-hash is exactly one block whose last eight words never change (the `0x80` marker, zeros and
 * the bit length 256), so the chain writes the previous digest into words 0–7 of the schedule,
 * resets the state and compresses: no byte conversion, no padding, no allocation. Longer inputs
 * (the first hash of a label, Merkle nodes, Fiat–Shamir digests) go through a general path that
 * copies the parts into a scratch buffer that only grows.
 *
 * A hasher is not re-entrant, but every method finishes before it returns, so one instance can
 * serve any number of verifications that interleave at `await` points.
 */
import { PoetError } from "../errors.js";
import type { PoswHasher } from "./hasher.js";
import { LABEL_HASH_NESTING_DEPTH } from "./params.js";
import { compressBlock, SHA256_IV } from "./sha256-block.js";

/**
 * SHA-256 for the proof-of-sequential-work verifier and prover, in plain JavaScript.
 *
 * @example
 * ```ts
 * const hasher = new JsPoswHasher();
 * const out = new Uint8Array(32);
 * hasher.sha256(new TextEncoder().encode("abc"), out);
 * ```
 */
export class JsPoswHasher implements PoswHasher {
  readonly name = "js";
  private readonly state = new Int32Array(8);
  private readonly w = new Int32Array(64);
  private readonly tail = new Uint8Array(128);
  private scratch = new Uint8Array(1024);

  sha256(data: Uint8Array, out: Uint8Array): void {
    this.digest(data, data.length);
    this.writeState(out, 0);
  }

  merkle(statement: Uint8Array, left: Uint8Array, right: Uint8Array, out: Uint8Array): void {
    const length = statement.length + left.length + right.length;
    const buffer = this.reserve(length);
    buffer.set(statement, 0);
    buffer.set(left, statement.length);
    buffer.set(right, statement.length + left.length);
    this.digest(buffer, length);
    this.writeState(out, 0);
  }

  labels(statement: Uint8Array, inputs: readonly Uint8Array[], out: Uint8Array): void {
    if (out.length < 32 * inputs.length) {
      throw new PoetError(
        "internal",
        `labels: out holds ${out.length} bytes, ${32 * inputs.length} needed`,
      );
    }
    for (let j = 0; j < inputs.length; j++) this.label(statement, inputs[j]!, out, 32 * j);
  }

  /**
   * One label: `x = SHA256(statement ‖ input)`, then 399 times `x = SHA256(x)`; `x` is written to
   * `out[offset .. offset+32)`.
   */
  label(statement: Uint8Array, input: Uint8Array, out: Uint8Array, offset = 0): void {
    const length = statement.length + input.length;
    const buffer = this.reserve(length);
    buffer.set(statement, 0);
    buffer.set(input, statement.length);
    this.digest(buffer, length);

    const state = this.state;
    const w = this.w;
    w[8] = 0x80000000 | 0;
    for (let i = 9; i < 15; i++) w[i] = 0;
    w[15] = 256;
    for (let round = 1; round < LABEL_HASH_NESTING_DEPTH; round++) {
      w[0] = state[0]!;
      w[1] = state[1]!;
      w[2] = state[2]!;
      w[3] = state[3]!;
      w[4] = state[4]!;
      w[5] = state[5]!;
      w[6] = state[6]!;
      w[7] = state[7]!;
      state.set(SHA256_IV);
      compressBlock(state, w);
    }
    this.writeState(out, offset);
  }

  /** A scratch buffer of at least `length` bytes; grows by doubling and never shrinks. */
  private reserve(length: number): Uint8Array {
    if (this.scratch.length < length) {
      let size = this.scratch.length;
      while (size < length) size *= 2;
      this.scratch = new Uint8Array(size);
    }
    return this.scratch;
  }

  /** Hashes `data[0..length)` into `this.state`. */
  private digest(data: Uint8Array, length: number): void {
    const state = this.state;
    const w = this.w;
    state.set(SHA256_IV);
    const whole = length - (length % 64);
    let p = 0;
    while (p < whole) {
      for (let i = 0; i < 16; i++, p += 4) {
        w[i] = (data[p]! << 24) | (data[p + 1]! << 16) | (data[p + 2]! << 8) | data[p + 3]!;
      }
      compressBlock(state, w);
    }
    const tail = this.tail;
    const rest = length - whole;
    tail.fill(0);
    for (let i = 0; i < rest; i++) tail[i] = data[whole + i]!;
    tail[rest] = 0x80;
    const end = rest < 56 ? 64 : 128;
    const highBits = Math.floor(length / 0x20000000);
    const lowBits = (length << 3) >>> 0;
    tail[end - 8] = highBits >>> 24;
    tail[end - 7] = highBits >>> 16;
    tail[end - 6] = highBits >>> 8;
    tail[end - 5] = highBits;
    tail[end - 4] = lowBits >>> 24;
    tail[end - 3] = lowBits >>> 16;
    tail[end - 2] = lowBits >>> 8;
    tail[end - 1] = lowBits;
    for (p = 0; p < end; ) {
      for (let i = 0; i < 16; i++, p += 4) {
        w[i] = (tail[p]! << 24) | (tail[p + 1]! << 16) | (tail[p + 2]! << 8) | tail[p + 3]!;
      }
      compressBlock(state, w);
    }
  }

  private writeState(out: Uint8Array, offset: number): void {
    const state = this.state;
    for (let i = 0; i < 8; i++) {
      const v = state[i]!;
      const o = offset + 4 * i;
      out[o] = v >>> 24;
      out[o + 1] = v >>> 16;
      out[o + 2] = v >>> 8;
      out[o + 3] = v;
    }
  }
}
