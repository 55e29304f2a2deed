/**
 * @module bench/verify
 *
 * How fast a node verifies PoET proofs and builds membership trees (docs/protocol.md §4.2, §5.5),
 * every headline figure in one run so that they share one machine state:
 * - the baseline: a plain loop of 60,000 chained `node:crypto` SHA-256 calls (what the 150 labels
 *   of a proof cost done naively), measured at the start and again at the end, the median of
 *   both sets being the figure every ratio is taken to;
 * - nanoseconds per SHA-256 inside the label chains, for the JavaScript and WebAssembly kernels;
 * - the median time to verify the 1,048,576-leaf reference vector synchronously with each kernel
 *   and with the parallel verifier (the calling thread plus one worker per other core), with its
 *   ratio to the baseline (the target is 0.03 or less);
 * - the first verification of a fresh process, after `ready()` (the JavaScript around the kernel
 *   is then warmed on synthetic proofs only, as in a node that verifies a proof per round);
 * - the Merkle-path part of a verification at mainnet height (about 8.7e10 leaves), timed on its
 *   own over a synthetic proof of the same shape (random nodes, so only the walk and the hashing
 *   are measured; labels cost the same at any height);
 * - the membership root of 100,000 members, and the proof reference of the vector.
 * Figures are medians; nothing is asserted (timings depend on the machine and its load). Kernel
 * details are in `bench/kernels.ts`.
 *
 * ```sh
 * node --import tsx bench/verify.ts
 * ```
 */
import { execFileSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { availableParallelism } from "node:os";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { blake3 } from "@noble/hashes/blake3.js";
import { createBlake3MembershipHasher, membershipRoot } from "../src/membership/index.js";
import {
  fiatShamirIndices,
  JsPoswHasher,
  type PoswHasher,
  proofRef,
  verifyPoetProofSync,
} from "../src/verify/index.js";
import { createParallelVerifier } from "../src/verify/pool/index.js";
import { sharedPoswHasher } from "../src/verify/wasm/index.js";
import { encodePoetProof, type PoetProof } from "../src/wire/index.js";
import { fromHex, loadProofVectors, proofOf } from "../test/helpers/proof-vectors.js";
import { median, ms, ns, samples, syntheticProof, treeWalk } from "./common.js";

const CHAINED_CALLS = 60_000;
const TARGET_RATIO = 0.03;

async function samplesAsync(
  runs: number,
  warmup: number,
  body: () => Promise<void>,
): Promise<number[]> {
  for (let i = 0; i < warmup; i++) await body();
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    await body();
    times.push(performance.now() - start);
  }
  return times;
}

const row = (label: string, value: string, note = ""): void =>
  console.log(`  ${label.padEnd(54)} ${value.padStart(10)}  ${note}`);

const vector = loadProofVectors(
  fileURLToPath(new URL("../test/fixtures/poet-proofs.json", import.meta.url)),
).find((v) => v.name === "leaves-1048576-T-150")!;
const proof: PoetProof = proofOf(vector);
const statement = fromHex(vector.statement);

/** SHA-256 calls of one verification: labels, tree nodes and Fiat–Shamir digests. */
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

function baselineLoop(): void {
  let x: Uint8Array = new Uint8Array(32);
  for (let i = 0; i < CHAINED_CALLS; i++) x = createHash("sha256").update(x).digest();
}

/** Fresh processes, each timing its first verification after `ready()`; returns their median. */
function firstVerificationMs(processes: number): number {
  const times: number[] = [];
  for (let i = 0; i < processes; i++) {
    const args = [...process.execArgv, fileURLToPath(import.meta.url), "--first-verification"];
    times.push(Number(execFileSync(process.execPath, args, { encoding: "utf8" }).trim()));
  }
  return median(times);
}

/** The child of {@link firstVerificationMs}: prints the time of one verification. */
async function firstVerification(): Promise<void> {
  const verifier = createParallelVerifier({ cacheSize: 0 });
  await verifier.ready();
  const start = performance.now();
  await verifier.verify(proof, statement);
  const elapsed = performance.now() - start;
  await verifier.close();
  console.log(elapsed.toFixed(3));
}

