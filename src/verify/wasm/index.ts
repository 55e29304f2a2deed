/**
 * @module verify/wasm
 *
 * WebAssembly SIMD kernels for verification: SHA-256 for the sequential-work proof (four label
 * chains per instruction stream, the 400-deep nesting inside the module, batched Merkle and
 * Fiat–Shamir hashing; docs/protocol.md §5) and BLAKE3 for the membership tree (four nodes per
 * instruction stream; §4.2), with the JavaScript hashers as the fallback when the engine lacks
 * 128-bit SIMD.
 */
export type { KernelName } from "./kernel-module.js";
export { wasmSimdSupported } from "./kernel-module.js";
export type { HasherKernel } from "./select-hasher.js";
export {
  createMembershipHasher,
  createPoswHasher,
  defaultPoswHasher,
  sharedMembershipHasher,
  sharedPoswHasher,
} from "./select-hasher.js";
export { createWasmMembershipHasher, WasmMembershipHasher } from "./wasm-membership-hasher.js";
export { createWasmPoswHasher, WasmPoswHasher } from "./wasm-posw-hasher.js";
