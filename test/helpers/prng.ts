/**
 * The seeded random numbers of the property tests.
 */

/** mulberry32's state after `a`. */
const advance = (a: number): number => (a + 0x6d2b79f5) >>> 0;

/** mulberry32's 32-bit output for the state `a`. */
function mix(a: number): number {
  let t = a;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return (t ^ (t >>> 14)) >>> 0;
}

/** mulberry32: a small seeded PRNG, so failures can be replayed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = advance(a);
    return mix(a) / 4294967296;
  };
}

/**
 * The first `n` numbers of `prng(seed)` as 32-bit words (`Math.floor(random() * 2 ** 32)`, the same
 * stream), a few times faster: mainnet-size member lists are millions of them.
 */
export function prngWords(seed: number, n: number): Uint32Array {
  const words = new Uint32Array(n);
  let a = seed >>> 0;
  for (let i = 0; i < n; i++) {
    a = advance(a);
    words[i] = mix(a);
  }
  return words;
}

/** `n` bytes from `random`, for seeded keys and challenges. */
export function prngBytes(random: () => number, n: number): Uint8Array {
  const bytes = new Uint8Array(n);
  for (let i = 0; i < n; i++) bytes[i] = Math.floor(random() * 256);
  return bytes;
}
