/**
 * @module retry-policy
 *
 * The one rule for trying a PoET call again, used by the client's `submit` and `proof` and by the
 * registration manager's background registration alike (docs/node-client.md §2.2 and §7 item 1:
 * the Go node once gave up on registration after 15–20 minutes although the window was open for
 * hours). It answers three questions:
 *
 * - **Is the failure worth another attempt?** {@link classifyFailure}: a retriable
 *   {@link PoetRpcError} (network, 5xx, 429, a time limit) or a time limit of our own is
 *   `transient`, and so is a retriable {@link StorageError} of the node's own database (a broken
 *   connection, a server restarting or failing over, a deadlock or serialization conflict:
 *   `storage/transient-failure.ts`); an answer that will not change (a 4xx, a rejected registration, a proof that
 *   does not verify, a malformed answer, bad configuration) is `final`; anything else (a bug, an
 *   abort that is not the caller's, a proof not ready yet) is `unclassified`, which a policy
 *   retries only when told to.
 * - **How long to pause?** Uniform in [delay, 2·delay] like the Go node's, drawn from an injected
 *   {@link RandomSource}, or the server's `Retry-After` when it asks for longer.
 * - **When to stop?** After `maxAttempts`, or when the next attempt would start at or after the
 *   deadline `until`.
 *
 * {@link decideRetry} is the pure decision; {@link retry} runs attempts by it, sleeping on the
 * injected {@link Clock} (never a real timer), so a whole schedule is tested with a `ManualClock`.
 */
import type { AbortOptions } from "./abort-options.js";
import type { Clock } from "./clock.js";
import {
  AbortedError,
  abortedError,
  PoetError,
  PoetRpcError,
  StorageError,
  throwIfAborted,
} from "./errors.js";

/** A source of uniform numbers in `[0, 1)`, like `Math.random`. */
export type RandomSource = () => number;

/**
 * The base pause (ms) before a write or read of the node state is tried again after a retriable
 * store failure (`isRetriableStoreFailure`): the pause is drawn in 1–2× this. The manager's
 * `storeRetryDelayMs` default, which it hands to every part that retries the store.
 */
export const DEFAULT_STORE_RETRY_DELAY_MS = 5_000;

/**
 * A whole number of ms drawn uniformly from `[minMs, maxMs]`.
 *
 * @example
 * ```ts
 * const { minMs, maxMs } = schedule.proofQueryJitter();
 * const delay = drawJitter(minMs, maxMs, Math.random);
 * ```
 */
export function drawJitter(minMs: number, maxMs: number, random: RandomSource): number {
  if (maxMs <= minMs) return Math.max(0, minMs);
  const r = Math.min(Math.max(random(), 0), 1);
  return Math.min(maxMs, minMs + Math.floor(r * (maxMs - minMs + 1)));
}

/** What a failure says about trying the same call again. */
export type FailureVerdict = "transient" | "final" | "unclassified";

/**
 * What a failure of a call to a PoET (or certifier), or to the node's own database, says about
 * trying the same call again: `transient` (it may succeed later: a retriable RPC failure, a time
 * limit, a retriable {@link StorageError} such as a PostgreSQL restart or failover), `final` (it
 * will not), or `unclassified` (the library does not know: a bug, an abort that is not the
 * caller's, a proof not ready yet, a database failure that is not retriable — each caller decides
 * what those mean for it).
 *
 * @example
 * ```ts
 * if (classifyFailure(err) === "transient") scheduleAnotherAttempt();
 * ```
 */
export function classifyFailure(error: unknown): FailureVerdict {
  if (error instanceof PoetRpcError) return error.retriable ? "transient" : "final";
  // A store failure is never "final" about the call (a constraint or a damaged row is the
  // caller's to judge), but a broken connection or a server restarting is worth another attempt.
  if (error instanceof StorageError) return error.retriable ? "transient" : "unclassified";
  if (!(error instanceof PoetError)) return "unclassified";
  switch (error.code) {
    case "timeout":
      return "transient";
    case "registration-rejected":
    case "proof-verification":
    case "malformed":
    case "config":
      return "final";
    default:
      return "unclassified";
  }
}

