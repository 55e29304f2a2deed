/**
 * @module schedule/poet-switch
 *
 * The one rule for changing a node's PoETs (docs/node-client.md §4, §7 item 2; docs/protocol.md
 * §3.5): given the old and new PoET set and phase, the instant, and each identity's stored rows as
 * plain data, which rows go, which stay, and why. Both `RegistrationManager.switchPoets` and the
 * CLI's `switch-phase` apply this plan (`registration/apply-poet-switch.ts`); the timing part is
 * {@link planPhaseSwitch}.
 *
 * Per identity:
 *
 * - a registration at a PoET of the new set stays;
 * - a registration at a PoET outside the new set goes when it can no longer serve: the identity has
 *   no challenge, or its proof is already chosen, or the phase plan is `"now"` (the challenge is
 *   registered again in the new phase's round, which has not started), or it is for another round
 *   than the one the `"after-proof"` plan keeps; it stays when it is for the kept round, whose
 *   proof the identity still needs;
 * - a write-ahead submit intent (a submit whose answer may not be stored) is judged like a
 *   registration at its PoET for the round it targets, so it goes with the registrations it could
 *   stand for and stays where they would stay;
 * - a NiPoST row goes when it does not match the challenge's chosen proof (no challenge, no proof
 *   chosen, or another proof).
 *
 * The plan is safe when no identity loses a publish epoch; it then becomes safe to apply at the
 * latest identity's `switchAt`. The function is pure: the caller passes the instant and the rows.
 */
import { equalBytes, toHex } from "../bytes.js";
import { type PhaseSwitchPlan, planPhaseSwitch } from "./phase-switch.js";
import type { RoundSchedule } from "./round-schedule.js";

/** One identity's rows, as {@link planPoetSwitch} needs them. */
export interface PoetSwitchIdentityRows {
  nodeId: Uint8Array;
  /** The stored challenge, if any: its publish epoch and the chosen proof's reference. */
  challenge?: { publishEpoch: number; poetProofRef: Uint8Array | undefined } | undefined;
  /** The stored registrations (PoET address and round id). */
  registrations: readonly { address: string; roundId: string }[];
  /**
   * The stored write-ahead submit intents (PoET address and the round the submit targets): a
   * submit there may have been accepted without its answer being stored, so each is judged like a
   * registration at that PoET for that round (absent: none).
   */
  intents?: readonly { address: string; roundId: string }[] | undefined;
  /** The stored NiPoST, if any: the proof it was built on. */
  nipost?: { poetProofRef: Uint8Array } | undefined;
}

/** What {@link planPoetSwitch} needs to know. */
export interface PoetSwitchInput {
  /** The schedule the node uses now. */
  from: RoundSchedule;
  /** The schedule of the new PoETs (`from` when the phase does not change). */
  to: RoundSchedule;
  /** The addresses of the new PoET set. */
  poets: readonly string[];
  /** The instant the switch is considered at. */
  at: Date;
  /** Each identity's stored rows. */
  identities: readonly PoetSwitchIdentityRows[];
  /** Time between a proof and the next registration, in ms (see {@link planPhaseSwitch}). */
  postDurationMs?: number | undefined;
}

/** One row's fate and why. */
export interface PoetSwitchRowDecision {
  address: string;
  roundId: string;
  reason: string;
}

/** The plan of one identity. */
export interface PoetSwitchIdentityPlan {
  nodeId: Uint8Array;
  /**
   * The timing plan of its challenge (`undefined`: no challenge); identities of one publish epoch
   * share one object.
   */
  phase: PhaseSwitchPlan | undefined;
  deleteRegistrations: PoetSwitchRowDecision[];
  keepRegistrations: PoetSwitchRowDecision[];
  /** Its submit intents that go, judged like registrations at the same PoET and round. */
  deleteIntents: PoetSwitchRowDecision[];
  /** Its submit intents that stay. */
  keepIntents: PoetSwitchRowDecision[];
  /** Why its NiPoST row goes (`undefined`: it has none, or it stays). */
  deleteNipost: string | undefined;
  /** One sentence for an operator. */
  explanation: string;
}

/** The answer of {@link planPoetSwitch}. */
export interface PoetSwitchPlan {
  /** Per identity, sorted by node id. */
  identities: PoetSwitchIdentityPlan[];
  /** Publish epochs that some identity loses (sorted). */
  lostPublishEpochs: number[];
  /** `true` when no publish epoch is lost. */
  safe: boolean;
  /**
   * When applying loses nothing more than {@link lostPublishEpochs}: the latest identity's
   * `switchAt` (the instant itself when no identity has a challenge).
   */
  safeAt: Date;
  /** The timing plan of the identity that switches last (or of the node's current epoch). */
  latest: PhaseSwitchPlan;
}

