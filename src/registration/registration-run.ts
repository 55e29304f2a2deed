/**
 * @module registration/registration-run
 *
 * Registering one identity's challenge with the PoETs it is missing, in the background, until the
 * round starts (docs/node-client.md §1.3, §4, §7 item 1, §8; docs/protocol.md §2.4, §2.5).
 *
 * Every PoET is tried in parallel (through the manager's submit limit) and each success is
 * persisted the moment it arrives, so a crash loses nothing. Submits are write-ahead: before the
 * first request to a PoET leaves, an intent (identity, PoET, round, challenge hash) is stored, and
 * the PoET's acceptance writes the `poet_registration` row and deletes the intent in one
 * transaction (`storage/submit-intent-repository.ts`). The writes of submits that start or
 * complete together share one group commit. A crash between the PoET's answer and our row leaves
 * the intent, which the identity's cycle resolves against the round's members. The caller waits only for the first
 * success; the others keep being retried until the round start, by the library's one retry
 * policy (`src/retry-policy.ts`): transient failures (network, 5xx, 429, a timeout, a failed
 * `info()`) after a random 1–2× retry delay or the PoET's `Retry-After`, while a refusal that will
 * not change (bad request, too late, 409 for another challenge, a different phase or key) ends
 * that PoET's attempts for the round.
 *
 * The node state's own store may fail meanwhile (a PostgreSQL restart or failover, a broken
 * connection): a retriable {@link StorageError} is `transient` by the same policy, and only the
 * write that met it is tried again, after `storeRetryDelayMs` (1–2×), until the round start. The
 * intents are durable before any submit leaves, so a store that is down at the start delays the
 * submits and never sends one without its intent; once a submit went out, only the PoET's
 * `confirm` write is tried again, never the submit. A `confirm` that could not be written by the
 * round start leaves the intent standing for the registration ({@link RegistrationRun.unconfirmed}):
 * the identity's cycle treats it as possibly registered and goes on to the proof, as after a crash.
 */

import type { Signer } from "../auth/signer.js";
import { equalBytes, toHex } from "../bytes.js";
import {
  asPoetError,
  atTime,
  CANCELLED,
  DEADLINE_PASSED,
  isAbort,
  TASK_SETTLED,
  withTimeout,
} from "../cancellation.js";
import type { Clock } from "../clock.js";
import { isRetriableStoreFailure, PoetError, StorageError } from "../errors.js";
import type { Logger } from "../logger.js";
import { decideRetry, type RandomSource, type RetryPolicy, retry } from "../retry-policy.js";
import type { NodeState } from "../storage/index.js";
import type { TurnBudget } from "../turn-budget.js";
import type { ConcurrencyLimit } from "./concurrency-limit.js";
import type { RegistrationEvent } from "./events.js";
import type { PoetEntry, PoetPool } from "./poet-pool.js";

/**
 * What starting one submit weighs in the manager's turn budget, in cycle steps: signing, the
 * request and, later in the same turns, its answer and registration row take a few times a
 * cycle step's CPU, so a turn starts half as many submits as it starts cycles.
 */
const SUBMIT_STEP_COST = 2;

/** What a {@link RegistrationRun} needs from the manager. */
export interface RegistrationRunContext {
  state: NodeState;
  pool: PoetPool;
  clock: Clock;
  logger: Logger;
  random: RandomSource;
  submits: ConcurrencyLimit;
  /**
   * Runs whose PoETs are being asked for the first time. A run is made only once its identity's
   * cycle holds a slot (the cycle waits for it parked, `identity-cycle.ts`); the run writes its
   * intents and queues its submits, and gives the slot back once every PoET has had its first
   * answer (or failure): ten thousand identities started together queue ten thousand small waits
   * here instead of fifty thousand submits, each with its calls, promises and listeners, and the
   * store takes their intents as the submits need them.
   */
  admissions: ConcurrencyLimit;
  emit: (event: RegistrationEvent) => void;
  prefix: Uint8Array;
  submitRetryDelayMs: number;
  /** Base pause before a write that met a retriable store failure is tried again (1–2× this). */
  storeRetryDelayMs: number;
  requestTimeoutMs: number;
  /**
   * Slices the steps that every identity takes at once over event-loop turns: a cycle's start, a
   * proof arriving, and each submit's start (signing, the request), so that the submits that a
   * turn's answers free start over several turns.
   */
  turns: TurnBudget;
}

