/**
 * @module registration/concurrency-limit
 *
 * A counting semaphore. A thousand identities registering with five PoETs make five thousand
 * submits in the same minutes; the Go node starts them all at once (docs/node-client.md §5). The
 * manager runs them through a limit so that neither the node nor the PoETs are flooded.
 */
import type { AbortOptions } from "../abort-options.js";
import { abortedError } from "../errors.js";

/**
 * A task waiting for a slot. It is its own abort listener (`handleEvent`): fifty thousand queued
 * submits hold no closures of their own, only this object and their promise.
 */
class Waiter {
  gone = false;
  readonly #signal: AbortSignal | undefined;
  readonly #limit: ConcurrencyLimit;
  readonly #resolve: () => void;
  readonly #reject: (err: unknown) => void;

  constructor(
    limit: ConcurrencyLimit,
    signal: AbortSignal | undefined,
    resolve: () => void,
    reject: (err: unknown) => void,
  ) {
    this.#limit = limit;
    this.#signal = signal;
    this.#resolve = resolve;
    this.#reject = reject;
    signal?.addEventListener("abort", this, { once: true });
  }

  /** Its turn came: the slot is its. */
  grant(): void {
    this.#signal?.removeEventListener("abort", this);
    this.#resolve();
  }

  /** The signal aborted: left in place and skipped when its turn comes (no queue search). */
  handleEvent(): void {
    this.gone = true;
    this.#limit.waiterGone();
    this.#reject(abortedError(this.#signal as AbortSignal));
  }
}

/** What {@link ConcurrencyLimit.acquire} returns when a slot is free at once. */
const SLOT_TAKEN: Promise<void> = Promise.resolve();

/**
 * Runs at most `limit` tasks at a time, in arrival order.
 *
 * @example
 * ```ts
 * const limit = new ConcurrencyLimit(16);
 * await Promise.all(requests.map((r) => limit.run(() => send(r), { signal })));
 * ```
 */
export class ConcurrencyLimit {
  readonly limit: number;
  #active = 0;
  /** Waiters from `#head` on; a long queue (fifty thousand submits) is never shifted. */
  #queue: Array<Waiter | undefined> = [];
  #head = 0;
  /** Waiters in the queue whose signal aborted. */
  #gone = 0;

  constructor(limit: number) {
    this.limit = Math.max(1, Math.floor(limit));
  }

  /** Tasks running now. */
  get active(): number {
    return this.#active;
  }

  /** Tasks waiting for a slot. */
  get waiting(): number {
    return this.#queue.length - this.#head - this.#gone;
  }

  /** Runs `task` when a slot is free; rejects with `AbortedError` if `signal` aborts first. */
  async run<T>(task: () => Promise<T>, options: AbortOptions = {}): Promise<T> {
    await this.acquire(options);
    try {
      return await task();
    } finally {
      this.release();
    }
  }

  /**
   * Takes a slot, waiting for one in arrival order; rejects with `AbortedError` if `signal`
   * aborts first. Give it back with {@link release}, once.
   */
  acquire(options: AbortOptions = {}): Promise<void> {
    const { signal } = options;
    if (signal?.aborted) return Promise.reject(abortedError(signal));
    if (this.#active < this.limit) {
      this.#active++;
      return SLOT_TAKEN;
    }
    return new Promise<void>((resolve, reject) => {
      this.#queue.push(new Waiter(this, signal, resolve, reject));
    });
  }

  /** Gives a slot taken with {@link acquire} back: the next waiter gets it. */
  release(): void {
    this.#release();
  }

  /** A queued waiter's signal aborted: it stays in the queue, counted out. */
  waiterGone(): void {
    this.#gone++;
  }

  #release(): void {
    for (;;) {
      const next = this.#queue[this.#head];
      if (next === undefined) break;
      this.#queue[this.#head] = undefined;
      this.#head++;
      if (next.gone) {
        this.#gone--;
        continue;
      }
      this.#compact();
      next.grant();
      return;
    }
    this.#compact();
    this.#active--;
  }

  /** Drops the granted head of the queue once it is half of the array. */
  #compact(): void {
    if (this.#head === this.#queue.length) {
      this.#queue = [];
      this.#head = 0;
    } else if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
  }
}
