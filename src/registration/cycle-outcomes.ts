/**
 * @module registration/cycle-outcomes
 *
 * How an identity's cycle ends (docs/node-client.md §1.11, §7 item 13): one table from each
 * outcome code of {@link NiPostOutcome} to what goes with it, whether the identity's rows are
 * cleared (the challenge can no longer lead to a NiPoST) and which event reports it, plus the
 * builders of the outcomes whose error text is made here. The cycle only decides which outcome
 * it reached; clearing and reporting follow from this table, in that order.
 */

import { PoetError, type PoetErrorCode, ProofVerificationError } from "../errors.js";
import type { RoundSchedule } from "../schedule/index.js";
import type { RegistrationEvent } from "./events.js";
import type {
  ExpiredOutcome,
  NiPostOutcome,
  NoProofOutcome,
  RegistrationFailedOutcome,
  WindowMissedOutcome,
} from "./nipost.js";

type Outcome<K extends NiPostOutcome["kind"]> = Extract<NiPostOutcome, { kind: K }>;

/** What goes with one outcome code. */
interface OutcomeRule<O extends NiPostOutcome> {
  /** Whether the identity's registrations, NiPoST and challenge are cleared. */
  resets: (outcome: O) => boolean;
  /** The event that reports it (`undefined`: none; the caller has the outcome). */
  event: (outcome: O, at: Date, round: number) => RegistrationEvent | undefined;
}

/** Each outcome code, with its clearing and its event. */
export const OUTCOME_RULES: { [K in NiPostOutcome["kind"]]: OutcomeRule<Outcome<K>> } = {
  ready: {
    resets: () => false,
    event: (o, at, round) => ({
      type: "nipost-ready",
      at,
      nodeId: o.nodeId,
      publishEpoch: o.publishEpoch,
      round,
      poet: o.nipost.poet ?? "",
      ref: o.nipost.proofRef,
      leaves: o.nipost.leaves ?? 0n,
      ticks: o.nipost.ticks ?? 0n,
    }),
  },
  "window-missed": {
    resets: () => true,
    event: (o, at, round) => ({
      type: "window-missed",
      at,
      nodeId: o.nodeId,
      publishEpoch: o.publishEpoch,
      round,
      deadline: o.deadline,
      nextRound: o.nextRound,
      nextRegistrationDeadline: o.nextRegistrationDeadline,
      error: o.error,
    }),
  },
  "registration-failed": {
    // The rows stay: a later call registers again while the window is open.
    resets: () => false,
    event: () => undefined,
  },
  "poet-set-mismatch": {
    resets: () => false,
    event: (o, at, round) => ({
      type: "poet-set-mismatch",
      at,
      nodeId: o.nodeId,
      publishEpoch: o.publishEpoch,
      round,
      registeredAt: o.registeredAt,
      configured: o.configured,
      error: o.error,
    }),
  },
  "no-proof": {
    // Before the proof deadline the rows stay (a later call asks the PoETs again).
    resets: (o) => o.expired,
    event: (o, at, round) => (o.expired ? challengeExpired(o, at, round) : undefined),
  },
  "post-failed": {
    // The chosen proof stays: a later call runs PoST again.
    resets: () => false,
    event: (o, at, round) => ({
      type: "post-failed",
      at,
      nodeId: o.nodeId,
      publishEpoch: o.publishEpoch,
      round,
      error: o.error,
    }),
  },
  expired: {
    resets: () => true,
    event: challengeExpired,
  },
};

function challengeExpired(
  o: NoProofOutcome | ExpiredOutcome,
  at: Date,
  round: number,
): RegistrationEvent {
  return {
    type: "challenge-expired",
    at,
    nodeId: o.nodeId,
    publishEpoch: o.publishEpoch,
    round,
    deadline: o.deadline,
    error: o.error,
  };
}

/** The rule of `outcome`'s code. */
export function outcomeRule<O extends NiPostOutcome>(outcome: O): OutcomeRule<O> {
  return OUTCOME_RULES[outcome.kind] as unknown as OutcomeRule<O>;
}

