/**
 * @module registration/proof-fetcher
 *
 * One download per PoET and round, shared by every identity registered there
 * (docs/node-client.md §1.5, §5, §7 item 6; docs/protocol.md §3.4).
 *
 * The first identity that needs a PoET's proof of a round starts a fetch; the others join it. The
 * fetch first looks in the node state (a restart, or a proof fetched for an earlier identity and
 * since forgotten in memory), then waits until the round end plus a grace (the PoET needs a moment
 * to publish) and a random jitter, then polls: a 404 ("not ready yet"), a server error or a hanging
 * PoET is tried again with a growing delay (the pacing of `schedule/proof-pacing.ts`), honouring `Retry-After`, until the deadline of the latest interested identity. Each attempt has
 * its own timeout on the manager's clock. An invalid proof is final: a PoET's proof of a round
 * never changes; so are an empty proof and a proof whose service key is not the PoET's (the
 * configured key, or else the one its `info` gives), each reported once as `proof-final`. When
 * every interested identity has stopped waiting, the fetch is cancelled.
 *
 * Several workers on one node state (a fleet) share each download too: one of them claims the
 * round and downloads it, the others wait for the result in the store (`proof-claims.ts`).
 *
 * The cached rows heal themselves: a stored proof or member list that does not decode, or a
 * member list whose root matches no stored proof of its round, is deleted with a `cache-dropped`
 * event and the proof is downloaded again, instead of failing every start. A stored proof that
 * cannot be read because the store fails retriably (a PostgreSQL restart or failover) is
 * downloaded again too, and a verified one is used at once whatever becomes of its rows.
 */

import type { AbortOptions } from "../abort-options.js";
import { equalBytes } from "../bytes.js";
import {
  anySignal,
  asPoetError,
  CANCELLED,
  isAbort,
  sleepUntil,
  withTimeout,
} from "../cancellation.js";
import { WrongServiceKeyError } from "../client/index.js";
import type { Clock } from "../clock.js";
import {
  abortedError,
  isRetriableStoreFailure,
  PoetError,
  ProofVerificationError,
  StorageError,
} from "../errors.js";
import type { Logger } from "../logger.js";
import { classifyFailure, drawJitter, type RandomSource } from "../retry-policy.js";
import type { NodeState } from "../storage/index.js";
import type { TurnBudget } from "../turn-budget.js";
import { PackedMembers, type PoetProof } from "../wire/index.js";
import { ticksOf } from "./best-proof.js";
import type { ConcurrencyLimit } from "./concurrency-limit.js";
import type { RegistrationEvent } from "./events.js";
import { ProofClaims } from "./proof-claims.js";
import { RoundMembers } from "./round-members.js";
import type { SharedVerifier, VerifiedRoundProof } from "./shared-verifier.js";

/** Where a PoET's proofs come from: its client's `proof` call. */
export interface ProofSource {
  proof(
    roundId: string,
    options?: AbortOptions,
  ): Promise<{
    proof: PoetProof;
    /** Packed (what `PoetClient.proof` returns), or one array per member. */
    members: PackedMembers | readonly Uint8Array[];
    pubkey: Uint8Array;
  }>;
}

/** `members` packed; a member that is not 32 bytes makes the round unusable (`bad-members`). */
function packed(
  members: PackedMembers | readonly Uint8Array[],
  poet: string,
  roundId: string,
): PackedMembers {
  if (members instanceof PackedMembers) return members;
  const bad = members.findIndex((m) => m.length !== 32);
  if (bad >= 0) {
    throw new ProofVerificationError(
      "bad-members",
      `${poet} round ${roundId}: members[${bad}] is ${members[bad]?.length} bytes, not 32`,
    );
  }
  return PackedMembers.from(members);
}

/**
 * Whether asking again may give another answer: not for a verdict on the proof or its members,
 * a malformed or oversized answer, a wrong key or a bad setting (the `final` failures of the
 * library's one classification, `classifyFailure` in `src/retry-policy.ts`; a proof not ready
 * yet, an abort or a storage failure are worth another try).
 */
