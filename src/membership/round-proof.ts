/**
 * @module membership/round-proof
 *
 * Verification of a round's proof the way a node receives it: the proof plus the round's members,
 * from which the statement is recomputed (docs/protocol.md §4.1, §4.2, §5.5), and optionally the
 * node's own challenge, which must be among them.
 *
 * The PoET hashes members as raw bytes and does not enforce their size, while go-spacemesh copies
 * each into 32 bytes first; a single odd-sized member makes the two disagree on the statement.
 * Such a round is rejected here as `bad-members` rather than verified against either statement.
 */
import { ConfigError, ProofVerificationError, throwIfAborted } from "../errors.js";
import type { MembershipHasher } from "../verify/hasher.js";
import type {
  VerifyPoetProofAsyncOptions,
  VerifyPoetProofOptions,
} from "../verify/verify-poet-proof.js";
import { verifyPoetProof, verifyPoetProofSync } from "../verify/verify-poet-proof.js";
import { PackedMembers, type PoetProof } from "../wire/index.js";
import { findMember, membershipRoot } from "./membership-tree.js";

/** A proof as a PoET serves it for a round. */
export interface RoundProof {
  proof: PoetProof;
  /** The round's members in the PoET's order (32-byte challenges), separate or packed. */
  members: readonly Uint8Array[] | PackedMembers;
  /** The node's challenge; when given, it must be one of the members. */
  challenge?: Uint8Array | undefined;
}

/** Options of {@link verifyRoundProofSync}. */
export interface VerifyRoundProofOptions extends VerifyPoetProofOptions {
  /** The BLAKE3 implementation of the membership tree. */
  membershipHasher?: MembershipHasher | undefined;
}

/** Options of {@link verifyRoundProof}. */
export interface VerifyRoundProofAsyncOptions
  extends VerifyPoetProofAsyncOptions,
    VerifyRoundProofOptions {}

/** What a successful round-proof verification established. */
export interface RoundVerification {
  /** The round's statement: the membership root of its members. */
  statement: Uint8Array;
  /** Position of the challenge among the members, when a challenge was given. */
  memberIndex: number | undefined;
}

/**
 * Verifies a round's proof against the statement rebuilt from its members, on the calling thread.
 *
 * @throws {ProofVerificationError} `bad-members` when a member is not 32 bytes, `missing-member`
 *   when the challenge is not a member, or any reason of {@link verifyPoetProofSync}.
 * @example
 * ```ts
 * const { memberIndex } = verifyRoundProofSync({ proof, members, challenge });
 * ```
 */
export function verifyRoundProofSync(
  round: RoundProof,
  options: VerifyRoundProofOptions = {},
): RoundVerification {
  const verified = statementOf(round, options.membershipHasher);
  verifyPoetProofSync(round.proof, verified.statement, options);
  return verified;
}

/**
 * Verifies a round's proof against the statement rebuilt from its members and, when `challenge`
 * is given, checks that the node is one of them. Resolves with the statement and the node's
 * position among the members.
 *
 * @throws {ProofVerificationError} `bad-members` when a member is not 32 bytes, `missing-member`
 *   when the challenge is not a member, or any reason of {@link verifyPoetProof}.
 * @throws {AbortedError} when `signal` aborts.
 * @example
 * ```ts
 * const { statement, memberIndex } = await verifyRoundProof(
 *   { proof: response.proof, members: response.members, challenge },
 *   { signal },
 * );
 * ```
 */
export async function verifyRoundProof(
  round: RoundProof,
  options: VerifyRoundProofAsyncOptions = {},
): Promise<RoundVerification> {
  throwIfAborted(options.signal);
  const verified = statementOf(round, options.membershipHasher);
  await verifyPoetProof(round.proof, verified.statement, options);
  return verified;
}

function statementOf(
  round: RoundProof,
  membershipHasher: MembershipHasher | undefined,
): RoundVerification {
  const { challenge } = round;
  // A packed list is read through views of its buffer, not copies.
  const members =
    round.members instanceof PackedMembers ? round.members.map((m) => m) : round.members;
  const bad = members.findIndex((member) => member.length !== 32);
  if (bad >= 0) {
    throw new ProofVerificationError(
      "bad-members",
      `members[${bad}] is ${members[bad]!.length} bytes, not 32: the PoET and go-spacemesh ` +
        "would disagree on the statement",
    );
  }
  let memberIndex: number | undefined;
  if (challenge !== undefined) {
    if (challenge.length !== 32) {
      throw new ConfigError("challenge", `must be 32 bytes, got ${challenge.length}`);
    }
    memberIndex = findMember(members, challenge);
    if (memberIndex === undefined) {
      throw new ProofVerificationError(
        "missing-member",
        `the challenge is not among the round's ${members.length} members`,
      );
    }
  }
  return { statement: membershipRoot(members, { hasher: membershipHasher }), memberIndex };
}
