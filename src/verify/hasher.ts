/**
 * @module verify/hasher
 *
 * The hashing the sequential-work verifier needs, behind one small interface so that the pure-JS
 * implementation and a faster kernel (WebAssembly SIMD) can be swapped without touching the
 * verification logic (docs/protocol.md §5.1). Implementations write into caller-owned buffers so
 * that hot loops allocate nothing per hash.
 *
 * Besides the three operations every hasher has, a hasher may offer batch forms
 * ({@link PoswHasher.sha256Many}, {@link PoswHasher.merklePlan}): independent hashes handed over
 * together, which a SIMD kernel runs several per instruction stream and without a call per hash.
 * The verifier uses them when they are there and the one-at-a-time forms otherwise; both give the
 * same bytes.
 */

/**
 * Parent computations of a Merkle tree over an arena of 32-byte nodes, node `s` being
 * `arena[32·s .. 32·s+32)`. Operation `k` computes node `ops[3k+2]` from nodes `ops[3k]` (left)
 * and `ops[3k+1]` (right). The operations are grouped in levels: `levelEnds[l]` is one past the
 * last operation of level `l`, and an operation reads only nodes that are given or computed by an
 * earlier level, so the operations of one level are independent of each other.
 */
export interface NodePlan {
  readonly ops: Int32Array;
  readonly levelEnds: readonly number[];
}

/** SHA-256 operations of the proof-of-sequential-work verifier. */
export interface PoswHasher {
  /** A short name for logs and benchmarks, for example `"js"` or `"wasm-simd"`. */
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
  /** Optional batch form of {@link sha256}: `out[32·j ..] = SHA256(messages[j])`. */
  sha256Many?(messages: readonly Uint8Array[], out: Uint8Array): void;
  /**
   * Optional batch form of {@link merkle}: runs every operation of `plan` over `arena`, with
   * `SHA256(statement ‖ left ‖ right)` as the parent of two nodes.
   */
  merklePlan?(statement: Uint8Array, arena: Uint8Array, plan: NodePlan): void;
}

/** The BLAKE3 hashing of the membership tree (docs/protocol.md §4.2). */
export interface MembershipHasher {
  readonly name: string;
  /**
   * Hashes one level of the tree: for each `i < pairs`,
   * `out[32·i ..] = BLAKE3(0x01 ‖ input[64·i .. 64·i+32) ‖ input[64·i+32 .. 64·i+64))`.
   */
  hashPairs(input: Uint8Array, pairs: number, out: Uint8Array): void;
  /**
   * Optional: the whole root of a tree of 32-byte members in one call (the same value the
   * level-by-level fold of {@link hashPairs} gives).
   */
  root?(members: readonly Uint8Array[]): Uint8Array;
  /** Optional: BLAKE3 of a message of any length (the proof reference, docs/protocol.md §4.3). */
  blake3?(message: Uint8Array): Uint8Array;
}
