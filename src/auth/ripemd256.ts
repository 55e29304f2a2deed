/**
 * @module auth/ripemd256
 *
 * RIPEMD-256, the hash of the PoET's proof of work (docs/protocol.md §2.9). The usual JavaScript
 * hash libraries ship only RIPEMD-160, so the library carries its own.
 *
 * RIPEMD-256 is RIPEMD-128 widened to a 256-bit result: two parallel lines of four 16-step rounds
 * over the same 64-byte block, each line with its own four state words, and after rounds 1, 2, 3
 * and 4 the lines exchange their A, B, C and D words respectively. At the end each line adds into
 * its own half of the state (no cross-combination, unlike RIPEMD-128). Padding and byte order are
 * MD4's: little-endian words, a `0x80` byte, zeros, and the bit length as a little-endian u64.
 *
 * The compression function is exported for the proof-of-work search, which hashes millions of
 * inputs that differ only in their last bytes: it compresses the fixed leading blocks once and
 * then only the block holding the nonce. Everything works on preallocated `Uint32Array`s, so the
 * hot loop allocates nothing.
 */

/** Bytes in a RIPEMD-256 digest. */
export const RIPEMD256_DIGEST_BYTES = 32;
/** Bytes in one RIPEMD-256 input block. */
export const RIPEMD256_BLOCK_BYTES = 64;

const IV = Uint32Array.of(
  0x67452301,
  0xefcdab89,
  0x98badcfe,
  0x10325476,
  0x76543210,
  0xfedcba98,
  0x89abcdef,
  0x01234567,
);

// Message word order of the left and right lines, rounds 1–4.
// biome-ignore format: a table reads best in rows of 16
const R_LEFT = Uint8Array.of(
  0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
  7, 4, 13, 1, 10, 6, 15, 3, 12, 0, 9, 5, 2, 14, 11, 8,
  3, 10, 14, 4, 9, 15, 8, 1, 2, 7, 0, 6, 13, 11, 5, 12,
  1, 9, 11, 10, 0, 8, 12, 4, 13, 3, 7, 15, 14, 5, 6, 2,
);
// biome-ignore format: a table reads best in rows of 16
const R_RIGHT = Uint8Array.of(
  5, 14, 7, 0, 9, 2, 11, 4, 13, 6, 15, 8, 1, 10, 3, 12,
  6, 11, 3, 7, 0, 13, 5, 10, 14, 15, 8, 12, 4, 9, 1, 2,
  15, 5, 1, 3, 7, 14, 6, 9, 11, 8, 12, 2, 10, 0, 4, 13,
  8, 6, 4, 1, 3, 11, 15, 0, 5, 12, 2, 13, 9, 7, 10, 14,
);
// Left-rotation amounts.
// biome-ignore format: a table reads best in rows of 16
const S_LEFT = Uint8Array.of(
  11, 14, 15, 12, 5, 8, 7, 9, 11, 13, 14, 15, 6, 7, 9, 8,
  7, 6, 8, 13, 11, 9, 7, 15, 7, 12, 15, 9, 11, 7, 13, 12,
  11, 13, 6, 7, 14, 9, 13, 15, 14, 8, 13, 6, 5, 12, 7, 5,
  11, 12, 14, 15, 14, 15, 9, 8, 9, 14, 5, 6, 8, 6, 5, 12,
);
// biome-ignore format: a table reads best in rows of 16
const S_RIGHT = Uint8Array.of(
  8, 9, 9, 11, 13, 15, 15, 5, 7, 7, 8, 11, 14, 14, 12, 6,
  9, 13, 15, 7, 12, 8, 9, 11, 7, 7, 12, 7, 6, 15, 13, 11,
  9, 7, 15, 11, 8, 6, 6, 14, 12, 13, 5, 14, 13, 13, 7, 5,
  15, 5, 8, 11, 14, 14, 6, 14, 6, 9, 12, 9, 12, 5, 15, 8,
);
const K_LEFT = Uint32Array.of(0x00000000, 0x5a827999, 0x6ed9eba1, 0x8f1bbcdc);
const K_RIGHT = Uint32Array.of(0x50a28be6, 0x5c4dd124, 0x6d703ef3, 0x00000000);

/** The boolean function of round `round` (0–3) of the left line; the right line runs them backwards. */
function f(round: number, x: number, y: number, z: number): number {
  switch (round) {
    case 0:
      return x ^ y ^ z;
    case 1:
      return (x & y) | (~x & z);
    case 2:
      return (x | ~y) ^ z;
    default:
      return (x & z) | (y & ~z);
  }
}

/** Writes the initial RIPEMD-256 state into `state` (8 words). */
export function ripemd256Init(state: Uint32Array): void {
  state.set(IV);
}

