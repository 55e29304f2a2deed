/**
 * @module transport/attempt
 *
 * Every request to a PoET or certifier runs as one "attempt" with its own deadline
 * (docs/node-client.md §2.2: the Go node has none and can hang on a silent server until its
 * whole context expires). The deadline is measured on the injected {@link Clock}, so tests move it
 * with a `ManualClock` instead of waiting. An attempt ends in one of three ways: its work settles;
 * its time runs out, which aborts the work and rejects with a retriable `timeout`
 * {@link PoetRpcError}; or the caller's signal fires, which aborts the work and rejects with
 * {@link AbortedError}.
 */
import { startTimeLimit, type TimeLimit } from "../cancellation.js";
import type { Clock } from "../clock.js";
import { AbortedError, abortedError, PoetRpcError, throwIfAborted } from "../errors.js";

/** Where an attempt goes, for error messages. */
export interface AttemptTarget {
  /** Base URL of the server. */
  server: string;
  /** Method or path. */
  method: string;
}

/** The reason an attempt's own signal carries when its time ran out. */
export class AttemptTimeout extends Error {
  constructor(readonly timeoutMs: number) {
    super(`no answer within ${timeoutMs} ms`);
    this.name = "AttemptTimeout";
  }
}

/**
 * Runs `work` with a signal that fires when `signal` fires or `timeoutMs` of `clock` time pass.
 *
 * @throws {PoetRpcError} kind `timeout` (retriable) when the time ran out.
 * @throws {AbortedError} when `signal` fired.
 * @example
 * ```ts
 * const body = await runAttempt(clock, 30_000, signal, target, (s) => fetchBody(url, s));
 * ```
 */
export async function runAttempt<T>(
  clock: Clock,
  timeoutMs: number,
  signal: AbortSignal | undefined,
  target: AttemptTarget,
  work: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  throwIfAborted(signal);
  const limit = startTimeLimit(clock, timeoutMs, signal, {
    reason: () => new AttemptTimeout(timeoutMs),
  });
  try {
    return await work(limit.signal);
  } catch (err) {
    throw attemptFailure(err, limit, signal, target, `no answer within ${timeoutMs} ms`);
  } finally {
    await limit.stop();
  }
}

/**
 * The error an attempt under `limit` rejects with when its work failed with `err`: a retriable
 * `timeout` {@link PoetRpcError} saying `timeoutMessage` when the time ran out, an
 * {@link AbortedError} when the caller's signal fired, else `err` itself.
 */
export function attemptFailure(
  err: unknown,
  limit: TimeLimit,
  signal: AbortSignal | undefined,
  target: AttemptTarget,
  timeoutMessage: string,
): unknown {
  if (limit.expired) {
    return new PoetRpcError(timeoutMessage, {
      ...target,
      kind: "timeout",
      retriable: true,
      cause: err,
    });
  }
  if (signal?.aborted) return err instanceof AbortedError ? err : abortedError(signal);
  return err;
}

/** The error of a call made after the transport was closed: final, never retried. */
export function closedTransportError(target: AttemptTarget): PoetRpcError {
  return new PoetRpcError("the client is closed", { ...target, kind: "network", retriable: false });
}
