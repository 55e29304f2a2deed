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
 * - Salted Merkle nodes (thousands at mainnet height): the partial-tree validator plans the walk
 *   first and hands the whole plan to {@link WasmPoswHasher.merklePlan}, which copies the given
 *   nodes and the plan into module memory once and runs one kernel call per tree level, four
 *   parents per instruction stream, with the statement's words and the padding set once per call.
 *   {@link WasmPoswHasher.merkle} stays a cheap per-call path (three copies in through reused
 *   views, one call, one copy out) for callers with a single node, and
 *   {@link WasmPoswHasher.merkleMany} hashes a packed level.
 * - Fiat–Shamir: {@link WasmPoswHasher.sha256Many} lets `fiatShamirIndices` hash the counters in
 *   batches, four per instruction stream, instead of one call per counter.
 *
 * V8 first runs WebAssembly through its baseline compiler and recompiles hot functions in the
 * background, so {@link createWasmPoswHasher} exercises every entry once per thread: the first
 * real verification then runs optimised code.
 */
import { PoetError } from "../../errors.js";
import type { NodePlan, PoswHasher } from "../hasher.js";
import { LABEL_HASH_NESTING_DEPTH } from "../params.js";
import { KernelMemory } from "./kernel-memory.js";
import { instantiateKernel, type KernelMemoryObject } from "./kernel-module.js";

type Sha256Export = (ptr: number, length: number, out: number) => void;
type HashManyExport = (desc: number, count: number, depth: number, out: number) => void;
type MerklePlanExport = (statement: number, arena: number, ops: number, count: number) => void;

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
  readonly #merklePlan: MerklePlanExport;
  readonly #memory: KernelMemory;
  /** Start of the caller area: a 32-byte digest slot, then inputs from `#heap + 64`. */
  readonly #heap: number;
  #digest: Uint8Array;

  /** Prefer {@link createWasmPoswHasher}, which also warms the kernel up. */
  constructor() {
    const kernel = instantiateKernel("sha256");
    this.#sha256 = kernel.sha256 as Sha256Export;
    this.#hashMany = kernel.hash_many as HashManyExport;
    this.#merklePlan = kernel.merkle_plan as MerklePlanExport;
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
   * Runs a partial tree's plan (see {@link NodePlan}): one kernel call per level, four parents per
   * instruction stream when the statement is 32 bytes (every real one is), level by level as
   * padded messages otherwise.
   *
   * @example
   * ```ts
   * validatePartialTree(indices, leaves, nodes, poswNodeHash(createWasmPoswHasher(), statement));
   * ```
   */
  merklePlan(statement: Uint8Array, arena: Uint8Array, plan: NodePlan): void {
    const { ops, levelEnds } = plan;
    if (statement.length !== 32) {
      this.#merklePlanByMessages(statement, arena, plan);
      return;
    }
    // Statement, arena and operations side by side in module memory, one kernel call per level.
    // Parents are the slots the operations write; every slot below the lowest of them is given.
    let firstParent = arena.length >> 5;
    for (let k = 2; k < ops.length; k += 3) if (ops[k]! < firstParent) firstParent = ops[k]!;
    const given = 32 * firstParent;
    const at = this.#heap + 64;
    const arenaAt = at + 32;
    const opsAt = arenaAt + arena.length;
    this.#memory.reserve(opsAt + ops.byteLength);
    const bytes = this.#memory.bytes;
    bytes.set(statement, at);
    bytes.set(arena.subarray(0, given), arenaAt);
    bytes.set(new Uint8Array(ops.buffer, ops.byteOffset, ops.byteLength), opsAt);
    let start = 0;
    for (const end of levelEnds) {
      this.#merklePlan(at, arenaAt, opsAt + 12 * start, end - start);
      start = end;
    }
    arena.set(bytes.subarray(arenaAt + given, arenaAt + arena.length), given);
  }

  /** {@link merklePlan} for statements of other lengths: each level as padded messages. */
  #merklePlanByMessages(statement: Uint8Array, arena: Uint8Array, plan: NodePlan): void {
    const { ops, levelEnds } = plan;
    const pair = new Uint8Array(64);
    let start = 0;
    for (const end of levelEnds) {
      const count = end - start;
      const first = start;
      const digests = this.#hashInPlace(statement, count, (k) => {
        const left = 32 * ops[3 * (first + k)]!;
        const right = 32 * ops[3 * (first + k) + 1]!;
        pair.set(arena.subarray(left, left + 32), 0);
        pair.set(arena.subarray(right, right + 32), 32);
        return pair;
      });
      const bytes = this.#memory.bytes;
      for (let k = 0; k < count; k++) {
        const parent = 32 * ops[3 * (first + k) + 2]!;
        arena.set(bytes.subarray(digests + 32 * k, digests + 32 * k + 32), parent);
      }
      start = end;
    }
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
  hasher.sha256Many(inputs, out);
  // a two-level plan over eight given nodes: four parents, then two
  const arena = new Uint8Array(32 * 14);
  const plan = {
    ops: Int32Array.from([0, 1, 8, 2, 3, 9, 4, 5, 10, 6, 7, 11, 8, 9, 12, 10, 11, 13]),
    levelEnds: [4, 6],
  };
  for (let round = 0; round < 200; round++) hasher.merklePlan(statement, arena, plan);
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