export function isFinalProofFailure(err: unknown): boolean {
  return classifyFailure(err) === "final";
}

/** One identity's interest in a PoET's proof of a round. */
export interface ProofRequest {
  /** The PoET's normalised address. */
  poet: string;
  source: ProofSource;
  roundId: string;
  /** The round end the PoET announced, unix ms. */
  roundEndMs: number;
  /** The last instant the proof is of use to this identity, unix ms. */
  untilMs: number;
  /**
   * The service key the PoET's proofs must carry, when the client does not check one itself (no
   * key configured): the key of its `info`. `undefined` (or a key that cannot be had): unchecked.
   */
  serviceKey?: (() => Promise<Uint8Array | undefined>) | undefined;
}

/** Settings of a {@link ProofFetcher}. */
export interface ProofFetcherInit {
  state: NodeState;
  verifier: SharedVerifier;
  clock: Clock;
  logger: Logger;
  random: RandomSource;
  /** Wait after the round end before the first query: real PoETs publish 0.3–2 s after it. */
  graceMs: number;
  /** Bounds of the random delay added to the grace. */
  jitter: { minMs: number; maxMs: number };
  /** First delay between polls, doubled up to {@link maxPollIntervalMs}. */
  pollIntervalMs: number;
  maxPollIntervalMs: number;
  /** Leaves per tick, for events. */
  tickSize: bigint;
  /** Caps downloads running at once. */
  downloads: ConcurrencyLimit;
  emit: (event: RegistrationEvent) => void;
  /** Aborts every fetch when the owner closes. */
  signal: AbortSignal;
  /**
   * Share each download with the other workers on the same node state (`proof-claims.ts`): this
   * worker's name in the claims, and how long a claim lasts unrenewed. `undefined`: no claims.
   */
  claims?: { holder: string; ttlMs: number } | undefined;
  /**
   * Hands a round's proof (or its failure) to the identities waiting for it a few per event-loop
   * turn: what each does next runs in promise callbacks, and ten thousand of them woken by one
   * settled promise were one block of hundreds of ms. Default: all at once.
   */
  turns?: TurnBudget | undefined;
}

/**
 * Told how a round's proof fetch ended, for one subscriber ({@link ProofFetcher.watch}). Called
 * once, synchronously, from the fetcher's delivery (or from the abort of the subscriber's signal,
 * with an `AbortedError`).
 */
export interface ProofSink {
  /** `poet`: the address asked ({@link ProofRequest.poet}), so that one sink serves every PoET. */
  proofArrived(value: VerifiedRoundProof, poet: string): void;
  proofFailed(error: unknown, poet: string): void;
}

/** Options of {@link ProofFetcher.watch}. */
export interface WatchOptions extends AbortOptions {
  /**
   * The subscribers whose outcomes are handed over in one step (one identity's PoETs). Default
   * the signal.
   */
  group?: object | undefined;
}

/** A subscription of {@link ProofFetcher.watch}. */
export interface ProofWatch {
  /** Stops waiting; the sink is told `CANCELLED` unless it was told the outcome already. */
  cancel(): void;
}

/**
 * An identity waiting for a round's proof: an object and a listener, no promise or closure of its
 * own (it is its own abort listener, `handleEvent`). Ten thousand identities × five PoETs wait
 * from their registration to the round's end: an async call with its promises and closures for
 * each was more than half of what an identity held meanwhile.
 */
class Waiter {
  readonly entry: Entry;
  /** The waiters handed their outcomes in one step: the caller's signal. */
  readonly group: object;
  readonly #signal: AbortSignal | undefined;
  readonly #sink: ProofSink;
  readonly #hub: WaiterHub;

