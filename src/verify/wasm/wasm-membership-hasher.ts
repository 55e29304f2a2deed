/**
 * @module verify/wasm/wasm-membership-hasher
 *
 * The {@link MembershipHasher} backed by the hand-written WebAssembly BLAKE3 kernel
 * (`blake3.wat`, docs/protocol.md §4.2). A membership-tree node is `BLAKE3(0x01 ‖ left ‖ right)`,
 * two compressions; the nodes of one level are independent, so the kernel hashes four of them per
 * 128-bit instruction stream, and {@link WasmMembershipHasher.root} folds a whole tree inside the
 * module, level by level in place, so 100,000 members cost one copy in and one call.
 * {@link WasmMembershipHasher.blake3} hashes messages of any length, such as the SCALE-encoded
 * proof behind a proof reference (§4.3), four chunks per instruction stream.
 */
import { PoetError, WireFormatError } from "../../errors.js";
import type { MembershipHasher } from "../hasher.js";
import { KernelMemory } from "./kernel-memory.js";
import { instantiateKernel, type KernelMemoryObject } from "./kernel-module.js";

type HashPairsExport = (input: number, pairs: number, out: number) => void;
type MembershipRootExport = (ptr: number, count: number) => void;
type HashExport = (input: number, length: number, out: number, work: number) => void;

/**
 * BLAKE3 membership-tree hashing in WebAssembly 128-bit SIMD; results are identical to
 * `@noble/hashes`'. Not re-entrant, but every method finishes before it returns.
 *
 * @example
 * ```ts
 * const hasher = createWasmMembershipHasher();
 * const statement = hasher.root(members); // the PoET statement of a round
 * ```
 */
export class WasmMembershipHasher implements MembershipHasher {
  readonly name = "wasm-simd-blake3";
  readonly #hashPairs: HashPairsExport;
  readonly #membershipRoot: MembershipRootExport;
  readonly #hash: HashExport;
  readonly #memory: KernelMemory;
  /** Where nodes go: past the heap base by 16 so that the byte before a node is addressable. */
  readonly #nodes: number;

  /** Prefer {@link createWasmMembershipHasher}, which also warms the kernel up. */
  constructor() {
    const kernel = instantiateKernel("blake3");
    this.#hashPairs = kernel.hash_pairs as HashPairsExport;
    this.#membershipRoot = kernel.membership_root as MembershipRootExport;
    this.#hash = kernel.hash as HashExport;
    this.#nodes = (kernel.heap_base as { value: number }).value + 16;
    this.#memory = new KernelMemory(kernel.memory as KernelMemoryObject);
  }

  hashPairs(input: Uint8Array, pairs: number, out: Uint8Array): void {
    if (input.length < 64 * pairs || out.length < 32 * pairs) {
      throw new PoetError(
        "internal",
        `hashPairs: ${pairs} pairs need ${64 * pairs} input and ${32 * pairs} output bytes`,
      );
    }
    if (pairs === 0) return;
    const nodes = this.#nodes;
    this.#memory.reserve(nodes + 64 * pairs);
    const bytes = this.#memory.bytes;
    bytes.set(input.subarray(0, 64 * pairs), nodes);
    this.#hashPairs(nodes, pairs, nodes);
    out.set(bytes.subarray(nodes, nodes + 32 * pairs));
  }

  /**
   * The membership root of 32-byte members (docs/protocol.md §4.2): `BLAKE3(0x01 ‖ l ‖ r)` over
   * the members in order, a missing right sibling at any level being 32 zero bytes. One member
   * is its own root; no members give an empty root.
   *
   * @throws {WireFormatError} (`members[i]`) when a member is not 32 bytes; such trees hash
   *   uneven leaves and belong to the general tree code.
   * @example
   * ```ts
   * const statement = createWasmMembershipHasher().root(members);
   * ```
   */
  root(members: readonly Uint8Array[]): Uint8Array {
    const count = members.length;
    if (count === 0) return new Uint8Array(0);
    const nodes = this.#nodes;
    this.#memory.reserve(nodes + 32 * (count + 1));
    const bytes = this.#memory.bytes;
    for (let i = 0; i < count; i++) {
      const member = members[i]!;
      if (member.length !== 32) {
        throw new WireFormatError(`members[${i}]`, `must be 32 bytes, got ${member.length}`);
      }
      bytes.set(member, nodes + 32 * i);
    }
    this.#membershipRoot(nodes, count);
    return bytes.slice(nodes, nodes + 32);
  }

  /**
   * BLAKE3 of a message of any length, 32 bytes; four 1024-byte chunks per instruction stream.
   * Identical to `@noble/hashes`' `blake3(message)`.
   *
   * @example
   * ```ts
   * const ref = createWasmMembershipHasher().blake3(encodePoetProof(proof)); // the proof ref
   * ```
   */
  blake3(message: Uint8Array): Uint8Array {
    const input = this.#nodes;
    const chunks = Math.max(1, Math.ceil(message.length / 1024));
    const out = input + message.length;
    const work = out + 32;
    this.#memory.reserve(work + 32 * chunks + 32);
    const bytes = this.#memory.bytes;
    bytes.set(message, input);
    this.#hash(input, message.length, out, work);
    return bytes.slice(out, out + 32);
  }
}

let warmed = false;

function warmUp(hasher: WasmMembershipHasher): void {
  if (warmed) return;
  warmed = true;
  const members = Array.from({ length: 255 }, () => new Uint8Array(32));
  for (let round = 0; round < 8; round++) hasher.root(members);
  const level = new Uint8Array(64 * 8);
  hasher.hashPairs(level, 8, level);
  const message = new Uint8Array(8 * 1024 + 100);
  for (let round = 0; round < 8; round++) hasher.blake3(message);
}

/**
 * A new WebAssembly SIMD {@link MembershipHasher}, warmed up so its first real use runs
 * optimised code.
 *
 * @throws {ConfigError} (`kernel`) when the engine has no WebAssembly 128-bit SIMD; use
 *   `createMembershipHasher()` to fall back to JavaScript instead.
 * @example
 * ```ts
 * const hasher = createWasmMembershipHasher();
 * const parents = new Uint8Array(32 * pairs);
 * hasher.hashPairs(level, pairs, parents);
 * ```
 */
export function createWasmMembershipHasher(): WasmMembershipHasher {
  const hasher = new WasmMembershipHasher();
  warmUp(hasher);
  return hasher;
}
