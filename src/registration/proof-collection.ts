/**
 * @module registration/proof-collection
 *
 * The `fetch-proofs` step of one identity (docs/node-client.md §1.5–§1.7): the proof of every
 * PoET that took the challenge (or may hold it through an unconfirmed submit intent) is fetched
 * through the shared {@link ProofFetcher} (which downloads and verifies each round once for all
 * identities), and every answer is judged against the best proof so far. Out comes a sequence of
 * answers, in the order they arrive (of those that arrived while an answer was judged, the best
 * first): a proof that does not contain the challenge, one that is no better, or a better choice.
 * The collection stops when every PoET answered, when a proof is chosen and the cut-off passed, or
 * at the proof deadline.
 *
 * Between answers the collection is parked, not awaited: ten thousand identities wait here from
 * their registration to the round's end (two weeks on mainnet), and a suspended chain of async
 * calls (the cycle's steps, an async generator) held about 7 KB per identity, some 40 % of what it
 * held in all (docs/embedding.md, Several identities, Memory). Parked, an identity is this object,
 * its arrivals, a timer and an abort listener; the cycle is resumed by a call when the collection
 * wakes it.
 *
 * It reads and writes no node state and sends no event: the identity cycle stores each better
 * choice and emits what happened, so a choice is on disk before the next answer is judged.
 */

import { asPoetError, atTime, isAbort } from "../cancellation.js";
import type { Clock } from "../clock.js";
import { type PoetError, ProofVerificationError, throwIfAborted } from "../errors.js";
import type { PoetRegistration } from "../storage/index.js";
import type { TurnBudget } from "../turn-budget.js";
import type { MembershipProof } from "../wire/index.js";
import { compareProofs } from "./best-proof.js";
import type { PoetPool } from "./poet-pool.js";
import type { ProofFetcher, ProofSink, ProofWatch } from "./proof-fetcher.js";
import type { VerifiedRoundProof } from "./shared-verifier.js";

/** The proof an identity uses: its PoET and round, its size, its ref and the challenge's membership. */
export interface ProofChoice {
  /** `""` when resumed from a stored ref whose proof is no longer cached. */
  poet: string;
  roundId: string;
  leaves: bigint;
  ref: Uint8Array;
  membership: MembershipProof;
}

/** One PoET's verified proof, judged. */
export type ProofAnswer =
  | {
      kind: "not-a-member";
      poet: string;
      roundId: string;
      error: ProofVerificationError;
    }
  | { kind: "no-better"; poet: string; roundId: string }
  | {
      kind: "better";
      poet: string;
      roundId: string;
      choice: ProofChoice;
      /** The choice it replaces (`undefined` for the first one). */
      replaces: ProofChoice | undefined;
    };

/** What a collection needs from the manager. */
export interface ProofCollectionContext {
  /** The shared fetcher: each round is downloaded and verified once for all identities. */
  fetcher: Pick<ProofFetcher, "watch">;
  /** The PoETs' clients, and their info when no key is configured. */
  pool: Pick<PoetPool, "get" | "phase">;
  clock: Clock;
  /** Slices the judging of a proof every identity gets at once over event-loop turns. */
  turns: TurnBudget;
}

/** What one collection is about. */
export interface ProofCollectionRequest {
  /** The challenge's hash: the member looked for. */
  hash: Uint8Array;
  /** The PoETs to ask, each with the round that holds the challenge. */
  registrations: readonly PoetRegistration[];
  /** The choice already stored, if any: only better proofs are offered. */
  chosen: ProofChoice | undefined;
  /** With a proof chosen, no later answer is waited for after this instant (ms). */
  cutoffMs: number;
  /** Nothing is waited for after this instant (ms). */
  proofDeadlineMs: number;
}

/**
 * Fetches and judges the proofs of one identity's round.
 *
 * @example
 * ```ts
 * const collection = new ProofCollection(ctx, { hash, registrations, chosen, cutoffMs, proofDeadlineMs });
 * try {
 *   for (let step = await collection.next(signal); step !== "done"; step = await collection.next(signal)) {
 *     if (step === "wait") await new Promise<void>((woken) => collection.park(signal, woken));
 *     else if (step.kind === "better") await store(step.choice);
 *   }
 * } finally {
 *   collection.stop();
 * }
 * if (collection.best === undefined) report(collection.failures);
 * ```
 */
