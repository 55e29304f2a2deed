/**
 * The PoET client of a Spacemesh node.
 *
 * ```ts
 * import { RegistrationManager, openNodeState, MAINNET } from "spacemesh-poet-client";
 * ```
 *
 * Start with {@link RegistrationManager}: it registers each identity's challenge with every PoET
 * of the node's phase, keeps every step in the node state ({@link openNodeState}), downloads and
 * verifies the proofs, and hands back the NiPoST built on the proof with the most ticks. The
 * pieces it is made of are exported too: the PoET client ({@link createPoetClient}), the verifier
 * ({@link verifyPoetProof}), the membership tree ({@link membershipRoot}), the round schedule
 * ({@link RoundSchedule}, {@link MAINNET}) and the wire format. Mock servers live in
 * `spacemesh-poet-client/testing`, the generated protobuf messages in
 * `spacemesh-poet-client/proto`.
 *
 * @module spacemesh-poet-client
 */

// Cancellation: the options of every asynchronous call
export type { AbortOptions } from "./abort-options.js";
// Authorisation and signing
export type {
  Authorization,
  CertificateStore,
  CertifyCallback,
  CertifyRequest,
  CertifyResponse,
  IssuedCertificate,
  Signer,
  StoredCertificate,
  SubmitAuthorizedOptions,
  SubmitAuthorizedResult,
} from "./auth/index.js";
export {
  authorize,
  buildSubmitRequest,
  CertificateCache,
  certify,
  checkCertificate,
  checkPow,
  createEd25519Signer,
  genesisId,
  POET_SIGNING_DOMAIN,
  poetSigningPrefix,
  solvePow,
  submitAuthorized,
} from "./auth/index.js";
// The PoET client
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
} from "./client/index.js";
export { createPoetClient, WrongServiceKeyError } from "./client/index.js";
// Time and logging
export type { Clock } from "./clock.js";
export { systemClock } from "./clock.js";
// Errors
export type {
  LeaseHolderInfo,
  LeaseLostReason,
  PoetErrorCode,
  PoetRpcErrorKind,
  ProofVerificationReason,
  RegistrationRejectedReason,
} from "./errors.js";
export {
  AbortedError,
  ConfigError,
  LeaseLostError,
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
// The membership tree
export type {
  MembershipMultiPath,
  MembershipPath,
  RoundProof,
  RoundVerification,
  VerifyRoundProofAsyncOptions,
  VerifyRoundProofOptions,
} from "./membership/index.js";
export {
  findMember,
  membershipMultiProof,
  membershipProof,
  membershipRoot,
  verifyMembership,
  verifyRoundProof,
  verifyRoundProofSync,
} from "./membership/index.js";
// The registration manager
export type {
  BestProofSelectedEvent,
  CacheDroppedEvent,
  ChallengeExpiredEvent,
  ExpiredOutcome,
  IdentityHeldElsewhereEvent,
  IdentityLeaseStatus,
  IdentityStatus,
  LeaseAcquiredEvent,
  LeaseEvent,
  LeaseLostEvent,
  LeaseTakenOverEvent,
  ManagerPhaseSwitchPlan,
  NextStep,
  NiPost,
  NiPostOutcome,
  NiPostReadyEvent,
  NiPostReadyOutcome,
  NiPostRequest,
  NoProofOutcome,
  PhaseMismatchEvent,
  PoetSetMismatchEvent,
  PoetSetMismatchOutcome,
  PoetsSwitchedEvent,
  PostFailedEvent,
  PostFailedOutcome,
  PostProvider,
  PostRequest,
  PostResult,
  PostStartedEvent,
  ProofClaimTakenOverEvent,
  ProofDownloadedEvent,
  ProofFetchFailedEvent,
  ProofFinalEvent,
  ProofRejectedEvent,
  ProofVerifier,
  RegisteredEvent,
  RegistrationEvent,
  RegistrationEventListener,
  RegistrationEventType,
  RegistrationFailedEvent,
  RegistrationFailedOutcome,
  RegistrationManagerOptions,
  RegistrationPoetClient,
  ResolvedPoet,
  StateRepairedEvent,
  StoreFailedEvent,
  SubmitIntentConfirmedEvent,
  SubmitIntentDroppedEvent,
  SwitchPoetsResult,
  WaitingForRegistrationWindowEvent,
  WaitingForRoundEndEvent,
  WindowMissedEvent,
  WindowMissedOutcome,
} from "./registration/index.js";
export {
  adaptPoetClient,
  compareProofs,
  DEFAULT_LEASE_TIME_MS,
  poetAddress,
  RegistrationManager,
  selectBestProof,
  ticksOf,
} from "./registration/index.js";
// Rounds and phases
export type {
  NetworkPreset,
  PhaseSwitchInput,
  PhaseSwitchPlan,
  PoetServerConfig,
  PoetSwitchIdentityPlan,
  PoetSwitchIdentityRows,
  PoetSwitchInput,
  PoetSwitchPlan,
  PoetSwitchRowDecision,
  RoundScheduleOptions,
  RoundTimes,
} from "./schedule/index.js";
export { MAINNET, planPhaseSwitch, planPoetSwitch, RoundSchedule } from "./schedule/index.js";
// Node state (SQLite, or PostgreSQL for a fleet)
export type {
  ChallengeRecord,
  Inconsistency,
  InconsistencyKind,
  Lease,
  LeaseAcquireOptions,
  LeaseAcquireResult,
  LeaseRenewManyResult,
  LeaseRenewOptions,
  LeaseRepository,
  MemberList,
  MemberListInput,
  NodeStateCopyReport,
  NodeStateRepositories,
  OpenNodeStateOptions,
  OpenPostgresStateOptions,
  PgPool,
  PgPoolClient,
  PgQueryConfig,
  PoetCertificate,
  PoetRegistration,
  ProofClaim,
  ProofClaimOptions,
  ProofClaimOutcome,
  ProofClaimRepository,
  ProofClaimResult,
  SqliteConnection,
  SqliteConnectionStatement,
  StoredMemberList,
  StoredNipost,
  StoreOutageStatus,
  SubmitIntent,
  SubmitIntentRepository,
  VerifiedProof,
} from "./storage/index.js";
export {
  companionPath,
  compareNodeStates,
  copyNodeState,
  DEFAULT_POSTGRES_SCHEMA,
  leaseIsLive,
  MAX_LEASE_HOLDER_LENGTH,
  MEMBER_CHUNK_BYTES,
  NODE_STATE_FILE_NAMES,
  NODE_STATE_SCHEMA_VERSION,
  NodeState,
  openNodeState,
  openPostgresState,
  resolveNodeStateFile,
} from "./storage/index.js";
export type { PoetProtocol } from "./transport/index.js";
// Verification
export type {
  MembershipHasher,
  PoswHasher,
  VerifyPoetProofAsyncOptions,
  VerifyPoetProofOptions,
} from "./verify/index.js";
export {
  fiatShamirIndices,
  JsPoswHasher,
  proofRef,
  SECURITY_PARAM,
  verifyPoetProof,
  verifyPoetProofSync,
} from "./verify/index.js";
export type { ParallelVerifierOptions, ParallelVerifyOptions } from "./verify/pool/index.js";
export { createParallelVerifier, ParallelVerifier } from "./verify/pool/index.js";
export { wasmSimdSupported } from "./verify/wasm/index.js";
// The wire format
export type {
  CertificateData,
  InitialPost,
  MembershipProof,
  MerkleProof,
  NipostChallenge,
  NipostChallengeV2,
  PoetProof,
} from "./wire/index.js";
export {
  decodeCertificate,
  decodeMembershipProof,
  decodeMerkleProof,
  decodeNipostChallenge,
  decodeNipostChallengeV2,
  decodePoetProof,
  encodeCertificate,
  encodeMembershipProof,
  encodeMerkleProof,
  encodeNipostChallenge,
  encodeNipostChallengeV2,
  encodePoetProof,
  nipostChallengeHash,
  nipostChallengeV2Hash,
  PackedMembers,
} from "./wire/index.js";
