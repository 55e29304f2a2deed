/**
 * @module registration/lease-waiters
 *
 * The identities a manager waits for while other workers hold their leases
 * (`whenHeldElsewhere: "wait"`, see `identity-leases.ts`), checked together: one loop wakes at the
 * earliest expiry among them, reads the lease rows of every identity due by then in one query
 * ({@link LeaseRepository.getMany}), and lets go only those whose lease is no longer live (its
 * holder stopped renewing, or released it), which then try to acquire it. The others sleep until
 * their new expiry.
 *
 * A worker of a fleet given every identity waits on two thirds of them; their holders renew every
 * third of the lease time, so each waiting identity would otherwise run an acquisition (a write
 * transaction) about every two thirds of the lease time: thousands of transactions per minute
 * that find the same live lease. Here they are a few reads.
 *
 * A read that fails (the store does not answer) is logged and tried again a little later; the
 * waiters keep waiting.
 */
import { toHex } from "../bytes.js";
import { anySignal, sleepUntil } from "../cancellation.js";
import type { Clock } from "../clock.js";
import type { Logger } from "../logger.js";
import { type Lease, type LeaseRepository, leaseIsLive } from "../storage/index.js";

/** What {@link LeaseWaiters} needs. */
export interface LeaseWaitersOptions {
  leases: Pick<LeaseRepository, "getMany">;
  clock: Clock;
  logger: Logger;
  /** This manager, as lease rows name it: a row of ours is free to acquire. */
  holder: string;
  /** Aborts every wait (the manager closed). */
  closed: AbortSignal;
  /** How long to wait before reading again after a read failed, in ms. */
  retryMs: number;
  /** Told of each live lease of another holder that a read found (to report a new holder). */
  onSeen: (lease: Lease) => void;
}

interface Waiter {
  nodeId: Uint8Array;
  wakeAt: number;
  resolve: () => void;
  reject: (reason: unknown) => void;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
}

/**
 * The identities waiting for another holder's lease to end, checked in one read at a time.
 *
 * @example
 * ```ts
 * const waiters = new LeaseWaiters({ leases: state.leases, clock, logger, closed, retryMs: 1_000,
 *   onSeen: (lease) => report(lease) });
 * await waiters.wait(current, signal); // resolves once `current`'s identity is free to acquire
 * ```
 */
export class LeaseWaiters {
  readonly #o: LeaseWaitersOptions;
  readonly #waiters = new Map<string, Waiter>();
  #loop: Promise<void> | undefined;
  /** The instant the loop sleeps until, and how to wake it earlier. */
  #sleepingUntil = Number.POSITIVE_INFINITY;
  #rewake: AbortController | undefined;
  #reads = 0;

  constructor(options: LeaseWaitersOptions) {
    this.#o = options;
  }

  /** Reads of lease rows so far (one per batch of identities due together). */
  get reads(): number {
    return this.#reads;
  }

  /** Identities waiting now. */
  get waiting(): number {
    return this.#waiters.size;
  }

  /**
   * Resolves once a read finds `current`'s identity without a live lease (no row, released or
   * expired by the clock), from `current.expiresAt` on; rejects when `signal` or the manager's
   * `closed` signal aborts. One wait per identity at a time: a second replaces the first.
   */
  wait(current: Lease, signal: AbortSignal | undefined): Promise<void> {
    const all = anySignal(signal, this.#o.closed);
    all.throwIfAborted();
    const key = toHex(current.nodeId);
    this.#waiters.get(key)?.reject(new Error("replaced by a newer wait"));
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        nodeId: current.nodeId,
        wakeAt: current.expiresAt.getTime(),
        resolve: () => {
          this.#drop(key, waiter);
          resolve();
        },
        reject: (reason) => {
          this.#drop(key, waiter);
          reject(reason);
        },
        signal: all,
        onAbort: undefined,
      };
      waiter.onAbort = () => waiter.reject(all.reason);
      all.addEventListener("abort", waiter.onAbort, { once: true });
      this.#waiters.set(key, waiter);
      if (this.#loop === undefined) {
        this.#loop = this.#run();
      } else if (waiter.wakeAt < this.#sleepingUntil) {
        this.#rewake?.abort();
      }
    });
  }

  #drop(key: string, waiter: Waiter): void {
    if (this.#waiters.get(key) === waiter) this.#waiters.delete(key);
    if (waiter.onAbort !== undefined) waiter.signal?.removeEventListener("abort", waiter.onAbort);
  }

  async #run(): Promise<void> {
    const { clock, closed } = this.#o;
    for (;;) {
      if (this.#waiters.size === 0 || closed.aborted) {
        this.#loop = undefined;
        return;
      }
      let wake = Number.POSITIVE_INFINITY;
      for (const w of this.#waiters.values()) wake = Math.min(wake, w.wakeAt);
      this.#sleepingUntil = wake;
      const rewake = new AbortController();
      this.#rewake = rewake;
      try {
        await sleepUntil(clock, wake, anySignal(closed, rewake.signal));
      } catch {
        continue; // closed (ends at the top), or a waiter due earlier joined
      } finally {
        this.#sleepingUntil = Number.POSITIVE_INFINITY;
        this.#rewake = undefined;
      }
      await this.#check();
    }
  }

  /** Reads the rows of every waiter due now, in one call, and lets go those that are free. */
  async #check(): Promise<void> {
    const { clock, closed, leases, logger, retryMs } = this.#o;
    const now = clock.now();
    const due = [...this.#waiters.values()].filter((w) => w.wakeAt <= now);
    if (due.length === 0) return;
    let rows: Lease[];
    try {
      this.#reads++;
      rows = await leases.getMany(
        due.map((w) => w.nodeId),
        { signal: closed },
      );
    } catch (err) {
      if (closed.aborted) return;
      logger.warn(
        { err, identities: due.length },
        "could not read the leases of the identities held elsewhere; reading again shortly",
      );
      const again = clock.now() + retryMs;
      for (const w of due) w.wakeAt = Math.max(w.wakeAt, again);
      return;
    }
    const at = clock.now();
    const byKey = new Map(rows.map((row) => [toHex(row.nodeId), row]));
    for (const w of due) {
      const key = toHex(w.nodeId);
      if (this.#waiters.get(key) !== w) continue; // aborted or replaced meanwhile
      const row = byKey.get(key);
      if (row === undefined || !leaseIsLive(row, at) || row.holder === this.#o.holder) {
        w.resolve();
        continue;
      }
      this.#o.onSeen(row);
      w.wakeAt = row.expiresAt.getTime();
    }
  }
}
