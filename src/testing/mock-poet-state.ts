/**
 * @module testing/mock-poet-state
 *
 * The rounds of a mock PoET: who registered in which round, each round's statement and proof
 * (docs/protocol.md §3.1, §3.2, §4.2).
 *
 * State is derived from the clock lazily: every request first calls {@link MockPoetRounds.sync},
 * which performs every transition whose instant has passed — close round `n` at `RoundStart(n)`
 * (its statement becomes the membership root of its members ordered by node id, the order the
 * real server's database gives), prove it at `RoundEnd(n)`. Nothing sleeps, so a `ManualClock`
 * moved forward is all a test needs, and a mock leaves no timer that could keep a process alive.
 *
 * As on the real server, rounds are numbered from the round open when the mock starts, every
 * round is proven even when nobody registered (its statement is then empty), each proof rotates
 * the PoW challenge to its root, and a round whose end passed long ago (a large clock jump) is
 * skipped rather than proven when it has no members, the way a server that was down across a
 * whole execution window skips it.
 */
import { compareBytes, toHex } from "../bytes.js";
import type { Clock } from "../clock.js";
import { membershipRoot } from "../membership/index.js";
import type { RoundSchedule } from "../schedule/index.js";
import type { PoetProof } from "../wire/index.js";
import type { PowVerifier } from "./pow-check.js";
import { prove } from "./prover.js";

/** One registration: a node id and the challenge it registered. */
export interface MockRegistration {
  pubkey: Uint8Array;
  challenge: Uint8Array;
}

/** What the mock knows about one round. */
export interface MockRound {
  /** Round number; its id on the wire is `String(round)`. */
  round: number;
  /** Registrations in node-id order. */
  registrations: MockRegistration[];
  /** Set once the round started: the members (challenges, node-id order) and their root. */
  closed?: { members: Uint8Array[]; statement: Uint8Array };
  /** Set once the round ended and was proven. */
  proof?: PoetProof;
  /** True when the round was skipped (its end passed before the mock got to prove it). */
  skipped?: boolean;
  /** How many times its proof was served (each a download by some client). */
  proofsServed?: number;
}

/** Outcome of a registration attempt. */
export type RegisterOutcome =
  | { kind: "registered" | "duplicate"; round: number }
  | { kind: "full"; round: number }
  | { kind: "conflict"; round: number };

/** Settings of {@link MockPoetRounds}. */
export interface MockPoetRoundsOptions {
  schedule: RoundSchedule;
  clock: Clock;
  pow: PowVerifier;
  /** Leaves proven in round `round`. */
  leavesFor: (round: number) => bigint;
  /** `T`, the leaves each proof opens; default 150 (the prover's). */
  securityParam?: number | undefined;
  /** Challenges left out of every round closed from now on (fault injection). */
  omitted: () => ReadonlySet<string>;
  /** Called after each proof, e.g. to report progress. */
  onProof?: (round: MockRound) => void;
}

/** Rounds whose end is this far in the past (in rounds) are skipped when empty. */
const CATCH_UP_ROUNDS = 8;

/**
 * The statement of a round: the membership root of its members, or empty bytes for a round
 * without members (what the real server proves then).
 */
export function roundStatement(members: readonly Uint8Array[]): Uint8Array {
  return members.length === 0 ? new Uint8Array(0) : membershipRoot(members);
}

/**
 * The round book of one mock PoET.
 *
 * @example
 * ```ts
 * const rounds = new MockPoetRounds({ schedule, clock, pow, leavesFor: () => 1000n, omitted: () => new Set() });
 * rounds.sync();
 * rounds.register(pubkey, challenge, 100);
 * ```
 */
export class MockPoetRounds {
  readonly #options: MockPoetRoundsOptions;
  readonly #rounds = new Map<number, MockRound>();
  #nextToClose: number;
  #nextToProve: number;

  constructor(options: MockPoetRoundsOptions) {
    this.#options = options;
    this.#nextToClose = options.schedule.openRound(new Date(options.clock.now()));
    this.#nextToProve = this.#nextToClose;
  }

  /** The round open for registration at the clock's now. */
  openRound(): number {
    return this.#options.schedule.openRound(new Date(this.#options.clock.now()));
  }

  /** Performs every round transition due at the clock's now. */
  sync(): void {
    const now = this.#options.clock.now();
    const open = this.#options.schedule.openRound(new Date(now));
    while (this.#nextToClose < open) this.#close(this.#round(this.#nextToClose++));
    while (
      this.#nextToProve < this.#nextToClose &&
      this.#options.schedule.roundEnd(this.#nextToProve).getTime() <= now
    ) {
      const round = this.#round(this.#nextToProve++);
      const stale = this.#nextToClose - round.round > CATCH_UP_ROUNDS;
      if (stale && round.registrations.length === 0) round.skipped = true;
      else this.#prove(round);
    }
  }

  /** Registers `challenge` for `pubkey` in the open round, with the server's limit and conflict rules. */
  register(pubkey: Uint8Array, challenge: Uint8Array, maxMembers: number): RegisterOutcome {
    const roundNumber = this.openRound();
    const round = this.#round(roundNumber);
    if (round.registrations.length >= maxMembers) return { kind: "full", round: roundNumber };
    // The list stays in node-id order: a binary search finds the key or where it goes (a linear
    // search and a sort per registration made ten thousand registrations quadratic).
    const list = round.registrations;
    let low = 0;
    let high = list.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      const order = compareBytes((list[mid] as MockRegistration).pubkey, pubkey);
      if (order === 0) {
        return compareBytes((list[mid] as MockRegistration).challenge, challenge) === 0
          ? { kind: "duplicate", round: roundNumber }
          : { kind: "conflict", round: roundNumber };
      }
      if (order < 0) low = mid + 1;
      else high = mid;
    }
    list.splice(low, 0, { pubkey: pubkey.slice(), challenge: challenge.slice() });
    return { kind: "registered", round: roundNumber };
  }

  /** The round with wire id `roundId` (exact decimal text, as the server's database keys). */
  byId(roundId: string): MockRound | undefined {
    if (!/^(0|[1-9][0-9]*)$/.test(roundId)) return undefined;
    return this.#rounds.get(Number(roundId));
  }

  /** Round `round`, when the mock has seen it. */
  get(round: number): MockRound | undefined {
    return this.#rounds.get(round);
  }

  /** Every round the mock has seen, oldest first. */
  list(): MockRound[] {
    return [...this.#rounds.values()].sort((a, b) => a.round - b.round);
  }

  #round(round: number): MockRound {
    let record = this.#rounds.get(round);
    if (record === undefined) {
      record = { round, registrations: [] };
      this.#rounds.set(round, record);
    }
    return record;
  }

  #close(round: MockRound): void {
    const omitted = this.#options.omitted();
    const members = round.registrations
      .map((r) => r.challenge)
      .filter((challenge) => !omitted.has(toHex(challenge)));
    round.closed = { members, statement: roundStatement(members) };
  }

  #prove(round: MockRound): void {
    const statement = round.closed?.statement ?? new Uint8Array(0);
    let proof: PoetProof;
    try {
      proof = prove(statement, this.#options.leavesFor(round.round), {
        securityParam: this.#options.securityParam,
      });
    } catch {
      // A leaf count the prover refuses (from a custom leavesPerRound function): no proof, like a
      // round the server could not execute.
      round.skipped = true;
      return;
    }
    round.proof = proof;
    this.#options.pow.rotate(proof.root);
    this.#options.onProof?.(round);
  }
}
