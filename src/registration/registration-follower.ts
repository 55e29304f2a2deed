/**
 * @module registration/registration-follower
 *
 * An identity's cycle that has one registration and waits for the rest of its background
 * registration (docs/node-client.md §1.3, §1.5): every PoET that accepts meanwhile widens the set of
 * PoETs whose proofs are asked for, and the run's end or the round start ends the wait. With a
 * PoET down, ten thousand identities wait here until the round starts; parked
 * (`parked-cycle.ts`), each is this object, not a suspended call.
 */

import { atTime } from "../cancellation.js";
import type { Clock } from "../clock.js";
import type { PoetRegistration } from "../storage/index.js";
import type { RegistrationRun } from "./registration-run.js";

/**
 * What a cycle parked on its background registration hears of it: each PoET that accepts (in
 * order), the run's end, and the round start. Wakes the parked cycle once per park, as its own
 * abort listener. {@link stop} when the cycle goes on without it.
 *
 * @example
 * ```ts
 * const follower = new RegistrationFollower(run, watchers, clock, registrationDeadlineMs, signal);
 * const parked = new ParkedCycle((wake) => follower.park(wake), async () => {
 *   follower.throwIfFailed();
 *   const accepted = follower.accepted.shift(); // one more PoET holds the challenge
 *   // …, or `follower.finished`: every PoET has had its answer
 * });
 * ```
 */
export class RegistrationFollower {
  readonly accepted: PoetRegistration[] = [];
  finished = false;
  #failure: { error: unknown } | undefined;
  #wake: (() => void) | undefined;
  readonly #watcher = (accepted: PoetRegistration) => {
    this.accepted.push(accepted);
    this.#fire();
  };
  readonly #stopTimer: () => void;

  constructor(
    readonly run: RegistrationRun,
    readonly watchers: Set<(accepted: PoetRegistration) => void> | undefined,
    readonly clock: Clock,
    readonly deadline: number,
    readonly signal: AbortSignal,
  ) {
    watchers?.add(this.#watcher);
    run.done.then(
      () => {
        this.finished = true;
        this.#fire();
      },
      (error: unknown) => {
        this.#failure = { error };
        this.#fire();
      },
    );
    this.#stopTimer = atTime(clock, deadline, () => this.#fire());
  }

  /** Calls `wake` once there is something to go on with (at once when there is already). */
  park(wake: () => void): void {
    if (
      this.accepted.length > 0 ||
      this.finished ||
      this.#failure !== undefined ||
      this.signal.aborted ||
      this.clock.now() >= this.deadline
    ) {
      wake();
      return;
    }
    this.#wake = wake;
    this.signal.addEventListener("abort", this, { once: true });
  }

  /** Rethrows the run's failure, if it failed. */
  throwIfFailed(): void {
    if (this.#failure !== undefined) throw this.#failure.error;
  }

  /** The cycle's signal aborted. */
  handleEvent(): void {
    this.#fire();
  }

  /** Stops hearing of the run. */
  stop(): void {
    this.watchers?.delete(this.#watcher);
    this.#stopTimer();
    this.#wake = undefined;
    this.signal.removeEventListener("abort", this);
  }

  #fire(): void {
    const wake = this.#wake;
    if (wake === undefined) return;
    this.#wake = undefined;
    this.signal.removeEventListener("abort", this);
    wake();
  }
}
