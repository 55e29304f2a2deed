/**
 * @module registration/events
 *
 * The progress events of the registration manager (docs/node-client.md §7 item 13): one
 * discriminated union, one member per step, each carrying the instants involved so that a UI can
 * show an operator what happens now and when the next thing will happen. Events are plain data
 * (bytes as `Uint8Array`, instants as `Date`), delivered synchronously to one callback, in the
 * style of kysely's log callback rather than a string logger. Treat them as read-only: a `Date`
 * may be shared by the events of many identities (one per instant, `shared-dates.ts`).
 */
import type {
  LeaseHolderInfo,
  LeaseLostError,
  LeaseLostReason,
  PoetError,
  StorageError,
} from "../errors.js";

/** Fields every event carries. */
interface EventBase {
  /** When the event happened (the manager's clock). */
  at: Date;
}

/** Fields of events about one identity's cycle. */
interface IdentityEventBase extends EventBase {
  /** The identity's node id (ed25519 public key). */
  nodeId: Uint8Array;
  /** The publish epoch of the identity's challenge. */
  publishEpoch: number;
  /** The PoET round the challenge is registered in (`publishEpoch − 1`). */
  round: number;
}

// ---- One worker per identity: the identity's lease (see `storage/lease-repository.ts`) ----

/** Fields of the lease events. */
interface LeaseEventBase extends EventBase {
  /** The identity's node id. */
  nodeId: Uint8Array;
}

/** This manager took the identity's lease (it was free, released, or already its own). */
export interface LeaseAcquiredEvent extends LeaseEventBase {
  type: "lease-acquired";
  /** This manager, as the lease row names it. */
  holder: string;
  token: bigint;
  expiresAt: Date;
}

/**
 * This manager took over the lease of another holder that stopped renewing it (a process that
 * died or hung) once it expired, and resumes the identity from the node state.
 */
export interface LeaseTakenOverEvent extends LeaseEventBase {
  type: "lease-taken-over";
  holder: string;
  token: bigint;
  expiresAt: Date;
  /** The holder whose lease expired, its token and the expiry it had. */
  previous: LeaseHolderInfo;
}

/**
 * Another live holder (another process on the same node state) has the identity: this manager
 * neither submits nor runs PoST for it. With `whenHeldElsewhere: "wait"` it waits until the
 * lease's expiry and asks again (sent again when the holder or token changes); with `"skip"`,
 * `buildNiPost` rejects with a `LeaseLostError`.
 */
export interface IdentityHeldElsewhereEvent extends LeaseEventBase {
  type: "identity-held-elsewhere";
  /** Who has it, with its token and expiry. */
  holder: string;
  token: bigint;
  expiresAt: Date;
  action: "wait" | "skip";
}

/**
 * The identity's lease is no longer ours (taken over, released by someone else, or not renewed in
 * time): its cycle stopped at once, and `buildNiPost` rejects with `error`.
 */
export interface LeaseLostEvent extends LeaseEventBase {
  type: "lease-lost";
  /** This manager, the holder that lost it. */
  holder: string;
  token: bigint;
  reason: LeaseLostReason;
  /** Who holds it now, when known. */
  current: LeaseHolderInfo | undefined;
  error: LeaseLostError;
}

/** The events about an identity's lease. */
export type LeaseEvent =
  | LeaseAcquiredEvent
  | LeaseTakenOverEvent
  | IdentityHeldElsewhereEvent
  | LeaseLostEvent;

/** The round's registration window is not open yet; the manager waits for it. */
export interface WaitingForRegistrationWindowEvent extends IdentityEventBase {
  type: "waiting-for-registration-window";
  /** When registration opens. */
  opensAt: Date;
  /** When registration closes (the round start). */
  deadline: Date;
}

/** A PoET accepted the identity's challenge; the row is persisted. */
export interface RegisteredEvent extends IdentityEventBase {
  type: "registered";
  poet: string;
  roundId: string;
  /** The round end the PoET announced (client clock + the PoET's relative round end). */
  roundEnd: Date;
  /** True when the registration was already in the node state (resume). */
  resumed: boolean;
}

/** A submit to one PoET failed. */
export interface RegistrationFailedEvent extends IdentityEventBase {
  type: "registration-failed";
  poet: string;
  error: PoetError;
  /** When the manager tries again, or `undefined` when it gives up on this PoET for the round. */
  nextAttemptAt: Date | undefined;
}

