/**
 * @module bench/kernels
 *
 * What the hashing kernels cost, call by call, measured in one run (docs/protocol.md §5.6): the
 * detail behind the headline figures of `bench/verify.ts`. Nanoseconds per SHA-256 for each
 * kernel and entry point against the plain 60,000-call `node:crypto` loop, the Merkle-path part of
 * a verification at mainnet height (per-call hashing against a tree level per call), the
 * Fiat–Shamir indices, and the BLAKE3 membership tree and proof reference. Prints medians;
 * asserts nothing.
 *
 * ```sh
 * node --import tsx bench/kernels.ts
 * ```
 */
import { createHash, randomBytes } from "node:crypto";
import { availableParallelism } from "node:os";
import { blake3 } from "@noble/hashes/blake3.js";
import { membershipRoot } from "../src/membership/index.js";
import {
  fiatShamirIndices,
  JsPoswHasher,
  type MembershipHasher,
  type PoswHasher,
} from "../src/verify/index.js";
import {
  createMembershipHasher,
  createWasmMembershipHasher,
  createWasmPoswHasher,
} from "../src/verify/wasm/index.js";
import { median, ms, ns, samples, syntheticProof, treeWalk } from "./common.js";

const LABEL_HASHES = 150 * 400;

/** The median of `runs` timed runs of `body`, after one untimed run. */
function time(runs: number, body: () => void): number {
  return median(samples(runs, 1, body));
}

const row = (label: string, value: string, note = ""): void =>
  console.log(`${label.padEnd(58)} ${value.padStart(12)}  ${note}`);

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
  console.log("\nSHA-256, ns per hash");
  row("node:crypto, 60,000 chained calls (baseline)", ms(baseline), ns(baseline, LABEL_HASHES));
  row("js labels, 150 x 400 chained", ms(jsLabels), ns(jsLabels, LABEL_HASHES));
  row("wasm-simd labels, 150 x 400 chained", ms(wasmLabels), ns(wasmLabels, LABEL_HASHES));
  row("  ratio wasm-simd labels / baseline", (wasmLabels / baseline).toFixed(4));
  row("js sha256, one 32-byte call", ns(jsScalar, perCall));
  row("wasm sha256, one 32-byte call (scalar kernel)", ns(wasmScalar, perCall));

  // the Merkle-path part at mainnet height
  const mainnet = syntheticProof(86_831_894_949n);
  const tree = (hasher: PoswHasher) => treeWalk(mainnet, statement, hasher);
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
  const perCallWasm: PoswHasher = {
    name: "wasm-simd, one call per parent",
    sha256: (data, o) => wasm.sha256(data, o),
    merkle: (s, l, r, o) => wasm.merkle(s, l, r, o),
    labels: (s, i, o) => wasm.labels(s, i, o),
  };
  const treeJs = time(runs, tree(js));
  const treePerCall = time(runs, tree(perCallWasm));
  const treeWasm = time(runs, tree(wasm));
  const left = new Uint8Array(32);
  const hashOnlyWasm = time(runs, () => {
    for (let i = 0; i < hashed; i++) wasm.merkle(statement, left, left, out);
  });
  const children = new Uint8Array(randomBytes(64 * hashed));
  const parents = new Uint8Array(32 * hashed);
  const batchWasm = time(runs, () => wasm.merkleMany(statement, children, hashed, parents));
  const fsWasm = time(runs, () =>
    fiatShamirIndices(mainnet.proof.root, mainnet.proof.leaves, 150, wasm),
  );
  const fsJs = time(runs, () =>
    fiatShamirIndices(mainnet.proof.root, mainnet.proof.leaves, 150, js),
  );
  console.log(
    `\nMerkle path at mainnet height (${mainnet.proof.leaves} leaves, ${nodes} proof nodes, ${hashed} salted hashes)`,
  );
  row("tree walk (checkProofTree), js", ms(treeJs));
  row("tree walk (checkProofTree), wasm-simd one call per parent", ms(treePerCall));
  row("tree walk (checkProofTree), wasm-simd a tree level per call", ms(treeWasm));
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
  const levelsOnly: MembershipHasher = {
    name: "wasm-simd-blake3, hashPairs only",
    hashPairs: (input, pairs, output) => wasmMembership.hashPairs(input, pairs, output),
  };
  const rootLevels = time(runs, () => {
    membershipRoot(members, { hasher: levelsOnly });
  });
  const rootInModule = time(runs, () => {
    wasmMembership.root(members);
  });
  console.log("\nmembership root, 100,000 members");
  row("membershipRoot, js (@noble/hashes)", ms(rootJs));
  row("membershipRoot, wasm-simd hashPairs per level", ms(rootLevels));
  row("WasmMembershipHasher.root, whole tree in the module", ms(rootInModule));

  // BLAKE3 of a proof-sized message (the proof reference)
  const message = new Uint8Array(randomBytes(140_000));
  const refNoble = time(runs, () => {
    blake3(message);
  });
  const refWasm = time(runs, () => {
    wasmMembership.blake3(message);
  });
  console.log("\nBLAKE3 of 140,000 bytes (a mainnet proof's encoding)");
  row("@noble/hashes blake3", ms(refNoble));
  row("WasmMembershipHasher.blake3, four chunks per stream", ms(refWasm));
}

await main();
