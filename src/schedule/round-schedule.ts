/**
 * @module schedule/round-schedule
 *
 * The PoET round calendar (docs/protocol.md §3.1, §3.5) and the node-side deadlines derived
 * from it (docs/node-client.md §1.1). Everything is integer milliseconds since the Unix epoch
 * inside and `Date` at the API, and nothing reads a clock: the caller passes the instant it cares
 * about, so the same schedule answers "now" in production and "two weeks later" in a test.
 *
 * Why one class: the PoET server, the node and the operator all reason about the same four
 * numbers (genesis, epoch length, phase shift, cycle gap). Keeping every formula next to the others
 * makes the off-by-one relations visible: round `n` accepts registrations while round `n − 1`
 * executes, serves publish epoch `n + 1`, and its proof is needed one cycle gap before epoch
 * `n + 2` starts.
 */
import { ConfigError } from "../errors.js";

/** The four numbers that define a PoET round calendar. */
export interface RoundScheduleOptions {
  /** Start of epoch 0 (mainnet: 2023-07-14T08:00:00Z). */
  genesis: Date;
  /** Length of a network epoch in ms (mainnet: 336 h). */
  epochDurationMs: number;
  /** Offset of every round start from its epoch start, in ms (mainnet: 240 h). */
  phaseShiftMs: number;
  /** Idle gap between a round's end and the next round's start, in ms (mainnet: 12 h). */
  cycleGapMs: number;
}

/** The instants of one round, as the node and an operator need them. */
export interface RoundTimes {
  /** The round number; its PoET round id is `String(round)`. */
  round: number;
  /** When the round opens for registration (the previous round's start). */
  registrationOpens: Date;
  /** The last instant to register: the round start. */
  registrationDeadline: Date;
  /** When sequential work starts (same instant as the registration deadline). */
  roundStart: Date;
  /** When sequential work stops; the proof follows within seconds. */
  roundEnd: Date;
  /** The end of the cycle gap that follows this round (= the next round start). */
  cycleGapEnd: Date;
  /** The epoch in which the node publishes the ATX built on this round's proof. */
  publishEpoch: number;
  /** The `deadline` a node sends with its submit, and the last moment to fetch a proof. */
  proofDeadline: Date;
  /** End of the publish epoch: the last instant an ATX built on this round can be published. */
  publishEpochEnd: Date;
}

const MAX_INSTANT_MS = 8.64e15;

function requireSafe(setting: string, value: number, min: number): void {
  if (!Number.isSafeInteger(value)) {
    throw new ConfigError(setting, `must be an integer number of milliseconds, got ${value}`);
  }
  if (value < min) throw new ConfigError(setting, `must be at least ${min}, got ${value}`);
}

function requireRound(round: number): void {
  if (!Number.isSafeInteger(round)) {
    throw new ConfigError("round", `must be an integer, got ${round}`);
  }
}

function toDate(ms: number): Date {
  if (Math.abs(ms) > MAX_INSTANT_MS) {
    throw new ConfigError("round", `instant ${ms} ms is outside the range of Date`);
  }
  return new Date(ms);
}

function instantMs(setting: string, at: Date): number {
  // Not `instanceof`: a Date from another realm (a vm context, a worker's message) is a Date too.
  if (typeof (at as { getTime?: unknown } | null)?.getTime !== "function") {
    throw new ConfigError(setting, `must be a Date, got ${typeof at} ${String(at)}`);
  }
  const ms = at.getTime();
  if (!Number.isFinite(ms)) throw new ConfigError(setting, "is an invalid Date");
  return ms;
}

/**
 * The calendar of PoET rounds for one network and phase (docs/protocol.md §3.1).
 *
 * Round `n` starts at `genesis + phaseShift + n·epoch`, ends one cycle gap before round `n + 1`
 * starts, accepts registrations while round `n − 1` executes, and serves ATXs published in epoch
 * `n + 1` (docs/protocol.md §3.5).
 *
 * @example
 * ```ts
 * const schedule = new RoundSchedule({
 *   genesis: new Date("2023-07-14T08:00:00Z"),
 *   epochDurationMs: 336 * 3_600_000,
 *   phaseShiftMs: 240 * 3_600_000,
 *   cycleGapMs: 12 * 3_600_000,
 * });
 * schedule.roundStart(30); // 2024-09-16T08:00:00Z
 * schedule.roundEnd(30); // 2024-09-29T20:00:00Z
 * schedule.openRound(new Date("2024-09-10T00:00:00Z")); // 30
 * schedule.publishEpoch(30); // 31
 * ```
 */
export class RoundSchedule {
  /** Start of epoch 0. */
  readonly genesis: Date;
  readonly epochDurationMs: number;
  readonly phaseShiftMs: number;
  readonly cycleGapMs: number;
  readonly #genesisMs: number;