/** When and how often a call is tried again. */
export interface RetryPolicy {
  /** Base pause between attempts in ms; each pause is uniform in [delayMs, 2·delayMs]. */
  delayMs: number;
  /** Random source in [0, 1) for the pauses. */
  random: RandomSource;
  /** Unix ms at or after which no new attempt starts (default: none). */
  until?: number | undefined;
  /** Most attempts (default: unlimited). */
  maxAttempts?: number | undefined;
  /**
   * Whether `unclassified` failures are tried again too (default false): a background task that
   * must keep going until its deadline retries them; a call with a caller waiting throws them.
   */
  retryUnclassified?: boolean | undefined;
}

/** The decision after a failed attempt. */
export type RetryDecision =
  | {
      retry: true;
      /** How long to pause, in ms. */
      pauseMs: number;
      /** Unix ms of the next attempt. */
      at: number;
    }
  | {
      retry: false;
      /** Why not: the failure cannot be retried, or the attempts or the time ran out. */
      why: "final" | "unclassified" | "attempts" | "deadline";
    };

/**
 * Whether and when to try again after attempt number `attempt` (counting from 1) failed with
 * `error` at unix ms `now`. Draws from `policy.random` only when the failure may be retried and
 * attempts are left.
 *
 * @example
 * ```ts
 * const next = decideRetry({ delayMs: 10_000, random, until: roundStart }, err, 1, clock.now());
 * if (next.retry) await clock.sleep(next.pauseMs, { signal });
 * ```
 */
export function decideRetry(
  policy: RetryPolicy,
  error: unknown,
  attempt: number,
  now: number,
): RetryDecision {
  const verdict = classifyFailure(error);
  if (verdict === "final") return { retry: false, why: "final" };
  if (verdict === "unclassified" && policy.retryUnclassified !== true) {
    return { retry: false, why: "unclassified" };
  }
  if (attempt >= (policy.maxAttempts ?? Number.POSITIVE_INFINITY)) {
    return { retry: false, why: "attempts" };
  }
  const retryAfter = error instanceof PoetRpcError ? (error.retryAfterMs ?? 0) : 0;
  const pauseMs = Math.max(
    retryAfter,
    drawJitter(policy.delayMs, 2 * policy.delayMs, policy.random),
  );
  const at = now + pauseMs;
  if (policy.until !== undefined && at >= policy.until) return { retry: false, why: "deadline" };
  return { retry: true, pauseMs, at };
}

/** A failed attempt, as {@link RetryRunOptions.onFailure} sees it. */
export interface RetryFailure {
  error: unknown;
  /** The attempt's number, counting from 1. */
  attempt: number;
  decision: RetryDecision;
}

/** Options of {@link retry}. */
export interface RetryRunOptions extends AbortOptions {
  clock: Clock;
  /** Called after each failed attempt with the decision, before the pause (for logs and events). */
  onFailure?: ((failure: RetryFailure) => void) | undefined;
}

/**
 * Runs `attempt` until it succeeds or {@link decideRetry} says stop, pausing on `clock` between
 * attempts.
 *
 * @throws the last error of `attempt`, or {@link AbortedError} when `signal` fires.
 * @example
 * ```ts
 * const result = await retry((n) => transport.unary(method, request, { signal }), {
 *   delayMs: 10_000, random: Math.random, until: roundStart.getTime(),
 * }, { clock, signal });
 * ```
 */
export async function retry<T>(
  attempt: (attemptNumber: number) => Promise<T>,
  policy: RetryPolicy,
  options: RetryRunOptions,
): Promise<T> {
  const { clock, signal } = options;
  throwIfAborted(signal);
  for (let n = 1; ; n++) {
    try {
      return await attempt(n);
    } catch (err) {
      if (signal?.aborted) throw err instanceof AbortedError ? err : abortedError(signal);
      const decision = decideRetry(policy, err, n, clock.now());
      options.onFailure?.({ error: err, attempt: n, decision });
      if (!decision.retry) throw err;
      await clock.sleep(decision.pauseMs, { signal });
    }
  }
}
