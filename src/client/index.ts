/**
 * @module client
 *
 * The client of one PoET server (docs/protocol.md §1–§2; docs/node-client.md §2):
 * {@link createPoetClient} and its types.
 */
export { createPoetClient } from "./create-poet-client.js";
export type {
  CachedCallOptions,
  Certificate,
  PoetCertifier,
  PoetClient,
  PoetClientOptions,
  PoetInfo,
  PoetRoundProof,
  PoetSubmitRequest,
  PowParams,
  ProofCallOptions,
  RetryCallOptions,
  SubmitResult,
} from "./poet-client.js";
export {
  HASH_BYTES,
  MAX_ROUND_ID_BYTES,
  readInfo,
  readPowParams,
  readProofResponse,
  readSubmitResponse,
  toSubmitRequest,
} from "./responses.js";
export type { RetryOptions } from "./retry.js";
export { retryUntil } from "./retry.js";
export type { SharedCacheGetOptions } from "./shared-cache.js";
export { SharedCache } from "./shared-cache.js";
export { WrongServiceKeyError } from "./wrong-service-key-error.js";