/** A PoET's phase shift or cycle gap differs from the node's; it is not used. */
export interface PhaseMismatchEvent extends EventBase {
  type: "phase-mismatch";
  poet: string;
  expected: { phaseShiftMs: number; cycleGapMs: number };
  actual: { phaseShiftMs: number; cycleGapMs: number };
  error: PoetError;
}

/** The round started with no registration at all for this identity. */
export interface WindowMissedEvent extends IdentityEventBase {
  type: "window-missed";
  /** The registration deadline that passed. */
  deadline: Date;
  /** The next round whose registration is open. */
  nextRound: number;
  /** When that round's registration closes. */
  nextRegistrationDeadline: Date;
  error: PoetError;
}

/**
 * Registered; waiting for the round to end before fetching proofs. Sent again, with the wider set, each
 * time one more PoET accepts the registration before the round starts.
 */
export interface WaitingForRoundEndEvent extends IdentityEventBase {
  type: "waiting-for-round-end";
  /** The latest round end announced by the PoETs the identity is registered at. */
  roundEnd: Date;
  /** When the first proof query is made (round end + grace + jitter). */
  queryAt: Date;
  /** Until when better proofs are awaited before PoST starts. */
  cutoff: Date;
  /** After this, no proof is useful any more. */
  proofDeadline: Date;
  poets: string[];
}

/** A PoET's proof of a round was downloaded (once, shared by all identities). */
export interface ProofDownloadedEvent extends EventBase {
  type: "proof-downloaded";
  poet: string;
  roundId: string;
  leaves: bigint;
  ticks: bigint;
  ref: Uint8Array;
  members: number;
  /** True when it came from the node state instead of the network. */
  fromCache: boolean;
}

/** A proof download failed; the manager polls again later. */
export interface ProofFetchFailedEvent extends EventBase {
  type: "proof-fetch-failed";
  poet: string;
  roundId: string;
  error: PoetError;
  /** When the manager asks again, or `undefined` when it stops asking. */
  nextAttemptAt: Date | undefined;
}

/** A proof was rejected: invalid, or the identity's challenge is not among its members. */
export interface ProofRejectedEvent extends EventBase {
  type: "proof-rejected";
  poet: string;
  roundId: string;
  /** Set when the rejection is about one identity (its challenge is missing from the members). */
  nodeId: Uint8Array | undefined;
  error: PoetError;
}

/** The identity's best proof so far; it may be upgraded until the cut-off. */
export interface BestProofSelectedEvent extends IdentityEventBase {
  type: "best-proof-selected";
  poet: string;
  roundId: string;
  leaves: bigint;
  ticks: bigint;
  ref: Uint8Array;
  /** The proof it replaces, when this is an upgrade. */
  replaces: { poet: string; leaves: bigint; ticks: bigint } | undefined;
}

/** PoST proving started over the chosen proof ref. */
export interface PostStartedEvent extends IdentityEventBase {
  type: "post-started";
  ref: Uint8Array;
  /** The PoST must be done by the end of the publish epoch. */
  deadline: Date;
}

/** The PoST provider failed. */
export interface PostFailedEvent extends IdentityEventBase {
  type: "post-failed";
  error: PoetError;
}

/** The NiPoST is stored and ready for the ATX. */
export interface NiPostReadyEvent extends IdentityEventBase {
  type: "nipost-ready";
  poet: string;
  ref: Uint8Array;
  leaves: bigint;
  ticks: bigint;
}

/** No proof arrived before the proof deadline, or PoST missed the publish epoch. */
export interface ChallengeExpiredEvent extends IdentityEventBase {
  type: "challenge-expired";
  deadline: Date;
  error: PoetError;
}

/** Inconsistent state found in the node state and repaired (docs/node-client.md §4). */
export interface StateRepairedEvent extends EventBase {
  type: "state-repaired";
  nodeId: Uint8Array;
  problem: string;
  action: string;
}

/** The identity's registrations are all at PoETs that are no longer configured. */
export interface PoetSetMismatchEvent extends IdentityEventBase {
  type: "poet-set-mismatch";
  registeredAt: string[];
  configured: string[];
  error: PoetError;
}

/** A new PoET set took effect. */
export interface PoetsSwitchedEvent extends EventBase {
  type: "poets-switched";
  poets: string[];
  /** Identities whose stale rows were cleared. */
  cleared: Uint8Array[];
}