export class ProofCollection {
  readonly #ctx: ProofCollectionContext;
  /** What the collection is about; its registrations are let go once the fetcher was asked. */
  #request: ProofCollectionRequest;
  #best: ProofChoice | undefined;
  readonly #failures: { poet: string; error: PoetError }[] = [];
  /** The PoETs' answers as they come, once the fetcher was asked. */
  #arrivals: Arrivals | undefined;
  #watches: ProofWatch[] = [];

  constructor(ctx: ProofCollectionContext, request: ProofCollectionRequest) {
    this.#ctx = ctx;
    this.#request = request;
    this.#best = request.chosen;
  }

  /** The best choice so far (the stored one until a better proof arrives). */
  get best(): ProofChoice | undefined {
    return this.#best;
  }

  /** Why each PoET that failed gave no usable proof: a fetch error or a missing member. */
  get failures(): readonly { poet: string; error: PoetError }[] {
    return this.#failures;
  }

  /**
   * The next answer, in the order they arrive (the best first of those that arrived together);
   * `"wait"` when none has arrived and the collection goes on ({@link park} until one may have);
   * `"done"` when it is over: every PoET answered, a proof is chosen and the cut-off passed, or
   * the proof deadline passed. The first call asks the fetcher for every PoET's proof. Rejects
   * only with an abort; call {@link stop} once the collection is given up or done.
   */
  async next(signal: AbortSignal): Promise<ProofAnswer | "wait" | "done"> {
    throwIfAborted(signal);
    const arrivals = this.#arrivals ?? this.#start();
    const { arrived } = arrivals;
    // Every proof that arrived is judged before deciding whether to stop.
    if (arrived.length > 0) {
      // Ten thousand identities get the same proof at once: a few of them per turn.
      const turn = this.#ctx.turns.take();
      if (turn !== undefined) await turn;
      // The best of those that arrived first: the others are then no better, and an identity
      // whose PoETs all answered stores one choice instead of one per better answer.
      const next = takeBest(arrived);
      return this.#judge(next.poet, next.verified, signal);
    }
    const now = this.#ctx.clock.now();
    const { cutoffMs, proofDeadlineMs } = this.#request;
    if (
      arrivals.pending === 0 ||
      (this.#best !== undefined && now >= cutoffMs) ||
      now >= proofDeadlineMs
    ) {
      this.stop();
      return "done";
    }
    return "wait";
  }

  /**
   * Calls `wake` once, when an answer arrives, when the cut-off (with a proof chosen) or the proof
   * deadline comes, or when `signal` aborts: then {@link next} has something to say. Nothing is
   * suspended meanwhile, no promise or call frame: an identity waiting here from its registration
   * to the round's end is this object, its arrivals and a timer.
   */
  park(signal: AbortSignal, wake: () => void): void {
    const arrivals = this.#arrivals ?? this.#start();
    if (arrivals.arrived.length > 0 || arrivals.pending === 0 || signal.aborted) {
      wake();
      return;
    }
    const until = this.#best !== undefined ? this.#request.cutoffMs : this.#request.proofDeadlineMs;
    const parked = new Parked(arrivals, signal, wake);
    parked.stopTimer = atTime(this.#ctx.clock, until, () => parked.handleEvent());
    arrivals.wake = parked;
    signal.addEventListener("abort", parked, { once: true });
  }

  /** Stops every download still running for this collection (idempotent). */
  stop(): void {
    const watches = this.#watches;
    this.#watches = [];
    for (const watch of watches) watch.cancel();
  }

  /** Asks the fetcher for the proof of every PoET (once, on the first {@link next} or {@link park}). */
  #start(): Arrivals {
    const { fetcher, pool } = this.#ctx;
    const { registrations, proofDeadlineMs } = this.#request;
    // Told by the fetcher as each PoET's proof arrives or fails: an object per PoET, no promise
    // chain (every identity waits here from its registration to the round's end).
    const arrivals = new Arrivals(this.#failures);
    this.#arrivals = arrivals;
    for (const r of registrations) {
      const entry = pool.get(r.address);
      if (entry === undefined) continue;
      arrivals.pending++;
      const watch = fetcher.watch(
        {
          poet: r.address,
          source: entry.client,
          roundId: r.roundId,
          roundEndMs: r.roundEnd.getTime(),
          untilMs: proofDeadlineMs,
          // Without a configured key, the proof must carry the key the PoET's info gives.
          serviceKey:
            entry.pubkey === undefined
              ? () => pool.phase(entry, Number(r.roundId)).then((p) => p.servicePubkey)
              : undefined,
        },
        // This identity's PoETs are handed their proofs in one step.
        { group: arrivals },
        arrivals,
      );
      // Stopped when the collection ends (`stop`): no signal of their own.
      this.#watches.push(watch);
    }
    this.#request = { ...this.#request, registrations: [] };
    return arrivals;
  }

  async #judge(
    poet: string,
    verified: Awaited<ReturnType<ProofFetcher["fetch"]>>,
    signal: AbortSignal,
  ): Promise<ProofAnswer> {
    const { roundId } = verified;
    const index = await verified.members.indexOf(this.#request.hash, { signal });
    if (index < 0) {
      const error = new ProofVerificationError(
        "missing-member",
        `${poet} round ${roundId}: the challenge is not among the ${verified.members.members.length} members`,
      );
      this.#failures.push({ poet, error });
      return { kind: "not-a-member", poet, roundId, error };
    }
    const best = this.#best;
    const candidate = { poet, leaves: verified.proof.leaves, ref: verified.ref };
    if (best !== undefined && compareProofs(candidate, best) >= 0) {
      return { kind: "no-better", poet, roundId };
    }
    const choice: ProofChoice = {
      poet,
      roundId,
      leaves: verified.proof.leaves,
      ref: verified.ref,
      membership: verified.members.proofFor(index),
    };
    this.#best = choice;
    return { kind: "better", poet, roundId, choice, replaces: best };
  }
}

/**
 * Removes and returns the best proof of `arrived` (most leaves, then smallest ref and address:
 * `compareProofs`); `arrived` is not empty.
 */
function takeBest<
  T extends { poet: string; verified: { proof: { leaves: bigint }; ref: Uint8Array } },
>(arrived: T[]): T {
  let at = 0;
  for (let i = 1; i < arrived.length; i++) {
    const a = arrived[i] as T;
    const b = arrived[at] as T;
    const order = compareProofs(
      { poet: a.poet, leaves: a.verified.proof.leaves, ref: a.verified.ref },
      { poet: b.poet, leaves: b.verified.proof.leaves, ref: b.verified.ref },
    );
    if (order < 0) at = i;
  }
  return arrived.splice(at, 1)[0] as T;
}

/**
 * The answers of one collection's PoETs, as the fetcher hands them over: the fetcher's sink for
 * every PoET of the collection (it names the PoET), not an object per PoET.
 */
class Arrivals implements ProofSink {
  readonly arrived: { poet: string; verified: VerifiedRoundProof }[] = [];
  /** PoETs that have not answered yet. */
  pending = 0;
  /** Wakes the collection when it is parked. */
  wake: { handleEvent(): void } | undefined;

  constructor(readonly failures: { poet: string; error: PoetError }[]) {}

  proofArrived(verified: VerifiedRoundProof, poet: string): void {
    this.arrived.push({ poet, verified });
    this.#answered();
  }

  proofFailed(err: unknown, poet: string): void {
    if (!isAbort(err)) this.failures.push({ poet, error: asPoetError(err) });
    this.#answered();
  }

  #answered(): void {
    this.pending--;
    this.wake?.handleEvent();
  }
}

/**
 * A parked collection's one wake-up: the first of an arrival, its timer and its signal's abort
 * wakes it (an object that is its own abort listener and the arrivals' wake).
 */
class Parked {
  stopTimer: () => void = () => {};
  #woken = false;

  constructor(
    readonly arrivals: Arrivals,
    readonly signal: AbortSignal,
    readonly wake: () => void,
  ) {}

  handleEvent(): void {
    if (this.#woken) return;
    this.#woken = true;
    this.stopTimer();
    this.signal.removeEventListener("abort", this);
    if (this.arrivals.wake === this) this.arrivals.wake = undefined;
    this.wake();
  }
}