  constructor(hub: WaiterHub, entry: Entry, options: WatchOptions, sink: ProofSink) {
    const { signal } = options;
    this.#hub = hub;
    this.entry = entry;
    this.group = options.group ?? signal ?? {};
    this.#signal = signal;
    this.#sink = sink;
    entry.subscribers++;
  }

  /** Hands the fetch's outcome over (its entry no longer holds it). */
  deliver(outcome: NonNullable<Entry["outcome"]>): void {
    this.#signal?.removeEventListener("abort", this);
    this.#unsubscribe();
    if (outcome.ok) this.#sink.proofArrived(outcome.value, this.entry.poet);
    else this.#sink.proofFailed(outcome.error, this.entry.poet);
  }

  /** The caller stopped waiting: told {@link CANCELLED}, unless it was answered already. */
  cancel(): void {
    if (!this.entry.waiters.delete(this)) return;
    this.#signal?.removeEventListener("abort", this);
    this.#leaveQueue();
    this.#unsubscribe();
    this.#sink.proofFailed(CANCELLED, this.entry.poet);
  }

  /** The caller's signal aborted: its entry no longer holds it. */
  handleEvent(): void {
    this.entry.waiters.delete(this);
    this.#leaveQueue();
    this.#unsubscribe();
    this.#sink.proofFailed(abortedError(this.#signal as AbortSignal), this.entry.poet);
  }

  /** Leaves its place in the hand-out queue: a group left empty costs no step of the turn budget. */
  #leaveQueue(): void {
    const { readyGroups } = this.#hub;
    const group = readyGroups.get(this.group);
    if (group === undefined) return;
    const at = group.indexOf(this);
    if (at >= 0) group.splice(at, 1);
    if (group.length === 0) readyGroups.delete(this.group);
  }

  /** One subscriber fewer: a fetch nobody waits for any more is cancelled. */
  #unsubscribe(): void {
    const { entry } = this;
    entry.subscribers--;
    if (entry.subscribers === 0 && !entry.settled) {
      entry.controller.abort(CANCELLED);
      const { entries } = this.#hub;
      if (entries.get(entry.key) === entry) entries.delete(entry.key);
    }
  }
}

/** The fetcher's tables that its waiters leave: one object, not a field each per waiter. */
interface WaiterHub {
  /** The fetches, by PoET and round. */
  readonly entries: Map<string, Entry>;
  /** The queue of waiters whose outcome is known, by group. */
  readonly readyGroups: Map<object, Waiter[]>;
}

interface Entry {
  /** Its key in the fetcher's map (PoET and round). */
  key: string;
  /** The PoET's address, as asked. */
  poet: string;
  promise: Promise<VerifiedRoundProof>;
  controller: AbortController;
  subscribers: number;
  untilMs: number;
  settled: boolean;
  /** How the fetch ended, once it has. */
  outcome?: { ok: true; value: VerifiedRoundProof } | { ok: false; error: unknown };
  /** Waiting for the outcome (or for their turn to get it), in the order they came. */
  waiters: Set<Waiter>;
}

/**
 * Fetches and verifies PoET proofs, once per PoET and round.
 *
 * @example
 * ```ts
 * const verified = await fetcher.fetch(
 *   { poet, source: client, roundId: "30", roundEndMs, untilMs: proofDeadlineMs },
 *   { signal },
 * );
 * ```
 */
export class ProofFetcher {
  readonly #init: ProofFetcherInit;
  readonly #entries = new Map<string, Entry>();
  /** Waiters whose outcome is known, by group, in the order the groups became ready. */
  readonly #readyGroups = new Map<object, Waiter[]>();
  readonly #hub: WaiterHub = { entries: this.#entries, readyGroups: this.#readyGroups };
  #delivering = false;

  readonly #claims: ProofClaims | undefined;
  /** Verified rounds whose member list this fetcher stored (shared with the other workers). */
  readonly #stored = new WeakSet<VerifiedRoundProof>();

