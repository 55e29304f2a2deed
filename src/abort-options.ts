/**
 * @module abort-options
 *
 * The options every asynchronous call of the library accepts: an `AbortSignal` that ends the
 * wait. One type, so that a call's options read the same everywhere and an
 * options interface adds its own fields by extending it.
 */

/**
 * Options of a call that can be cancelled. When `signal` aborts, the call rejects with an
 * `AbortedError` carrying the signal's reason.
 *
 * @example
 * ```ts
 * async function fetchInfo(client: PoetClient, options: AbortOptions = {}) {
 *   return client.info({ signal: options.signal });
 * }
 * await fetchInfo(client, { signal: AbortSignal.timeout(5_000) });
 * ```
 */
export interface AbortOptions {
  signal?: AbortSignal | undefined;
}
