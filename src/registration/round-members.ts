/**
 * @module registration/round-members
 *
 * The member list of one PoET round, indexed for the many identities that look themselves up in
 * it (docs/protocol.md §4.2, §4.3; docs/node-client.md §1.6, §5).
 *
 * A node with a thousand identities builds a thousand membership proofs over the same list. Doing
 * each from scratch costs a whole tree of BLAKE3 hashes per identity; here the tree levels are
 * computed once (on first use) and every proof is a walk up those levels, and the first position
 * of each challenge is found through a map instead of a linear scan. The tree is the one of
 * docs/protocol.md §4.2: leaves are the raw members, a node is `BLAKE3(0x01 ‖ left ‖ right)`, and a
 * missing right sibling at any level is 32 zero bytes.
 */

import { toHex } from "../bytes.js";
import { membershipNodeHash } from "../membership/blake3-hasher.js";
import { sharedMembershipHasher } from "../verify/wasm/select-hasher.js";
import type { MembershipProof } from "../wire/index.js";

const ZERO32 = new Uint8Array(32);

/**
 * A round's members with the first index of each challenge and, once needed, the tree levels.
 *
 * @example
 * ```ts
 * const round = new RoundMembers(response.members);
 * const index = round.indexOf(challenge); // -1 when the challenge is not a member
 * const membership = round.proofFor(index); // { nodes, leafIndex }
 * ```
 */
export class RoundMembers {
  readonly members: readonly Uint8Array[];
  #index: Map<string, number> | undefined;
  #levels: Uint8Array[][] | undefined;

  constructor(members: readonly Uint8Array[]) {
    this.members = members;
  }

  /** The position of the first member equal to `challenge`, or −1. */
  indexOf(challenge: Uint8Array): number {
    if (this.#index === undefined) {
      const index = new Map<string, number>();
      this.members.forEach((m, i) => {
        const key = toHex(m);
        if (!index.has(key)) index.set(key, i);
      });
      this.#index = index;
    }
    return this.#index.get(toHex(challenge)) ?? -1;
  }

  /** The sibling path of the member at `leafIndex`, bottom-up (docs/protocol.md §4.3). */
  proofFor(leafIndex: number): MembershipProof {
    if (!Number.isInteger(leafIndex) || leafIndex < 0 || leafIndex >= this.members.length) {
      throw new RangeError(`leaf index ${leafIndex} is outside 0..${this.members.length - 1}`);
    }
    const levels = this.#tree();
    const nodes: Uint8Array[] = [];
    let i = leafIndex;
    for (let h = 0; h < levels.length - 1; h++) {
      const level = levels[h] as Uint8Array[];
      nodes.push(level[i ^ 1] ?? ZERO32);
      i >>= 1;
    }
    return { nodes, leafIndex: BigInt(leafIndex) };
  }

  /** The membership root (the statement the PoET proved over). */
  root(): Uint8Array {
    if (this.members.length === 0) return new Uint8Array(0);
    const levels = this.#tree();
    return levels[levels.length - 1]?.[0] ?? ZERO32;
  }

  #tree(): Uint8Array[][] {
    if (this.#levels !== undefined) return this.#levels;
    const levels: Uint8Array[][] = [this.members.slice()];
    let level = levels[0] as Uint8Array[];
    while (level.length > 1) {
      // A member of another length is hashed as the PoET hashed it: raw bytes.
      const next = level.every((node) => node.length === 32) ? hashLevel(level) : hashRaw(level);
      levels.push(next);
      level = next;
    }
    this.#levels = levels;
    return levels;
  }
}

/** The parents of a level of 32-byte nodes, through the shared BLAKE3 kernel. */
function hashLevel(level: readonly Uint8Array[]): Uint8Array[] {
  const pairs = Math.ceil(level.length / 2);
  const input = new Uint8Array(64 * pairs);
  for (const [i, node] of level.entries()) input.set(node, 32 * i);
  const out = new Uint8Array(32 * pairs);
  sharedMembershipHasher().hashPairs(input, pairs, out);
  return Array.from({ length: pairs }, (_, i) => out.slice(32 * i, 32 * i + 32));
}

/** The parents of a level with nodes of any length, one node at a time. */
function hashRaw(level: readonly Uint8Array[]): Uint8Array[] {
  return Array.from({ length: Math.ceil(level.length / 2) }, (_, i) =>
    membershipNodeHash(level[2 * i] as Uint8Array, level[2 * i + 1] ?? ZERO32),
  );
}
