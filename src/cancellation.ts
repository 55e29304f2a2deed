/**
 * @module cancellation
 *
 * Ending work: linking a caller's signal with our own, time limits on the injected {@link Clock}
 * (on the whole of an attempt, or on its silence), and the abort reasons the library uses. Every
 * request to a PoET or certifier runs under a time limit of its own (docs/node-client.md §2.2, §8:
 * the Go node has none and can hang on a silent server until its whole context expires); the
 * transport's attempts (`transport/attempt.ts`, `transport/silence-limit.ts`) and the manager's
 * steps (`withTimeout`) are all built on {@link startTimeLimit}, so tests move every limit with a
 * `ManualClock` instead of waiting.
 *
 * Waiting on shared work under one caller's signal (`raceAbort`) lives in `abortable.ts`: the
 * pure core uses it and must not reach the clock.
 */
import { raceAbort } from "./abortable.js";
import type { Clock } from "./clock.js";
import { AbortedError, PoetError, throwIfAborted } from "./errors.js";

/*
 * Shared abort reasons. `controller.abort()` without a reason builds a DOMException with a stack
 * trace, and every wait on the signal wraps it in an AbortedError of its own: measured at 0.8 s
 * of 2.1 s CPU in a busy stretch at 2,000 identities. These are built once; `abortedError` hands
 * an AbortedError reason back as it is.
 */

/** Why a finished task's timer (or listener) is stopped. */
export const TASK_SETTLED = new AbortedError("the task settled before its time limit");

/** Why work is stopped when its deadline passes. */
export const DEADLINE_PASSED = new AbortedError("the deadline passed");

/** Why work is stopped when its owner cancels it. */
export const CANCELLED = new AbortedError("the operation was cancelled");

/**
 * A signal that aborts when any of `signals` does (absent ones are ignored).
 *
 * @example
 * ```ts
 * const signal = anySignal(options.signal, this.#closed.signal);
 * ```
 */
export function anySignal(...signals: (AbortSignal | undefined)[]): AbortSignal {
  const present = signals.filter((s): s is AbortSignal => s !== undefined);
  return AbortSignal.any(present);
}

/**
 * A controller that also aborts (with the same reason) when any of `signals` does, until
 * `unlink()`: what {@link anySignal} gives, for work whose end is known, without a composite
 * signal and its weak references. Call `unlink()` when the work ends, or the links stay on
 * the sources. An `AbortSignal` source takes one listener: only for signals that few such links
 * share (one identity's), since every listener added to or removed from an `AbortSignal` walks
 * all of its listeners. A source that every identity shares (the manager's) is an
 * {@link AbortFanOut}: one listener on its signal, and a set entry per link.
 *
 * @example
 * ```ts
 * const linked = linkedController(callerSignal, this.#closing); // #closing: an AbortFanOut
 * try {
 *   await work(linked.signal);
 * } finally {
 *   linked.unlink();
 * }
 * ```
 */
export function linkedController(...sources: (AbortSignal | AbortFanOut | undefined)[]): {
  readonly signal: AbortSignal;
  abort(reason: unknown): void;
  unlink(): void;
} {
  return new LinkedController(sources);
}

/** What an {@link AbortFanOut} aborts: a controller (or a {@link linkedController}). */
export interface Abortable {
  abort(reason: unknown): void;
}

/** What follows a source: aborted by a fan-out, or its own listener on a signal. */
type Follower = Abortable & { handleEvent(event: Event): void };

/** `follower` aborts when `source` does: a set entry in a fan-out, a listener on a signal. */
function follow(source: AbortSignal | AbortFanOut, follower: Follower): void {
  if (source instanceof AbortFanOut) source.add(follower);
  else source.addEventListener("abort", follower, { once: true });
}

/** Undoes {@link follow}. */
function unfollow(source: AbortSignal | AbortFanOut, follower: Follower): void {
  if (source instanceof AbortFanOut) source.delete(follower);
  else source.removeEventListener("abort", follower);
}

/**
 * One signal's abort passed on to many controllers: the signal has one listener, and each linked
 * controller is a set entry (added and removed in constant time, where a listener each on a
 * signal that ten thousand identities share walks them all). {@link abort} aborts it directly
 * (and every controller in it); a fan-out that aborted aborts at once what is added later.
 *
 * @example
 * ```ts
 * const closing = new AbortFanOut(closed.signal);
 * const linked = linkedController(callerSignal, closing);
 * try {
 *   await work(linked.signal);
 * } finally {
 *   linked.unlink();
 * }
 * ```
 */
export class AbortFanOut {
  /**
   * Its one member, or (from the second on) a set of them: a lease's fan-out, one per identity,
   * has one member, its cycle's controller, and needs no set of its own.
   */
  #member: Abortable | undefined;
  #members: Set<Abortable> | undefined;
  #source: AbortSignal | AbortFanOut | undefined;
  #aborted = false;
  #reason: unknown;

