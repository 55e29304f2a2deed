/**
 * @module registration
 *
 * The registration manager and its parts: per-identity cycles from challenge to NiPoST, shared
 * PoET access, proof fetching and verification, best-proof choice, phase switching and progress
 * events (docs/node-client.md §1, §4, §5, §7, §8).
 */

export type { RandomSource } from "../retry-policy.js";
export type { AppliedPoetSwitch, PoetSwitchTarget } from "./apply-poet-switch.js";
export { applyPoetSwitch, readPoetSwitchRows } from "./apply-poet-switch.js";
export { compareProofs, type ProofCandidate, selectBestProof, ticksOf } from "./best-proof.js";
export type { AdaptPoetClientOptions } from "./client-adapter.js";
export { adaptPoetClient } from "./client-adapter.js";
export type {
  BestProofSelectedEvent,
  CacheDroppedEvent,
  ChallengeExpiredEvent,
  IdentityHeldElsewhereEvent,
  LeaseAcquiredEvent,
  LeaseEvent,
  LeaseLostEvent,
  LeaseTakenOverEvent,
  NiPostReadyEvent,
  PhaseMismatchEvent,
  PoetSetMismatchEvent,
  PoetsSwitchedEvent,
  PostFailedEvent,
  PostStartedEvent,
  ProofClaimTakenOverEvent,
  ProofDownloadedEvent,
  ProofFetchFailedEvent,
  ProofFinalEvent,
  ProofRejectedEvent,
  RegisteredEvent,
  RegistrationEvent,
  RegistrationEventListener,
  RegistrationEventType,
  RegistrationFailedEvent,
  StateRepairedEvent,
  StoreFailedEvent,
  SubmitIntentConfirmedEvent,
  SubmitIntentDroppedEvent,
  WaitingForRegistrationWindowEvent,
  WaitingForRoundEndEvent,
  WindowMissedEvent,
} from "./events.js";
export type { IdentityLeaseStatus } from "./identity-leases.js";
export { DEFAULT_LEASE_TIME_MS } from "./identity-leases.js";
export type { NextStep, NextStepRows } from "./next-step.js";
export { planNextStep } from "./next-step.js";
export type {
  ExpiredOutcome,
  NiPost,
  NiPostOutcome,
  NiPostReadyOutcome,
  NiPostRequest,
  NoProofOutcome,
  PoetSetMismatchOutcome,
  PostFailedOutcome,
  PostProvider,
  PostRequest,
  PostResult,
  RegistrationFailedOutcome,
  WindowMissedOutcome,
} from "./nipost.js";
export { poetAddress } from "./poet-address.js";
export type {
  PoetServiceInfo,
  RegisterRequest,
  RegisterResult,
  RegistrationPoetClient,
} from "./poet-client-port.js";
export type { ProofSource } from "./proof-fetcher.js";
export type {
  IdentityStatus,
  ManagerPhaseSwitchPlan,
  RegistrationManagerOptions,
  ResolvedPoet,
  SwitchPoetsResult,
} from "./registration-manager.js";
export { RegistrationManager } from "./registration-manager.js";
export type { ProofVerifier, VerifiedRoundProof } from "./shared-verifier.js";
