/**
 * @module verify/proof-ref
 *
 * The proof reference (docs/protocol.md §4.3): BLAKE3 of the SCALE-encoded proof — the Merkle
 * proof followed by the compact leaf count. A node stores proofs under it and uses it as the
 * challenge of its PoST, so it must match go-spacemesh byte for byte; the members, the PoET's key
 * and the round id are not part of it.
 *
 * A mainnet proof encodes to some 140 KB, which `@noble/hashes` hashes in a few milliseconds; the
 * shared WebAssembly BLAKE3 kernel does it in a small fraction of that (four chunks per
 * instruction stream), so it is used when the engine has SIMD, `@noble/hashes` otherwise.
 */
import { blake3 } from "@noble/hashes/blake3.js";
import type { PoetProof } from "../wire/index.js";
import { encodePoetProof } from "../wire/index.js";
import { sharedMembershipHasher } from "./wasm/select-hasher.js";

/**
 * The 32-byte reference of a PoET proof.
 *
 * @throws {WireFormatError} when the proof cannot be SCALE-encoded (an element over 32 bytes,
 *   more than 150 proven leaves or 5400 proof nodes, a leaf count outside u64).
 * @example
 * ```ts
 * const ref = proofRef(proof); // the node's PoST challenge
 * ```
 */
export function proofRef(proof: PoetProof): Uint8Array {
  return proofRefOfEncoded(encodePoetProof(proof));
}

/**
 * The 32-byte reference of a proof already SCALE-encoded: BLAKE3 of `encoded`, for callers that
 * hold the encoding anyway (a stored proof, one about to be stored).
 *
 * @example
 * ```ts
 * const bytes = encodePoetProof(proof);
 * proofRefOfEncoded(bytes); // equal to proofRef(proof)
 * ```
 */
export function proofRefOfEncoded(encoded: Uint8Array): Uint8Array {
  const hasher = sharedMembershipHasher();
  return hasher.blake3 === undefined ? blake3(encoded) : hasher.blake3(encoded);
}
