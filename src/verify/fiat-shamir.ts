/**
 * @module verify/fiat-shamir
 *
 * Which leaves a proof must open (docs/protocol.md §5.2). The seed is the proof's Merkle root, so
 * the prover cannot choose the leaves before it has committed to the whole tree: for
 * `i = 0, 1, 2, …` the index is `BE64(SHA256(root ‖ BE32(i))[0..8]) mod leaves`, and the walk
 * stops once `T` distinct indices are found (a repeat does not count but `i` still advances).
 * When `T` exceeds the leaf count every leaf is chosen.
 *
 * The digests are independent, so they are computed a batch at a time (slightly more counters
 * than indices still missing, since repeats are rare): with a hasher's batch form a SIMD kernel
 * runs several per instruction stream instead of paying a call per counter; without one the
 * batch is hashed a message at a time.
 *
 * Leaf counts are `bigint` because a PoET can run for up to 2^64−1 leaves; the reduction is done
 * in `bigint` too, which costs nothing noticeable for 150 indices.
 */
import { PoetError, WireFormatError } from "../errors.js";
import { MAX_U64 } from "../wire/index.js";
import type { PoswHasher } from "./hasher.js";
import { resolveSecurityParam } from "./params.js";
import { sharedPoswHasher } from "./wasm/select-hasher.js";

const UINT32_LIMIT = 0x1_0000_0000;

/**
 * Derives the Fiat–Shamir leaf indices of a proof, sorted ascending.
 *
 * @param root the proof's Merkle root (the seed; normally 32 bytes).
 * @param leaves the proof's leaf count `N`, `0 ≤ N < 2^64`.
 * @param securityParam `T`, from 1 to 255 (150 on every network).
 * @param hasher the SHA-256 implementation; the fastest available by default.
 * @returns `min(T, N)` distinct indices below `N`, ascending.
 * @throws {WireFormatError} when `leaves` is outside the u64 range.
 * @throws {ConfigError} when `securityParam` is not an integer from 1 to 255.
 * @example
 * ```ts
 * const indices = fiatShamirIndices(proof.root, proof.leaves, 150);
 * indices.length; // 150
 * ```
 */
export function fiatShamirIndices(
  root: Uint8Array,
  leaves: bigint,
  securityParam: number,
  hasher: PoswHasher = sharedPoswHasher(),
): bigint[] {
  const t = resolveSecurityParam(securityParam);
  if (typeof leaves !== "bigint" || leaves < 0n || leaves > MAX_U64) {
    throw new WireFormatError("leaves", `must be a u64 bigint, got ${String(leaves)}`);
  }
  if (BigInt(t) > leaves) {
    const all: bigint[] = [];
    for (let i = 0n; i < leaves; i++) all.push(i);
    return all;
  }
  const chosen = new Set<bigint>();
  chooseIndices(hasher, root, leaves, t, chosen);
  return [...chosen].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/** Adds indices to `chosen` until it holds `t`, counter after counter, a batch at a time. */
function chooseIndices(
  hasher: PoswHasher,
  root: Uint8Array,
  leaves: bigint,
  t: number,
  chosen: Set<bigint>,
): void {
  const size = root.length + 4;
  let first = 0;
  while (chosen.size < t) {
    const batch = Math.max(16, t - chosen.size + 8);
    if (first + batch > UINT32_LIMIT) {
      throw new PoetError("internal", "Fiat–Shamir counter exhausted");
    }
    const seeds = new Uint8Array(size * batch);
    const view = new DataView(seeds.buffer);
    const messages: Uint8Array[] = new Array(batch);
    for (let k = 0; k < batch; k++) {
      seeds.set(root, size * k);
      view.setUint32(size * k + root.length, first + k);
      messages[k] = seeds.subarray(size * k, size * (k + 1));
    }
    const digests = new Uint8Array(32 * batch);
    if (hasher.sha256Many !== undefined) hasher.sha256Many(messages, digests);
    else
      for (let k = 0; k < batch; k++)
        hasher.sha256(messages[k]!, digests.subarray(32 * k, 32 * k + 32));
    const words = new DataView(digests.buffer);
    for (let k = 0; k < batch && chosen.size < t; k++) {
      chosen.add(words.getBigUint64(32 * k) % leaves);
    }
    first += batch;
  }
}
