/**
 * @module bench/kernels
 *
 * What the hashing kernels cost, measured in one run (docs/protocol.md §5.6): nanoseconds per
 * SHA-256 for each kernel against the plain 60,000-call `node:crypto` loop, verification of the
 * 1,048,576-leaf vector (sequential per kernel, and spread over the cores), the Merkle-path part
 * of a verification at mainnet height over a synthetic proof of the same shape, and the
 * membership root of 100,000 members. Prints medians; asserts nothing.
 *
 * ```sh
 * node --import tsx bench/kernels.ts
 * ```
 */
import { createHash, randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { performance } from "node:perf_hooks";
import { membershipRoot } from "../src/membership/index.js";
import {
  checkProofTree,
  fiatShamirIndices,
  JsPoswHasher,
  type PoswHasher,
  partialTreeProofPositions,
  verifyPoetProofSync,
} from "../src/verify/index.js";
import { createParallelVerifier } from "../src/verify/pool/index.js";
import {
  createMembershipHasher,
  createWasmMembershipHasher,
  createWasmPoswHasher,
} from "../src/verify/wasm/index.js";
import type { PoetProof } from "../src/wire/index.js";

const LABEL_HASHES = 150 * 400;

function median(samples: number[]): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

function time(runs: number, body: () => void): number {
  body();
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    body();
    samples.push(performance.now() - start);
  }
  return median(samples);
}

async function timeAsync(runs: number, body: () => Promise<void>): Promise<number> {
  await body();
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    await body();
    samples.push(performance.now() - start);
  }
  return median(samples);
}

const ms = (value: number): string => `${value.toFixed(2)} ms`;
const row = (label: string, value: string, note = ""): void =>
  console.log(`${label.padEnd(58)} ${value.padStart(12)}  ${note}`);

const fromHex = (text: string): Uint8Array => new Uint8Array(Buffer.from(text, "hex"));

interface Vector {
  name: string;
  statement: string;
  leaves_decimal: string;
  root: string;
  proven_leaves: string[];
  proof_nodes: string[];
}

function vectorProof(name: string): { proof: PoetProof; statement: Uint8Array } {
  const file = JSON.parse(readFileSync("test/fixtures/poet-proofs.json", "utf8")) as {
    vectors: Vector[];
  };
  const vector = file.vectors.find((v) => v.name === name);
  if (vector === undefined) throw new Error(`no vector ${name}`);
  return {
    statement: fromHex(vector.statement),
    proof: {
      root: fromHex(vector.root),
      provenLeaves: vector.proven_leaves.map(fromHex),
      proofNodes: vector.proof_nodes.map(fromHex),
      leaves: BigInt(vector.leaves_decimal),
    },
  };
}

