/**
 * @module bench/verify
 *
 * How fast a PoET proof verifies (docs/protocol.md §5.6): the median time to verify the
 * 1,048,576-leaf reference vector, the time per SHA-256 call inside it, and, in the same run, a
 * plain loop of 60,000 chained `node:crypto` SHA-256 calls (the cost of the labels done naively)
 * as a baseline. Figures are printed, never asserted: timings depend on the machine and its load.
 *
 * The benchmark is a list of named cases; each hasher in {@link hashers} gets its own verification
 * and chained-hash cases, so another SHA-256 kernel is measured by adding it to that list.
 * Run with `npm run bench`.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import type { PoswHasher } from "../src/verify/index.js";
import { JsPoswHasher, verifyPoetProofSync } from "../src/verify/index.js";
import type { PoetProof } from "../src/wire/index.js";

/** One measured operation. */
interface BenchCase {
  name: string;
  /** Timed runs; the median is reported. */
  runs: number;
  /** Untimed runs first, so that the code is optimised before it is measured. */
  warmup: number;
  run(): void;
  /** SHA-256 calls per run, to report the time per call. */
  sha256Calls?: number;
}

interface ProofVector {
  name: string;
  statement: string;
  leaves_decimal: string;
  root: string;
  proven_leaves: string[];
  proof_nodes: string[];
}

const CHAINED_CALLS = 60_000;

/** The SHA-256 implementations to measure. */
const hashers: PoswHasher[] = [new JsPoswHasher()];

const hex = (s: string) => Uint8Array.from(Buffer.from(s, "hex"));
const { vectors } = JSON.parse(
  readFileSync(new URL("../test/fixtures/poet-proofs.json", import.meta.url), "utf8"),
) as { vectors: ProofVector[] };
const vector = vectors.find((v) => v.name === "leaves-1048576-T-150")!;
const proof: PoetProof = {
  root: hex(vector.root),
  provenLeaves: vector.proven_leaves.map(hex),
  proofNodes: vector.proof_nodes.map(hex),
  leaves: BigInt(vector.leaves_decimal),
};
const statement = hex(vector.statement);

/** Counts the SHA-256 calls one verification makes (a Merkle node or a digest is one call). */
function sha256CallsPerVerification(): number {
  const inner = new JsPoswHasher();
  let calls = 0;
  verifyPoetProofSync(proof, statement, {
    hasher: {
      name: "counting",
      sha256: (data, out) => {
        calls++;
        inner.sha256(data, out);
      },
      merkle: (s, l, r, out) => {
        calls++;
        inner.merkle(s, l, r, out);
      },
      labels: (s, inputs, out) => {
        calls += 400 * inputs.length;
        inner.labels(s, inputs, out);
      },
    },
  });
  return calls;
}

const verificationCalls = sha256CallsPerVerification();

const cases: BenchCase[] = [
  ...hashers.flatMap((hasher): BenchCase[] => [
    {
      name: `verify ${vector.name} [${hasher.name}]`,
      runs: 21,
      warmup: 3,
      run: () => verifyPoetProofSync(proof, statement, { hasher }),
      sha256Calls: verificationCalls,
    },
    {
      name: `${CHAINED_CALLS} chained SHA-256 [${hasher.name}]`,
      runs: 21,
      warmup: 3,
      run: () => {
        const inputs = Array.from({ length: CHAINED_CALLS / 400 }, () => new Uint8Array(8));
        hasher.labels(new Uint8Array(32), inputs, new Uint8Array(32 * inputs.length));
      },
      sha256Calls: CHAINED_CALLS,
    },
  ]),
  {
    name: `${CHAINED_CALLS} chained SHA-256 [node:crypto, baseline]`,
    runs: 11,
    warmup: 2,
    run: () => {
      let x: Uint8Array = new Uint8Array(32);
      for (let i = 0; i < CHAINED_CALLS; i++) x = createHash("sha256").update(x).digest();
    },
    sha256Calls: CHAINED_CALLS,
  },
];

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

function measure(bench: BenchCase): number {
  for (let i = 0; i < bench.warmup; i++) bench.run();
  const times: number[] = [];
  for (let i = 0; i < bench.runs; i++) {
    const start = process.hrtime.bigint();
    bench.run();
    times.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  return median(times);
}

console.log(`node ${process.version}; ${verificationCalls} SHA-256 calls per verification`);
const medians = new Map<string, number>();
for (const bench of cases) {
  const ms = measure(bench);
  medians.set(bench.name, ms);
  const perCall =
    bench.sha256Calls === undefined
      ? ""
      : `  ${((ms * 1e6) / bench.sha256Calls).toFixed(0)} ns/SHA-256`;
  console.log(`${bench.name.padEnd(56)} median ${ms.toFixed(2).padStart(8)} ms${perCall}`);
}
const baseline = medians.get(`${CHAINED_CALLS} chained SHA-256 [node:crypto, baseline]`)!;
for (const hasher of hashers) {
  const verify = medians.get(`verify ${vector.name} [${hasher.name}]`)!;
  console.log(`baseline / verify [${hasher.name}]: ${(baseline / verify).toFixed(2)}x`);
}
