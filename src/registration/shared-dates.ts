/**
 * @module registration/shared-dates
 *
 * One `Date` per instant for what every identity keeps while it waits. From its registration to
 * its round's end (two weeks on mainnet) each identity keeps its last event and its next step
 * (`status()`); the `waiting-for-round-end` event alone carries five instants, and four of them
 * (round end, first query, cut-off, proof deadline) are the same for every identity of the round.
 * A `Date` is about a hundred bytes of heap: ten thousand identities held eight each, 0.8 KB per
 * identity (docs/embedding.md, Several identities, Memory). Handing out one `Date` per instant
 * keeps one per round instead.
 *
 * The dates handed out are shared, between identities and between events: they are read-only
 * (`events.ts` says so to listeners).
 */

/** How many instants are kept: a few per round and step, for a few rounds at once. */
const CAPACITY = 64;

/**
 * Hands out one `Date` per instant, the most recent {@link CAPACITY} instants kept.
 *
 * @example
 * ```ts
 * const dates = new SharedDates();
 * dates.at(roundEndMs) === dates.at(roundEndMs); // true: one Date for every identity
 * ```
 */
export class SharedDates {
  readonly #dates = new Map<number, Date>();

  /** The `Date` of `ms` (milliseconds since the Unix epoch): the same object for the same instant. */
  at(ms: number): Date {
    let date = this.#dates.get(ms);
    if (date === undefined) {
      if (this.#dates.size >= CAPACITY) {
        // The oldest instant made: an insertion-ordered map's first key.
        const oldest = this.#dates.keys().next().value as number;
        this.#dates.delete(oldest);
      }
      date = new Date(ms);
      this.#dates.set(ms, date);
    }
    return date;
  }
}
