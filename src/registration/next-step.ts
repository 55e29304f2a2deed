/**
 * @module registration/next-step
 *
 * What an identity does next, decided from the schedule, the time and its stored rows only: one
 * pure function, so the cycle, `RegistrationManager.status()` and `poet-client status` can share one
 * answer (docs/node-client.md). It reads no database and no clock: the caller passes plain data.
 */

import type { RoundSchedule } from "../schedule/index.js";

/** The identity's stored rows, as plain data. */
export interface NextStepRows {
  /** The stored challenge's publish epoch; `undefined` when no challenge is stored. */
  publishEpoch: number | undefined;
  /** Registrations the PoETs confirmed, with the round end each one announced. */
  registrations: readonly { poet: string; roundEnd: Date }[];
  /** Submits written ahead but not (yet) confirmed: the PoET may hold the challenge. */
  submitIntents: readonly { poet: string }[];
  /** Configured PoETs the challenge is not registered with. */
  missingPoets: readonly string[];
  /** Whether a proof is chosen (the challenge row holds its ref). */
  proofChosen: boolean;
  /** With a proof chosen: the PoETs that have not answered for this round (asked once after the cut-off). */
  unanswered?: readonly string[];
  /** Whether the NiPoST is stored. */
  nipostStored: boolean;
  /** Whether the rows contradict each other. */
  inconsistent?: boolean;
}

/** What to do next, and until (or from) when. */
export type NextStep =
  | { step: "repair" }
  | { step: "build-challenge" }
  | { step: "wait-for-registration-window"; round: number; at: Date }
  | { step: "register"; round: number; poets: readonly string[]; at: Date }
  | { step: "wait-for-round-end"; round: number; at: Date }
  | { step: "fetch-proofs"; round: number; poets: readonly string[]; lateStart: boolean; at: Date }
  | { step: "post"; round: number; at: Date }
  | { step: "publish-atx"; round: number; from: Date; at: Date }
  | { step: "window-missed"; round: number; at: Date }
  | {
      step: "expired";
      round: number;
      why: "publish-epoch-ended" | "proof-deadline-passed";
      at: Date;
    };

/**
 * The next step for one identity.
 *
 * @example
 * ```ts
 * const next = planNextStep(schedule, clock.now(), {
 *   publishEpoch: 3, registrations: [], submitIntents: [], missingPoets: [url],
 *   proofChosen: false, nipostStored: false,
 * });
 * if (next.step === "register") await registerWith(next.poets);
 * ```
 */
export function planNextStep(
  schedule: RoundSchedule,
  now: number,
  rows: NextStepRows,
  proofCutoffMs = 0,
): NextStep {
  if (rows.inconsistent === true) return { step: "repair" };
  if (rows.publishEpoch === undefined) return { step: "build-challenge" };
  const publishEpoch = rows.publishEpoch;
  const round = schedule.roundForPublishEpoch(publishEpoch);
  const publishEnd = schedule.publishEpochEnd(round);
  // Once the publish epoch ended nothing can be published any more, whatever the rows hold.
  if (now >= publishEnd.getTime()) {
    return { step: "expired", round, why: "publish-epoch-ended", at: publishEnd };
  }
  if (rows.nipostStored) {
    return { step: "publish-atx", round, from: schedule.epochStart(publishEpoch), at: publishEnd };
  }
  const deadline = schedule.registrationDeadline(round);
  const proofDeadline = schedule.proofDeadline(round);
  const registered = rows.registrations.map((r) => r.poet);
  // An unconfirmed submit may have reached the PoET: it is asked for a proof, never counted missed.
  const held = [...new Set([...registered, ...rows.submitIntents.map((i) => i.poet)])];
  if (!rows.proofChosen) {
    const opens = schedule.registrationOpens(round);
    if (now < opens.getTime()) return { step: "wait-for-registration-window", round, at: opens };
    if (held.length === 0) {
      if (now >= deadline.getTime()) return { step: "window-missed", round, at: deadline };
      return { step: "register", round, poets: rows.missingPoets, at: deadline };
    }
    if (rows.missingPoets.length > 0 && now < deadline.getTime()) {
      return { step: "register", round, poets: rows.missingPoets, at: deadline };
    }
  }
  const roundEnd =
    rows.registrations.length > 0
      ? new Date(Math.max(...rows.registrations.map((r) => r.roundEnd.getTime())))
      : schedule.roundEnd(round);
  const cutoff = proofCutoff(proofDeadline.getTime(), roundEnd.getTime(), proofCutoffMs);
  if (rows.proofChosen) {
    // A stored choice: better proofs are looked for until the cut-off; after it, a late start
    // asks the PoETs that have not answered once, then PoST runs. With no PoET left that could
    // answer (none registered, none reachable), PoST runs at once.
    if (held.length > 0 && (now < cutoff || (rows.unanswered ?? []).length > 0)) {
      return {
        step: "fetch-proofs",
        round,
        poets: now < cutoff ? held : (rows.unanswered ?? []),
        lateStart: now >= cutoff,
        at: new Date(cutoff),
      };
    }
    return { step: "post", round, at: publishEnd };
  }
  if (now < roundEnd.getTime()) return { step: "wait-for-round-end", round, at: roundEnd };
  if (now < proofDeadline.getTime()) {
    return {
      step: "fetch-proofs",
      round,
      poets: held,
      lateStart: now >= cutoff,
      at: proofDeadline,
    };
  }
  return { step: "expired", round, why: "proof-deadline-passed", at: proofDeadline };
}

/**
 * The cut-off of proof collection (docs/node-client.md §1.5): with a proof chosen, better proofs
 * are waited for until `proofCutoffMs` after the last announced round end, never past the proof
 * deadline. All instants in ms.
 *
 * @example
 * ```ts
 * const cutoff = proofCutoff(schedule.proofDeadline(round).getTime(), lastRoundEnd, 60_000);
 * ```
 */
export function proofCutoff(
  proofDeadline: number,
  lastRoundEnd: number,
  proofCutoffMs: number,
): number {
  return Math.min(proofDeadline, lastRoundEnd + proofCutoffMs);
}
