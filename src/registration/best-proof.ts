/**
 * @module registration/best-proof
 *
 * Which of several verified proofs an identity uses: the one with the most leaves, because ATX
 * weight (ticks) grows with it (docs/node-client.md §1.7, docs/protocol.md §4.3). Go breaks ties
 * by arrival order, which is effectively random; here a tie goes to the smaller proof ref (and
 * then the smaller PoET address), so that every run, restart and identity decides the same way.
 */
import { compareBytes } from "../bytes.js";

/** The facts about a candidate proof that the choice looks at. */
export interface ProofCandidate {
  /** The PoET's normalised address. */
  poet: string;
  /** Number of leaves proven. */
  leaves: bigint;
  /** The 32-byte proof ref. */
  ref: Uint8Array;
}

/** Negative when `a` is the better proof, positive when `b` is, 0 when they are the same. */
export function compareProofs(a: ProofCandidate, b: ProofCandidate): number {
  if (a.leaves !== b.leaves) return a.leaves > b.leaves ? -1 : 1;
  const byRef = compareBytes(a.ref, b.ref);
  if (byRef !== 0) return byRef;
  return a.poet < b.poet ? -1 : a.poet > b.poet ? 1 : 0;
}

/**
 * The best candidate: most leaves, then smallest ref, then smallest address; `undefined` for none.
 *
 * @example
 * ```ts
 * const best = selectBestProof([
 *   { poet: "http://a", leaves: 111n, ref: refA },
 *   { poet: "http://b", leaves: 999n, ref: refB },
 * ]); // the one from http://b
 * ```
 */
export function selectBestProof<T extends ProofCandidate>(candidates: Iterable<T>): T | undefined {
  let best: T | undefined;
  for (const c of candidates) if (best === undefined || compareProofs(c, best) < 0) best = c;
  return best;
}

/** Ticks of a proof: leaves divided by the network's tick size (integer division). */
export function ticksOf(leaves: bigint, tickSize: bigint): bigint {
  return tickSize > 0n ? leaves / tickSize : 0n;
}