async function main(): Promise<void> {
  const runs = Number(process.env.BENCH_RUNS ?? 21);
  const js = new JsPoswHasher();
  const wasm = sharedPoswHasher();
  const calls = sha256CallsPerVerification();
  console.log(
    `bench/verify: node ${process.version}, ${availableParallelism()} cores, ` +
      `medians of ${runs} runs; kernel "${wasm.name}"`,
  );

  const baselineSamples = samples(Math.ceil(runs / 2), 2, baselineLoop);

  // ns per SHA-256 inside label chains
  const labelInputs = Array.from({ length: 150 }, () => new Uint8Array(randomBytes(8 + 32 * 10)));
  const labelOut = new Uint8Array(32 * 150);
  const chainJs = median(samples(7, 1, () => js.labels(statement, labelInputs, labelOut)));
  const chainWasm = median(samples(runs, 3, () => wasm.labels(statement, labelInputs, labelOut)));

  // verification of the 1,048,576-leaf vector
  const verifyJs = median(
    samples(7, 1, () => verifyPoetProofSync(proof, statement, { hasher: js })),
  );
  const verifyWasm = median(samples(runs, 3, () => verifyPoetProofSync(proof, statement)));
  const verifier = createParallelVerifier({ cacheSize: 0 });
  await verifier.ready();
  const verifyParallel = median(
    await samplesAsync(2 * runs, 10, () => verifier.verify(proof, statement)),
  );
  const workers = verifier.workers;
  await verifier.close();
  const first = firstVerificationMs(Number(process.env.BENCH_PROCESSES ?? 5));

  // the Merkle-path part at mainnet height
  const mainnet = syntheticProof(86_831_894_949n);
  const treeOf = (hasher: PoswHasher) => treeWalk(mainnet, statement, hasher);
  const treeJs = median(samples(7, 1, treeOf(js)));
  const treeWasm = median(samples(runs, 3, treeOf(wasm)));
  const fiatShamir = median(
    samples(runs, 3, () => fiatShamirIndices(mainnet.proof.root, mainnet.proof.leaves, 150)),
  );

  // membership root of 100,000 members and the proof reference
  const members = Array.from({ length: 100_000 }, () => new Uint8Array(randomBytes(32)));
  const nobleMembership = createBlake3MembershipHasher();
  const rootJs = median(samples(3, 1, () => membershipRoot(members, { hasher: nobleMembership })));
  const rootWasm = median(samples(runs, 3, () => membershipRoot(members)));
  const encoded = encodePoetProof(proof);
  const refNoble = median(samples(runs, 3, () => blake3(encoded)));
  const refWasm = median(samples(runs, 3, () => proofRef(proof)));

  baselineSamples.push(...samples(Math.ceil(runs / 2), 0, baselineLoop));
  const baseline = median(baselineSamples);
  const ratio = (value: number): string =>
    `${(value / baseline).toFixed(4)} x baseline${value / baseline <= TARGET_RATIO ? " (target met)" : ""}`;

  console.log("\nbaseline");
  row(
    `${CHAINED_CALLS.toLocaleString("en")} chained node:crypto SHA-256 calls`,
    ms(baseline),
    `${ns(baseline, CHAINED_CALLS)} per call`,
  );
  console.log("\nSHA-256 inside the label chains (150 x 400)");
  row("js", ns(chainJs, CHAINED_CALLS), ms(chainJs));
  row(wasm.name, ns(chainWasm, CHAINED_CALLS), ms(chainWasm));
  console.log(`\nverify ${vector.name} (${calls.toLocaleString("en")} SHA-256 calls)`);
  row("verifyPoetProofSync, js", ms(verifyJs), ratio(verifyJs));
  row(`verifyPoetProofSync, ${wasm.name} (the default)`, ms(verifyWasm), ratio(verifyWasm));
  row(`ParallelVerifier, main + ${workers} worker(s)`, ms(verifyParallel), ratio(verifyParallel));
  row("same, first verification of a new process", ms(first), ratio(first));
  console.log(
    `\nMerkle path at mainnet height (${mainnet.proof.leaves} leaves, ` +
      `${mainnet.proof.proofNodes.length} proof nodes; synthetic)`,
  );
  row("checkProofTree, js", ms(treeJs));
  row(`checkProofTree, ${wasm.name} (a tree level per call)`, ms(treeWasm));
  row(`fiatShamirIndices, ${wasm.name}`, ms(fiatShamir));
  console.log("\nmembership tree and proof reference");
  row("membershipRoot of 100,000 members, @noble/hashes", ms(rootJs));
  row("membershipRoot of 100,000 members (the default)", ms(rootWasm), "target 50 ms");
  row(`proofRef of the vector (${encoded.length} bytes), @noble/hashes`, ms(refNoble));
  row("proofRef of the vector (the default)", ms(refWasm));
}

if (process.argv.includes("--first-verification")) await firstVerification();
else await main();
