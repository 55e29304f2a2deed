/**
 * @module verify/pool
 *
 * PoET proof verification spread over worker threads, with the label chains handed over in shared
 * memory, so that a node verifies at the speed of all its cores without blocking its event loop
 * (docs/protocol.md §5.5).
 */
export type { ParallelVerifierOptions, ParallelVerifyOptions } from "./parallel-verifier.js";
export { createParallelVerifier, ParallelVerifier } from "./parallel-verifier.js";
