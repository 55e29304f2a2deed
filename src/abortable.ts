/**
 * @module abortable
 *
 * Waiting on work that is shared by several callers under each caller's own signal: one fetch of
 * a PoET's info, one proof download for every identity (docs/node-client.md §2.3, §8). The shared
 * promise keeps running when one caller gives up; only that caller's wait ends, with an
 * `AbortedError` carrying the signal's reason. Listeners are removed once the promise settles, so
 * a long-lived signal does not collect one listener per wait.
 */
import { abortedError } from "./errors.js";

/**
 * Resolves or rejects like `promise`, or rejects with `AbortedError` as soon as `signal` aborts
 * (at once when it already has). The promise itself is not cancelled.
 *
 * @example
 * ```ts
 * const info = await raceAbort(sharedInfoFetch, signal);
 * ```
 */
export function raceAbort<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return promise;
  if (signal.aborted) {
    promise.catch(() => {});
    return Promise.reject(abortedError(signal));
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(abortedError(signal));
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (err: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(err);
      },
    );
  });
}
