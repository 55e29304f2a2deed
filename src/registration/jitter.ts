/**
 * @module registration/jitter
 *
 * The random delay a node adds after a round end before asking for the proof, so that thousands
 * of nodes do not ask a PoET in the same second (docs/node-client.md §1.1, §7 item 5). The
 * randomness is injected so that tests are deterministic.
 */

/** A source of uniform numbers in `[0, 1)`, like `Math.random`. */
export type RandomSource = () => number;

/**
 * A whole number of ms drawn uniformly from `[minMs, maxMs]`.
 *
 * @example
 * ```ts
 * const { minMs, maxMs } = schedule.proofQueryJitter();
 * const delay = drawJitter(minMs, maxMs, Math.random);
 * ```
 */
export function drawJitter(minMs: number, maxMs: number, random: RandomSource): number {
  if (maxMs <= minMs) return Math.max(0, minMs);
  const r = Math.min(Math.max(random(), 0), 1);
  return Math.min(maxMs, minMs + Math.floor(r * (maxMs - minMs + 1)));
}
