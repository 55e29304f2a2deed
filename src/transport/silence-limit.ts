/**
 * @module transport/silence-limit
 *
 * A time limit on silence rather than on length, for transfers that are long by nature: a
 * mainnet proof is 100+ MB, which takes minutes on a slow link, so a limit on the whole attempt
 * (the rule for every other call, `attempt.ts`) would fail a download that is making progress,
 * again and again. Here the work reports each sign of life (the response headers, every chunk)
 * and fails only when none came for `idleMs` of the injected clock: a retriable `timeout`
 * {@link PoetRpcError} naming the silence. The caller's signal still ends it at any time, and
 * the caller bounds the total (the proof deadline).
 */
import { startTimeLimit } from "../cancellation.js";
import type { Clock } from "../clock.js";
import { throwIfAborted } from "../errors.js";
import { type AttemptTarget, AttemptTimeout, attemptFailure } from "./attempt.js";

/**
 * Runs `work` with a signal that fires when `signal` fires or when `progress` was not called for
 * `idleMs` of `clock` time (the start counts as progress).
 *
 * @throws {PoetRpcError} kind `timeout` (retriable) after `idleMs` of silence.
 * @throws {AbortedError} when `signal` fired.
 * @example
 * ```ts
 * const body = await runWithSilenceLimit(clock, 120_000, signal, target, (s, progress) =>
 *   download(url, { signal: s, onChunk: progress }),
 * );
 * ```
 */
export async function runWithSilenceLimit<T>(
  clock: Clock,
  idleMs: number,
  signal: AbortSignal | undefined,
  target: AttemptTarget,
  work: (signal: AbortSignal, progress: () => void) => Promise<T>,
): Promise<T> {
  throwIfAborted(signal);
  const limit = startTimeLimit(clock, idleMs, signal, {
    reason: () => new AttemptTimeout(idleMs),
    silence: true,
  });
  try {
    return await work(limit.signal, () => limit.progress());
  } catch (err) {
    throw attemptFailure(err, limit, signal, target, `no data for ${idleMs} ms`);
  } finally {
    await limit.stop();
  }
}
