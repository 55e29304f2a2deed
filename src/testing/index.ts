/**
 * Test helpers for nodes that embed the library: mock PoET and certifier servers that behave like
 * the real ones on the wire (docs/protocol.md §1–§4), a manual clock and a prover that builds real
 * proofs. Test code only: the servers listen on loopback and keep their state in memory.
 *
 * ```ts
 * import { ManualClock, prove, startMockCertifier, startMockPoet } from "spacemesh-poet-client/testing";
 * ```
 *
 * See the testing guide for the fault switches and for driving a registration cycle with a
 * {@link ManualClock}.
 *
 * @module spacemesh-poet-client/testing
 */
export { ManualClock } from "../clock.js";
export type {
  CertificateRejection,
  CertifierKeys,
  SubmittedCertificate,
} from "./certificate-check.js";
export { certificateRejection } from "./certificate-check.js";
export type { FaultStatus } from "./faults.js";
export { FaultError, MockPoetFaults } from "./faults.js";
export type {
  CertifyRule,
  MockCertifier,
  MockCertifierFaults,
  MockCertifierOptions,
} from "./mock-certifier.js";
export { parseCertifyRequest, startMockCertifier } from "./mock-certifier.js";
export type {
  MockPoet,
  MockPoetInfo,
  MockPoetLayout,
  MockPoetOptions,
  MockPoetState,
} from "./mock-poet.js";
export { startMockPoet } from "./mock-poet.js";
export type {
  MockCertifierConfig,
  MockPoetHandlers,
} from "./mock-poet-service.js";
export { SUBMIT_MESSAGES } from "./mock-poet-service.js";
export type { MockRegistration, MockRound } from "./mock-poet-state.js";
export { roundStatement } from "./mock-poet-state.js";
export type { PowParameters } from "./pow-check.js";
export { solvePowSync } from "./pow-check.js";
export type { ProveOptions } from "./prover.js";
export { MAX_PROVER_LEAVES, prove } from "./prover.js";
