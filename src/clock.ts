/**
 * @module clock
 *
 * All time in the library comes from a {@link Clock}: "now" and sleeping. Production code uses
 * {@link systemClock}; tests use {@link ManualClock} (exported from `spacemesh-poet-client/testing`)
 * and move time forward by hand, so that a two-week round is tested in milliseconds and no test
 * ever sleeps.
 */
import type { AbortOptions } from "./abort-options.js";
import { abortedError } from "./errors.js";

/** A source of time. */
export interface Clock {
  /** Unix milliseconds. */
  now(): number;
  /** Resolves after `ms` milliseconds of this clock's time; rejects with `AbortedError` on abort. */
  sleep(ms: number, options?: AbortOptions): Promise<void>;
  /**
   * Optional: calls `onTime` after `ms` milliseconds of this clock's time, unless the returned
   * function is called first. The time limit of every request runs on it when the clock has it
   * (a `sleep` needs a promise, an abort controller and an abort event to stop, tens of thousands
   * of times per round with many identities); without it, `sleep` is used.
   */
  setTimer?(ms: number, onTime: () => void): () => void;
}

/** The real clock: `Date.now()` and `setTimeout`. */
export const systemClock: Clock = {
  now: () => Date.now(),
  sleep(ms, options = {}) {
    const { signal } = options;
    return new Promise<void>((resolve, reject) => {
      if (signal?.aborted) {
        reject(abortedError(signal));
        return;
      }
      const onAbort = () => {
        clearTimeout(timer);
        reject(abortedError(signal as AbortSignal));
      };
      const timer = setTimeout(
        () => {
          signal?.removeEventListener("abort", onAbort);
          resolve();
        },
        Math.max(0, ms),
      );
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  },
  setTimer(ms, onTime) {
    const timer = setTimeout(onTime, Math.max(0, ms));
    return () => clearTimeout(timer);
  },
};

interface Sleeper {
  at: number;
  /** Order of arrival: sleepers due at the same time wake in the order they went to sleep. */
  seq: number;
  /** What runs when it is due ({@link NOTHING} once dropped: a dropped sleeper keeps nothing). */
  resolve: () => void;
  /**
   * Woken, or dropped (its signal aborted, its timer stopped): a dropped one is skipped when its
   * time comes (no search through ten thousand sleepers).
   */
  gone?: boolean;
}

/** A dropped sleeper's `resolve`. */
const NOTHING = (): void => {};

/**
 * A clock that moves only when told to. Sleepers wake, in time order, when {@link advance} or
 * {@link set} passes their wake-up time.
 *
 * @example
 * ```ts
 * const clock = new ManualClock(Date.parse("2024-09-16T08:00:00Z"));
 * const done = clock.sleep(60_000);
 * await clock.advance(60_000); // `done` resolves
 * ```
 */
export class ManualClock implements Clock {
  #now: number;
  /**
   * Sleepers in a binary min-heap by (wake-up time, arrival): going to sleep and waking cost
   * O(log n), where a sorted array cost a move of every later sleeper (ten thousand identities,
   * each with requests under a time limit, sleep at once).
   */
  #sleepers: Sleeper[] = [];
  #gone = 0;
  #seq = 0;

  constructor(start: number | Date = 0) {
    this.#now = typeof start === "number" ? start : start.getTime();
  }

  now(): number {
    return this.#now;
  }

  /** How many sleepers are waiting. */
  get pending(): number {
    return this.#sleepers.length - this.#gone;
  }

  /** The earliest wake-up time of a sleeper, if any. */
  nextWakeup(): number | undefined {
    return this.#first()?.at;
  }

  sleep(ms: number, options: AbortOptions = {}): Promise<void> {
    const { signal } = options;
    return new Promise<void>((resolve, reject) => {
      if (signal?.aborted) {
        reject(abortedError(signal));
        return;
      }
      const sleeper: Sleeper = {
        at: this.#now + Math.max(0, ms),
        seq: this.#seq++,
        resolve: () => {
          signal?.removeEventListener("abort", onAbort);
          resolve();
        },
      };
      const onAbort = () => {
        this.#drop(sleeper);
        reject(abortedError(signal as AbortSignal));
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      heapPush(this.#sleepers, sleeper);
    });
  }

  setTimer(ms: number, onTime: () => void): () => void {
    // The record itself is the timer: `set` marks it gone before it runs `onTime`.
    const sleeper: Sleeper = { at: this.#now + Math.max(0, ms), seq: this.#seq++, resolve: onTime };
    heapPush(this.#sleepers, sleeper);
    return () => {
      if (sleeper.gone !== true) this.#drop(sleeper);
    };
  }

  /** Marks a sleeper in the heap gone (skipped when its time comes). */
  #drop(sleeper: Sleeper): void {
    sleeper.gone = true;
    // Until the heap is compacted or its time comes, the record keeps nothing alive (a stopped
    // request time limit would otherwise keep its controller and closures for the whole limit).
    sleeper.resolve = NOTHING;
    this.#gone++;
    // Sleepers far in the future (a request's time limit) would pile up: drop them in bulk.
    if (this.#gone > 1024 && this.#gone * 2 > this.#sleepers.length) {
      this.#sleepers = this.#sleepers.filter((s) => s.gone !== true);
      this.#gone = 0;
      heapify(this.#sleepers);
    }
  }

  /**
   * Moves time to the earliest sleeper's wake-up time and wakes every sleeper due then, so that a
   * test steps from one timer to the next instead of by a fixed amount. With no sleeper due by
   * `limit`, time moves to `limit` (when given) and nothing wakes.
   *
   * @returns whether a sleeper was woken.
   * @example
   * ```ts
   * const clock = new ManualClock(0);
   * const done = clock.sleep(90_000);
   * await clock.advanceToNextWakeup(); // now() === 90_000 and `done` resolves
   * ```
   */
  async advanceToNextWakeup(limit?: number | Date): Promise<boolean> {
    const max = limit === undefined ? Number.POSITIVE_INFINITY : +limit;
    const next = this.#first()?.at;
    if (next === undefined || next > max) {
      if (limit !== undefined) await this.set(max);
      return false;
    }
    await this.set(next);
    return true;
  }

  /** Moves time forward by `ms`, waking every sleeper due on the way, in order. */
  async advance(ms: number): Promise<void> {
    await this.set(this.#now + ms);
  }

  /** Moves time to `to` (never backwards), waking every sleeper due on the way, in order. */
  async set(to: number | Date): Promise<void> {
    const target = typeof to === "number" ? to : to.getTime();
    for (;;) {
      const next = this.#first();
      if (next === undefined || next.at > target) break;
      heapPop(this.#sleepers);
      this.#now = Math.max(this.#now, next.at);
      next.gone = true;
      next.resolve();
      // Let the woken task run (and perhaps sleep again) before moving on.
      await flushMicrotasks();
    }
    this.#now = Math.max(this.#now, target);
    await flushMicrotasks();
  }

  /** The earliest sleeper that is not gone (gone ones on top are dropped). */
  #first(): Sleeper | undefined {
    for (;;) {
      const top = this.#sleepers[0];
      if (top?.gone !== true) return top;
      heapPop(this.#sleepers);
      this.#gone--;
    }
  }
}

/** Whether sleeper `a` wakes before `b`. */
function before(a: Sleeper, b: Sleeper): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}

function heapPush(heap: Sleeper[], item: Sleeper): void {
  heap.push(item);
  siftUp(heap, heap.length - 1);
}

function heapPop(heap: Sleeper[]): void {
  const last = heap.pop();
  if (last === undefined || heap.length === 0) return;
  heap[0] = last;
  siftDown(heap, 0);
}

function heapify(heap: Sleeper[]): void {
  for (let i = (heap.length >>> 1) - 1; i >= 0; i--) siftDown(heap, i);
}

function siftUp(heap: Sleeper[], from: number): void {
  let i = from;
  const item = heap[i] as Sleeper;
  while (i > 0) {
    const parent = (i - 1) >>> 1;
    const p = heap[parent] as Sleeper;
    if (!before(item, p)) break;
    heap[i] = p;
    i = parent;
  }
  heap[i] = item;
}

function siftDown(heap: Sleeper[], from: number): void {
  const n = heap.length;
  let i = from;
  const item = heap[i] as Sleeper;
  for (;;) {
    const left = 2 * i + 1;
    if (left >= n) break;
    const right = left + 1;
    const child = right < n && before(heap[right] as Sleeper, heap[left] as Sleeper) ? right : left;
    if (!before(heap[child] as Sleeper, item)) break;
    heap[i] = heap[child] as Sleeper;
    i = child;
  }
  heap[i] = item;
}

async function flushMicrotasks(): Promise<void> {
  for (let i = 0; i < 20; i++) await Promise.resolve();
}
