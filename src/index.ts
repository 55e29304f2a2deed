/**
 * @module spacemesh-poet-client
 *
 * The PoET client of a Spacemesh node: registration, node state, proof download and verification.
 */
export type { Clock } from "./clock.js";
export { systemClock } from "./clock.js";
export type {
  PoetErrorCode,
  PoetRpcErrorKind,
  ProofVerificationReason,
  RegistrationRejectedReason,
} from "./errors.js";
export {
  AbortedError,
  ConfigError,
  PoetError,
  PoetRpcError,
  ProofNotReadyError,
  ProofVerificationError,
  RegistrationRejectedError,
  StorageError,
  WireFormatError,
} from "./errors.js";
export type { LogFn, Logger } from "./logger.js";
export { silentLogger } from "./logger.js";
