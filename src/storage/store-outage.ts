/**
 * @module storage/store-outage
 *
 * What an operator sees of a store that blips (a PostgreSQL restart or failover, a broken
 * connection, a busy SQLite file): one warning when the first call fails retriably
 * (`transient-failure.ts`), one line when a call succeeds again, with how long it lasted and how
 * many calls failed meanwhile — not one line per failed write, which with thousands of identities
 * would bury the log. While it lasts, {@link StoreOutage.current} says since when, how many calls
 * failed and the last failure; `NodeState.outage` shows it (docs/operator-guide.md, "running a
 * fleet").
 */
import { type Clock, systemClock } from "../clock.js";
import type { StorageError } from "../errors.js";
import { type Logger, silentLogger } from "../logger.js";

/** An outage of the node state's store, while it lasts. */
export interface StoreOutageStatus {
  /** When the first call failed retriably. */
  since: Date;
  /** How many calls failed retriably since. */
  failures: number;
  /** The latest of those failures. */
  lastError: StorageError;
}

/**
 * Follows the outages of one node state's store and logs each once.
 *
 * @example
 * ```ts
 * const outage = new StoreOutage({ logger, clock, store: "PostgreSQL schema poet_client" });
 * try {
 *   await query();
 *   outage.succeeded();
 * } catch (err) {
 *   if (err instanceof StorageError) outage.failed(err);
 *   throw err;
 * }
 * outage.current; // { since, failures, lastError } while the store is down
 * ```
 */
export class StoreOutage {
  readonly #logger: Logger;
  readonly #clock: Clock;
  readonly #store: string;
  #current: StoreOutageStatus | undefined;
  #count = 0;

  constructor(init: { logger?: Logger | undefined; clock?: Clock | undefined; store: string }) {
    this.#logger = init.logger ?? silentLogger;
    this.#clock = init.clock ?? systemClock;
    this.#store = init.store;
  }

  /** The outage under way, or `undefined` when the last call succeeded. */
  get current(): StoreOutageStatus | undefined {
    return this.#current === undefined ? undefined : { ...this.#current };
  }

  /** How many outages began since the state was opened. */
  get outages(): number {
    return this.#count;
  }

  /** A call failed with `error`: a retriable one begins (or continues) an outage. */
  failed(error: StorageError): void {
    if (!error.retriable) return;
    const current = this.#current;
    if (current !== undefined) {
      current.failures++;
      current.lastError = error;
      return;
    }
    this.#count++;
    this.#current = { since: new Date(this.#clock.now()), failures: 1, lastError: error };
    const code = (error.cause as { code?: unknown } | undefined)?.code;
    this.#logger.warn(
      {
        store: this.#store,
        code: typeof code === "string" ? code : undefined,
        err: error.message,
      },
      "the node state's store is unreachable; its writes are tried again until it is back",
    );
  }

  /** A call succeeded: an outage under way is over. Cheap when there is none. */
  succeeded(): void {
    const current = this.#current;
    if (current === undefined) return;
    this.#current = undefined;
    this.#logger.info(
      {
        store: this.#store,
        since: current.since.toISOString(),
        durationMs: this.#clock.now() - current.since.getTime(),
        failures: current.failures,
      },
      "the node state's store is back",
    );
  }
}
