/**
 * @module client/retry
 *
 * Retrying a PoET call until a deadline, the way registration must (docs/node-client.md §2.2 and
 * §7 item 1: the Go node once gave up on registration after 15–20 minutes although the window
 * was open for hours). Built on `p-retry`, but every wait happens on the injected {@link Clock}:
 * p-retry itself is told to wait 0 ms, and the pause — uniform in [delay, 2·delay] like the Go
 * node's, or the server's `Retry-After` when it asks for longer — is slept in `onFailedAttempt`.
 * That keeps the whole schedule testable with a `ManualClock`.
 *
 * Only retriable {@link PoetRpcError}s are retried; anything else (a 400, 401, 409, 404, a
 * malformed answer) is thrown at once. Retrying stops when the next attempt would start at or
 * after `until`, or after `maxAttempts`, and the last error is thrown.
 */

import pRetry from "p-retry";
import type { AbortOptions } from "../abort-options.js";
import type { Clock } from "../clock.js";
import { AbortedError, abortedError, PoetRpcError, throwIfAborted } from "../errors.js";
import type { Logger } from "../logger.js";

/** Options of {@link retryUntil}. */
export interface RetryOptions extends AbortOptions {
  clock: Clock;
  logger: Logger;
  /** Unix ms after which no new attempt starts. */
  until?: number | undefined;
  /** Most attempts (default: unlimited with `until`, else 1). */
  maxAttempts?: number | undefined;
  /** Base pause between attempts in ms; each pause is uniform in [delay, 2·delay]. */
  delayMs: number;
  /** Random source in [0, 1) for the pauses (default `Math.random`). */
  random?: (() => number) | undefined;
  /** What is retried, for logs. */
  what: string;
}

/**
 * Runs `attempt` until it succeeds, fails for good, or time or attempts run out.
 *
 * @throws the last error of `attempt`, or {@link AbortedError} when `signal` fires.
 * @example
 * ```ts
 * const result = await retryUntil((n) => transport.unary(method, request, { signal }), {
 *   clock, logger, signal, until: roundStart.getTime(), delayMs: 10_000, what: "submit",
 * });
 * ```
 */
export async function retryUntil<T>(
  attempt: (attemptNumber: number) => Promise<T>,
  options: RetryOptions,
): Promise<T> {
  const { clock, logger, signal, until, delayMs, what } = options;
  const random = options.random ?? Math.random;
  const maxAttempts = options.maxAttempts ?? (until === undefined ? 1 : Number.POSITIVE_INFINITY);
  throwIfAborted(signal);
  try {
    return await pRetry(attempt, {
      retries: Number.isFinite(maxAttempts)
        ? Math.max(0, maxAttempts - 1)
        : Number.POSITIVE_INFINITY,
      minTimeout: 0,
      maxTimeout: 0,
      factor: 1,
      signal,
      onFailedAttempt: async ({ error, attemptNumber }) => {
        const failure = (error as Error & { originalError?: unknown }).originalError ?? error;
        if (!(failure instanceof PoetRpcError) || !failure.retriable) throw failure;
        if (attemptNumber >= maxAttempts) throw failure;
        const pause = Math.max(delayMs * (1 + random()), failure.retryAfterMs ?? 0);
        const next = clock.now() + pause;
        if (until !== undefined && next >= until) throw failure;
        logger.debug(
          { server: failure.server, kind: failure.kind, attempt: attemptNumber, pauseMs: pause },
          `${what} failed; retrying`,
        );
        await clock.sleep(pause, { signal });
      },
    });
  } catch (err) {
    if (signal?.aborted && !(err instanceof AbortedError)) {
      throw abortedError(signal);
    }
    throw err;
  }
}
