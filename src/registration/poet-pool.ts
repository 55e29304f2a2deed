/**
 * @module registration/poet-pool
 *
 * The configured PoETs and what every identity shares about them: one client each, and one
 * `info()` per PoET and round, whose phase must match the node's (docs/node-client.md §2.3, §5;
 * docs/protocol.md §3.1, §6).
 *
 * The Go node exits when a PoET's phase shift differs from its own and never compares the cycle
 * gap. Here a PoET whose phase shift or cycle gap differs is left out of the round, reported once
 * as a `phase-mismatch` event, and the other PoETs carry on. A configured service key is compared
 * with the one `info()` reports. A failed `info()` is not cached, so the next attempt asks again.
 */

import type { AbortOptions } from "../abort-options.js";
import { raceAbort } from "../abortable.js";
import { equalBytes } from "../bytes.js";
import { withTimeout } from "../cancellation.js";
import type { Clock } from "../clock.js";
import { RegistrationRejectedError } from "../errors.js";
import type { RoundSchedule } from "../schedule/index.js";
import type { RegistrationEvent } from "./events.js";
import type { RegistrationPoetClient } from "./poet-client-port.js";

/** A configured PoET with its client. */
export interface PoetEntry {
  /** Normalised address: the key of its registrations. */
  address: string;
  /** The configured service key, if any. */
  pubkey: Uint8Array | undefined;
  client: RegistrationPoetClient;
}

/** The phase of a PoET that matches the node's, with its service key. */
export interface PoetPhase {
  servicePubkey: Uint8Array;
  phaseShiftMs: number;
  cycleGapMs: number;
}

/**
 * The PoETs in use and their shared, per-round `info()`.
 *
 * @example
 * ```ts
 * const phase = await pool.phase(entry, round, { signal }); // throws RegistrationRejectedError on mismatch
 * ```
 */
export class PoetPool {
  #schedule: RoundSchedule;
  #retired: PoetEntry[] = [];
  readonly #clock: Clock;
  readonly #emit: (event: RegistrationEvent) => void;
  readonly #requestTimeoutMs: number;
  readonly #signal: AbortSignal;
  readonly #phases = new Map<string, Promise<PoetPhase>>();
  #entries: PoetEntry[];
  #addressSet: ReadonlySet<string> | undefined;

  constructor(init: {
    entries: PoetEntry[];
    schedule: RoundSchedule;
    clock: Clock;
    emit: (event: RegistrationEvent) => void;
    requestTimeoutMs: number;
    signal: AbortSignal;
  }) {
    this.#entries = init.entries;
    this.#schedule = init.schedule;
    this.#clock = init.clock;
    this.#emit = init.emit;
    this.#requestTimeoutMs = init.requestTimeoutMs;
    this.#signal = init.signal;
  }

  /** The PoETs in use. */
  get entries(): readonly PoetEntry[] {
    return this.#entries;
  }

  /** Their addresses. */
  get addresses(): string[] {
    return this.#entries.map((e) => e.address);
  }

  /**
   * Their addresses as a set, made once per PoET set (a {@link replace} makes a new one and leaves
   * this one as it is): every identity's cycle holds the set it started with.
   */
  get addressSet(): ReadonlySet<string> {
    this.#addressSet ??= new Set(this.addresses);
    return this.#addressSet;
  }

  /** The entry with this address, configured or retired. */
  get(address: string): PoetEntry | undefined {
    return (
      this.#entries.find((e) => e.address === address) ??
      this.#retired.find((e) => e.address === address)
    );
  }

  /**
   * The pool's own string for this address when it knows the PoET, else the address as given.
   * Rows read from the node state carry a fresh string each: a cycle keeps the pool's instead, so
   * ten thousand identities × five PoETs share five strings, not ten copies per identity.
   */
  canonicalAddress(address: string): string {
    return this.get(address)?.address ?? address;
  }

  /** Whether a PoET that left the set is still kept to fetch the proofs of running rounds. */
  isRetired(address: string): boolean {
    return this.#retired.some((e) => e.address === address);
  }

  /** Every entry, configured and retired, for closing. */
  get all(): readonly PoetEntry[] {
    return [...this.#entries, ...this.#retired];
  }

  /**
   * Replaces the PoET set. The PoETs that left stay reachable through {@link get} as retired, so
   * that rounds already running at them can still deliver their proofs.
   */
  replace(entries: PoetEntry[], schedule: RoundSchedule): void {
    const keep = new Set(entries.map((e) => e.address));
    const removed = this.#entries.filter((e) => !keep.has(e.address));
    this.#retired = [...this.#retired.filter((e) => !keep.has(e.address)), ...removed];
    this.#entries = entries;
    this.#addressSet = undefined;
    this.#schedule = schedule;
    this.#phases.clear();
  }

  /**
   * The PoET's phase for `round`, fetched once per PoET and round and shared. Rejects with
   * `RegistrationRejectedError` (`phase-mismatch` or `wrong-service-key`) when the PoET cannot
   * serve this node, or with the `info()` error (not cached) when it could not be asked.
   */
  phase(entry: PoetEntry, round: number, options: AbortOptions = {}): Promise<PoetPhase> {
    const key = `${entry.address} ${round}`;
    let cached = this.#phases.get(key);
    if (cached === undefined) {
      const started = this.#check(entry);
      cached = started;
      this.#phases.set(key, started);
      started.catch((err: unknown) => {
        if (!(err instanceof RegistrationRejectedError) && this.#phases.get(key) === started) {
          this.#phases.delete(key);
        }
      });
    }
    return raceAbort(cached, options.signal);
  }

  /** Forgets cached phases of rounds before `round`. */
  prune(round: number): void {
    for (const key of this.#phases.keys()) {
      if (Number(key.slice(key.lastIndexOf(" ") + 1)) < round) this.#phases.delete(key);
    }
  }

  async #check(entry: PoetEntry): Promise<PoetPhase> {
    const info = await withTimeout(
      this.#clock,
      this.#requestTimeoutMs,
      `GET info from ${entry.address}`,
      this.#signal,
      (signal) => entry.client.info({ signal }),
    );
    if (entry.pubkey !== undefined && !equalBytes(entry.pubkey, info.servicePubkey)) {
      throw new RegistrationRejectedError(
        entry.address,
        "wrong-service-key",
        "the PoET's service key is not the configured one",
      );
    }
    const expected = {
      phaseShiftMs: this.#schedule.phaseShiftMs,
      cycleGapMs: this.#schedule.cycleGapMs,
    };
    const actual = { phaseShiftMs: info.phaseShiftMs, cycleGapMs: info.cycleGapMs };
    if (!this.#schedule.samePhase(actual)) {
      const error = new RegistrationRejectedError(
        entry.address,
        "phase-mismatch",
        `the PoET runs phase shift ${actual.phaseShiftMs} ms / cycle gap ${actual.cycleGapMs} ms, ` +
          `the node ${expected.phaseShiftMs} ms / ${expected.cycleGapMs} ms`,
      );
      this.#emit({
        type: "phase-mismatch",
        at: new Date(this.#clock.now()),
        poet: entry.address,
        expected,
        actual,
        error,
      });
      throw error;
    }
    return { servicePubkey: info.servicePubkey, ...actual };
  }
}
