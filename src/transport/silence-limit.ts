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
import type { Clock } from "../clock.js";
import { AbortedError, abortedError, PoetRpcError, throwIfAborted } from "../errors.js";
import { type AttemptTarget, AttemptTimeout } from "./attempt.js";

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
  const controller = new AbortController();
  const stopWatch = new AbortController();
  const onAbort = () => controller.abort(signal?.reason);
  signal?.addEventListener("abort", onAbort, { once: true });
  let last = clock.now();
  let timedOut = false;
  const watch = (async () => {
    let wait = idleMs;
    for (;;) {
      await clock.sleep(wait, { signal: stopWatch.signal });
      const silent = clock.now() - last;
      if (silent >= idleMs) {
        timedOut = true;
        controller.abort(new AttemptTimeout(idleMs));
        return;
      }
      wait = idleMs - silent;
    }
  })().catch(() => {});
  try {
    return await work(controller.signal, () => {
      last = clock.now();
    });
  } catch (err) {
    if (timedOut) {
      throw new PoetRpcError(`no data for ${idleMs} ms`, {
        ...target,
        kind: "timeout",
        retriable: true,
        cause: err,
      });
    }
    if (signal?.aborted) throw err instanceof AbortedError ? err : abortedError(signal);
    throw err;
  } finally {
    signal?.removeEventListener("abort", onAbort);
    stopWatch.abort(WORK_SETTLED);
    await watch;
  }
}

/** Why a finished transfer's watch is stopped (not the platform's DOMException with a stack). */
const WORK_SETTLED = new AbortedError("the transfer settled before its silence limit");
