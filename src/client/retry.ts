/**
 * @module client/retry
 *
 * The client's `submit` and `proof` retried until a deadline, by the library's one retry policy
 * (`src/retry-policy.ts`; docs/node-client.md §2.2 and §7 item 1). A caller is waiting, so only
 * failures the policy knows to be transient are retried — a retriable {@link PoetRpcError} or a
 * time limit — and anything else (a 400, 401, 409, 404, a malformed answer, a bug) is thrown at
 * once. Every pause — uniform in [delay, 2·delay] like the Go node's, or the server's
 * `Retry-After` when it asks for longer — is slept on the injected {@link Clock}. Retrying stops
 * when the next attempt would start at or after `until`, or after `maxAttempts`, and the last
 * error is thrown.
 */

import type { AbortOptions } from "../abort-options.js";
import type { Clock } from "../clock.js";
import { PoetRpcError } from "../errors.js";
import type { Logger } from "../logger.js";
import { type RandomSource, retry } from "../retry-policy.js";

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
  random?: RandomSource | undefined;
  /** What is retried, for logs. */
  what: string;
}

/**
 * Runs `attempt` until it succeeds, fails for good, or time or attempts run out.
 *
 * @throws the last error of `attempt`, or `AbortedError` when `signal` fires.
 * @example
 * ```ts
 * const result = await retryUntil((n) => transport.unary(method, request, { signal }), {
 *   clock, logger, signal, until: roundStart.getTime(), delayMs: 10_000, what: "submit",
 * });
 * ```
 */
export function retryUntil<T>(
  attempt: (attemptNumber: number) => Promise<T>,
  options: RetryOptions,
): Promise<T> {
  const { clock, logger, signal, until, delayMs, what } = options;
  return retry(
    attempt,
    {
      delayMs,
      random: options.random ?? Math.random,
      until,
      maxAttempts: options.maxAttempts ?? (until === undefined ? 1 : Number.POSITIVE_INFINITY),
    },
    {
      clock,
      signal,
      onFailure: ({ error, attempt: attemptNumber, decision }) => {
        if (!decision.retry) return;
        const failure = error instanceof PoetRpcError ? error : undefined;
        logger.debug(
          {
            server: failure?.server,
            kind: failure?.kind,
            attempt: attemptNumber,
            pauseMs: decision.pauseMs,
          },
          `${what} failed; retrying`,
        );
      },
    },
  );
}