  /** @throws ConfigError when a number is not an integer or the phase does not fit in an epoch. */
  constructor(options: RoundScheduleOptions) {
    this.#genesisMs = instantMs("genesis", options.genesis);
    requireSafe("epochDurationMs", options.epochDurationMs, 1);
    requireSafe("phaseShiftMs", options.phaseShiftMs, 0);
    requireSafe("cycleGapMs", options.cycleGapMs, 0);
    if (options.phaseShiftMs >= options.epochDurationMs) {
      throw new ConfigError(
        "phaseShiftMs",
        `must be shorter than the epoch (${options.epochDurationMs} ms), got ${options.phaseShiftMs}`,
      );
    }
    if (options.cycleGapMs >= options.epochDurationMs) {
      throw new ConfigError(
        "cycleGapMs",
        `must be shorter than the epoch (${options.epochDurationMs} ms), got ${options.cycleGapMs}`,
      );
    }
    this.genesis = new Date(this.#genesisMs);
    this.epochDurationMs = options.epochDurationMs;
    this.phaseShiftMs = options.phaseShiftMs;
    this.cycleGapMs = options.cycleGapMs;
  }

  /** Start of network epoch `epoch`: `genesis + epoch·epochDuration`. */
  epochStart(epoch: number): Date {
    requireRound(epoch);
    return toDate(this.#genesisMs + epoch * this.epochDurationMs);
  }

  /** The epoch that contains `at` (negative before genesis). */
  epochAt(at: Date): number {
    return Math.floor((instantMs("at", at) - this.#genesisMs) / this.epochDurationMs);
  }

  /** When round `round` stops accepting registrations and starts its sequential work. */
  roundStart(round: number): Date {
    requireRound(round);
    return toDate(this.#genesisMs + this.phaseShiftMs + round * this.epochDurationMs);
  }

  /** When round `round` stops its sequential work: one cycle gap before the next round starts. */
  roundEnd(round: number): Date {
    requireRound(round);
    return toDate(
      this.#genesisMs +
        this.phaseShiftMs +
        round * this.epochDurationMs +
        this.epochDurationMs -
        this.cycleGapMs,
    );
  }

  /**
   * The round that accepts registrations at `at`: 0 before the first round start, otherwise the
   * round after the one whose start last passed (docs/protocol.md §3.1 `OpenRoundId`).
   */
  openRound(at: Date): number {
    const sinceFirstStart = instantMs("at", at) - this.#genesisMs - this.phaseShiftMs;
    if (sinceFirstStart < 0) return 0;
    return Math.floor(sinceFirstStart / this.epochDurationMs) + 1;
  }

  /** The round doing sequential work at `at`, or `undefined` in a cycle gap or before round 0. */
  executingRound(at: Date): number | undefined {
    const round = this.openRound(at) - 1;
    if (round < 0) return undefined;
    return instantMs("at", at) < this.roundEnd(round).getTime() ? round : undefined;
  }

  /** The epoch in which a node publishes the ATX built on round `round`'s proof: `round + 1`. */
  publishEpoch(round: number): number {
    requireRound(round);
    return round + 1;
  }

  /** The round a node registers in for an ATX published in `publishEpoch`: `publishEpoch − 1`. */
  roundForPublishEpoch(publishEpoch: number): number {
    requireRound(publishEpoch);
    return publishEpoch - 1;
  }

  /** When round `round` opens for registration: the previous round's start. */
  registrationOpens(round: number): Date {
    requireRound(round);
    return this.roundStart(round - 1);
  }

  /** The last instant a registration for round `round` is accepted: its start. */
  registrationDeadline(round: number): Date {
    return this.roundStart(round);
  }

  /**
   * The proof deadline of round `round`: one cycle gap before its publish epoch ends. A node sends
   * it as the submit `deadline` (so that a late submit is refused instead of slipping into the next
   * round) and stops polling for the proof after it (docs/node-client.md §1.1, docs/protocol.md §2.4).
   */
  proofDeadline(round: number): Date {
    requireRound(round);
    return toDate(this.publishEpochEnd(round).getTime() - this.cycleGapMs);
  }

  /** End of the publish epoch of round `round`: the last instant to publish its ATX. */
  publishEpochEnd(round: number): Date {
    return this.epochStart(this.publishEpoch(round) + 1);
  }

  /** The cycle gap after round `round`: from its end to the next round's start. */
  cycleGap(round: number): { start: Date; end: Date } {
    return { start: this.roundEnd(round), end: this.roundStart(round + 1) };
  }

  /**
   * The range of the random delay a node adds to a round end before asking for the proof:
   * 0.02 %–0.04 % of the cycle gap (mainnet 8.64 s–17.28 s), so that thousands of nodes do not
   * all ask in the same second (docs/node-client.md §1.1).
   */
  proofQueryJitter(): { minMs: number; maxMs: number } {
    return {
      minMs: Math.floor((this.cycleGapMs * 2) / 10_000),
      maxMs: Math.floor((this.cycleGapMs * 4) / 10_000),
    };
  }

  /** Every instant of round `round` in one object. */
  round(round: number): RoundTimes {
    return {
      round,
      registrationOpens: this.registrationOpens(round),
      registrationDeadline: this.registrationDeadline(round),
      roundStart: this.roundStart(round),
      roundEnd: this.roundEnd(round),
      cycleGapEnd: this.roundStart(round + 1),
      publishEpoch: this.publishEpoch(round),
      proofDeadline: this.proofDeadline(round),
      publishEpochEnd: this.publishEpochEnd(round),
    };
  }

  /** The `count` rounds from the one open at `from` on: the calendar operators ask for. */
  upcoming(from: Date, count: number): RoundTimes[] {
    if (!Number.isSafeInteger(count) || count < 0) {
      throw new ConfigError("count", `must be a non-negative integer, got ${count}`);
    }
    const first = this.openRound(from);
    return Array.from({ length: count }, (_, i) => this.round(first + i));
  }

  /** Whether `other` has the same phase (phase shift and cycle gap) as this schedule. */
  samePhase(other: { phaseShiftMs: number; cycleGapMs: number }): boolean {
    return other.phaseShiftMs === this.phaseShiftMs && other.cycleGapMs === this.cycleGapMs;
  }

  /** A schedule on the same network clock with another phase shift and cycle gap. */
  withPhase(phase: { phaseShiftMs: number; cycleGapMs: number }): RoundSchedule {
    return new RoundSchedule({
      genesis: this.genesis,
      epochDurationMs: this.epochDurationMs,
      phaseShiftMs: phase.phaseShiftMs,
      cycleGapMs: phase.cycleGapMs,
    });
  }
}
