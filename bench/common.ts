/**
 * @module bench/common
 *
 * What the verification benchmarks share: timing and medians, and a synthetic proof of mainnet
 * shape whose tree walk can be timed on its own (docs/protocol.md §5.4).
 */
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import { performance } from "node:perf_hooks";
import {
  checkProofTree,
  fiatShamirIndices,
  JsPoswHasher,
  type PoswHasher,
  partialTreeProofPositions,
  treeHeight,
} from "../src/verify/index.js";
import type { PoetProof } from "../src/wire/index.js";

/** The median of `samples` (the mean of the middle two for an even count). */
export function median(samples: readonly number[]): number {
  const sorted = [...samples].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** Timed runs of `body` after `warmup` untimed ones; returns the samples in ms. */
export function samples(runs: number, warmup: number, body: () => void): number[] {
  for (let i = 0; i < warmup; i++) body();
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    body();
    times.push(performance.now() - start);
  }
  return times;
}

/** Milliseconds with two decimals. */
export const ms = (value: number): string => `${value.toFixed(2)} ms`;

/** Nanoseconds per item of `total` ms spread over `count` items. */
export const ns = (total: number, count: number): string =>
  `${((total * 1e6) / count).toFixed(1)} ns`;

/** A proof shaped like a mainnet one: real Fiat–Shamir indices, random values. */
export function syntheticProof(leaves: bigint): { proof: PoetProof; indices: bigint[] } {
  const root = new Uint8Array(randomBytes(32));
  const indices = fiatShamirIndices(root, leaves, 150, new JsPoswHasher());
  const positions = partialTreeProofPositions(indices, treeHeight(leaves));
  return {
    indices,
    proof: {
      root,
      leaves,
      provenLeaves: indices.map(() => new Uint8Array(randomBytes(32))),
      proofNodes: positions.map(() => new Uint8Array(randomBytes(32))),
    },
  };
}

/**
 * The tree walk of a synthetic proof with `hasher`, as a body to time: its random nodes lead to
 * another root, so the root mismatch that ends the walk is expected and swallowed.
 */
export function treeWalk(
  synthetic: { proof: PoetProof; indices: bigint[] },
  statement: Uint8Array,
  hasher: PoswHasher,
): () => void {
  return () => {
    try {
      checkProofTree(synthetic.proof, statement, synthetic.indices, hasher);
    } catch (err) {
      if ((err as { reason?: string }).reason !== "merkle-root-mismatch") throw err;
    }
  };
}

/**
 * CPU time of the calling (main) thread so far, in ms, from Linux's `/proc/thread-self/schedstat`
 * (NaN elsewhere). Unlike the wall-clock gap between two turns, this does not grow when the
 * machine is busy and the process waits for a core: it is the work that blocked the loop.
 */
export function mainThreadCpuMs(): number {
  try {
    const [ns] = fs.readFileSync("/proc/thread-self/schedstat", "latin1").split(" ");
    return Number(ns) / 1e6;
  } catch {
    return Number.NaN;
  }
}

/**
 * The calling thread's page faults and its CPU time split into user and system (Linux
 * `/proc/thread-self/stat`; times to a clock tick, 10 ms): what a block's CPU went into when it was
 * not JavaScript (touching freshly allocated memory, freeing it). NaN where `/proc` does not tell.
 */
export function mainThreadStat(): { minorFaults: number; userMs: number; sysMs: number } {
  try {
    const stat = fs.readFileSync("/proc/thread-self/stat", "latin1");
    // The fields after the command name (which may hold spaces), from field 3 (state) on.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const tick = 10;
    return {
      minorFaults: Number(fields[7]),
      userMs: Number(fields[11]) * tick,
      sysMs: Number(fields[12]) * tick,
    };
  } catch {
    return { minorFaults: Number.NaN, userMs: Number.NaN, sysMs: Number.NaN };
  }
}
