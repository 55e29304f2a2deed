/**
 * @module client/shared-cache
 *
 * A value fetched from a server and kept for a while: the PoET's info and PoW parameters
 * (docs/node-client.md §2.3, where both are cached for 5 minutes). Callers that arrive while a
 * fetch is running share that fetch instead of queuing behind it or starting their own — the Go
 * node holds a mutex for the whole request, so N identities wait N times as long. Failures are
 * not cached. Each caller's signal ends only that caller's wait; the shared fetch keeps going for
 * the others (it has its own time limit).
 */
import type { AbortOptions } from "../abort-options.js";
import { raceAbort } from "../abortable.js";
import type { Clock } from "../clock.js";
import { throwIfAborted } from "../errors.js";

/** Options of {@link SharedCache.get}. */
export interface SharedCacheGetOptions extends AbortOptions {
  /** Ignore a cached value and fetch again (a running fetch is still shared). */
  fresh?: boolean | undefined;
}

/**
 * One cached value with a time to live on a {@link Clock}.
 *
 * @example
 * ```ts
 * const info = new SharedCache(clock, 300_000, () => fetchInfo());
 * await info.get({ signal });
 * ```
 */
export class SharedCache<T> {
  readonly #clock: Clock;
  readonly #ttlMs: number;
  readonly #fetch: () => Promise<T>;
  #value: { value: T; until: number } | undefined;
  #inFlight: Promise<T> | undefined;

  constructor(clock: Clock, ttlMs: number, fetch: () => Promise<T>) {
    this.#clock = clock;
    this.#ttlMs = ttlMs;
    this.#fetch = fetch;
  }

  /** The cached value, or the result of the fetch in flight, or of a new one. */
  async get(options: SharedCacheGetOptions = {}): Promise<T> {
    const { signal } = options;
    throwIfAborted(signal);
    const cached = this.#value;
    if (!options.fresh && cached !== undefined && this.#clock.now() < cached.until) {
      return cached.value;
    }
    let inFlight = this.#inFlight;
    if (inFlight === undefined) {
      inFlight = this.#fetch().then(
        (value) => {
          this.#value = { value, until: this.#clock.now() + this.#ttlMs };
          this.#inFlight = undefined;
          return value;
        },
        (err: unknown) => {
          this.#inFlight = undefined;
          throw err;
        },
      );
      this.#inFlight = inFlight;
    }
    return raceAbort(inFlight, signal);
  }
}
