/**
 * @module testing
 *
 * Test helpers for nodes that embed the library: mock PoET and certifier servers, a manual clock
 * and a prover that builds real proofs.
 */
export { ManualClock } from "../clock.js";
