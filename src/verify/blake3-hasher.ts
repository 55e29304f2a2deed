/**
 * @module verify/blake3-hasher
 *
 * The {@link MembershipHasher} on `@noble/hashes`' BLAKE3: the parent of two 32-byte nodes is
 * `BLAKE3(0x01 ‖ left ‖ right)` (docs/protocol.md §4.2). A whole level is hashed per call so that
 * a faster kernel can replace this one without changing the tree code; here each pair is copied
 * into one preallocated 65-byte message.
 */
import { blake3 } from "@noble/hashes/blake3.js";
import type { MembershipHasher } from "./hasher.js";

/** The domain byte the reference puts before every internal node of the membership tree. */
export const MEMBERSHIP_NODE_PREFIX = 0x01;

/**
 * Creates a BLAKE3 membership-tree hasher.
 *
 * @example
 * ```ts
 * const hasher = createBlake3MembershipHasher();
 * const parent = new Uint8Array(32);
 * hasher.hashPairs(leftAndRight, 1, parent);
 * ```
 */
export function createBlake3MembershipHasher(): MembershipHasher {
  const message = new Uint8Array(65);
  message[0] = MEMBERSHIP_NODE_PREFIX;
  return {
    name: "noble-blake3",
    hashPairs(input, pairs, out) {
      for (let i = 0; i < pairs; i++) {
        message.set(input.subarray(64 * i, 64 * i + 64), 1);
        out.set(blake3(message), 32 * i);
      }
    },
  };
}

/**
 * The parent of two nodes of any length, `BLAKE3(0x01 ‖ left ‖ right)`, as the reference computes
 * it for members that are not 32 bytes.
 */
export function membershipNodeHash(left: Uint8Array, right: Uint8Array): Uint8Array {
  const message = new Uint8Array(1 + left.length + right.length);
  message[0] = MEMBERSHIP_NODE_PREFIX;
  message.set(left, 1);
  message.set(right, 1 + left.length);
  return blake3(message);
}