// --- Write-ahead submits and self-healing caches (docs/node-client.md §1.11, §4, §8) ---

/**
 * A submit intent (recorded before the request left, never confirmed: the process stopped
 * between the PoET's answer and our row) was found among the round's members: the
 * `poet_registration` row is written now and the proof is used like any registration's.
 */
export interface SubmitIntentConfirmedEvent extends IdentityEventBase {
  type: "submit-intent-confirmed";
  poet: string;
  roundId: string;
}

/** A submit intent was dropped: the PoET does not hold the challenge, or it is of no use any more. */
export interface SubmitIntentDroppedEvent extends IdentityEventBase {
  type: "submit-intent-dropped";
  poet: string;
  roundId: string;
  /**
   * `not-a-member`: the round's proof is out and the challenge is not among its members;
   * `challenge-replaced`: the intent was for another challenge than the current one;
   * `expired`: its proof deadline passed.
   */
  reason: "not-a-member" | "challenge-replaced" | "expired";
}

/**
 * A cached row (a verified proof, a member list) failed its check and was deleted; what it held is
 * downloaded again when needed.
 */
export interface CacheDroppedEvent extends EventBase {
  type: "cache-dropped";
  /** `poet_client_proof` or `poet_client_members`. */
  table: string;
  /** The PoET and round of the row, when they could be read. */
  poet: string | undefined;
  roundId: string | undefined;
  problem: string;
}

/**
 * A PoET's proof for a round can never serve (an empty proof, a wrong service key, an invalid
 * proof): the PoET is not asked again for that round, and the identity goes on with the others.
 */
export interface ProofFinalEvent extends EventBase {
  type: "proof-final";
  poet: string;
  roundId: string;
  error: PoetError;
}

/**
 * This worker took over the download of a PoET round's proof from another worker on the same node
 * state, whose claim expired without a result (it died or was cut off; see
 * `storage/proof-claim-repository.ts`). The other workers wait for the proof this one stores.
 */
export interface ProofClaimTakenOverEvent extends EventBase {
  type: "proof-claim-taken-over";
  poet: string;
  roundId: string;
  /** This worker, and its claim's token. */
  holder: string;
  token: bigint;
  /** The worker whose claim expired, its token and the expiry it had. */
  previous: { holder: string; token: bigint; expiresAt: Date };
}

/**
 * The node state's store failed in an identity's cycle in a way a later call may not meet (a
 * PostgreSQL restart or failover, a broken connection, a deadlock, a busy SQLite file): the cycle
 * pauses and resumes from the node state at `resumeAt`, with the same code as a restart, instead
 * of ending the identity for the epoch. Its lease is kept; a submit or PoST already done is not
 * done again. Sent once per pause; the store logs the outage once (`storage/store-outage.ts`).
 */
export interface StoreFailedEvent extends EventBase {
  type: "store-failed";
  nodeId: Uint8Array;
  /** The retriable failure that paused the cycle. */
  error: StorageError;
  /** How many times in a row the cycle paused for the store (1 on the first). */
  attempt: number;
  /** When the cycle resumes from the node state. */
  resumeAt: Date;
}

/** Every event the registration manager emits. */
export type RegistrationEvent =
  | LeaseEvent
  | WaitingForRegistrationWindowEvent
  | RegisteredEvent
  | RegistrationFailedEvent
  | PhaseMismatchEvent
  | WindowMissedEvent
  | WaitingForRoundEndEvent
  | ProofDownloadedEvent
  | ProofFetchFailedEvent
  | ProofRejectedEvent
  | BestProofSelectedEvent
  | PostStartedEvent
  | PostFailedEvent
  | NiPostReadyEvent
  | ChallengeExpiredEvent
  | StateRepairedEvent
  | PoetSetMismatchEvent
  | PoetsSwitchedEvent
  | SubmitIntentConfirmedEvent
  | SubmitIntentDroppedEvent
  | CacheDroppedEvent
  | ProofFinalEvent
  | ProofClaimTakenOverEvent
  | StoreFailedEvent;

/** The `type` of a {@link RegistrationEvent}. */
export type RegistrationEventType = RegistrationEvent["type"];

/** Receives every event; must not throw (an exception is logged and dropped). */
export type RegistrationEventListener = (event: RegistrationEvent) => void;
