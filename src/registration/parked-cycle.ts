/**
 * @module registration/parked-cycle
 *
 * An identity's cycle that waits without a suspended call (docs/embedding.md, Several
 * identities, Memory). Ten thousand identities wait together: for an admission slot before their
 * background registration is made, for its first success, for the rest of it
 * (`registration-follower.ts`), and for their PoETs' proofs from the registration to the round's
 * end (two weeks on mainnet). Awaited, each wait kept the whole chain
 * of the cycle's async calls alive, their promises, contexts and locals: several kilobytes per
 * identity, most of what an identity held. Parked, the cycle is a small record of what it goes on
 * with, and the manager's own call for the identity resumes it when it is woken.
 */

import type { NiPostOutcome } from "./nipost.js";

/** Where a cycle stands when its call returns: ended with an outcome, or parked. */
export type CycleResult = NiPostOutcome | ParkedCycle;

/**
 * A cycle waiting to be woken. `park` is given the function that wakes it (to be called once, by
 * whatever ends the wait: a promise, a timer, an abort); `resume` goes on with the cycle, and
 * reports an abort that woke it by rejecting.
 *
 * @example
 * ```ts
 * const goOn = (result: CycleResult): void => {
 *   if (result instanceof ParkedCycle) result.park((next) => next.then(goOn, onFailure));
 *   else onOutcome(result);
 * };
 * runIdentityCycle(ctx, signer, request, signal).then(goOn, onFailure);
 * ```
 */
export class ParkedCycle {
  readonly #park: (wake: () => void) => void;
  readonly #resume: () => Promise<CycleResult>;

  constructor(park: (wake: () => void) => void, resume: () => Promise<CycleResult>) {
    this.#park = park;
    this.#resume = resume;
  }

  /**
   * Waits parked, then calls `resumed` once with the cycle going on (its outcome, or parked
   * again; a failure to park or to go on rejects it). While parked, the wait is two small
   * closures: no promise, so an identity parked for two weeks holds no promise chain.
   *
   * @example
   * ```ts
   * parked.park((next) => next.then(onResult, onFailure));
   * ```
   */
  park(resumed: (next: Promise<CycleResult>) => void): void {
    let woken = false;
    const wake = (): void => {
      if (woken) return;
      woken = true;
      // Goes on in a microtask of its own, not inside whatever woke it (an abort's dispatch, a
      // timer, a promise's reaction).
      resumed(Promise.resolve().then(this.#resume));
    };
    try {
      this.#park(wake);
    } catch (err) {
      if (woken) return;
      woken = true;
      resumed(Promise.reject(err));
    }
  }
}

/**
 * Calls `wake` once, when `promise` settles or `signal` aborts, whichever comes first (at once
 * when it has aborted already). What the promise gave is for the woken code to read.
 *
 * @example
 * ```ts
 * return new ParkedCycle(
 *   (wake) => wakeOnSettled(run.firstSuccess, signal, wake),
 *   () => goOn(),
 * );
 * ```
 */
export function wakeOnSettled(
  promise: Promise<unknown>,
  signal: AbortSignal,
  wake: () => void,
): void {
  const once = new WakeOnce(signal, wake);
  // Handled here whatever comes first: the woken code reads the outcome itself.
  promise.then(
    () => once.handleEvent(),
    () => once.handleEvent(),
  );
  if (signal.aborted) once.handleEvent();
  else signal.addEventListener("abort", once, { once: true });
}

/** Wakes once, and stops listening to the signal then (its own abort listener). */
class WakeOnce {
  #woken = false;

  constructor(
    readonly signal: AbortSignal,
    readonly wake: () => void,
  ) {}

  handleEvent(): void {
    if (this.#woken) return;
    this.#woken = true;
    this.signal.removeEventListener("abort", this);
    this.wake();
  }
}