/**
 * Plans a change of PoET set (and maybe phase) for every identity: the rows to delete and keep,
 * whether that loses a publish epoch, and from when it is safe.
 *
 * @example
 * ```ts
 * const plan = planPoetSwitch({
 *   from: schedule,
 *   to: schedule.withPhase(newPhase),
 *   poets: ["https://poet-x.example"],
 *   at: new Date(),
 *   identities: [{ nodeId, challenge: { publishEpoch: 31, poetProofRef: undefined }, registrations }],
 * });
 * for (const i of plan.identities) console.log(i.explanation, i.deleteRegistrations);
 * ```
 */
export function planPoetSwitch(input: PoetSwitchInput): PoetSwitchPlan {
  const newSet = new Set(input.poets);
  const common = {
    from: input.from,
    to: input.to,
    at: input.at,
    ...(input.postDurationMs === undefined ? {} : { postDurationMs: input.postDurationMs }),
  };
  // One timing plan per publish epoch: identities of one epoch share it (read-only).
  const byEpoch = new Map<number, PhaseSwitchPlan>();
  const phaseOf = (publishEpoch: number): PhaseSwitchPlan => {
    let plan = byEpoch.get(publishEpoch);
    if (plan === undefined) {
      plan = planPhaseSwitch({ ...common, publishEpoch });
      byEpoch.set(publishEpoch, plan);
    }
    return plan;
  };
  const identities = input.identities
    .map((rows) => ({ key: toHex(rows.nodeId), rows }))
    .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
    .map(({ rows }) => planIdentity(rows, newSet, phaseOf));
  const phases = identities.flatMap((i) => (i.phase === undefined ? [] : [i.phase]));
  const latest =
    phases.length > 0
      ? phases.reduce((a, b) => (b.switchAt.getTime() > a.switchAt.getTime() ? b : a))
      : planPhaseSwitch(common);
  const lost = [...new Set(phases.flatMap((p) => p.lostPublishEpochs))].sort((a, b) => a - b);
  return {
    identities,
    lostPublishEpochs: lost,
    safe: lost.length === 0,
    safeAt: phases.length > 0 ? latest.switchAt : new Date(input.at.getTime()),
    latest,
  };
}

function planIdentity(
  rows: PoetSwitchIdentityRows,
  newSet: ReadonlySet<string>,
  phaseOf: (publishEpoch: number) => PhaseSwitchPlan,
): PoetSwitchIdentityPlan {
  const challenge = rows.challenge;
  const phase = challenge === undefined ? undefined : phaseOf(challenge.publishEpoch);
  const chosen = challenge?.poetProofRef;
  const judge = (r: { address: string; roundId: string }) =>
    judgeRow(r, newSet, phase, chosen !== undefined);
  const registrations = rows.registrations.map(judge);
  const intents = (rows.intents ?? []).map(judge);
  const deleteRegistrations = registrations.flatMap((d) => (d.keep ? [] : [d.row]));
  const keepRegistrations = registrations.flatMap((d) => (d.keep ? [d.row] : []));
  const deleteIntents = intents.flatMap((d) => (d.keep ? [] : [d.row]));
  const keepIntents = intents.flatMap((d) => (d.keep ? [d.row] : []));
  let deleteNipost: string | undefined;
  if (rows.nipost !== undefined) {
    if (challenge === undefined) deleteNipost = "no challenge uses it";
    else if (chosen === undefined) deleteNipost = "the challenge has no proof chosen";
    else if (!equalBytes(chosen, rows.nipost.poetProofRef)) {
      deleteNipost = "it was built on another proof than the chosen one";
    }
  }
  return {
    nodeId: rows.nodeId,
    phase,
    deleteRegistrations,
    keepRegistrations,
    deleteIntents,
    keepIntents,
    deleteNipost,
    explanation:
      phase?.explanation ?? "no challenge: its next challenge is registered with the new PoETs",
  };
}

/** One registration's (or submit intent's) fate: the rule of the module notes. */
function judgeRow(
  r: { address: string; roundId: string },
  newSet: ReadonlySet<string>,
  phase: PhaseSwitchPlan | undefined,
  proofChosen: boolean,
): { keep: boolean; row: PoetSwitchRowDecision } {
  const row = (reason: string) => ({ address: r.address, roundId: r.roundId, reason });
  if (newSet.has(r.address)) return { keep: true, row: row("at a PoET of the new set") };
  if (phase === undefined) return { keep: false, row: row("no challenge uses it") };
  if (proofChosen) return { keep: false, row: row("the proof is already chosen") };
  if (phase.mode === "now") {
    return {
      keep: false,
      row: row(`the challenge is registered again in the new phase's round ${phase.firstNewRound}`),
    };
  }
  if (r.roundId === String(phase.keepRound)) {
    return { keep: true, row: row(`its round ${r.roundId} is kept: its proof is still needed`) };
  }
  return { keep: false, row: row(`round ${r.roundId} is not the round kept (${phase.keepRound})`) };
}