/** The identity, challenge and round one run registers. */
export interface RegistrationTarget {
  signer: Signer;
  hash: Uint8Array;
  publishEpoch: number;
  round: number;
  /** Registration closes (round start), unix ms. */
  deadlineMs: number;
  /** The round's end by the schedule, unix ms (recorded with each intent). */
  roundEndMs: number;
  /** The proof deadline sent to the PoETs, unix ms. */
  proofDeadlineMs: number;
}

/**
 * Registers one identity with a set of PoETs until the round starts. Its maker holds an admission
 * slot for it (`RegistrationRunContext.admissions`), which the run gives back.
 *
 * @example
 * ```ts
 * await context.admissions.acquire({ signal });
 * const run = new RegistrationRun(context, target, missingPoets, signal);
 * await run.firstSuccess; // resolves at the first persisted registration, or when all gave up
 * ```
 */
export class RegistrationRun {
  readonly key: string;
  readonly target: RegistrationTarget;
  /** Resolves when one PoET accepted, or when every PoET has finished. */
  readonly firstSuccess: Promise<void>;
  /** Resolves when every PoET has finished (accepted, refused, or the deadline passed). */
  readonly done: Promise<void>;
  /** The last failure of each PoET that did not accept. */
  readonly failures = new Map<string, PoetError>();
  /** PoETs that accepted during this run. */
  readonly accepted = new Set<string>();
  /** PoETs that refused for good (retrying cannot help this round). */
  readonly refused = new Set<string>();
  /** PoETs still being tried: their intents are submits in flight, not a crash's leftovers. */
  readonly trying = new Set<string>();
  /**
   * PoETs that accepted the challenge but whose `confirm` (the registration row) could not be
   * written by the round start: their durable intent stands for the registration, resolved
   * against the round's members by the identity's cycle. Never submitted to again in this round.
   */
  readonly unconfirmed = new Set<string>();
  readonly #context: RegistrationRunContext;
  readonly #controller = new AbortController();
  readonly #signal: AbortSignal;
  /** Signs `prefix ‖ challenge` once for every PoET of the run. */
  readonly #signer: Signer;
  readonly #closed: AbortSignal;
  /** The run's submit intents, one write for every PoET, durable before any submit leaves. */
  readonly #intents: Promise<void>;
  /** PoETs not asked yet: the run's admission slot is given back once none is left. */
  readonly #unasked = new Set<string>();
  /** Whether the run still holds its admission slot. */
  #admitted = true;
  /**
   * When to try a PoET again: until the round start, after a random 1–2× retry delay or the
   * PoET's `Retry-After`. Failures the library does not classify are retried too: nobody waits
   * on a background registration, and each failure is reported as an event.
   */
  readonly #policy: RetryPolicy;

