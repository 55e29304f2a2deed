/**
 * @module verify/wasm/kernel-module
 *
 * Loads the WebAssembly kernels (SHA-256 for the sequential-work proof, docs/protocol.md §5.1;
 * BLAKE3 for the membership tree, §4.2). The binaries are embedded as base64 in generated modules,
 * so loading is the same from `src` and from `dist` and needs no file system. Each binary is
 * compiled once per thread and instantiated per hasher; every instance owns its memory, so
 * hashers never share scratch space.
 *
 * Both kernels use 128-bit SIMD. Whether the engine supports it is decided by asking it to
 * validate the very binaries we ship, so the answer cannot drift from what the kernels need.
 *
 * The library targets ES2023 without DOM typings, which is where TypeScript declares the
 * `WebAssembly` namespace, so the few members used here are typed locally.
 */
import { Buffer } from "node:buffer";
import { ConfigError } from "../../errors.js";
import { blake3WasmBase64 } from "./blake3-wasm.generated.js";
import { sha256WasmBase64 } from "./sha256-wasm.generated.js";

/** The kernels this folder ships. */
export type KernelName = "sha256" | "blake3";

/** The linear memory of an instance. */
export interface KernelMemoryObject {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}

interface WasmModuleObject {
  readonly __wasmModule?: never;
}

interface WasmApi {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => WasmModuleObject;
  Instance: new (
    module: WasmModuleObject,
    imports: Record<string, never>,
  ) => { readonly exports: Record<string, unknown> };
}

const sources: Record<KernelName, string> = {
  sha256: sha256WasmBase64,
  blake3: blake3WasmBase64,
};

const wasmApi = (globalThis as unknown as { WebAssembly?: WasmApi }).WebAssembly;
const binaries = new Map<KernelName, Uint8Array>();
const modules = new Map<KernelName, WasmModuleObject>();
let simd: boolean | undefined;

function binary(name: KernelName): Uint8Array {
  let bytes = binaries.get(name);
  if (bytes === undefined) {
    bytes = new Uint8Array(Buffer.from(sources[name], "base64"));
    binaries.set(name, bytes);
  }
  return bytes;
}

/**
 * Whether this engine runs the WebAssembly SIMD kernels. `false` when WebAssembly is missing or
 * lacks 128-bit SIMD; the library then falls back to its JavaScript hashers.
 *
 * @example
 * ```ts
 * const kernel = wasmSimdSupported() ? "wasm-simd" : "js";
 * ```
 */
export function wasmSimdSupported(): boolean {
  if (simd === undefined) {
    if (wasmApi === undefined) simd = false;
    else simd = wasmApi.validate(binary("sha256")) && wasmApi.validate(binary("blake3"));
  }
  return simd;
}

/**
 * A fresh instance of a kernel, with its exports.
 *
 * @throws {ConfigError} (`kernel`) when the engine cannot run the SIMD kernels.
 */
export function instantiateKernel(name: KernelName): Record<string, unknown> {
  if (wasmApi === undefined || !wasmSimdSupported()) {
    throw new ConfigError("kernel", "this engine has no WebAssembly 128-bit SIMD");
  }
  let module = modules.get(name);
  if (module === undefined) {
    module = new wasmApi.Module(binary(name));
    modules.set(name, module);
  }
  return new wasmApi.Instance(module, {}).exports;
}
