/**
 * @module schedule/phase-switch
 *
 * When a node can move from the PoETs of one phase to the PoETs of another, and what it costs
 * (docs/node-client.md §4, §7 item 2; docs/protocol.md §3.5).
 *
 * A node's next challenge names its previous ATX, so it can register for publish epoch `e + 1`
 * only after it holds the NiPoST of epoch `e`. Two ways of switching are lossless:
 *
 * - **now**: the new phase's round for the current publish epoch has not started yet, so the same
 *   challenge can be registered there and the old registrations dropped;
 * - **after the proof**: keep the current round in the old phase, and register the next challenge
 *   in the new phase, provided its round starts late enough after the old round's end to leave
 *   time for PoST (by default one old cycle gap).
 *
 * When neither fits, the plan keeps the current round and names the publish epochs for which the
 * node will have no ATX. The function is pure: the caller passes the instant and the epoch.
 */
import { ConfigError } from "../errors.js";
import type { RoundSchedule } from "./round-schedule.js";

/** What {@link planPhaseSwitch} needs to know. */
export interface PhaseSwitchInput {
  /** The schedule the node uses now. */
  from: RoundSchedule;
  /** The schedule of the PoETs to move to (same genesis and epoch length). */
  to: RoundSchedule;
  /** The instant the switch is considered at. */
  at: Date;
  /**
   * The publish epoch of the challenge the node works on now. Default: the epoch served by the
   * round executing at `at` (or by the round that ended last, in a cycle gap).
   */
  publishEpoch?: number;
  /**
   * Time the node needs between a proof and its next registration (PoST plus ATX), in ms.
   * Default: the old cycle gap, the time the network plans for it.
   */
  postDurationMs?: number;
}

/** The answer of {@link planPhaseSwitch}. */
export interface PhaseSwitchPlan {
  /** `"now"`: re-register the current challenge in the new phase; `"after-proof"`: finish first. */
  mode: "now" | "after-proof";
  /** When to apply the new PoET set. */
  switchAt: Date;
  /** The publish epoch whose challenge the plan started from. */
  publishEpoch: number;
  /** The old-phase round whose proof is still used, if any. */
  keepRound: number | undefined;
  /** The first round registered in the new phase. */
  firstNewRound: number;
  /** The publish epoch served by {@link firstNewRound}. */
  firstNewPublishEpoch: number;
  /** Publish epochs in which the node will publish no ATX because of the switch. */
  lostPublishEpochs: number[];
  /** `true` when no publish epoch is lost. */
  safe: boolean;
  /** One sentence for an operator. */
  explanation: string;
}

/**
 * Plans a move from one PoET phase to another: when it is safe, and which publish epochs, if any,
 * are lost.
 *
 * @example
 * ```ts
 * const plan = planPhaseSwitch({
 *   from: MAINNET.schedule,
 *   to: MAINNET.schedule.withPhase({ phaseShiftMs: 120 * 3_600_000, cycleGapMs: 12 * 3_600_000 }),
 *   at: new Date(),
 * });
 * if (!plan.safe) console.log(plan.explanation);
 * ```
 */
export function planPhaseSwitch(input: PhaseSwitchInput): PhaseSwitchPlan {
  const { from, to } = input;
  if (
    from.genesis.getTime() !== to.genesis.getTime() ||
    from.epochDurationMs !== to.epochDurationMs
  ) {
    throw new ConfigError("to", "the new schedule must share the genesis and epoch length");
  }
  const at = input.at.getTime();
  const postDurationMs = input.postDurationMs ?? from.cycleGapMs;
  if (!Number.isSafeInteger(postDurationMs) || postDurationMs < 0) {
    throw new ConfigError(
      "postDurationMs",
      `must be a non-negative integer, got ${postDurationMs}`,
    );
  }
  const publishEpoch = input.publishEpoch ?? Math.max(1, from.openRound(input.at));
  const currentRound = publishEpoch - 1;

  const nowPossible = at < to.roundStart(currentRound).getTime();
  const proofAt = Math.max(at, from.roundEnd(currentRound).getTime());
  // The first round that starts no earlier than the PoST is done: one starting exactly then still
  // takes the registration (the network plans PoST to fill the cycle gap, so the same phase loses
  // nothing).
  let next = Math.max(publishEpoch, to.openRound(new Date(proofAt + postDurationMs - 1)));
  while (to.roundStart(next).getTime() < proofAt + postDurationMs) next++;
  const lostAfterProof: number[] = [];
  for (let e = publishEpoch + 1; e <= next; e++) lostAfterProof.push(e);
  const oldRoundStarted = at >= from.roundStart(currentRound).getTime();

  if (nowPossible && (!oldRoundStarted || lostAfterProof.length > 0)) {
    return {
      mode: "now",
      switchAt: new Date(at),
      publishEpoch,
      keepRound: undefined,
      firstNewRound: currentRound,
      firstNewPublishEpoch: publishEpoch,
      lostPublishEpochs: [],
      safe: true,
      explanation:
        `switch now: round ${currentRound} of the new phase starts at ` +
        `${to.roundStart(currentRound).toISOString()}, so the current challenge for publish ` +
        `epoch ${publishEpoch} can still be registered there; nothing is lost`,
    };
  }
  const safe = lostAfterProof.length === 0;
  return {
    mode: "after-proof",
    switchAt: new Date(proofAt),
    publishEpoch,
    keepRound: currentRound,
    firstNewRound: next,
    firstNewPublishEpoch: next + 1,
    lostPublishEpochs: lostAfterProof,
    safe,
    explanation: safe
      ? `switch after round ${currentRound} ends at ${new Date(proofAt).toISOString()}: ` +
        `round ${next} of the new phase starts at ${to.roundStart(next).toISOString()}, ` +
        "leaving time for PoST; nothing is lost"
      : `switch after round ${currentRound} ends at ${new Date(proofAt).toISOString()}: ` +
        `the new phase's round ${next - 1} starts too soon after it, so the next registration is ` +
        `round ${next} and publish epoch${lostAfterProof.length > 1 ? "s" : ""} ` +
        `${lostAfterProof.join(", ")} will have no ATX`,
  };
}
