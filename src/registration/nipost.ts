/**
 * @module registration/nipost
 *
 * What the registration manager hands back to the node: the NiPoST for an ATX, or a typed
 * outcome that says why there is none and what comes next (docs/node-client.md §1.8–§1.10, §4).
 * The Go node turns several of these situations into a retry loop or a process exit; here each is
 * a value the caller can switch on, carrying a {@link PoetError} with the details.
 */
import type { PoetError } from "../errors.js";
import type { NipostChallenge, PostProof } from "../storage/index.js";
import type { MembershipProof } from "../wire/index.js";

/** What the node's PoST service is asked to prove. */
export interface PostRequest {
  nodeId: Uint8Array;
  /** The PoST challenge: the selected PoET proof's ref (32 bytes). */
  challenge: Uint8Array;
  publishEpoch: number;
  /** The PoST is of no use after this instant (the end of the publish epoch). */
  deadline: Date;
}

/** The node's PoST result, as the `nipost` table stores it. */
export interface PostResult {
  post: PostProof;
  /** Space units (u32). */
  numUnits: number;
  /** VRF nonce (u64). */
  vrfNonce: bigint;
  /** Labels per unit (u64). */
  labelsPerUnit: bigint;
}

/**
 * The node's PoST prover. Called once per identity and cycle, after the best proof is chosen;
 * it should honour `signal` (the manager aborts it at the publish epoch end or on close).
 */
export type PostProvider = (
  request: PostRequest,
  options: { signal: AbortSignal },
) => Promise<PostResult>;

/** The request of {@link RegistrationManager.buildNiPost}. */
export interface NiPostRequest {
  /** The identity (its signer must be known to the manager). */
  nodeId: Uint8Array;
  /**
   * The challenge to register, with the hash submitted to PoETs (blake3 of the SCALE-encoded
   * NiPoST challenge). May be left out to resume with the stored one.
   */
  challenge?: { challenge: NipostChallenge; hash: Uint8Array } | undefined;
}

/** A NiPoST ready for the ATX. */
export interface NiPost {
  nodeId: Uint8Array;
  publishEpoch: number;
  /** The challenge hash that was registered. */
  challengeHash: Uint8Array;
  /** The PoET whose proof was chosen (undefined when resumed from a row whose proof is gone). */
  poet: string | undefined;
  roundId: string | undefined;
  /** Leaves of the chosen proof, when known. */
  leaves: bigint | undefined;
  ticks: bigint | undefined;
  /** The chosen proof's ref: the PoST challenge. */
  proofRef: Uint8Array;
  /** The challenge's membership proof in the chosen round. */
  membership: MembershipProof;
  post: PostProof;
  numUnits: number;
  vrfNonce: bigint;
  labelsPerUnit: bigint;
}

/** Fields every outcome carries. */
interface OutcomeBase {
  nodeId: Uint8Array;
  publishEpoch: number;
}

/** Everything went through. */
export interface NiPostReadyOutcome extends OutcomeBase {
  kind: "ready";
  nipost: NiPost;
}

/** The round started with no registration. The identity's state was reset. */
export interface WindowMissedOutcome extends OutcomeBase {
  kind: "window-missed";
  deadline: Date;
  /** The next round open for registration, and when it closes. */
  nextRound: number;
  nextPublishEpoch: number;
  nextRegistrationDeadline: Date;
  /** Why each PoET did not take the registration. */
  failures: { poet: string; error: PoetError }[];
  error: PoetError;
}

/** Every PoET refused the registration for good, before the deadline. State is kept. */
export interface RegistrationFailedOutcome extends OutcomeBase {
  kind: "registration-failed";
  deadline: Date;
  failures: { poet: string; error: PoetError }[];
  error: PoetError;
}

/** Every registration is at a PoET that is no longer configured. State is kept. */
export interface PoetSetMismatchOutcome extends OutcomeBase {
  kind: "poet-set-mismatch";
  registeredAt: string[];
  configured: string[];
  error: PoetError;
}

/** No valid proof containing the challenge. `expired`: the proof deadline passed; state reset. */
export interface NoProofOutcome extends OutcomeBase {
  kind: "no-proof";
  deadline: Date;
  expired: boolean;
  failures: { poet: string; error: PoetError }[];
  error: PoetError;
}

/** The PoST provider failed. The chosen proof stays stored; call again to retry PoST. */
export interface PostFailedOutcome extends OutcomeBase {
  kind: "post-failed";
  error: PoetError;
}

/** The publish epoch ended (or will end) before a NiPoST could be built. State reset. */
export interface ExpiredOutcome extends OutcomeBase {
  kind: "expired";
  deadline: Date;
  error: PoetError;
}

/** The result of {@link RegistrationManager.buildNiPost}. */
export type NiPostOutcome =
  | NiPostReadyOutcome
  | WindowMissedOutcome
  | RegistrationFailedOutcome
  | PoetSetMismatchOutcome
  | NoProofOutcome
  | PostFailedOutcome
  | ExpiredOutcome;
