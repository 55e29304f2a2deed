/**
 * @module turn-budget
 *
 * Work sliced over event-loop turns. What many tasks start at once (ten thousand identities
 * reading their rows when a round ends, or starting their cycles) runs in promise callbacks, and
 * promise callbacks never give the event loop a turn: unsliced, that is one block of seconds in
 * which no socket is served. A budget lets a fixed number of steps run per turn; a step that finds
 * the budget spent waits for a later turn (`setImmediate`, which runs after pending I/O), so one
 * block is bounded by the budget whatever the number of tasks.
 *
 * Steps are counted, not timed: slices are the same on a fast and a busy machine, and tests can
 * count turns instead of measuring time. Waiters go on in the order they came. A step may weigh
 * more than one (the bytes of a body chunk, say): a turn then grants steps until their weights
 * fill the budget, and always at least one, so a step heavier than a whole turn still runs.
 */

/**
 * Lets `perTurn` steps run per event-loop turn.
 *
 * @example
 * ```ts
 * const turns = new TurnBudget(64);
 * for (const row of rows) {
 *   await turns.take(); // every 64th step waits for the next turn
 *   handle(row);
 * }
 * ```
 */
export class TurnBudget {
  readonly perTurn: number;
  #used = 0;
  /**
   * Steps waiting for a turn, first come first served, from `#head` on. Each turn grants the
   * first `perTurn` of them and wakes only those: ten thousand waiters cost one wake-up each,
   * not one per turn they wait.
   */
  #queue: Array<{ grant: () => void; cost: number } | undefined> = [];
  #head = 0;
  /** Whether a turn is scheduled (a `setImmediate` that resets the budget). */
  #scheduled = false;
  #turns = 0;

  constructor(perTurn: number) {
    this.perTurn = Math.max(1, Math.floor(perTurn));
  }

  /** How many turns this budget has started (grows by one per turn in which a step ran). */
  get turns(): number {
    return this.#turns;
  }

  /**
   * Takes one step of the current turn's budget, weighing `cost` (default 1). Returns `undefined`
   * while the turn has budget left (no need to await), otherwise a promise that resolves on a
   * later turn once the step is granted.
   */
  take(cost = 1): Promise<void> | undefined {
    const weight = Math.max(1, cost);
    if (this.#used < this.perTurn && this.#head === this.#queue.length) {
      this.#step(weight);
      return undefined;
    }
    return new Promise<void>((resolve) => {
      this.#queue.push({ grant: resolve, cost: weight });
    });
  }

  /**
   * Runs `step` as one step of the budget: at once while the current turn has budget left,
   * otherwise on a later turn, in order with the steps that {@link take} queued. The waiting
   * costs one queue entry and no promise, for callers that queue ten thousand steps in one loop.
   * `step` must not throw (a turn runs the steps it grants one after the other).
   *
   * @example
   * ```ts
   * const outcome = new Promise((resolve, reject) =>
   *   turns.run(() => {
   *     start().then(resolve, reject);
   *   }),
   * );
   * ```
   */
  run(step: () => void, cost = 1): void {
    const weight = Math.max(1, cost);
    if (this.#used < this.perTurn && this.#head === this.#queue.length) {
      this.#step(weight);
      step();
      return;
    }
    this.#queue.push({ grant: step, cost: weight });
  }

  #step(cost: number): void {
    const first = this.#used === 0;
    this.#used += cost;
    if (first) {
      this.#turns++;
      if (!this.#scheduled) {
        this.#scheduled = true;
        setImmediate(() => this.#nextTurn());
      }
    }
  }

  /** A new turn: the budget is whole again, and the first waiters get it. */
  #nextTurn(): void {
    this.#scheduled = false;
    this.#used = 0;
    while (this.#used < this.perTurn && this.#head < this.#queue.length) {
      const { grant, cost } = this.#queue[this.#head] as { grant: () => void; cost: number };
      this.#queue[this.#head] = undefined;
      this.#head++;
      this.#step(cost);
      grant();
    }
    if (this.#head === this.#queue.length) {
      this.#queue = [];
      this.#head = 0;
    } else if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
  }
}