type Failures = { poet: string; error: PoetError }[];

/** No PoET took the challenge before the round started; names the next window. */
export function windowMissed(
  schedule: RoundSchedule,
  now: number,
  nodeId: Uint8Array,
  round: number,
  publishEpoch: number,
  failures: Failures,
): WindowMissedOutcome {
  const deadline = schedule.registrationDeadline(round);
  const nextRound = schedule.openRound(new Date(now));
  const error = new PoetError(
    "registration-window-missed",
    `no PoET accepted the challenge for publish epoch ${publishEpoch} before round ${round} ` +
      `started at ${deadline.toISOString()}; the next window is round ${nextRound}, until ` +
      `${schedule.registrationDeadline(nextRound).toISOString()}`,
    { cause: failures[0]?.error },
  );
  return {
    kind: "window-missed",
    nodeId,
    publishEpoch,
    deadline,
    nextRound,
    nextPublishEpoch: schedule.publishEpoch(nextRound),
    nextRegistrationDeadline: schedule.registrationDeadline(nextRound),
    failures,
    error,
  };
}

/** Every PoET refused the registration before the deadline. */
export function registrationFailed(
  nodeId: Uint8Array,
  publishEpoch: number,
  deadline: Date,
  failures: Failures,
): RegistrationFailedOutcome {
  const rejected = new PoetError(
    "registration-rejected",
    `every PoET refused the registration for publish epoch ${publishEpoch}`,
    { cause: failures[0]?.error },
  );
  return {
    kind: "registration-failed",
    nodeId,
    publishEpoch,
    deadline,
    failures,
    error: failures[0]?.error ?? rejected,
  };
}

/** No valid proof containing the challenge; `expired` when the proof deadline passed. */
export function noProof(
  schedule: RoundSchedule,
  nodeId: Uint8Array,
  round: number,
  publishEpoch: number,
  failures: Failures,
  expired: boolean,
): NoProofOutcome {
  const deadline = schedule.proofDeadline(round);
  // Name what went wrong at each PoET (an answer over the size cap, a malformed body, a
  // missing member…) rather than only that no proof came.
  const causes = failures.map((f) => `${f.poet}: ${f.error.message}`).join("; ");
  const error = new PoetError(
    noProofCode(failures, expired),
    `no valid proof containing the challenge for publish epoch ${publishEpoch}` +
      (expired ? ` before the proof deadline ${deadline.toISOString()}` : "") +
      (causes === "" ? "" : `: ${causes}`),
    { cause: failures[0]?.error },
  );
  return { kind: "no-proof", nodeId, publishEpoch, deadline, expired, failures, error };
}

/** The publish epoch ended (`why` says before what). */
export function expired(
  nodeId: Uint8Array,
  publishEpoch: number,
  deadlineMs: number,
  why: string,
): ExpiredOutcome {
  const deadline = new Date(deadlineMs);
  const error = new PoetError(
    "deadline-passed",
    `${why} (${deadline.toISOString()}) for publish epoch ${publishEpoch}`,
  );
  return { kind: "expired", nodeId, publishEpoch, deadline, error };
}

/**
 * The code of a "no proof" outcome, naming what happened: `deadline-passed` when the proof
 * deadline passed, `proof-verification` only when at least one PoET's proof failed verification,
 * the failures' shared code when they all failed the same way (`rpc` for network errors only),
 * and `no-proof` when nothing was fetched at all or the failures differ.
 */
function noProofCode(
  failures: readonly { poet: string; error: PoetError }[],
  expired: boolean,
): PoetErrorCode {
  if (expired) return "deadline-passed";
  if (failures.some((f) => f.error instanceof ProofVerificationError)) return "proof-verification";
  const first = failures[0];
  if (first === undefined) return "no-proof";
  return failures.every((f) => f.error.code === first.error.code) ? first.error.code : "no-proof";
}
