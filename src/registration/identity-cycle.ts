/**
 * @module registration/identity-cycle
 *
 * One identity's way from a challenge to a NiPoST (docs/node-client.md §1.2–§1.11, §4, §8):
 *
 * 1. **challenge**: stored with its hash, or resumed; a stale one (older publish epoch) is
 *    cleared with everything bound to it, in one transaction;
 * 2. **registration**: rows bound to another challenge hash are dropped; the missing PoETs are
 *    registered in the background until the round start; one success is enough to go on. A
 *    submit intent left by a crash between a PoET's answer and our row counts as a registration
 *    that may hold: it is not given up at the round start;
 * 3. **proofs**: after the round end plus jitter, the proof of every PoET that registered the
 *    challenge (or holds an unconfirmed intent) is fetched and verified once for all identities;
 *    each proof that contains the challenge competes, the best (most leaves) is stored as soon as
 *    it is known and upgraded while better ones arrive, until every PoET has answered or the
 *    cut-off passed. An intent whose challenge is among the members becomes the Go row then; one
 *    whose challenge is not is dropped. A start after the cut-off (first run or resume) still
 *    asks every PoET that has not answered, for a bounded time, before PoST;
 * 4. **PoST** over the chosen ref, then the `nipost` row.
 *
 * Every step starts by reading what the node state already holds and skips what is done, so the
 * same function is the first run and every resume: after a crash, a `close()`, an operator's
 * `delete`, or a PoET set change. Inconsistent rows (a registration or NiPoST of another
 * challenge) are repaired and reported instead of being trusted, and no situation loops or exits.
 */

import { raceAbort } from "../abortable.js";
import type { Signer } from "../auth/signer.js";
import { equalBytes, toHex } from "../bytes.js";
import {
  AbortedError,
  ConfigError,
  PoetError,
  type PoetErrorCode,
  ProofVerificationError,
  StorageError,
  throwIfAborted,
} from "../errors.js";
import type { RoundSchedule } from "../schedule/index.js";
import {
  type ChallengeRecord,
  computedChallengeHash,
  type PoetRegistration,
  type SubmitIntent,
} from "../storage/index.js";
import type { TurnBudget } from "../turn-budget.js";
import { encodeNipostChallenge, type MembershipProof } from "../wire/index.js";
import {
  anySignal,
  asPoetError,
  DEADLINE_PASSED,
  isAbort,
  sleepUntil,
  TASK_SETTLED,
} from "./abort.js";
import { compareProofs, ticksOf } from "./best-proof.js";
import type { RegistrationEvent } from "./events.js";
import type { NiPost, NiPostOutcome, NiPostRequest, PostProvider } from "./nipost.js";
import type { PoetPool } from "./poet-pool.js";
import type { ProofFetcher } from "./proof-fetcher.js";
import { RegistrationRun, type RegistrationRunContext, runKey } from "./registration-run.js";

/** What a cycle needs from the manager. */
export interface CycleContext extends RegistrationRunContext {
  schedule: RoundSchedule;
  fetcher: ProofFetcher;
  post: PostProvider;
  tickSize: bigint;
  proofCutoffMs: number;
  /** Wait after a round end before the first proof query (before the jitter). */
  proofQueryGraceMs: number;
  /** Background registrations, shared across calls for the same identity, challenge and round. */
  runs: Map<string, RegistrationRun>;
  /** Aborts everything when the manager closes. */
  closed: AbortSignal;
  /** Slices the steps that every identity takes at once (start, a proof arriving) over turns. */
  turns: TurnBudget;
  /** Confirms the identity's lease before PoST starts; throws `LeaseLostError` when it is gone. */
  confirmLease?: ((nodeId: Uint8Array, signal: AbortSignal) => Promise<void>) | undefined;
}

/** The proof an identity currently uses. */
interface Choice {
  poet: string;
  roundId: string;
  leaves: bigint;
  ref: Uint8Array;
  membership: MembershipProof;
}

/**
 * Runs (or resumes) one identity's cycle and returns the NiPoST or the outcome that stopped it.
 * Rejects only with `AbortedError` (caller or manager) or a `StorageError` / `ConfigError` the
 * caller must act on.
 */
export async function runIdentityCycle(
  ctx: CycleContext,
  signer: Signer,
  request: NiPostRequest,
  signal: AbortSignal,
): Promise<NiPostOutcome> {
  return new IdentityCycle(ctx, signer, signal).run(request);
}

/** Listeners of each background registration, told when one more PoET accepted. */
const acceptWatchers = new WeakMap<RegistrationRun, Set<() => void>>();

class IdentityCycle {
  readonly #ctx: CycleContext;
  readonly #signer: Signer;
  readonly #signal: AbortSignal;
  readonly #nodeId: Uint8Array;
  /** Unconfirmed submit intents of the current challenge, by PoET address. */
  readonly #intents = new Map<string, SubmitIntent>();

  constructor(ctx: CycleContext, signer: Signer, signal: AbortSignal) {
    this.#ctx = ctx;
    this.#signer = signer;
    this.#signal = signal;
    this.#nodeId = signer.nodeId;
  }