/**
 * Compresses one 64-byte block (`words`: 16 little-endian 32-bit words) into `state` (8 words).
 *
 * @example
 * ```ts
 * const state = new Uint32Array(8);
 * ripemd256Init(state);
 * ripemd256Compress(state, blockWords);
 * ```
 */
export function ripemd256Compress(state: Uint32Array, words: Uint32Array): void {
  let a = state[0] as number;
  let b = state[1] as number;
  let c = state[2] as number;
  let d = state[3] as number;
  let a2 = state[4] as number;
  let b2 = state[5] as number;
  let c2 = state[6] as number;
  let d2 = state[7] as number;
  for (let round = 0; round < 4; round++) {
    const kl = K_LEFT[round] as number;
    const kr = K_RIGHT[round] as number;
    for (let i = round * 16, end = i + 16; i < end; i++) {
      let t = (a + f(round, b, c, d) + (words[R_LEFT[i] as number] as number) + kl) | 0;
      let s = S_LEFT[i] as number;
      t = (t << s) | (t >>> (32 - s));
      a = d;
      d = c;
      c = b;
      b = t;
      t = (a2 + f(3 - round, b2, c2, d2) + (words[R_RIGHT[i] as number] as number) + kr) | 0;
      s = S_RIGHT[i] as number;
      t = (t << s) | (t >>> (32 - s));
      a2 = d2;
      d2 = c2;
      c2 = b2;
      b2 = t;
    }
    // The lines trade one word after each round: A after round 1, B after 2, C after 3, D after 4.
    let swap: number;
    switch (round) {
      case 0:
        swap = a;
        a = a2;
        a2 = swap;
        break;
      case 1:
        swap = b;
        b = b2;
        b2 = swap;
        break;
      case 2:
        swap = c;
        c = c2;
        c2 = swap;
        break;
      default:
        swap = d;
        d = d2;
        d2 = swap;
    }
  }
  state[0] = (state[0] as number) + a;
  state[1] = (state[1] as number) + b;
  state[2] = (state[2] as number) + c;
  state[3] = (state[3] as number) + d;
  state[4] = (state[4] as number) + a2;
  state[5] = (state[5] as number) + b2;
  state[6] = (state[6] as number) + c2;
  state[7] = (state[7] as number) + d2;
}

/** Reads 16 little-endian words of `bytes` at `offset` into `words`. */
export function readBlockWords(bytes: Uint8Array, offset: number, words: Uint32Array): void {
  for (let i = 0; i < 16; i++) {
    const o = offset + 4 * i;
    words[i] =
      ((bytes[o] as number) |
        ((bytes[o + 1] as number) << 8) |
        ((bytes[o + 2] as number) << 16) |
        ((bytes[o + 3] as number) << 24)) >>>
      0;
  }
}

/** Writes the digest of `state` (8 words, little-endian) into `out[0..32)`. */
export function ripemd256Output(state: Uint32Array, out: Uint8Array): void {
  for (let i = 0; i < 8; i++) {
    const w = state[i] as number;
    out[4 * i] = w & 0xff;
    out[4 * i + 1] = (w >>> 8) & 0xff;
    out[4 * i + 2] = (w >>> 16) & 0xff;
    out[4 * i + 3] = (w >>> 24) & 0xff;
  }
}

/**
 * The MD4-style padded message: `data ‖ 0x80 ‖ zeros ‖ LE64(bit length)`, a whole number of
 * 64-byte blocks.
 */
export function ripemd256Pad(data: Uint8Array): Uint8Array {
  const blocks = Math.floor((data.length + 8) / RIPEMD256_BLOCK_BYTES) + 1;
  const padded = new Uint8Array(blocks * RIPEMD256_BLOCK_BYTES);
  padded.set(data);
  padded[data.length] = 0x80;
  const view = new DataView(padded.buffer);
  view.setBigUint64(padded.length - 8, BigInt(data.length) * 8n, true);
  return padded;
}

/**
 * RIPEMD-256 of `data` (32 bytes).
 *
 * @example
 * ```ts
 * ripemd256(new TextEncoder().encode("abc")); // afbd6e22…75459b65
 * ```
 */
export function ripemd256(data: Uint8Array): Uint8Array {
  const padded = ripemd256Pad(data);
  const state = new Uint32Array(8);
  const words = new Uint32Array(16);
  ripemd256Init(state);
  for (let offset = 0; offset < padded.length; offset += RIPEMD256_BLOCK_BYTES) {
    readBlockWords(padded, offset, words);
    ripemd256Compress(state, words);
  }
  const out = new Uint8Array(RIPEMD256_DIGEST_BYTES);
  ripemd256Output(state, out);
  return out;
}
