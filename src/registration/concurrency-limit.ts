/**
 * @module registration/concurrency-limit
 *
 * A counting semaphore. A thousand identities registering with five PoETs make five thousand
 * submits in the same minutes; the Go node starts them all at once (docs/node-client.md §5). The
 * manager runs them through a limit so that neither the node nor the PoETs are flooded.
 */
import { throwIfAborted } from "../errors.js";

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
  #queue: Array<() => void> = [];

  constructor(limit: number) {
    this.limit = Math.max(1, Math.floor(limit));
  }

  /** Tasks running now. */
  get active(): number {
    return this.#active;
  }

  /** Tasks waiting for a slot. */
  get waiting(): number {
    return this.#queue.length;
  }

  /** Runs `task` when a slot is free; rejects with `AbortedError` if `signal` aborts first. */
  async run<T>(task: () => Promise<T>, options: { signal?: AbortSignal } = {}): Promise<T> {
    await this.#acquire(options.signal);
    try {
      return await task();
    } finally {
      this.#release();
    }
  }

  async #acquire(signal: AbortSignal | undefined): Promise<void> {
    throwIfAborted(signal);
    if (this.#active < this.limit) {
      this.#active++;
      return;
    }
    await new Promise<void>((resolve, reject) => {
      const grant = () => {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      };
      const onAbort = () => {
        this.#queue = this.#queue.filter((g) => g !== grant);
        try {
          throwIfAborted(signal);
        } catch (err) {
          reject(err);
        }
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.#queue.push(grant);
    });
  }

  #release(): void {
    const next = this.#queue.shift();
    if (next) next();
    else this.#active--;
  }
}