  get #now(): number {
    return this.#ctx.clock.now();
  }

  #emit(event: RegistrationEvent): void {
    this.#ctx.emit(event);
  }

  #repaired(problem: string, action: string): void {
    this.#ctx.logger.warn({ nodeId: toHex(this.#nodeId), problem, action }, "node state repaired");
    this.#emit({
      type: "state-repaired",
      at: new Date(this.#now),
      nodeId: this.#nodeId,
      problem,
      action,
    });
  }

  async run(request: NiPostRequest): Promise<NiPostOutcome> {
    const { state, schedule } = this.#ctx;
    const signal = this.#signal;
    const record = await this.#challenge(request);
    const hash = record.hash as Uint8Array;
    const publishEpoch = record.challenge.publishEpoch;
    const round = schedule.roundForPublishEpoch(publishEpoch);
    const base = { nodeId: this.#nodeId, publishEpoch };
    const publishEnd = schedule.publishEpochEnd(round).getTime();

    // PoST already done?
    const stored = await state.nipost.get(this.#nodeId, { signal });
    if (stored !== undefined) {
      if (
        record.poetProofRef !== undefined &&
        equalBytes(stored.poetProofRef, record.poetProofRef)
      ) {
        const nipost = await this.#nipost(record, hash, undefined, stored);
        return { kind: "ready", ...base, nipost };
      }
      await state.nipost.delete(this.#nodeId, { signal });
      this.#repaired(
        record.poetProofRef === undefined
          ? "a NiPoST row exists but no proof was selected for the current challenge"
          : "the NiPoST row was built on another proof than the selected one",
        "deleted the NiPoST row; PoST runs again",
      );
    }
    if (this.#now >= publishEnd) {
      return this.#expired(round, publishEpoch, publishEnd, "the publish epoch ended");
    }

    let choice: Choice | undefined;
    if (record.poetProofRef !== undefined && record.membership !== undefined) {
      choice = await this.#storedChoice(record.poetProofRef, record.membership);
    }
    const collected = await this.#registerAndFetch(record, hash, round, choice);
    if (collected.kind !== "chosen") return collected.outcome;
    return this.#prove(record, hash, round, collected.choice);
  }

  /** The stored challenge, checked against the caller's and repaired when stale. */
  async #challenge(request: NiPostRequest): Promise<ChallengeRecord> {
    const { state } = this.#ctx;
    const signal = this.#signal;
    const given = request.challenge;
    let record = await state.challenges.get(this.#nodeId, { signal });
    if (record !== undefined && record.hash === undefined) {
      record = await this.#computedHash(record, given);
    }
    if (record !== undefined && given !== undefined) {
      const storedEpoch = record.challenge.publishEpoch;
      const givenEpoch = given.challenge.publishEpoch;
      if (storedEpoch < givenEpoch) {
        await state.resetIdentity(this.#nodeId, { signal });
        this.#repaired(
          `a stale challenge for publish epoch ${storedEpoch} was stored`,
          "cleared its registrations, NiPoST and challenge",
        );
        record = undefined;
      } else if (storedEpoch > givenEpoch) {
        throw new ConfigError(
          "challenge.publishEpoch",
          `the identity already works on publish epoch ${storedEpoch}, later than ${givenEpoch}`,
        );
      } else if (record.hash === undefined || !equalBytes(record.hash, given.hash)) {
        record = await this.#replaceChallenge(record, given);
      }
    }
    if (record === undefined) {
      if (given === undefined) {
        throw new ConfigError(
          "challenge",
          "the identity has no stored challenge: pass the challenge and its hash",
        );
      }
      if (given.hash.length !== 32) {
        throw new ConfigError("challenge.hash", `must be 32 bytes, got ${given.hash.length}`);
      }
      await state.challenges.add(this.#nodeId, given.challenge, { hash: given.hash, signal });
      record = await state.challenges.get(this.#nodeId, { signal });
      if (record === undefined) {
        throw new StorageError("the challenge just stored cannot be read back", {
          kind: "missing",
          table: "challenge",
          identity: toHex(this.#nodeId),
        });
      }
    }
    if (record.hash === undefined) {
      throw new ConfigError(
        "challenge",
        "the stored challenge has no recorded hash (written by another program): pass it with its hash",
      );
    }
    return record;
  }

  /**
   * A row without a recorded hash (go-spacemesh wrote it, or the companion file was deleted): its
   * hash is computed from the row (`storage/challenge-hash.ts`) and recorded. A caller that passes
   * this very challenge with another hash is told so.
   */
  async #computedHash(
    record: ChallengeRecord,
    given: NiPostRequest["challenge"],
  ): Promise<ChallengeRecord | undefined> {
    const { state } = this.#ctx;
    const signal = this.#signal;
    const registrations = await state.registrations.listFor(this.#nodeId, { signal });
    const hash = computedChallengeHash(
      record.challenge,
      registrations.map((r) => r.hash),
    );
    if (hash === undefined) return record;
    if (
      given !== undefined &&
      !equalBytes(given.hash, hash) &&
      equalBytes(encodeNipostChallenge(given.challenge), encodeNipostChallenge(record.challenge))
    ) {
      throw new ConfigError(
        "challenge.hash",
        `${toHex(given.hash)} is not the hash of the stored challenge, which is ${toHex(hash)} ` +
          "(BLAKE3(0x00 ‖ SCALE(NIPostChallenge)), see nipostChallengeHash)",
      );
    }
    await state.challenges.setHash(this.#nodeId, hash, { signal });
    return state.challenges.get(this.#nodeId, { signal });
  }

  /** The caller brings another challenge for the same publish epoch than the stored one. */
  async #replaceChallenge(
    record: ChallengeRecord,
    given: NonNullable<NiPostRequest["challenge"]>,
  ): Promise<ChallengeRecord | undefined> {
    const { state } = this.#ctx;
    const signal = this.#signal;
    const registrations = await state.registrations.listFor(this.#nodeId, { signal });
    if (record.hash === undefined) {
      // A row without a recorded hash (go-spacemesh wrote it): adopt the caller's hash when the
      // registrations say it is the one that was submitted, or when nothing was submitted yet.
      const submitted = registrations.map((r) => r.hash);
      if (submitted.length === 0 || submitted.some((h) => equalBytes(h, given.hash))) {
        await state.challenges.update(this.#nodeId, given.challenge, { hash: given.hash, signal });
        return state.challenges.get(this.#nodeId, { signal });
      }
    }
    // A submit intent of the stored challenge may have been accepted (the PoET answered after we
    // crashed): such a PoET holds the challenge as surely as one with a row, and would refuse
    // another one (409), so it counts.
    const intents = await state.intents.listFor(this.#nodeId, { signal });
    const held = [...registrations, ...intents].filter(
      (r) => record.hash !== undefined && equalBytes(r.hash, record.hash),
    );
    if (held.length > 0) {
      const where = [...new Set(held.map((r) => r.address))].join(", ");
      throw new ConfigError(
        "challenge",
        `the identity already registered (or may have: a submit whose answer was not stored) ` +
          `another challenge for publish epoch ${record.challenge.publishEpoch} at ${where}; the ` +
          "PoETs would refuse a different one (409): resume without a challenge, or reset the identity",
      );
    }
    await state.resetIdentity(this.#nodeId, { signal });
    this.#repaired(
      "the stored challenge differs from the one to register and was never accepted by a PoET",
      "replaced the challenge and cleared the rows bound to the old one",
    );
    return undefined;
  }

  async #storedChoice(ref: Uint8Array, membership: MembershipProof): Promise<Choice> {
    let proof: Awaited<ReturnType<CycleContext["state"]["proofs"]["get"]>>;
    try {
      proof = await this.#ctx.state.proofs.get(ref, { signal: this.#signal });
    } catch (err) {
      if (!(err instanceof StorageError && err.kind === "corrupt")) throw err;
      // The cached proof is damaged: drop it; the choice is made again from the PoETs.
      await this.#ctx.state.proofs.delete(ref, { signal: this.#signal });
      this.#emit({
        type: "cache-dropped",
        at: new Date(this.#now),
        table: err.table ?? "poet_client_proof",
        poet: undefined,
        roundId: undefined,
        problem: err.message,
      });
      proof = undefined;
    }
    return {
      poet: proof?.address ?? "",
      roundId: proof?.roundId ?? "",
      leaves: proof?.proof.leaves ?? 0n,
      ref,
      membership,
    };
  }

  /** Registration, then proof collection. */
  async #registerAndFetch(
    record: ChallengeRecord,
    hash: Uint8Array,
    round: number,
    stored: Choice | undefined,
  ): Promise<{ kind: "chosen"; choice: Choice } | { kind: "stopped"; outcome: NiPostOutcome }> {
    const { schedule, pool } = this.#ctx;
    const signal = this.#signal;
    const publishEpoch = record.challenge.publishEpoch;
    const base = { nodeId: this.#nodeId, publishEpoch, round };
    const deadline = schedule.registrationDeadline(round).getTime();
    const proofDeadline = schedule.proofDeadline(round).getTime();

    let registrations = await this.#registrationsOf(hash);
    const configured = new Set(pool.addresses);
    // A PoET that left the set is still asked for the proof of a round it already runs.
    const reachable = (address: string) => configured.has(address) || pool.isRetired(address);
    if (stored !== undefined) {
      // Proof collection already chose; look for better proofs until the cut-off, and after it ask once
      // more every PoET that has not answered (a restart may have missed their proofs).
      const usable = await this.#candidates(hash, reachable);
      if (usable.length === 0) return { kind: "chosen", choice: stored };
      const cutoff = this.#cutoff(usable, proofDeadline);
      if (this.#now < cutoff) return this.#fetchProofs(record, hash, round, usable, stored);
      const unanswered = await this.#unanswered(usable, stored);
      if (unanswered.length === 0) return { kind: "chosen", choice: stored };
      return this.#fetchProofs(record, hash, round, unanswered, stored);
    }

    const opens = schedule.registrationOpens(round).getTime();
    if (this.#now < opens) {
      this.#emit({
        type: "waiting-for-registration-window",
        at: new Date(this.#now),
        ...base,
        opensAt: new Date(opens),
        deadline: new Date(deadline),
      });
      await sleepUntil(this.#ctx.clock, opens, signal);
    }

    const present = new Set(registrations.map((r) => r.address));
    for (const r of registrations) {
      if (!reachable(r.address)) continue;
      this.#emit({
        type: "registered",
        at: new Date(this.#now),
        ...base,
        poet: r.address,
        roundId: r.roundId,
        roundEnd: r.roundEnd,
        resumed: true,
      });
    }
    const missing = pool.entries.filter((e) => !present.has(e.address));
    let run: RegistrationRun | undefined;
    if (missing.length > 0 && this.#now < deadline) {
      run = this.#startRun(hash, publishEpoch, round, deadline, proofDeadline, missing);
      if (!registrations.some((r) => reachable(r.address))) {
        await raceAbort(run.firstSuccess, signal);
      }
      registrations = await this.#registrationsOf(hash);
    }
    const usable = registrations.filter((r) => reachable(r.address));
    if (usable.length === 0) {
      // Past the round start, a PoET that may hold the challenge (an intent the crash left
      // unconfirmed) is asked for its proof instead of giving the epoch up.
      const held = this.#now >= deadline ? await this.#heldIntents(hash, reachable) : [];
      if (held.length > 0) return this.#fetchProofs(record, hash, round, held, undefined);
      const failures = [...(run?.failures ?? new Map<string, PoetError>())].map(
        ([poet, error]) => ({
          poet,
          error,
        }),
      );
      const elsewhere = registrations.filter((r) => !reachable(r.address));
      if (elsewhere.length > 0) {
        const error = new ConfigError(
          "poets",
          `registered only at ${elsewhere.map((r) => r.address).join(", ")}, none of which is ` +
            "configured: restore one of them, or reset the identity",
        );
        const registeredAt = elsewhere.map((r) => r.address);
        this.#emit({
          type: "poet-set-mismatch",
          at: new Date(this.#now),
          ...base,
          registeredAt,
          configured: [...configured],
          error,
        });
        return {
          kind: "stopped",
          outcome: {
            kind: "poet-set-mismatch",
            nodeId: this.#nodeId,
            publishEpoch,
            registeredAt,
            configured: [...configured],
            error,
          },
        };
      }
      if (run !== undefined && failures.some((f) => !run.refused.has(f.poet))) {
        // Some PoET only ran out of time: the window closes at the round start.
        await sleepUntil(this.#ctx.clock, deadline, signal);
      }
      if (this.#now >= deadline) {
        const late = await this.#heldIntents(hash, reachable);
        if (late.length > 0) return this.#fetchProofs(record, hash, round, late, undefined);
        return { kind: "stopped", outcome: await this.#missed(round, publishEpoch, failures) };
      }
      const rejected = new PoetError(
        "registration-rejected",
        `every PoET refused the registration for publish epoch ${publishEpoch}`,
        { cause: failures[0]?.error },
      );
      return {
        kind: "stopped",
        outcome: {
          kind: "registration-failed",
          nodeId: this.#nodeId,
          publishEpoch,
          deadline: new Date(deadline),
          failures,
          error: failures[0]?.error ?? rejected,
        },
      };
    }
    const all = await this.#candidates(hash, reachable, run);
    return this.#fetchProofs(record, hash, round, all, undefined, run, reachable);
  }

  /**
   * The PoETs whose proof may hold the challenge: the registrations, then the PoETs with an
   * unconfirmed intent, each reachable.
   */
  async #candidates(
    hash: Uint8Array,
    reachable: (address: string) => boolean,
    run?: RegistrationRun,
  ): Promise<PoetRegistration[]> {
    const registrations = await this.#registrationsOf(hash);
    // A PoET the run still tries has a submit in flight: it counts once it accepts.
    const intents = (await this.#pendingIntents(hash, registrations)).filter(
      (r) => run === undefined || !run.trying.has(r.address),
    );
    return [...registrations, ...intents].filter((r) => reachable(r.address));
  }

  /** The unconfirmed intents at reachable PoETs. */
  async #heldIntents(
    hash: Uint8Array,
    reachable: (address: string) => boolean,
  ): Promise<PoetRegistration[]> {
    const registrations = await this.#registrationsOf(hash);
    const intents = await this.#pendingIntents(hash, registrations);
    return intents.filter((r) => reachable(r.address));
  }

  /**
   * The identity's submit intents that may still hold, as registrations of their target round.
   * Intents of another challenge, of a PoET whose row exists, or past their proof deadline go.
   */
  async #pendingIntents(
    hash: Uint8Array,
    registrations: readonly PoetRegistration[],
  ): Promise<PoetRegistration[]> {
    const { state } = this.#ctx;
    const signal = this.#signal;
    const pending: PoetRegistration[] = [];
    this.#intents.clear();
    for (const intent of await state.intents.listFor(this.#nodeId, { signal })) {
      const confirmed = registrations.some((r) => r.address === intent.address);
      let reason: "challenge-replaced" | "expired" | undefined;
      if (!equalBytes(intent.hash, hash)) reason = "challenge-replaced";
      else if (!confirmed && intent.proofDeadline.getTime() < this.#now) reason = "expired";
      if (reason !== undefined || confirmed) {
        await state.intents.delete(this.#nodeId, intent.address, { signal });
        if (reason !== undefined) this.#intentDropped(intent, reason);
        continue;
      }
      this.#intents.set(intent.address, intent);
      pending.push({
        nodeId: this.#nodeId,
        hash: intent.hash,
        address: intent.address,
        roundId: intent.roundId,
        roundEnd: intent.roundEnd,
      });
    }
    return pending;
  }

  #intentDropped(
    intent: SubmitIntent,
    reason: "not-a-member" | "challenge-replaced" | "expired",
  ): void {
    const round = Number(intent.roundId);
    this.#emit({
      type: "submit-intent-dropped",
      at: new Date(this.#now),
      nodeId: this.#nodeId,
      publishEpoch: round + 1,
      round,
      poet: intent.address,
      roundId: intent.roundId,
      reason,
    });
  }

  /**
   * After the cut-off, with a proof chosen: the PoETs that have not answered for this round (no
   * verified proof stored for it, or one better than the choice, which a crash kept from being
   * chosen). The chosen PoET has answered.
   */
  async #unanswered(
    candidates: readonly PoetRegistration[],
    stored: Choice,
  ): Promise<PoetRegistration[]> {
    const { state } = this.#ctx;
    const unanswered: PoetRegistration[] = [];
    for (const r of candidates) {
      if (r.address === stored.poet && r.roundId === stored.roundId) continue;
      let proofs: Awaited<ReturnType<typeof state.proofs.findByRound>>;
      try {
        proofs = await state.proofs.findByRound(r.address, r.roundId, { signal: this.#signal });
      } catch (err) {
        // A damaged cache row: the fetch drops it and asks the PoET.
        if (!(err instanceof StorageError && err.kind === "corrupt")) throw err;
        proofs = [];
      }
      const better = proofs.some(
        (p) => compareProofs({ poet: r.address, leaves: p.proof.leaves, ref: p.ref }, stored) < 0,
      );
      if (proofs.length === 0 || better) unanswered.push(r);
    }
    return unanswered;
  }

  /** The identity's registrations; rows bound to another challenge are deleted and reported. */
  async #registrationsOf(hash: Uint8Array): Promise<PoetRegistration[]> {
    const { registrations } = this.#ctx.state;
    const signal = this.#signal;
    const all = await registrations.listFor(this.#nodeId, { signal });
    const current = all.filter((r) => equalBytes(r.hash, hash));
    const stale =
      current.length < all.length
        ? await registrations.deleteStale(this.#nodeId, hash, { signal })
        : [];
    if (stale.length > 0) {
      this.#repaired(
        `registrations at ${stale.map((r) => r.address).join(", ")} belong to another challenge`,
        "deleted them; the current challenge is registered where the round is still open",
      );
    }
    return current;
  }

  #startRun(
    hash: Uint8Array,
    publishEpoch: number,
    round: number,
    deadlineMs: number,
    proofDeadlineMs: number,
    missing: ReturnType<PoetPool["entries"]["filter"]>,
  ): RegistrationRun {
    const { runs } = this.#ctx;
    const key = runKey(this.#nodeId, hash, round);
    const existing = runs.get(key);
    if (existing !== undefined) return existing;
    // Every cycle waiting on this run hears of each PoET that accepts (see #awaitRegistrations).
    const watchers = new Set<() => void>();
    const emit = (event: RegistrationEvent) => {
      this.#ctx.emit(event);
      if (event.type === "registered") for (const watcher of [...watchers]) watcher();
    };
    const run = new RegistrationRun(
      { ...this.#ctx, emit },
      {
        signer: this.#signer,
        hash,
        publishEpoch,
        round,
        deadlineMs,
        roundEndMs: this.#ctx.schedule.roundEnd(round).getTime(),
        proofDeadlineMs,
      },
      missing,
      this.#ctx.closed,
    );
    acceptWatchers.set(run, watchers);
    runs.set(key, run);
    run.done.finally(() => {
      if (runs.get(key) === run) runs.delete(key);
    });
    return run;
  }

  /**
   * Waits until the run is done or the registration deadline passed (true), or until one more
   * PoET accepted (false).
   */
  async #awaitRegistrations(run: RegistrationRun, deadline: number): Promise<boolean> {
    const watchers = acceptWatchers.get(run);
    let unwatch = () => {};
    const accepted = new Promise<boolean>((resolve) => {
      if (watchers === undefined) return;
      const watcher = () => resolve(false);
      watchers.add(watcher);
      unwatch = () => watchers.delete(watcher);
    });
    const timer = new AbortController();
    try {
      return await raceAbort(
        Promise.race([
          run.done.then(() => true),
          sleepUntil(this.#ctx.clock, deadline, anySignal(this.#signal, timer.signal)).then(
            () => true,
            () => true,
          ),
          accepted,
        ]),
        this.#signal,
      );
    } finally {
      unwatch();
      timer.abort(TASK_SETTLED);
    }
  }

  #cutoff(registrations: readonly PoetRegistration[], proofDeadline: number): number {
    const lastEnd = Math.max(...registrations.map((r) => r.roundEnd.getTime()));
    return Math.min(proofDeadline, lastEnd + this.#ctx.proofCutoffMs);
  }

  /** Proof collection: fetch every registered PoET's proof and keep the best one containing the challenge. */
  async #fetchProofs(
    record: ChallengeRecord,
    hash: Uint8Array,
    round: number,
    known: readonly PoetRegistration[],
    stored: Choice | undefined,
    run?: RegistrationRun,
    reachable?: (address: string) => boolean,
  ): Promise<{ kind: "chosen"; choice: Choice } | { kind: "stopped"; outcome: NiPostOutcome }> {
    const { schedule, clock, fetcher, pool, state } = this.#ctx;
    const publishEpoch = record.challenge.publishEpoch;
    const base = { nodeId: this.#nodeId, publishEpoch, round };
    const proofDeadline = schedule.proofDeadline(round).getTime();
    let registrations = known;
    let cutoff = this.#cutoff(registrations, proofDeadline);
    let lastEnd = Math.max(...registrations.map((r) => r.roundEnd.getTime()));
    if (stored === undefined && this.#now >= proofDeadline) {
      return {
        kind: "stopped",
        outcome: await this.#noProof(round, publishEpoch, [], true),
      };
    }
    const announce = () =>
      this.#emit({
        type: "waiting-for-round-end",
        at: new Date(this.#now),
        ...base,
        roundEnd: new Date(lastEnd),
        queryAt: new Date(
          lastEnd + this.#ctx.proofQueryGraceMs + schedule.proofQueryJitter().minMs,
        ),
        cutoff: new Date(cutoff),
        proofDeadline: new Date(proofDeadline),
        poets: registrations.map((r) => r.address),
      });
    announce();
    if (run !== undefined && reachable !== undefined) {
      // The other PoETs keep being tried until the round starts; nothing else can happen before
      // the round ends, so wait for them and fetch from every PoET that took the challenge. Each
      // PoET that accepts meanwhile widens the set, and the waiting event is sent again.
      const deadline = schedule.registrationDeadline(round).getTime();
      for (;;) {
        const finished = await this.#awaitRegistrations(run, deadline);
        const before = new Set(registrations.map((r) => r.address));
        registrations = await this.#candidates(hash, reachable, run);
        cutoff = this.#cutoff(registrations, proofDeadline);
        lastEnd = Math.max(...registrations.map((r) => r.roundEnd.getTime()));
        if (registrations.some((r) => !before.has(r.address))) announce();
        if (finished || this.#now >= deadline) break;
      }
    }

    // A start after the cut-off still gives every PoET one bounded chance to answer: time for a
    // connection and a download, twice the request timeout.
    if (this.#now >= cutoff) {
      cutoff = Math.min(proofDeadline, this.#now + 2 * this.#ctx.requestTimeoutMs);
    }
    // Only unconfirmed intents: when none holds the challenge, the window was missed after all.
    const intentsOnly = registrations.every((r) => this.#intents.has(r.address));
    const listening = new AbortController();
    const fetchSignal = anySignal(this.#signal, listening.signal);
    let best = stored;
    const failures: { poet: string; error: PoetError }[] = [];
    let selecting: Promise<void> = Promise.resolve();
    let pending = registrations.length;
    let wake: () => void = () => {};

    const consider = async (poet: string, verified: Awaited<ReturnType<ProofFetcher["fetch"]>>) => {
      const index = await verified.members.indexOf(hash, { signal: this.#signal });
      const intent = this.#intents.get(poet);
      if (intent !== undefined && intent.roundId === verified.roundId) {
        this.#intents.delete(poet);
        await this.#resolveIntent(intent, verified.roundId, index >= 0);
      }
      if (index < 0) {
        const error = new ProofVerificationError(
          "missing-member",
          `${poet} round ${verified.roundId}: the challenge is not among the ${verified.members.members.length} members`,
        );
        failures.push({ poet, error });
        this.#emit({
          type: "proof-rejected",
          at: new Date(this.#now),
          poet,
          roundId: verified.roundId,
          nodeId: this.#nodeId,
          error,
        });
        return;
      }
      const candidate = { poet, leaves: verified.proof.leaves, ref: verified.ref };
      if (best !== undefined && compareProofs(candidate, best) >= 0) return;
      const membership = verified.members.proofFor(index);
      await state.challenges.setPoetProof(this.#nodeId, verified.ref, membership, {
        signal: this.#signal,
      });
      const replaces =
        best === undefined || best.poet === ""
          ? undefined
          : {
              poet: best.poet,
              leaves: best.leaves,
              ticks: ticksOf(best.leaves, this.#ctx.tickSize),
            };
      best = {
        poet,
        roundId: verified.roundId,
        leaves: verified.proof.leaves,
        ref: verified.ref,
        membership,
      };
      this.#emit({
        type: "best-proof-selected",
        at: new Date(this.#now),
        ...base,
        poet,
        roundId: verified.roundId,
        leaves: verified.proof.leaves,
        ticks: ticksOf(verified.proof.leaves, this.#ctx.tickSize),
        ref: verified.ref,
        replaces,
      });
    };

    for (const r of registrations) {
      const entry = pool.get(r.address);
      if (entry === undefined) {
        pending--;
        continue;
      }
      fetcher
        .fetch(
          {
            poet: r.address,
            source: entry.client,
            roundId: r.roundId,
            roundEndMs: r.roundEnd.getTime(),
            untilMs: proofDeadline,
            // Without a configured key, the proof must carry the key the PoET's info gives.
            serviceKey:
              entry.pubkey === undefined
                ? () => pool.phase(entry, Number(r.roundId)).then((p) => p.servicePubkey)
                : undefined,
          },
          { signal: fetchSignal },
        )
        .then((verified) => {
          // Ten thousand identities get the same proof at once: a few of them per turn.
          selecting = selecting
            .then(() => this.#ctx.turns.take())
            .then(() => consider(r.address, verified));
          return selecting;
        })
        .catch((err: unknown) => {
          if (!isAbort(err)) failures.push({ poet: r.address, error: asPoetError(err) });
        })
        .finally(() => {
          pending--;
          wake();
        });
    }

    try {
      for (;;) {
        if (pending === 0) break;
        if (best !== undefined && this.#now >= cutoff) break;
        if (this.#now >= proofDeadline) break;
        const until = best !== undefined ? cutoff : proofDeadline;
        const woken = new Promise<void>((resolve) => {
          wake = resolve;
        });
        const timer = new AbortController();
        const sleeping = sleepUntil(clock, until, anySignal(this.#signal, timer.signal)).catch(
          // An abort wakes the race too; throwIfAborted below reports it. Rethrowing here would
          // leave a rejection nobody awaits once the race was won by `woken`.
          () => {},
        );
        try {
          await Promise.race([woken, sleeping]);
        } finally {
          timer.abort(TASK_SETTLED);
        }
        throwIfAborted(this.#signal);
      }
      await selecting;
    } finally {
      listening.abort(TASK_SETTLED);
    }
    if (best === undefined) {
      const expired = this.#now >= proofDeadline;
      if (intentsOnly && !expired) {
        return { kind: "stopped", outcome: await this.#missed(round, publishEpoch, failures) };
      }
      return {
        kind: "stopped",
        outcome: await this.#noProof(round, publishEpoch, failures, expired),
      };
    }
    return { kind: "chosen", choice: best };
  }

  /**
   * An intent's PoET published its round: the challenge is among the members (the PoET accepted
   * it: the Go row is written now, the intent goes in the same transaction) or not (the intent is
   * dropped).
   */
  async #resolveIntent(intent: SubmitIntent, roundId: string, member: boolean): Promise<void> {
    const { state } = this.#ctx;
    const signal = this.#signal;
    const round = Number(intent.roundId);
    if (!member) {
      if (await state.intents.delete(this.#nodeId, intent.address, { signal })) {
        this.#intentDropped(intent, "not-a-member");
      }
      return;
    }
    const written = await state.intents.confirm(
      {
        nodeId: this.#nodeId,
        hash: intent.hash,
        address: intent.address,
        roundId,
        roundEnd: intent.roundEnd,
      },
      { signal },
    );
    if (!written) return;
    this.#emit({
      type: "submit-intent-confirmed",
      at: new Date(this.#now),
      nodeId: this.#nodeId,
      publishEpoch: round + 1,
      round,
      poet: intent.address,
      roundId,
    });
  }

  /** PoST over the chosen ref, then the `nipost` row. */
  async #prove(
    record: ChallengeRecord,
    hash: Uint8Array,
    round: number,
    choice: Choice,
  ): Promise<NiPostOutcome> {
    const { schedule, clock, state } = this.#ctx;
    const publishEpoch = record.challenge.publishEpoch;
    const base = { nodeId: this.#nodeId, publishEpoch, round };
    const publishEnd = schedule.publishEpochEnd(round).getTime();
    if (this.#now >= publishEnd) {
      return this.#expired(round, publishEpoch, publishEnd, "the publish epoch ended before PoST");
    }
    await this.#ctx.confirmLease?.(this.#nodeId, this.#signal);
    this.#emit({
      type: "post-started",
      at: new Date(this.#now),
      ...base,
      ref: choice.ref,
      deadline: new Date(publishEnd),
    });
    const timer = new AbortController();
    const postSignal = anySignal(this.#signal, timer.signal);
    let late = false;
    sleepUntil(clock, publishEnd, postSignal).then(
      () => {
        late = true;
        timer.abort(DEADLINE_PASSED);
      },
      () => {},
    );
    let result: Awaited<ReturnType<PostProvider>>;
    try {
      result = await raceAbort(
        this.#ctx.post(
          {
            nodeId: this.#nodeId,
            challenge: choice.ref,
            publishEpoch,
            deadline: new Date(publishEnd),
          },
          { signal: postSignal },
        ),
        postSignal,
      );
    } catch (err) {
      if (this.#signal.aborted) throw new AbortedError(undefined, { cause: err });
      if (late) {
        return this.#expired(
          round,
          publishEpoch,
          publishEnd,
          "PoST did not finish in the publish epoch",
        );
      }
      const error = asPoetError(err);
      this.#emit({ type: "post-failed", at: new Date(this.#now), ...base, error });
      return { kind: "post-failed", nodeId: this.#nodeId, publishEpoch, error };
    } finally {
      timer.abort(TASK_SETTLED);
    }
    const row = {
      post: result.post,
      numUnits: result.numUnits,
      vrfNonce: result.vrfNonce,
      labelsPerUnit: result.labelsPerUnit,
      membership: choice.membership,
      poetProofRef: choice.ref,
    };
    try {
      await state.nipost.add(this.#nodeId, row, { signal: this.#signal });
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      // The PoST provider returned something the nipost row cannot hold.
      this.#emit({ type: "post-failed", at: new Date(this.#now), ...base, error: err });
      return { kind: "post-failed", nodeId: this.#nodeId, publishEpoch, error: err };
    }
    const nipost = await this.#nipost(record, hash, choice, row);
    this.#emit({
      type: "nipost-ready",
      at: new Date(this.#now),
      ...base,
      poet: nipost.poet ?? "",
      ref: choice.ref,
      leaves: nipost.leaves ?? 0n,
      ticks: nipost.ticks ?? 0n,
    });
    return { kind: "ready", nodeId: this.#nodeId, publishEpoch, nipost };
  }

  async #nipost(
    record: ChallengeRecord,
    hash: Uint8Array,
    choice: Choice | undefined,
    row: {
      post: NiPost["post"];
      numUnits: number;
      vrfNonce: bigint;
      labelsPerUnit: bigint;
      membership: MembershipProof;
      poetProofRef: Uint8Array;
    },
  ): Promise<NiPost> {
    const known =
      choice !== undefined && choice.poet !== ""
        ? choice
        : await this.#storedChoice(row.poetProofRef, row.membership);
    const found = known.poet !== "";
    return {
      nodeId: this.#nodeId,
      publishEpoch: record.challenge.publishEpoch,
      challengeHash: hash,
      poet: found ? known.poet : undefined,
      roundId: found ? known.roundId : undefined,
      leaves: found ? known.leaves : undefined,
      ticks: found ? ticksOf(known.leaves, this.#ctx.tickSize) : undefined,
      proofRef: row.poetProofRef,
      membership: row.membership,
      post: row.post,
      numUnits: row.numUnits,
      vrfNonce: row.vrfNonce,
      labelsPerUnit: row.labelsPerUnit,
    };
  }

  async #missed(
    round: number,
    publishEpoch: number,
    failures: { poet: string; error: PoetError }[],
  ): Promise<NiPostOutcome> {
    const { schedule, state } = this.#ctx;
    const deadline = schedule.registrationDeadline(round);
    const nextRound = schedule.openRound(new Date(this.#now));
    const windowError = new PoetError(
      "registration-window-missed",
      `no PoET accepted the challenge for publish epoch ${publishEpoch} before round ${round} ` +
        `started at ${deadline.toISOString()}; the next window is round ${nextRound}, until ` +
        `${schedule.registrationDeadline(nextRound).toISOString()}`,
      { cause: failures[0]?.error },
    );
    await state.resetIdentity(this.#nodeId, { signal: this.#signal });
    this.#emit({
      type: "window-missed",
      at: new Date(this.#now),
      nodeId: this.#nodeId,
      publishEpoch,
      round,
      deadline,
      nextRound,
      nextRegistrationDeadline: schedule.registrationDeadline(nextRound),
      error: windowError,
    });
    return {
      kind: "window-missed",
      nodeId: this.#nodeId,
      publishEpoch,
      deadline,
      nextRound,
      nextPublishEpoch: schedule.publishEpoch(nextRound),
      nextRegistrationDeadline: schedule.registrationDeadline(nextRound),
      failures,
      error: windowError,
    };
  }

  async #noProof(
    round: number,
    publishEpoch: number,
    failures: { poet: string; error: PoetError }[],
    expired: boolean,
  ): Promise<NiPostOutcome> {
    const deadline = this.#ctx.schedule.proofDeadline(round);
    // Name what went wrong at each PoET (an answer over the size cap, a malformed body, a
    // missing member…) rather than only that no proof came.
    const causes = failures.map((f) => `${f.poet}: ${f.error.message}`).join("; ");
    const error = new PoetError(
      noProofCode(failures, expired),
      `no valid proof containing the challenge for publish epoch ${publishEpoch}` +
        (expired ? ` before the proof deadline ${deadline.toISOString()}` : "") +
        (causes === "" ? "" : `: ${causes}`),
      { cause: failures[0]?.error },
    );
    if (expired) await this.#challengeExpired(round, publishEpoch, deadline, error);
    return {
      kind: "no-proof",
      nodeId: this.#nodeId,
      publishEpoch,
      deadline,
      expired,
      failures,
      error,
    };
  }

  async #expired(
    round: number,
    publishEpoch: number,
    deadlineMs: number,
    why: string,
  ): Promise<NiPostOutcome> {
    const deadline = new Date(deadlineMs);
    const error = new PoetError(
      "deadline-passed",
      `${why} (${deadline.toISOString()}) for publish epoch ${publishEpoch}`,
    );
    await this.#challengeExpired(round, publishEpoch, deadline, error);
    return { kind: "expired", nodeId: this.#nodeId, publishEpoch, deadline, error };
  }

  /** The challenge can no longer lead to a NiPoST: clears the identity and reports it. */
  async #challengeExpired(
    round: number,
    publishEpoch: number,
    deadline: Date,
    error: PoetError,
  ): Promise<void> {
    await this.#ctx.state.resetIdentity(this.#nodeId, { signal: this.#signal });
    this.#emit({
      type: "challenge-expired",
      at: new Date(this.#now),
      nodeId: this.#nodeId,
      publishEpoch,
      round,
      deadline,
      error,
    });
  }
}

/**
 * The code of a "no proof" outcome, naming what happened: `deadline-passed` when the proof
 * deadline passed, `proof-verification` only when at least one PoET's proof failed verification,
 * the failures' shared code when they all failed the same way (`rpc` for network errors only),
 * and `no-proof` when nothing was fetched at all or the failures differ.
 */
function noProofCode(
  failures: readonly { poet: string; error: PoetError }[],
  expired: boolean,
): PoetErrorCode {
  if (expired) return "deadline-passed";
  if (failures.some((f) => f.error instanceof ProofVerificationError)) return "proof-verification";
  const first = failures[0];
  if (first === undefined) return "no-proof";
  return failures.every((f) => f.error.code === first.error.code) ? first.error.code : "no-proof";
}
