/**
 * @module storage/store-outage
 *
 * What an operator sees of a store that blips (a PostgreSQL restart or failover, a broken
 * connection, a busy SQLite file, a deadlock): one warning when the first call fails retriably
 * (`transient-failure.ts`), one line when the store works again, with how long it lasted and how
 * many calls failed meanwhile — not one line per failed write, which with thousands of identities
 * would bury the log. While it lasts, {@link StoreOutage.current} says since when, how many calls
 * failed and the last failure; `NodeState.outage` shows it (docs/operator-guide.md, "running a
 * fleet").
 *
 * **When it ends.** Not at any call that succeeds: while another process holds a SQLite file's
 * write lock, writes fail with `SQLITE_BUSY` while WAL reads go on, and ending the outage at each
 * read would log a new warning for every failed write. An outage during which a write failed
 * ends when a write succeeds; one during which only reads failed ends at any call that succeeds
 * (a committed write reached the store too). Each call is told once: a read or write that joins
 * a caller's transaction is not reported, the caller's write is (`store-connection.ts`).
 */
import { type Clock, systemClock } from "../clock.js";
import type { StorageError } from "../errors.js";
import { type Logger, silentLogger } from "../logger.js";

/** The kind of call that failed or succeeded: a write transaction, or reads without one. */
export type StoreCall = "read" | "write";

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
 *   await write();
 *   outage.succeeded("write");
 * } catch (err) {
 *   if (err instanceof StorageError) outage.failed(err, "write");
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
  /** Whether a write failed during the outage under way: then only a write ends it. */
  #writeFailed = false;
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

  /** A call of kind `call` failed with `error`: a retriable one begins (or continues) an outage. */
  failed(error: StorageError, call: StoreCall): void {
    if (!error.retriable) return;
    if (call === "write") this.#writeFailed = true;
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
      "the node state's store fails; its writes are tried again until it is back",
    );
  }

  /**
   * A call of kind `call` succeeded: an outage under way is over, unless a write failed during it
   * and this call is a read (see the module notes). Cheap when there is none.
   */
  succeeded(call: StoreCall): void {
    const current = this.#current;
    if (current === undefined) return;
    if (call === "read" && this.#writeFailed) return;
    this.#current = undefined;
    this.#writeFailed = false;
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
