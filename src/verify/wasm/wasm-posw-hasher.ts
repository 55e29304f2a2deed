/**
 * @module verify/wasm/wasm-posw-hasher
 *
 * The {@link PoswHasher} backed by the hand-written WebAssembly SHA-256 kernel (`sha256.wat`,
 * docs/protocol.md §5.1, §5.2, §5.4).
 *
 * Where the time goes in a verification, and what this does about it:
 * - Labels (150 × 400 chained SHA-256, ~85% of the work): one call into the module hashes all of
 *   them, four chains per 128-bit instruction stream, with the 399 re-hashes done on registers
 *   inside the module. `node:crypto` pays about a microsecond of call overhead per hash instead.
 * - Salted Merkle nodes (thousands at mainnet height): the validator asks for them one at a time,
 *   so {@link WasmPoswHasher.merkle} is a cheap per-call path: three copies into module memory
 *   through views that are reused, one call, one copy out, no allocation. Callers that can
 *   collect independent nodes (one tree level) use {@link WasmPoswHasher.merkleMany}, which runs
 *   them four at a time.
 * - Fiat–Shamir: {@link WasmPoswHasher.fiatShamirIndices} hashes the counters in batches, four
 *   per instruction stream, instead of one call per counter.
 *
 * V8 first runs WebAssembly through its baseline compiler and recompiles hot functions in the
 * background, so {@link createWasmPoswHasher} exercises every entry once per thread: the first
 * real verification then runs optimised code.
 */
import { PoetError, WireFormatError } from "../../errors.js";
import { MAX_U64 } from "../../wire/index.js";
import type { PoswHasher } from "../hasher.js";
import { LABEL_HASH_NESTING_DEPTH, resolveSecurityParam } from "../params.js";
import { KernelMemory } from "./kernel-memory.js";
import { instantiateKernel, type KernelMemoryObject } from "./kernel-module.js";

type Sha256Export = (ptr: number, length: number, out: number) => void;
type HashManyExport = (desc: number, count: number, depth: number, out: number) => void;

const UINT32_LIMIT = 0x1_0000_0000;
const EMPTY = new Uint8Array(0);

/** Bytes of a SHA-256-padded message of `length` bytes: whole 64-byte blocks. */
function paddedLength(length: number): number {
  return (Math.floor((length + 8) / 64) + 1) * 64;
}

/**
 * SHA-256 for the proof-of-sequential-work verifier in WebAssembly 128-bit SIMD. Results are
 * identical to the JavaScript hasher's. Not re-entrant, but every method finishes before it
 * returns, so one instance can serve interleaved verifications on its thread.
 *
 * @example
 * ```ts
 * const hasher = createWasmPoswHasher();
 * verifyPoetProofSync(proof, statement, { hasher });
 * ```
 */
export class WasmPoswHasher implements PoswHasher {
  readonly name = "wasm-simd";
  readonly #sha256: Sha256Export;
  readonly #hashMany: HashManyExport;
  readonly #memory: KernelMemory;
  /** Start of the caller area: a 32-byte digest slot, then inputs from `#heap + 64`. */
  readonly #heap: number;
  #digest: Uint8Array;