  constructor(init: ProofFetcherInit) {
    this.#init = init;
    this.#claims =
      init.claims === undefined
        ? undefined
        : new ProofClaims({
            claims: init.state.proofClaims,
            holder: init.claims.holder,
            ttlMs: init.claims.ttlMs,
            pollIntervalMs: init.pollIntervalMs,
            clock: init.clock,
            logger: init.logger,
            emit: init.emit,
          });
  }

  /** Fetches running now (for status displays). */
  get active(): number {
    let n = 0;
    for (const e of this.#entries.values()) if (!e.settled) n++;
    return n;
  }

  /**
   * The verified proof of `request.poet` for `request.roundId`. Rejects with a
   * `ProofVerificationError` for an invalid proof, a `PoetError` of code `"timeout"` when none
   * came before `untilMs`, or `AbortedError`.
   */
  async fetch(request: ProofRequest, options: AbortOptions = {}): Promise<VerifiedRoundProof> {
    return new Promise<VerifiedRoundProof>((resolve, reject) => {
      this.watch(request, options, { proofArrived: resolve, proofFailed: reject });
    });
  }

  /**
   * {@link fetch} for a caller that holds no promise while it waits: `sink` is told the outcome
   * once (an `AbortedError` when `options.signal` aborts first). For the many identities that
   * wait for the same proofs from their registration to the round's end.
   */
  watch(request: ProofRequest, options: WatchOptions, sink: ProofSink): ProofWatch {
    const key = `${request.poet} ${request.roundId}`;
    let entry = this.#entries.get(key);
    if (entry === undefined) {
      const controller = new AbortController();
      const created: Entry = {
        key,
        poet: request.poet,
        controller,
        subscribers: 0,
        untilMs: request.untilMs,
        settled: false,
        promise: Promise.resolve() as unknown as Promise<VerifiedRoundProof>,
        waiters: new Set(),
      };
      created.promise = this.#run(
        created,
        request,
        anySignal(controller.signal, this.#init.signal),
      );
      created.promise.then(
        (value) => {
          created.settled = true;
          this.#deliver(created, { ok: true, value });
        },
        (err: unknown) => {
          created.settled = true;
          this.#deliver(created, { ok: false, error: err });
          // Only a final answer is kept; a timeout or abort may be retried later.
          if (!isFinalProofFailure(err)) {
            if (this.#entries.get(key) === created) this.#entries.delete(key);
            return;
          }
          this.#init.emit({
            type: "proof-final",
            at: new Date(this.#init.clock.now()),
            poet: request.poet,
            roundId: request.roundId,
            error: asPoetError(err),
          });
        },
      );
      this.#entries.set(key, created);
      entry = created;
    } else {
      entry.untilMs = Math.max(entry.untilMs, request.untilMs);
    }
    const signal = options.signal;
    const waiter = new Waiter(this.#hub, entry, options, sink);
    if (signal?.aborted) {
      // Counted in and out at once: a fetch started for it alone is cancelled.
      waiter.handleEvent();
      return waiter;
    }
    signal?.addEventListener("abort", waiter, { once: true });
    entry.waiters.add(waiter);
    if (entry.outcome !== undefined) this.#ready(waiter);
    return waiter;
  }

  /** The fetch of `entry` ended: its waiters get the outcome, in turn. */
  #deliver(entry: Entry, outcome: NonNullable<Entry["outcome"]>): void {
    entry.outcome = outcome;
    for (const waiter of entry.waiters) this.#ready(waiter);
  }

  /**
   * Queues `waiter` for its outcome. Waiters go on a step of the turn budget per group (the
   * PoETs of one identity), first come first served: an identity whose turn comes after several
   * PoETs' proofs arrived gets them all at once, judges the best first and stores one choice,
   * instead of one per PoET as each round's waiters are woken in turn.
   */
  #ready(waiter: Waiter): void {
    const group = this.#readyGroups.get(waiter.group);
    if (group === undefined) this.#readyGroups.set(waiter.group, [waiter]);
    else group.push(waiter);
    if (!this.#delivering) {
      this.#delivering = true;
      void this.#deliverReady();
    }
  }