  constructor(
    context: RegistrationRunContext,
    target: RegistrationTarget,
    poets: readonly PoetEntry[],
    signal: AbortSignal,
  ) {
    this.#context = context;
    this.target = target;
    this.#signer = signingOnce(target.signer);
    this.key = runKey(target.signer.nodeId, target.hash, target.round);
    this.#closed = signal;
    this.#policy = {
      delayMs: context.submitRetryDelayMs,
      random: context.random,
      until: target.deadlineMs,
      retryUnclassified: true,
    };
    // The run's own signal only: no composite with the manager's signal, which every run would
    // hold (with its weak references and listeners) until it ends. The manager cancels every run
    // in its map when it closes; a run made after that starts cancelled.
    const controller = this.#controller;
    this.#signal = controller.signal;
    if (signal.aborted) controller.abort(signal.reason);
    let first!: () => void;
    this.firstSuccess = new Promise<void>((resolve) => {
      first = resolve;
    });
    // The round start ends every attempt.
    const stopDeadline = atTime(context.clock, target.deadlineMs, () =>
      controller.abort(DEADLINE_PASSED),
    );
    for (const entry of poets) {
      this.trying.add(entry.address);
      this.#unasked.add(entry.address);
    }
    // The attempts start in a later microtask, once the maker has stored the run; a run whose
    // signal has aborted already still goes through its attempts, which report the stop.
    const started = Promise.resolve();
    // Write-ahead: one write for the intents at every PoET of the run, tried again while the
    // store fails retriably, until the round start. (Built in a method of its own: rows kept in
    // this constructor's scope would live as long as the deadline's timer.)
    this.#intents = started.then(() => this.#recordIntents(poets));
    // Each PoET's attempt awaits it and reports a failure; none is left unhandled here.
    this.#intents.catch(() => {});
    this.done = started
      .then(() =>
        Promise.all(
          poets.map((entry) =>
            this.#registerWith(entry).then(() => {
              if (this.accepted.size > 0) first();
            }),
          ),
        ),
      )
      .finally(() => this.#leave())
      .then(() => {
        first();
        stopDeadline();
        controller.abort(TASK_SETTLED);
      });
  }

  /** `address` has had its first answer (or failure): the last one gives the slot back. */
  #asked(address: string): void {
    if (this.#unasked.delete(address) && this.#unasked.size === 0) this.#leave();
  }

  /** Gives the admission slot back (once). */
  #leave(): void {
    if (!this.#admitted) return;
    this.#admitted = false;
    this.#context.admissions.release();
  }

  /** Stops every attempt (with `reason`, by default {@link CANCELLED}). */
  cancel(reason: unknown = CANCELLED): void {
    this.#controller.abort(reason);
  }

  /** Stores the submit intents at every PoET of the run, in one write. */
  #recordIntents(poets: readonly PoetEntry[]): Promise<void> {
    const { clock, state } = this.#context;
    const { target } = this;
    const createdAt = new Date(clock.now());
    const roundEnd = new Date(target.roundEndMs);
    const proofDeadline = new Date(target.proofDeadlineMs);
    const intents = poets.map((entry) => ({
      nodeId: target.signer.nodeId,
      address: entry.address,
      hash: target.hash,
      roundId: String(target.round),
      roundEnd,
      proofDeadline,
      createdAt,
    }));
    const signal = this.#signal;
    return this.#storeWrite(
      "the submit intents",
      () => state.intents.recordMany(intents, { signal }),
      signal,
      target.deadlineMs,
    );
  }

  /**
   * `write`, tried again after a retriable store failure (the one retry policy, paused on the
   * clock) until `signal` aborts or, when given, no attempt can start before `until`. The store
   * logs the outage once (`storage/store-outage.ts`); each failed attempt is only a debug line
   * here.
   */
  #storeWrite<T>(
    what: string,
    write: () => Promise<T>,
    signal: AbortSignal,
    until: number | undefined,
  ): Promise<T> {
    const { clock, logger, random, storeRetryDelayMs } = this.#context;
    const nodeId = toHex(this.target.signer.nodeId);
    return retry(
      () => write(),
      { delayMs: storeRetryDelayMs, random, until },
      {
        clock,
        signal,
        onFailure: ({ error, attempt, decision }) => {
          logger.debug(
            {
              err: error,
              nodeId,
              attempt,
              nextAttemptAt: decision.retry ? decision.at : undefined,
            },
            `could not write ${what}`,
          );
        },
      },
    );
  }

  async #registerWith(entry: PoetEntry): Promise<void> {
    try {
      await this.#attempts(entry);
    } finally {
      this.trying.delete(entry.address);
      this.#asked(entry.address);
    }
  }

  async #attempts(entry: PoetEntry): Promise<void> {
    const { clock, emit, state, target } = { ...this.#context, target: this.target };
    const signal = this.#signal;
    const base = {
      nodeId: target.signer.nodeId,
      publishEpoch: target.publishEpoch,
      round: target.round,
      poet: entry.address,
    };
    // Whether a submit may have reached the PoET: until then, its intent holds nothing.
    let sent = false;
    for (let attempt = 1; ; attempt++) {
      if (signal.aborted) return this.#deadlinePassed(entry, sent);
      try {
        await this.#context.pool.phase(entry, target.round, { signal });
      } catch (err) {
        this.#asked(entry.address);
        if (await this.#failed(entry, err, attempt, sent)) continue;
        return;
      }
      // Write-ahead: durable before the request leaves (tried again while the store is down).
      try {
        await this.#intents;
      } catch (err) {
        // No intent was written: there is none to drop either.
        if (signal.aborted && isAbort(err)) return this.#deadlinePassed(entry, sent, false);
        // No intent, no submit: this PoET is not asked this round.
        this.#storeFailed(entry, err);
        return;
      }
      let result: Awaited<ReturnType<PoetEntry["client"]["register"]>>;
      try {
        result = await this.#context.submits.run(
          async () => {
            // Submits start over event-loop turns, a share of the manager's budget each.
            const turn = this.#context.turns.take(SUBMIT_STEP_COST);
            if (turn !== undefined) await turn;
            return withTimeout(
              clock,
              this.#context.requestTimeoutMs,
              `submit to ${entry.address}`,
              signal,
              (s) => {
                sent = true;
                return entry.client.register(
                  {
                    signer: this.#signer,
                    prefix: this.#context.prefix,
                    challenge: target.hash,
                    deadline: new Date(target.proofDeadlineMs),
                  },
                  { signal: s },
                );
              },
            );
          },
          { signal },
        );
      } catch (err) {
        this.#asked(entry.address);
        if (await this.#failed(entry, err, attempt, sent)) continue;
        return;
      }
      this.#asked(entry.address);
      const roundEnd = new Date(clock.now() + Math.max(0, result.roundEndMs));
      if (result.roundId !== String(target.round)) {
        this.#context.logger.warn(
          { poet: entry.address, roundId: result.roundId, expected: target.round },
          "the PoET registered the challenge in another round than the schedule says",
        );
      }
      // The Go row and the end of the intent, in one transaction. A row already there (another
      // run, or a row restored by hand) is kept. The PoET has the challenge now: only this write
      // is tried again when the store fails, never the submit. The first attempt is made even
      // if the round started meanwhile (the PoET accepted before); the others until it starts,
      // the PoET counting as tried until then, so that a cycle resumed meanwhile joins this run
      // instead of submitting again.
      const confirm = () =>
        state.intents.confirm({
          nodeId: target.signer.nodeId,
          hash: target.hash,
          address: entry.address,
          roundId: result.roundId,
          roundEnd,
        });
      try {
        try {
          await confirm();
        } catch (err) {
          if (!isRetriableStoreFailure(err) || signal.aborted) throw err;
          await this.#storeWrite("the registration row", confirm, signal, undefined);
        }
      } catch (err) {
        // The intent stays, durable: it stands for the registration until the proof says.
        this.unconfirmed.add(entry.address);
        this.failures.delete(entry.address);
        if (this.#closed.aborted) return;
        this.#context.logger.warn(
          { err, poet: entry.address, nodeId: toHex(target.signer.nodeId) },
          "the PoET accepted the challenge but its registration row could not be written; the submit intent stands for it",
        );
        return;
      }
      this.accepted.add(entry.address);
      this.failures.delete(entry.address);
      emit({
        type: "registered",
        at: new Date(clock.now()),
        ...base,
        roundId: result.roundId,
        roundEnd,
        resumed: false,
      });
      return;
    }
  }

  /**
   * An attempt at `entry` failed: reports it and says whether to try again (after the pause,
   * slept here). A PoET's refusal that will not change, or a store failure that is not retriable,
   * ends the PoET's attempts for the round.
   */
  async #failed(entry: PoetEntry, err: unknown, attempt: number, sent: boolean): Promise<boolean> {
    const { clock, emit } = this.#context;
    const signal = this.#signal;
    if (signal.aborted && isAbort(err)) {
      await this.#deadlinePassed(entry, sent);
      return false;
    }
    const error = asPoetError(err);
    this.failures.set(entry.address, error);
    const decision = decideRetry(this.#policy, error, attempt, clock.now());
    // The PoET said no for good: retrying cannot help this round.
    const final = !decision.retry && decision.why === "final";
    // Our own database failed in a way a retry would only repeat: the manager reports it.
    const local = error instanceof StorageError && !error.retriable;
    emit({
      type: "registration-failed",
      at: new Date(clock.now()),
      nodeId: this.target.signer.nodeId,
      publishEpoch: this.target.publishEpoch,
      round: this.target.round,
      poet: entry.address,
      error,
      nextAttemptAt: decision.retry && !local ? new Date(decision.at) : undefined,
    });
    if (!decision.retry || local) {
      if (final || local) this.refused.add(entry.address);
      // Only the PoET's refusal (or no submit at all) means it does not hold the challenge.
      if (final || !sent) await this.#dropIntent(entry);
      return false;
    }
    try {
      await clock.sleep(decision.pauseMs, { signal });
    } catch {
      await this.#deadlinePassed(entry, sent);
      return false;
    }
    return true;
  }

  /**
   * The intents could not be written (the store stayed down until the round start, or refused
   * them): no submit left for `entry`, so there is nothing to drop or to resolve.
   */
  #storeFailed(entry: PoetEntry, err: unknown): void {
    const { clock, emit } = this.#context;
    const error = asPoetError(err);
    this.failures.set(entry.address, error);
    if (!isRetriableStoreFailure(error)) this.refused.add(entry.address);
    emit({
      type: "registration-failed",
      at: new Date(clock.now()),
      nodeId: this.target.signer.nodeId,
      publishEpoch: this.target.publishEpoch,
      round: this.target.round,
      poet: entry.address,
      error,
      nextAttemptAt: undefined,
    });
  }

  /**
   * The PoET refused for good, or no submit ever left for it: it does not hold the challenge, so
   * the intent goes. (One whose submit only ran out of time stays: the PoET may have accepted a
   * request whose answer was lost.)
   */
  async #dropIntent(entry: PoetEntry): Promise<void> {
    try {
      await this.#context.state.intents.delete(this.target.signer.nodeId, entry.address);
    } catch (err) {
      // Kept: resolved against the round's members later. A store that is down says so once
      // itself (the node state's outage log), not once per identity and PoET here.
      this.#context.logger[isRetriableStoreFailure(err) ? "debug" : "warn"](
        { err, poet: entry.address },
        "could not drop a submit intent",
      );
    }
  }

  /** `hasIntent`: whether the intents may have been written (false: nothing to drop). */
  async #deadlinePassed(entry: PoetEntry, sent: boolean, hasIntent = true): Promise<void> {
    if (this.accepted.has(entry.address)) return;
    if (!sent && hasIntent && !this.#closed.aborted) await this.#dropIntent(entry);
    const error = new PoetError(
      "registration-window-missed",
      `${entry.address}: registration closed before the PoET accepted the challenge`,
      { cause: this.failures.get(entry.address) },
    );
    this.failures.set(entry.address, error);
    if (this.#closed.aborted) return;
    const { clock, emit } = this.#context;
    emit({
      type: "registration-failed",
      at: new Date(clock.now()),
      nodeId: this.target.signer.nodeId,
      publishEpoch: this.target.publishEpoch,
      round: this.target.round,
      poet: entry.address,
      error,
      nextAttemptAt: undefined,
    });
  }
}

/**
 * `signer`, asked once per message: every PoET of a run gets the same `prefix ‖ challenge` signed,
 * and an ed25519 signature is deterministic, so the first signature serves them all (ten thousand
 * identities × five PoETs were fifty thousand signatures, a tenth of the client's CPU). A failed
 * signature is not kept.
 */
function signingOnce(signer: Signer): Signer {
  let last: { message: Uint8Array; signature: Promise<Uint8Array> } | undefined;
  return {
    nodeId: signer.nodeId,
    sign(message) {
      if (last !== undefined && equalBytes(last.message, message)) return last.signature;
      const entry = {
        message: message.slice(),
        signature: Promise.resolve().then(() => signer.sign(message)),
      };
      entry.signature.catch(() => {
        if (last === entry) last = undefined;
      });
      last = entry;
      return entry.signature;
    },
  };
}

/** The key of a run: identity, challenge and round. */
export function runKey(nodeId: Uint8Array, hash: Uint8Array, round: number): string {
  return `${toHex(nodeId)}:${toHex(hash)}:${round}`;
}