/** A proof shaped like a mainnet one (random values, so its root does not match). */
function syntheticProof(leaves: bigint): { proof: PoetProof; indices: bigint[] } {
  const root = new Uint8Array(randomBytes(32));
  const indices = fiatShamirIndices(root, leaves, 150);
  const height = (leaves - 1n).toString(2).length;
  const positions = partialTreeProofPositions(indices, height);
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

async function main(): Promise<void> {
  const runs = Number(process.env.BENCH_RUNS ?? 21);
  const js = new JsPoswHasher();
  const wasm = createWasmPoswHasher();
  console.log(`kernels: ${runs} runs per figure, medians; ${availableParallelism()} cores`);

  // ns per SHA-256
  const seed = new Uint8Array(32);
  const baseline = time(runs, () => {
    let x: Uint8Array = seed;
    for (let i = 0; i < LABEL_HASHES; i++) x = createHash("sha256").update(x).digest();
  });
  const statement = new Uint8Array(randomBytes(32));
  const inputs = Array.from({ length: 150 }, () => new Uint8Array(randomBytes(8 + 32 * 18)));
  const labels = new Uint8Array(32 * 150);
  const jsLabels = time(Math.min(runs, 7), () => js.labels(statement, inputs, labels));
  const wasmLabels = time(runs, () => wasm.labels(statement, inputs, labels));
  const out = new Uint8Array(32);
  const perCall = 20_000;
  const wasmScalar = time(runs, () => {
    for (let i = 0; i < perCall; i++) wasm.sha256(out, out);
  });
  const jsScalar = time(runs, () => {
    for (let i = 0; i < perCall; i++) js.sha256(out, out);
  });
  const ns = (total: number, count: number): string => `${((total * 1e6) / count).toFixed(1)} ns`;
  console.log("\nSHA-256, ns per hash");
  row("node:crypto, 60,000 chained calls (baseline)", ms(baseline), ns(baseline, LABEL_HASHES));
  row("js labels, 150 x 400 chained", ms(jsLabels), ns(jsLabels, LABEL_HASHES));
  row("wasm-simd labels, 150 x 400 chained", ms(wasmLabels), ns(wasmLabels, LABEL_HASHES));
  row("  ratio wasm-simd labels / baseline", (wasmLabels / baseline).toFixed(4));
  row("js sha256, one 32-byte call", ns(jsScalar, perCall));
  row("wasm sha256, one 32-byte call (scalar kernel)", ns(wasmScalar, perCall));

  // verification of the 1,048,576-leaf vector
  const big = vectorProof("leaves-1048576-T-150");
  const verifyJs = time(Math.min(runs, 7), () =>
    verifyPoetProofSync(big.proof, big.statement, { hasher: js }),
  );
  const verifyWasm = time(runs, () =>
    verifyPoetProofSync(big.proof, big.statement, { hasher: wasm }),
  );
  const verifier = createParallelVerifier({ cacheSize: 0 });
  await verifier.ready();
  const verifyParallel = await timeAsync(runs, () => verifier.verify(big.proof, big.statement));
  const workers = verifier.workers;
  await verifier.close();
  console.log("\nverify leaves-1048576-T-150");
  row("verifyPoetProofSync, js", ms(verifyJs));
  row(
    "verifyPoetProofSync, wasm-simd",
    ms(verifyWasm),
    `${(verifyWasm / baseline).toFixed(4)} x baseline`,
  );
  row(
    `ParallelVerifier, wasm-simd, main + ${workers} worker(s)`,
    ms(verifyParallel),
    `${(verifyParallel / baseline).toFixed(4)} x baseline`,
  );

  // the Merkle-path part at mainnet height
  const mainnet = syntheticProof(86_831_894_949n);
  const tree = (hasher: PoswHasher) => () => {
    try {
      checkProofTree(mainnet.proof, statement, mainnet.indices, hasher);
    } catch (err) {
      if ((err as { reason?: string }).reason !== "merkle-root-mismatch") throw err;
    }
  };
  let hashed = 0;
  const counting: PoswHasher = {
    name: "count",
    sha256: () => {},
    labels: () => {},
    merkle: (_s, _l, _r, o) => {
      hashed++;
      o.fill(hashed & 0xff);
    },
  };
  tree(counting)();
  const nodes = mainnet.proof.proofNodes.length;
  const treeJs = time(runs, tree(js));
  const treeWasm = time(runs, tree(wasm));
  const left = new Uint8Array(32);
  const hashOnlyWasm = time(runs, () => {
    for (let i = 0; i < hashed; i++) wasm.merkle(statement, left, left, out);
  });
  const children = new Uint8Array(randomBytes(64 * hashed));
  const parents = new Uint8Array(32 * hashed);
  const batchWasm = time(runs, () => wasm.merkleMany(statement, children, hashed, parents));
  const fsWasm = time(runs, () =>
    wasm.fiatShamirIndices(mainnet.proof.root, mainnet.proof.leaves, 150),
  );
  const fsJs = time(runs, () =>
    fiatShamirIndices(mainnet.proof.root, mainnet.proof.leaves, 150, js),
  );
  console.log(
    `\nMerkle path at mainnet height (${mainnet.proof.leaves} leaves, ${nodes} proof nodes, ${hashed} salted hashes)`,
  );
  row("tree walk (checkProofTree), js", ms(treeJs));
  row("tree walk (checkProofTree), wasm-simd per-call", ms(treeWasm));
  row("hashing only, wasm per-call merkle", ms(hashOnlyWasm), ns(hashOnlyWasm, hashed));
  row("hashing only, wasm merkleMany (4 lanes)", ms(batchWasm), ns(batchWasm, hashed));
  row("Fiat-Shamir indices, js", ms(fsJs));
  row("Fiat-Shamir indices, wasm batched", ms(fsWasm));

  // membership root of 100,000 members
  const members = Array.from({ length: 100_000 }, () => new Uint8Array(randomBytes(32)));
  const rootJs = time(Math.min(runs, 5), () => {
    membershipRoot(members, { hasher: createMembershipHasher("js") });
  });
  const wasmMembership = createWasmMembershipHasher();
  const rootLevels = time(runs, () => {
    membershipRoot(members, { hasher: wasmMembership });
  });
  const rootInModule = time(runs, () => {
    wasmMembership.root(members);
  });
  console.log("\nmembership root, 100,000 members");
  row("membershipRoot, js (@noble/hashes)", ms(rootJs));
  row("membershipRoot, wasm-simd hashPairs per level", ms(rootLevels));
  row("WasmMembershipHasher.root, whole tree in the module", ms(rootInModule));
}

await main();