  /** Prefer {@link createWasmPoswHasher}, which also warms the kernel up. */
  constructor() {
    const kernel = instantiateKernel("sha256");
    this.#sha256 = kernel.sha256 as Sha256Export;
    this.#hashMany = kernel.hash_many as HashManyExport;
    this.#heap = (kernel.heap_base as { value: number }).value;
    this.#memory = new KernelMemory(kernel.memory as KernelMemoryObject, () => {
      this.#digest = this.#memory.bytes.subarray(this.#heap, this.#heap + 32);
    });
    this.#digest = this.#memory.bytes.subarray(this.#heap, this.#heap + 32);
  }

  sha256(data: Uint8Array, out: Uint8Array): void {
    const input = this.#heap + 64;
    this.#memory.reserve(input + data.length);
    this.#memory.bytes.set(data, input);
    this.#sha256(input, data.length, this.#heap);
    out.set(this.#digest);
  }

  merkle(statement: Uint8Array, left: Uint8Array, right: Uint8Array, out: Uint8Array): void {
    const input = this.#heap + 64;
    const length = statement.length + left.length + right.length;
    this.#memory.reserve(input + length);
    const bytes = this.#memory.bytes;
    bytes.set(statement, input);
    bytes.set(left, input + statement.length);
    bytes.set(right, input + statement.length + left.length);
    this.#sha256(input, length, this.#heap);
    out.set(this.#digest);
  }

  labels(statement: Uint8Array, inputs: readonly Uint8Array[], out: Uint8Array): void {
    this.#hashAll(statement, inputs.length, (j) => inputs[j]!, LABEL_HASH_NESTING_DEPTH, out);
  }

  /**
   * Independent messages in one call: `out[32·j ..] = SHA256(messages[j])`, four per instruction
   * stream.
   */
  sha256Many(messages: readonly Uint8Array[], out: Uint8Array): void {
    this.#hashAll(EMPTY, messages.length, (j) => messages[j]!, 1, out);
  }

  /**
   * Independent Merkle nodes in one call (for example one level of a tree):
   * `out[32·i ..] = SHA256(statement ‖ children[64·i .. 64·i+64))`, for `i < count`.
   */
  merkleMany(statement: Uint8Array, children: Uint8Array, count: number, out: Uint8Array): void {
    if (children.length < 64 * count) {
      throw new PoetError("internal", `merkleMany: ${count} nodes need ${64 * count} input bytes`);
    }
    this.#hashAll(statement, count, (i) => children.subarray(64 * i, 64 * i + 64), 1, out);
  }

  /**
   * The Fiat–Shamir leaf indices of a proof (docs/protocol.md §5.2), sorted ascending: for
   * `i = 0, 1, …`, `BE64(SHA256(root ‖ BE32(i))[0..8]) mod leaves`, until `T` distinct ones are
   * found; every index when `T > leaves`. Counters are hashed in batches inside the module.
   *
   * @throws {WireFormatError} when `leaves` is outside the u64 range.
   * @throws {ConfigError} when `securityParam` is not an integer from 1 to 255.
   * @example
   * ```ts
   * const indices = createWasmPoswHasher().fiatShamirIndices(proof.root, proof.leaves, 150);
   * ```
   */
  fiatShamirIndices(root: Uint8Array, leaves: bigint, securityParam: number): bigint[] {
    const t = resolveSecurityParam(securityParam);
    if (typeof leaves !== "bigint" || leaves < 0n || leaves > MAX_U64) {
      throw new WireFormatError("leaves", `must be a u64 bigint, got ${String(leaves)}`);
    }
    if (BigInt(t) > leaves) {
      const all: bigint[] = [];
      for (let i = 0n; i < leaves; i++) all.push(i);
      return all;
    }
    const seed = new Uint8Array(root.length + 4);
    seed.set(root, 0);
    const counter = new DataView(seed.buffer, root.length, 4);
    const chosen = new Set<bigint>();
    let first = 0;
    while (chosen.size < t) {
      const batch = Math.max(16, t - chosen.size + 8);
      if (first + batch > UINT32_LIMIT) {
        // Only a broken kernel gets here; the reference's counter is 32 bits wide.
        throw new PoetError("internal", "Fiat–Shamir counter exhausted");
      }
      const digests = this.#hashInPlace(EMPTY, batch, (k) => {
        counter.setUint32(0, first + k);
        return seed;
      });
      const view = this.#memory.view;
      for (let k = 0; k < batch && chosen.size < t; k++) {
        chosen.add(view.getBigUint64(digests + 32 * k) % leaves);
      }
      first += batch;
    }
    return [...chosen].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  }

  /** Hashes `count` messages `prefix ‖ part(j)` `depth` times each into `out`. */
  #hashAll(
    prefix: Uint8Array,
    count: number,
    part: (j: number) => Uint8Array,
    depth: number,
    out: Uint8Array,
  ): void {
    if (out.length < 32 * count) {
      throw new PoetError("internal", `out holds ${out.length} bytes, ${32 * count} needed`);
    }
    if (count === 0) return;
    const digests = this.#hashInPlace(prefix, count, part, depth);
    out.set(this.#memory.bytes.subarray(digests, digests + 32 * count));
  }

  /**
   * Lays out `count` padded messages `prefix ‖ part(j)` and their descriptors in module memory,
   * hashes them `depth` times each and returns the address of the digests. `part` is called once
   * per message, in order.
   */
  #hashInPlace(
    prefix: Uint8Array,
    count: number,
    part: (j: number) => Uint8Array,
    depth = 1,
  ): number {
    const memory = this.#memory;
    const desc = this.#heap + 64;
    let cursor = desc + 8 * count;
    for (let j = 0; j < count; j++) {
      const data = part(j);
      const length = prefix.length + data.length;
      const end = cursor + paddedLength(length);
      // room for this message and, in the worst case, the digests after it
      memory.reserve(end + 32 * count);
      const bytes = memory.bytes;
      const view = memory.view;
      view.setUint32(desc + 8 * j, cursor, true);
      view.setUint32(desc + 8 * j + 4, (end - cursor) / 64, true);
      bytes.set(prefix, cursor);
      bytes.set(data, cursor + prefix.length);
      bytes.fill(0, cursor + length, end);
      bytes[cursor + length] = 0x80;
      view.setUint32(end - 8, Math.floor(length / 0x20000000));
      view.setUint32(end - 4, (length << 3) >>> 0);
      cursor = end;
    }
    this.#hashMany(desc, count, depth, cursor);
    return cursor;
  }
}

let warmed = false;

/**
 * Runs every entry of the kernel enough for V8 to optimise it. Compiled code belongs to the
 * module, so once per thread is enough.
 */
function warmUp(hasher: WasmPoswHasher): void {
  if (warmed) return;
  warmed = true;
  const statement = new Uint8Array(32);
  const inputs = Array.from({ length: 8 }, (_, j) => new Uint8Array(8 + 32 * (j % 3)));
  const out = new Uint8Array(32 * inputs.length);
  for (let round = 0; round < 2; round++) hasher.labels(statement, inputs, out);
  for (let round = 0; round < 500; round++) {
    hasher.merkle(statement, out.subarray(0, 32), out.subarray(32, 64), out);
  }
  hasher.merkleMany(statement, out, 4, out);
  hasher.fiatShamirIndices(statement, 1000n, 16);
}

/**
 * A new WebAssembly SIMD {@link PoswHasher}, warmed up so its first real use runs optimised code.
 *
 * @throws {ConfigError} (`kernel`) when the engine has no WebAssembly 128-bit SIMD; use
 *   `createPoswHasher()` to fall back to JavaScript instead.
 * @example
 * ```ts
 * const hasher = createWasmPoswHasher();
 * const labels = new Uint8Array(32 * inputs.length);
 * hasher.labels(statement, inputs, labels);
 * ```
 */
export function createWasmPoswHasher(): WasmPoswHasher {
  const hasher = new WasmPoswHasher();
  warmUp(hasher);
  return hasher;
}