  async #deliverReady(): Promise<void> {
    const turns = this.#init.turns;
    try {
      for (;;) {
        if (turns !== undefined) {
          const turn = turns.take();
          if (turn !== undefined) await turn;
        }
        // The first group in the queue, with every waiter that joined it meanwhile.
        const next = this.#readyGroups.entries().next();
        if (next.done === true) return;
        const [key, waiters] = next.value;
        this.#readyGroups.delete(key);
        for (const waiter of waiters) {
          // Gone while it waited for its turn (aborted): its entry no longer holds it.
          if (!waiter.entry.waiters.delete(waiter)) continue;
          waiter.deliver(waiter.entry.outcome as NonNullable<Entry["outcome"]>);
        }
      }
    } finally {
      this.#delivering = false;
    }
  }

  /** Forgets finished fetches of rounds other than `keepRoundIds`. */
  prune(keepRoundIds: ReadonlySet<string>): void {
    for (const [key, entry] of this.#entries) {
      const roundId = key.slice(key.lastIndexOf(" ") + 1);
      if (entry.settled && !keepRoundIds.has(roundId)) this.#entries.delete(key);
    }
  }

  async #run(
    entry: Entry,
    request: ProofRequest,
    signal: AbortSignal,
  ): Promise<VerifiedRoundProof> {
    const { clock } = this.#init;
    await this.#pruneExpired(request, signal);
    const cached = await this.#fromState(request, signal);
    if (cached !== undefined) {
      this.#downloaded(cached, true);
      return cached;
    }
    const jitter = drawJitter(this.#init.jitter.minMs, this.#init.jitter.maxMs, this.#init.random);
    await sleepUntil(clock, request.roundEndMs + this.#init.graceMs + jitter, signal);
    if (this.#claims === undefined) return this.#download(entry, request, signal);
    // Another worker on the same state may be downloading it, or have stored it (proof-claims.ts).
    const turn = await this.#claims.turn(
      request,
      () => entry.untilMs,
      () => this.#fromState(request, signal),
      signal,
    );
    if (turn.kind === "stored") {
      this.#downloaded(turn.value, true);
      return turn.value;
    }
    return this.#claims.hold(
      request,
      turn.claim,
      () => this.#download(entry, request, signal),
      // Every verified round is stored, whatever its size (chunks, `member-list-repository.ts`),
      // unless the store failed to take it.
      { shared: (v) => this.#stored.has(v), final: isFinalProofFailure },
      signal,
    );
  }

  /** Polls the PoET until it serves the proof, verifies and stores it. */
  async #download(
    entry: Entry,
    request: ProofRequest,
    signal: AbortSignal,
  ): Promise<VerifiedRoundProof> {
    const { clock, emit } = this.#init;
    let delay = this.#init.pollIntervalMs;
    for (;;) {
      let response: Awaited<ReturnType<ProofSource["proof"]>>;
      try {
        response = await this.#init.downloads.run(
          () =>
            // The deadline bounds the download; the client bounds silence (not length).
            withTimeout(
              clock,
              Math.max(0, entry.untilMs - clock.now()),
              `GET proof of round ${request.roundId} from ${request.poet} (until the proof deadline)`,
              signal,
              (s) => request.source.proof(request.roundId, { signal: s }),
            ),
          { signal },
        );
      } catch (err) {
        if (signal.aborted && isAbort(err)) throw err;
        const error = asPoetError(err);
        const retryAfter = (error as { retryAfterMs?: number }).retryAfterMs ?? 0;
        const wait = Math.max(delay, retryAfter);
        const next = clock.now() + wait;
        const final = isFinalProofFailure(error);
        const giveUp = final || next > entry.untilMs;
        emit({
          type: "proof-fetch-failed",
          at: new Date(clock.now()),
          poet: request.poet,
          roundId: request.roundId,
          error,
          nextAttemptAt: giveUp ? undefined : new Date(next),
        });
        if (final) throw error;
        if (giveUp) {
          throw new PoetError(
            "timeout",
            `no proof of round ${request.roundId} from ${request.poet} before ${new Date(entry.untilMs).toISOString()}`,
            { cause: error },
          );
        }
        await clock.sleep(wait, { signal });
        delay = Math.min(delay * 2, this.#init.maxPollIntervalMs);
        continue;
      }
      let verified: VerifiedRoundProof;
      let list: PackedMembers;
      try {
        await this.#checkServiceKey(request, response.pubkey);
        list = packed(response.members, request.poet, request.roundId);
        const members = await RoundMembers.build(list, { signal });
        verified = await this.#init.verifier.check(
          {
            poet: request.poet,
            roundId: request.roundId,
            proof: response.proof,
            members,
            servicePubkey: response.pubkey,
          },
          { signal, proofDeadlineMs: entry.untilMs },
        );
      } catch (err) {
        if (err instanceof ProofVerificationError || err instanceof WrongServiceKeyError) {
          emit({
            type: "proof-rejected",
            at: new Date(clock.now()),
            poet: request.poet,
            roundId: request.roundId,
            nodeId: undefined,
            error: err,
          });
        }
        throw err;
      }
      // Packed, in chunks of 1 MiB: a mainnet round of millions of members is stored too, so
      // that a restart or another worker of the fleet reads it instead of downloading it. It is
      // a cache: when the store cannot take it, the proof in hand is used all the same.
      try {
        await this.#init.state.members.put(
          {
            address: request.poet,
            roundId: request.roundId,
            members: list,
            statement: verified.statement,
            fetchedAt: new Date(clock.now()),
          },
          { signal },
        );
        this.#stored.add(verified);
      } catch (err) {
        if (signal.aborted) throw err;
        this.#init.logger.warn(
          { err, poet: request.poet, roundId: request.roundId, members: list.length },
          "could not store the round's member list; it is used without being shared",
        );
      }
      this.#downloaded(verified, false);
      return verified;
    }
  }

  /** Rejects with a final `WrongServiceKeyError` when the proof's key is not the PoET's. */
  async #checkServiceKey(request: ProofRequest, pubkey: Uint8Array): Promise<void> {
    if (request.serviceKey === undefined) return;
    let expected: Uint8Array | undefined;
    try {
      expected = await request.serviceKey();
    } catch {
      // The PoET's info cannot be had now: the proof is checked as before, without the key.
      return;
    }
    if (expected !== undefined && !equalBytes(expected, pubkey)) {
      throw new WrongServiceKeyError(request.poet, "proof", expected, pubkey);
    }
  }

  /**
   * The round's verified proof from the node state, or `undefined`: none stored, a damaged row
   * (dropped), or a store that cannot answer now (a PostgreSQL restart or failover: the proof is
   * downloaded instead, as if it had never been stored).
   */
  async #fromState(
    request: ProofRequest,
    signal: AbortSignal,
  ): Promise<VerifiedRoundProof | undefined> {
    try {
      return await this.#readState(request, signal);
    } catch (err) {
      if (!isRetriableStoreFailure(err) || signal.aborted) throw err;
      this.#init.logger.debug(
        { err, poet: request.poet, roundId: request.roundId },
        "could not read the stored proof of the round; it is downloaded",
      );
      return undefined;
    }
  }

  async #readState(
    request: ProofRequest,
    signal: AbortSignal,
  ): Promise<VerifiedRoundProof | undefined> {
    const { state } = this.#init;
    const { poet, roundId } = request;
    const dropMembers = (problem: string) =>
      this.#dropCache("poet_client_members", request, problem, () =>
        state.members.delete(poet, roundId, { signal }),
      );
    // The verdicts first: small rows, where a member list is up to 96 MB (3,000,000 members).
    let proofs: Awaited<ReturnType<typeof state.proofs.findByRound>>;
    try {
      proofs = await state.proofs.findByRound(poet, roundId, { signal });
    } catch (err) {
      if (!isCorrupt(err)) throw err;
      await this.#dropCache("poet_client_proof", request, err.message, () =>
        state.proofs.deleteByRound(poet, roundId, { signal }),
      );
      return undefined;
    }
    if (proofs.length === 0) return undefined;
    let list: Awaited<ReturnType<typeof state.members.read>>;
    try {
      list = await state.members.read(poet, roundId, { signal });
    } catch (err) {
      if (!isCorrupt(err)) throw err;
      await dropMembers(err.message);
      return undefined;
    }
    if (list === undefined) return undefined;
    if (!(list.members instanceof PackedMembers)) {
      await dropMembers("a stored member is not 32 bytes");
      return undefined;
    }
    const members = await RoundMembers.build(list.members, { signal });
    const statement = members.root;
    if (list.statement !== undefined && !equalBytes(list.statement, statement)) {
      await dropMembers("the stored members do not hash to the stored membership root");
      return undefined;
    }
    const match = proofs.find((p) => equalBytes(p.statement, statement));
    if (match === undefined) {
      // Which of the two is damaged cannot be told: both go, and both are fetched again.
      const problem = "the stored members match no verified proof of the round";
      await dropMembers(problem);
      await this.#dropCache("poet_client_proof", request, problem, () =>
        state.proofs.deleteByRound(poet, roundId, { signal }),
      );
      return undefined;
    }
    return this.#init.verifier.check(
      {
        poet: request.poet,
        roundId: request.roundId,
        proof: match.proof,
        members,
        servicePubkey: match.servicePubkey,
      },
      { signal, proofDeadlineMs: request.untilMs },
    );
  }

  /**
   * Forgets what no identity can use any more: fetches in memory whose proof deadline has passed,
   * and stored member lists fetched before `now − (deadline − round end)` (a list is fetched
   * after its round ended, so its deadline has passed too). A failure here is logged, not thrown.
   */
  async #pruneExpired(request: ProofRequest, signal: AbortSignal): Promise<void> {
    const now = this.#init.clock.now();
    for (const [key, entry] of this.#entries) {
      if (entry.settled && entry.untilMs < now) this.#entries.delete(key);
    }
    const usable = request.untilMs - request.roundEndMs;
    if (!(usable >= 0)) return;
    try {
      await this.#init.state.members.pruneFetchedBefore(new Date(now - usable), { signal });
    } catch (err) {
      if (signal.aborted) throw err;
      this.#init.logger.warn({ err }, "could not prune stored member lists");
    }
    await this.#claims?.prune(new Date(now - usable), signal);
  }

  /** Deletes a damaged cache row and says so; the proof is downloaded again. */
  async #dropCache(
    table: string,
    request: ProofRequest,
    problem: string,
    remove: () => Promise<unknown>,
  ): Promise<void> {
    await remove();
    this.#init.logger.warn(
      { table, poet: request.poet, roundId: request.roundId, problem },
      "dropped a damaged cache row",
    );
    this.#init.emit({
      type: "cache-dropped",
      at: new Date(this.#init.clock.now()),
      table,
      poet: request.poet,
      roundId: request.roundId,
      problem,
    });
  }

  #downloaded(verified: VerifiedRoundProof, fromCache: boolean): void {
    this.#init.emit({
      type: "proof-downloaded",
      at: new Date(this.#init.clock.now()),
      poet: verified.poet,
      roundId: verified.roundId,
      leaves: verified.proof.leaves,
      ticks: ticksOf(verified.proof.leaves, this.#init.tickSize),
      ref: verified.ref,
      members: verified.members.count,
      fromCache,
    });
  }
}

function isCorrupt(err: unknown): err is StorageError {
  return err instanceof StorageError && err.kind === "corrupt";
}
