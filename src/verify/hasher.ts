/**
 * @module verify/hasher
 *
 * The hashing the sequential-work verifier needs, behind one small interface so that the pure-JS
 * implementation and a faster kernel (WebAssembly SIMD) can be swapped without touching the
 * verification logic (docs/protocol.md §5.1). Implementations write into caller-owned buffers so
 * that hot loops allocate nothing per hash.
 */

/** SHA-256 operations of the proof-of-sequential-work verifier. */
export interface PoswHasher {
  /** A short name for logs and benchmarks, for example `"node:crypto"` or `"wasm-simd"`. */
  readonly name: string;
  /** `out[0..32) = SHA256(data)`. */
  sha256(data: Uint8Array, out: Uint8Array): void;
  /** Merkle node: `out[0..32) = SHA256(statement ‖ left ‖ right)`. */
  merkle(statement: Uint8Array, left: Uint8Array, right: Uint8Array, out: Uint8Array): void;
  /**
   * Labels of independent leaves: for each `j`, `x = SHA256(statement ‖ inputs[j])`, then 399 times
   * `x = SHA256(x)`; `x` is written to `out[32·j .. 32·j+32)`. `out.length` is `32 · inputs.length`.
   */
  labels(statement: Uint8Array, inputs: readonly Uint8Array[], out: Uint8Array): void;
}

/** The BLAKE3 hashing of the membership tree (docs/protocol.md §4.2). */
export interface MembershipHasher {
  readonly name: string;
  /**
   * Hashes one level of the tree: for each `i < pairs`,
   * `out[32·i ..] = BLAKE3(0x01 ‖ input[64·i .. 64·i+32) ‖ input[64·i+32 .. 64·i+64))`.
   */
  hashPairs(input: Uint8Array, pairs: number, out: Uint8Array): void;
}
