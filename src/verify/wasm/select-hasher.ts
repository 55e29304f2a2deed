/**
 * @module verify/wasm/select-hasher
 *
 * Picks the fastest hasher the engine can run: the WebAssembly SIMD kernels when the engine has
 * 128-bit SIMD, the JavaScript hashers otherwise (docs/protocol.md §4.2, §5.1). Both compute the
 * same bytes, so the choice changes speed only, never a verdict. The shared instances are created
 * on first use, per thread, and warmed up once; they are what the verifier and the membership tree
 * use when a caller passes no hasher.
 */
import { ConfigError } from "../../errors.js";
import { createBlake3MembershipHasher } from "../blake3-hasher.js";
import type { MembershipHasher, PoswHasher } from "../hasher.js";
import { JsPoswHasher } from "../js-hasher.js";
import { wasmSimdSupported } from "./kernel-module.js";
import { createWasmMembershipHasher } from "./wasm-membership-hasher.js";
import { createWasmPoswHasher } from "./wasm-posw-hasher.js";

/** Which implementation to use: the fastest available (`"auto"`), or one in particular. */
export type HasherKernel = "auto" | "wasm" | "js";

function useWasm(kernel: HasherKernel): boolean {
  if (kernel === "js") return false;
  if (kernel === "wasm") return true;
  if (kernel === "auto") return wasmSimdSupported();
  throw new ConfigError("kernel", `must be "auto", "wasm" or "js", got ${String(kernel)}`);
}

/**
 * A new {@link PoswHasher}: WebAssembly SIMD when available (or when `kernel` is `"wasm"`), the
 * JavaScript one otherwise (or when `kernel` is `"js"`).
 *
 * @throws {ConfigError} (`kernel`) when `"wasm"` is asked for and the engine cannot run it.
 * @example
 * ```ts
 * verifyPoetProofSync(proof, statement, { hasher: createPoswHasher() });
 * ```
 */
export function createPoswHasher(kernel: HasherKernel = "auto"): PoswHasher {
  return useWasm(kernel) ? createWasmPoswHasher() : new JsPoswHasher();
}

/** BLAKE3 pairs through `@noble/hashes`: the membership tree's hasher, under this name. */
function createJsMembershipHasher(): MembershipHasher {
  return { ...createBlake3MembershipHasher(), name: "js-blake3" };
}

/**
 * A new {@link MembershipHasher}: WebAssembly SIMD BLAKE3 when available (or when `kernel` is
 * `"wasm"`), `@noble/hashes` otherwise (or when `kernel` is `"js"`).
 *
 * @throws {ConfigError} (`kernel`) when `"wasm"` is asked for and the engine cannot run it.
 * @example
 * ```ts
 * const root = membershipRoot(members, { hasher: createMembershipHasher() });
 * ```
 */
export function createMembershipHasher(kernel: HasherKernel = "auto"): MembershipHasher {
  return useWasm(kernel) ? createWasmMembershipHasher() : createJsMembershipHasher();
}

let sharedPosw: PoswHasher | undefined;
let sharedMembership: MembershipHasher | undefined;

/**
 * This thread's shared {@link PoswHasher}, the fastest available, created and warmed up on first
 * use. Safe to share: no method keeps state between calls.
 *
 * @example
 * ```ts
 * verifyPoetProofSync(proof, statement, { hasher: sharedPoswHasher() });
 * ```
 */
export function sharedPoswHasher(): PoswHasher {
  sharedPosw ??= createPoswHasher();
  return sharedPosw;
}

/**
 * This thread's shared {@link MembershipHasher}, the fastest available, created and warmed up
 * on first use.
 *
 * @example
 * ```ts
 * const root = membershipRoot(members, { hasher: sharedMembershipHasher() });
 * ```
 */
export function sharedMembershipHasher(): MembershipHasher {
  sharedMembership ??= createMembershipHasher();
  return sharedMembership;
}

/**
 * The {@link PoswHasher} used when a caller passes none: {@link sharedPoswHasher}, the fastest
 * this engine runs. Pass `new JsPoswHasher()` to use the JavaScript one instead.
 *
 * @example
 * ```ts
 * const labels = new Uint8Array(32 * inputs.length);
 * defaultPoswHasher().labels(statement, inputs, labels);
 * ```
 */
export function defaultPoswHasher(): PoswHasher {
  return sharedPoswHasher();
}
