/**
 * @module auth
 *
 * Signing and admission of PoET registrations (docs/protocol.md §2): the node's {@link Signer},
 * the genesis-id signing prefix, certificates (certifier client, checks, cache), the RIPEMD-256
 * proof of work, and the flow that picks between them.
 */
export type {
  AuthorizeOptions,
  CertifyCallback,
  SubmitAuthorizedOptions,
  SubmitAuthorizedResult,
} from "./authorize.js";
export { authorize, submitAuthorized } from "./authorize.js";
export type {
  CertificateCacheOptions,
  CertificateStore,
  IssuedCertificate,
  ObtainCertificate,
  StoredCertificate,
} from "./certificate-cache.js";
export { CertificateCache } from "./certificate-cache.js";
export type {
  CertificateCheck,
  CertificateProblem,
  CheckCertificateOptions,
} from "./certificate-check.js";
export { certificateHint, checkCertificate } from "./certificate-check.js";
export type {
  CertifyMetadata,
  CertifyOptions,
  CertifyProof,
  CertifyRequest,
  CertifyResponse,
} from "./certifier-client.js";
export { certify, certifyEndpoint, certifyRequestJson } from "./certifier-client.js";
export { verifyEd25519 } from "./ed25519-verify.js";
export { GENESIS_ID_BYTES, genesisId, POET_SIGNING_DOMAIN, poetSigningPrefix } from "./genesis.js";
export type { PowInput, SolvePowOptions } from "./pow.js";
export {
  checkPow,
  DEFAULT_MAX_POW_DIFFICULTY,
  hasLeadingZeroBits,
  powMessage,
  solvePow,
} from "./pow.js";
export { ripemd256 } from "./ripemd256.js";
export type { Signer } from "./signer.js";
export { createEd25519Signer } from "./signer.js";
export type { Authorization, BuildSubmitRequestInput } from "./submit-request.js";
export { buildSubmitRequest } from "./submit-request.js";