  /** Follows `source` (if given): aborts with its reason when it aborts. */
  constructor(source?: AbortSignal | AbortFanOut) {
    if (source === undefined) return;
    if (source.aborted) {
      this.abort(source.reason);
      return;
    }
    this.#source = source;
    follow(source, this);
  }

  /** Whether it aborted. */
  get aborted(): boolean {
    return this.#aborted;
  }

  /** Why it aborted (undefined until then). */
  get reason(): unknown {
    return this.#reason;
  }

  /** Aborts `member` with this fan-out's reason when it aborts (at once if it has). */
  add(member: Abortable): void {
    if (this.#aborted) member.abort(this.#reason);
    else if (this.#members !== undefined) this.#members.add(member);
    else if (this.#member === undefined || this.#member === member) this.#member = member;
    else {
      this.#members = new Set([this.#member, member]);
      this.#member = undefined;
    }
  }

  /** Forgets `member`. */
  delete(member: Abortable): void {
    if (this.#member === member) this.#member = undefined;
    else this.#members?.delete(member);
  }

  /** Aborts every member with `reason` (once; later calls change nothing). */
  abort(reason: unknown): void {
    if (this.#aborted) return;
    this.#aborted = true;
    this.#reason = reason;
    const source = this.#source;
    this.#source = undefined;
    if (source !== undefined) unfollow(source, this);
    const members =
      this.#members !== undefined
        ? [...this.#members]
        : this.#member !== undefined
          ? [this.#member]
          : [];
    this.#member = undefined;
    this.#members = undefined;
    for (const member of members) member.abort(reason);
  }

  /** The source signal aborted. */
  handleEvent(event: Event): void {
    this.abort((event.target as AbortSignal).reason);
  }
}

/**
 * {@link linkedController}'s controller. It is its own listener on the sources (`handleEvent`)
 * and its own member of a fan-out: no closure per link, where every identity holds one while it
 * waits for its proofs.
 */
class LinkedController implements Abortable {
  readonly #controller = new AbortController();
  /**
   * The sources it follows (`undefined` entries skipped): the array of `linkedController`'s
   * arguments, kept as it came (its exact size), since ten thousand cycles hold one each for as
   * long as they run.
   */
  #sources: readonly (AbortSignal | AbortFanOut | undefined)[] | undefined;

  constructor(sources: readonly (AbortSignal | AbortFanOut | undefined)[]) {
    for (const [i, source] of sources.entries()) {
      if (source === undefined) continue;
      if (source.aborted) {
        this.#sources = sources.slice(0, i);
        this.abort(source.reason);
        return;
      }
      follow(source, this);
    }
    this.#sources = sources;
  }

  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  abort(reason: unknown): void {
    this.unlink();
    this.#controller.abort(reason);
  }

  unlink(): void {
    const sources = this.#sources;
    if (sources === undefined) return;
    this.#sources = undefined;
    for (const source of sources) if (source !== undefined) unfollow(source, this);
  }

  /** A source aborted: so does this one, with its reason. */
  handleEvent(event: Event): void {
    this.#controller.abort((event.target as AbortSignal).reason);
  }
}

/**
 * Calls `fn` at the instant `untilMs` of `clock` (in a microtask when it has passed), unless the
 * returned function is called first: a deadline with no promise or controller of its own when the
 * clock has {@link Clock.setTimer}.
 *
 * @example
 * ```ts
 * const cancel = atTime(clock, roundStart, () => controller.abort(DEADLINE_PASSED));
 * // … the work ends first:
 * cancel();
 * ```
 */
export function atTime(clock: Clock, untilMs: number, fn: () => void): () => void {
  let cancelled = false;
  const wait = untilMs - clock.now();
  if (wait <= 0) {
    queueMicrotask(() => {
      if (!cancelled) fn();
    });
    return () => {
      cancelled = true;
    };
  }
  if (clock.setTimer !== undefined) return clock.setTimer(wait, fn);
  const stop = new AbortController();
  clock.sleep(wait, { signal: stop.signal }).then(
    () => {
      if (!cancelled) fn();
    },
    () => {},
  );
  return () => {
    cancelled = true;
    stop.abort(TASK_SETTLED);
  };
}

/** Whether `err` is an abort (ours or the platform's). */
export function isAbort(err: unknown): boolean {
  return (
    err instanceof AbortedError ||
    (err instanceof Error && (err.name === "AbortError" || err.name === "TimeoutError"))
  );
}

/** `err` as a {@link PoetError}: itself, an abort as `AbortedError`, else code `"internal"`. */
export function asPoetError(err: unknown): PoetError {
  if (err instanceof PoetError) return err;
  if (isAbort(err)) return new AbortedError(undefined, { cause: err });
  const message = err instanceof Error ? err.message : String(err);
  return new PoetError("internal", message, { cause: err });
}

/**
 * Sleeps on `clock` until the instant `untilMs` (returns at once, unless `signal` has aborted,
 * when it has passed).
 *
 * @example
 * ```ts
 * await sleepUntil(clock, roundStart.getTime(), signal);
 * ```
 */
export async function sleepUntil(
  clock: Clock,
  untilMs: number,
  signal: AbortSignal | undefined,
): Promise<void> {
  const wait = untilMs - clock.now();
  if (wait > 0) await clock.sleep(wait, { signal });
  else throwIfAborted(signal);
}

/** A running time limit, from {@link startTimeLimit}. */
export interface TimeLimit {
  /** Fires when the caller's signal fires (with its reason) or the time runs out. */
  readonly signal: AbortSignal;
  /** Whether the time ran out. */
  readonly expired: boolean;
  /** A sign of life: a silence limit starts counting again from now. */
  progress(): void;
  /** Stops the timer and unlinks the caller's signal; resolves once the timer has ended. */
  stop(): Promise<void>;
}

/** Options of {@link startTimeLimit}. */
export interface TimeLimitOptions {
  /**
   * The reason {@link TimeLimit.signal} carries when the time runs out; built only then (an error
   * built for every attempt would cost a stack trace each).
   */
  reason: () => unknown;
  /**
   * A limit on silence rather than on length: it runs out only when {@link TimeLimit.progress}
   * was not called for `ms` (default false: `progress` changes nothing).
   */
  silence?: boolean | undefined;
}

/**
 * Starts a limit of `ms` of `clock` time on work that runs under the returned signal, which also
 * follows `signal`. Call {@link TimeLimit.stop} when the work settles, so that no timer is left
 * behind.
 *
 * @example
 * ```ts
 * const limit = startTimeLimit(clock, 30_000, signal, { reason: () => new Error("30 s passed") });
 * try {
 *   return await fetchBody(url, limit.signal);
 * } catch (err) {
 *   if (limit.expired) throw new PoetError("timeout", "no answer within 30000 ms", { cause: err });
 *   throw err;
 * } finally {
 *   await limit.stop();
 * }
 * ```
 */
export function startTimeLimit(
  clock: Clock,
  ms: number,
  signal: AbortSignal | undefined,
  options: TimeLimitOptions,
): TimeLimit {
  const controller = new AbortController();
  const onAbort = () => controller.abort(signal?.reason);
  if (signal?.aborted) onAbort();
  else signal?.addEventListener("abort", onAbort, { once: true });
  const silence = options.silence === true;
  let last = clock.now();
  let expired = false;
  /** Whether the time ran out; else when to look again (a silence limit that saw progress). */
  const due = (): number | undefined => {
    const quiet = clock.now() - last;
    if (!silence || quiet >= ms) {
      expired = true;
      controller.abort(options.reason());
      return undefined;
    }
    return ms - quiet;
  };
  let stopTimer: () => Promise<void>;
  if (clock.setTimer !== undefined) {
    // A timer the clock stops at once: no promise, controller or abort event per limit.
    const setTimer = clock.setTimer.bind(clock);
    let stopped = false;
    let cancel: () => void;
    const arm = (wait: number) => {
      cancel = setTimer(wait, () => {
        if (stopped) return;
        const again = due();
        if (again !== undefined) arm(again);
      });
    };
    arm(ms);
    stopTimer = () => {
      stopped = true;
      cancel();
      return SETTLED;
    };
  } else {
    const stop = new AbortController();
    const timer = (async () => {
      let wait: number | undefined = ms;
      while (wait !== undefined) {
        await clock.sleep(wait, { signal: stop.signal });
        wait = due();
      }
    })().catch(() => {});
    stopTimer = () => {
      stop.abort(TASK_SETTLED);
      return timer;
    };
  }
  return {
    signal: controller.signal,
    get expired() {
      return expired;
    },
    progress() {
      if (silence) last = clock.now();
    },
    stop() {
      signal?.removeEventListener("abort", onAbort);
      return stopTimer();
    },
  };
}

/** What a stopped timer that needs no waiting resolves with. */
const SETTLED: Promise<void> = Promise.resolve();

/**
 * Runs `task` with a signal that also aborts after `timeoutMs` of `clock` time; a task cut off
 * that way rejects with a `PoetError` of code `"timeout"` naming `what`. The wait ends as soon as
 * the signal fires, even if the task does not heed it.
 *
 * @example
 * ```ts
 * const info = await withTimeout(clock, 30_000, `info of ${address}`, signal, (s) =>
 *   client.info({ signal: s }),
 * );
 * ```
 */
export async function withTimeout<T>(
  clock: Clock,
  timeoutMs: number,
  what: string,
  signal: AbortSignal | undefined,
  task: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const limit = startTimeLimit(clock, timeoutMs, signal, { reason: () => DEADLINE_PASSED });
  try {
    return await raceAbort(task(limit.signal), limit.signal);
  } catch (err) {
    if (limit.expired && signal?.aborted !== true) {
      throw new PoetError("timeout", `${what} took longer than ${timeoutMs} ms`, { cause: err });
    }
    throw err;
  } finally {
    void limit.stop();
  }
}
