/**
 * @module verify/wasm/kernel-memory
 *
 * Views over a kernel instance's linear memory that survive its growth. Growing a WebAssembly
 * memory detaches the old `ArrayBuffer`, so every typed view must be rebuilt; keeping them in
 * one object that grows only through {@link KernelMemory.reserve} makes that impossible to forget,
 * and lets the hot paths reuse views instead of allocating one per hash (docs/protocol.md §5.1).
 */
import type { KernelMemoryObject } from "./kernel-module.js";

const PAGE = 65536;

/** Byte and word views of a kernel memory, rebuilt whenever it grows. */
export class KernelMemory {
  /** All of memory, as bytes. */
  bytes: Uint8Array;
  /** All of memory, for little-endian words. */
  view: DataView;
  readonly #memory: KernelMemoryObject;
  readonly #onGrow: () => void;

  /** `onGrow` runs after each growth, to rebuild views the owner keeps. */
  constructor(memory: KernelMemoryObject, onGrow: () => void = () => {}) {
    this.#memory = memory;
    this.#onGrow = onGrow;
    this.bytes = new Uint8Array(memory.buffer);
    this.view = new DataView(memory.buffer);
  }

  /** The underlying buffer (valid until the next {@link reserve}). */
  get buffer(): ArrayBuffer {
    return this.#memory.buffer;
  }

  /** Makes `memory[0 .. end)` addressable, growing the memory when needed. */
  reserve(end: number): void {
    const size = this.#memory.buffer.byteLength;
    if (end <= size) return;
    this.#memory.grow(Math.ceil((end - size) / PAGE));
    this.bytes = new Uint8Array(this.#memory.buffer);
    this.view = new DataView(this.#memory.buffer);
    this.#onGrow();
  }
}
