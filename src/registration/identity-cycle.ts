/**
 * @module registration/identity-cycle
 *
 * One identity's way from a challenge to a NiPoST (docs/node-client.md §1.2–§1.11, §4, §8), in
 * the steps of {@link NextStep}:
 *
 * - **build-challenge**: the caller's challenge is stored with its hash, or the stored one resumed;
 *   a stale one (older publish epoch) is cleared with everything bound to it, in one transaction
 *   (`challenge-reconciliation.ts`);
 * - **wait-for-registration-window**, **register**: rows bound to another challenge hash are
 *   dropped; the missing PoETs are registered in the background until the round start, by a run
 *   made once the identity has an admission slot; one success is enough to go on. The waits for
 *   the slot, for that success and for the rest of the run (`registration-follower.ts`) are
 *   parked ({@link ParkedCycle}): no call of the cycle is suspended, and the manager resumes it
 *   when it is woken. A submit intent left by a crash between a PoET's answer and our row counts
 *   as a registration that may hold: it is not given up at the round start;
 * - **wait-for-round-end**, **fetch-proofs**: after the round end plus jitter, the proof of every
 *   PoET that registered the challenge (or holds an unconfirmed intent) is fetched and verified
 *   once for all identities (`proof-collection.ts`); each better proof that contains the challenge
 *   is stored as soon as it is known, until every PoET has answered or the cut-off passed, the
 *   cycle parked between answers. An intent whose challenge is among the members becomes the Go
 *   row then; one whose challenge is not is dropped. A start after the cut-off (first run or
 *   resume) still asks every PoET that has not answered, for a bounded time, before PoST;
 * - **post**: PoST over the chosen ref, then the `nipost` row; **publish-atx**: the NiPoST is
 *   returned.
 *
 * On entry the rows are read and {@link planNextStep} says where the identity stands, so the same
 * function is the first run and every resume: after a crash, a `close()`, an operator's `delete`,
 * or a PoET set change. Inconsistent rows (a registration or NiPoST of another challenge) are
 * repaired and reported instead of being trusted, and no situation loops or exits. Every way the
 * cycle ends, with what it clears and reports, is in `cycle-outcomes.ts`.
 */

import type { Signer } from "../auth/signer.js";
import { equalBytes, toHex } from "../bytes.js";
import { sleepUntil } from "../cancellation.js";
import { ConfigError, type PoetError, StorageError, throwIfAborted } from "../errors.js";
import type { RoundSchedule } from "../schedule/index.js";
import type { ChallengeRecord, PoetRegistration, SubmitIntent } from "../storage/index.js";
import type { MembershipProof } from "../wire/index.js";
import { compareProofs, ticksOf } from "./best-proof.js";
import { reconcileChallenge } from "./challenge-reconciliation.js";
import * as outcomes from "./cycle-outcomes.js";
import type { RegistrationEvent } from "./events.js";
import { type NextStep, type NextStepRows, planNextStep, proofCutoff } from "./next-step.js";
import type { NiPost, NiPostOutcome, NiPostRequest, PostProvider } from "./nipost.js";
import { type CycleResult, ParkedCycle, wakeOnSettled } from "./parked-cycle.js";
import type { PoetEntry, PoetPool } from "./poet-pool.js";
import { assembleNiPost, type NipostRow, type PostStepContext, runPostStep } from "./post-step.js";
import { type ProofAnswer, type ProofChoice, ProofCollection } from "./proof-collection.js";
import type { ProofFetcher } from "./proof-fetcher.js";
import { RegistrationFollower } from "./registration-follower.js";
import { RegistrationRun, type RegistrationRunContext, runKey } from "./registration-run.js";
import type { SharedDates } from "./shared-dates.js";

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
  /** Confirms the identity's lease before PoST starts; throws `LeaseLostError` when it is gone. */
  confirmLease?: ((nodeId: Uint8Array, signal: AbortSignal) => Promise<void>) | undefined;
  /** PoST results whose `nipost` row is not written yet (see `post-step.ts`). */
  proved: PostStepContext["proved"];
  /** One `Date` per instant, for the events and steps every identity keeps while it waits. */
  dates: SharedDates;
  /** Told each step the cycle takes, as {@link planNextStep} names it (for `status()`). */
  stepTaken?: ((nodeId: Uint8Array, next: NextStep) => void) | undefined;
}

type Choice = ProofChoice;

/**
 * Runs (or resumes) one identity's cycle and returns the NiPoST or the outcome that stopped it,
 * or the cycle parked while it waits for an admission slot, its first registration or its proofs
 * ({@link ParkedCycle.park} goes on). Rejects only with `AbortedError` (caller or manager) or
 * a `StorageError` / `ConfigError` the caller must act on.
 */
export function runIdentityCycle(
  ctx: CycleContext,
  signer: Signer,
  request: NiPostRequest,
  signal: AbortSignal,
): Promise<CycleResult> {
  // Not `async`: `run` is, and every identity would hold one more suspended call until its end.
  return new IdentityCycle(ctx, signer, signal).run(request);
}

/** The `register` step under way: what the cycle goes on with once admitted and registered. */
interface Registering {
  publishEpoch: number;
  hash: Uint8Array;
  round: number;
  reachable: (address: string) => boolean;
  /** The configured PoETs without a registration of the challenge. */
  missing: PoetEntry[];
  /** Whether a reachable PoET holds the challenge already (nothing to wait for before the proofs). */
  registered: boolean;
}

/** The steps `wait-for-round-end` and `fetch-proofs` ahead: the PoETs whose proofs are asked for. */
interface ProofsAhead {
  publishEpoch: number;
  hash: Uint8Array;
  round: number;
  /** The PoETs that hold the challenge (or may: an unconfirmed intent), as known so far. */
  registrations: readonly PoetRegistration[];
  /** The choice already stored, if any. */
  stored: ProofChoice | undefined;
  proofDeadline: number;
}

/** The `fetch-proofs` step under way: what the cycle goes on with after each answer. */
interface Collecting {
  publishEpoch: number;
  hash: Uint8Array;
  round: number;
  collection: ProofCollection;
  proofDeadline: number;
  /** Only unconfirmed intents were asked: when none holds the challenge, the window was missed. */
  intentsOnly: boolean;
}

/** Listeners of each background registration, told when one more PoET accepted. */
const acceptWatchers = new WeakMap<RegistrationRun, Set<(accepted: PoetRegistration) => void>>();

class IdentityCycle {
  readonly #ctx: CycleContext;
  readonly #signer: Signer;
  readonly #signal: AbortSignal;
  readonly #nodeId: Uint8Array;
  /** Unconfirmed submit intents of the current challenge, by PoET address. */
  #intents: Map<string, SubmitIntent> | undefined;

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

  /** Says which step the identity takes now. */
  #step(next: NextStep): void {
    this.#ctx.stepTaken?.(this.#nodeId, next);
  }

  /** Ends the cycle with `outcome`: clears and reports it as `cycle-outcomes.ts` says. */
  async #end(outcome: NiPostOutcome, round: number): Promise<NiPostOutcome> {
    const rule = outcomes.outcomeRule(outcome);
    if (rule.resets(outcome))
      await this.#ctx.state.resetIdentity(this.#nodeId, { signal: this.#signal });
    const event = rule.event(outcome, new Date(this.#now), round);
    if (event !== undefined) this.#emit(event);
    return outcome;
  }

  async run(request: NiPostRequest): Promise<CycleResult> {
    const { state, schedule } = this.#ctx;
    const signal = this.#signal;
    const record = await reconcileChallenge(
      {
        state,
        nodeId: this.#nodeId,
        signal,
        repaired: (problem, action) => this.#repaired(problem, action),
      },
      request,
    );
    // The caller's hash when it is the stored one: the manager keeps the request anyway, and the
    // cycle holds its hash until the proofs are in (a copy per identity otherwise).
    const given = request.challenge?.hash;
    const hash = given !== undefined && equalBytes(given, record.hash) ? given : record.hash;
    const publishEpoch = record.challenge.publishEpoch;
    const round = schedule.roundForPublishEpoch(publishEpoch);
    const publishEnd = schedule.publishEpochEnd(round).getTime();

    // A NiPoST on the chosen proof is the answer as stored (the caller decides what a late one is
    // worth); one built on another proof is repaired.
    const stored = await state.nipost.get(this.#nodeId, { signal });
    if (stored !== undefined) {
      if (
        record.poetProofRef !== undefined &&
        equalBytes(stored.poetProofRef, record.poetProofRef)
      ) {
        const nipost = await this.#nipost(publishEpoch, hash, undefined, stored);
        this.#step({
          step: "publish-atx",
          round,
          from: schedule.epochStart(publishEpoch),
          at: new Date(publishEnd),
        });
        return { kind: "ready", nodeId: this.#nodeId, publishEpoch, nipost };
      }
      await state.nipost.delete(this.#nodeId, { signal });
      this.#repaired(
        record.poetProofRef === undefined
          ? "a NiPoST row exists but no proof was selected for the current challenge"
          : "the NiPoST row was built on another proof than the selected one",
        "deleted the NiPoST row; PoST runs again",
      );
    }

    const configured = this.#ctx.pool.addressSet;
    // A PoET that left the set is still asked for the proof of a round it already runs.
    const reachable = (address: string) =>
      configured.has(address) || this.#ctx.pool.isRetired(address);
    const chosen = record.poetProofRef !== undefined && record.membership !== undefined;
    const { rows, current } = await this.#rows(record, hash, chosen, reachable);
    let next = planNextStep(schedule, this.#now, rows, this.#ctx.proofCutoffMs);
    if (next.step === "expired" && next.why === "publish-epoch-ended") {
      this.#step(next);
      return this.#end(
        outcomes.expired(this.#nodeId, publishEpoch, publishEnd, "the publish epoch ended"),
        round,
      );
    }
    if (!chosen || record.poetProofRef === undefined || record.membership === undefined) {
      return this.#register(record, hash, round, next, reachable, current);
    }

    // A proof is chosen: better ones are looked for until the cut-off, and after it every PoET
    // that has not answered is asked once more (a restart may have missed their proofs).
    const choice = await this.#storedChoice(record.poetProofRef, record.membership);
    const usable = await this.#candidates(hash, reachable);
    if (next.step === "post" && usable.length > 0) {
      // Past the cut-off: which PoETs have not answered is read only now that it matters.
      next = planNextStep(
        schedule,
        this.#now,
        { ...rows, unanswered: (await this.#unanswered(usable, choice)).map((r) => r.address) },
        this.#ctx.proofCutoffMs,
      );
    }
    if (next.step === "fetch-proofs") {
      const asked = new Set(next.poets);
      const poets = next.lateStart ? usable.filter((r) => asked.has(r.address)) : usable;
      if (poets.length > 0) return this.#fetchProofs(publishEpoch, hash, round, poets, choice);
    }
    return this.#prove(publishEpoch, hash, round, choice);
  }

  /**
   * The identity's rows as {@link planNextStep} takes them, read without repairing anything (the
   * steps repair what they find). With a proof chosen, an unconfirmed intent counts as the
   * registration of its target round, as proof collection treats it.
   */
  async #rows(
    record: ChallengeRecord,
    hash: Uint8Array,
    chosen: boolean,
    reachable: (address: string) => boolean,
  ): Promise<{
    rows: NextStepRows;
    /** The registrations when every row is of this challenge (nothing to repair), as read. */
    current: PoetRegistration[] | undefined;
  }> {
    const { state, pool } = this.#ctx;
    const signal = this.#signal;
    const all = await state.registrations.listFor(this.#nodeId, { signal });
    const registrations = all.filter((r) => equalBytes(r.hash, hash));
    for (const r of registrations) {
      r.nodeId = this.#nodeId;
      r.hash = hash;
    }
    const intents = (await state.intents.listFor(this.#nodeId, { signal })).filter(
      (i) =>
        equalBytes(i.hash, hash) &&
        !registrations.some((r) => r.address === i.address) &&
        i.proofDeadline.getTime() >= this.#now,
    );
    const present = new Set(registrations.map((r) => r.address));
    const held = (rows: readonly { address: string; roundEnd: Date }[]) =>
      rows
        .filter((r) => reachable(r.address))
        .map((r) => ({ poet: r.address, roundEnd: r.roundEnd }));
    return {
      rows: {
        publishEpoch: record.challenge.publishEpoch,
        registrations: chosen ? held([...registrations, ...intents]) : held(registrations),
        submitIntents: chosen ? [] : held(intents).map((i) => ({ poet: i.poet })),
        missingPoets: pool.entries.filter((e) => !present.has(e.address)).map((e) => e.address),
        proofChosen: chosen,
        nipostStored: false,
      },
      current: registrations.length === all.length ? registrations : undefined,
    };
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

  /**
   * Without a chosen proof: the steps from `wait-for-registration-window` to `fetch-proofs`.
   * Registration runs in the background; which step follows depends on what the PoETs answer, so
   * past the entry's plan the registration's own results decide (refusals, timeouts, a PoET set
   * that no longer holds the registrations).
   */
  async #register(
    record: ChallengeRecord,
    hash: Uint8Array,
    round: number,
    next: NextStep,
    reachable: (address: string) => boolean,
    known: PoetRegistration[] | undefined,
  ): Promise<CycleResult> {
    const { schedule, pool } = this.#ctx;
    const signal = this.#signal;
    const publishEpoch = record.challenge.publishEpoch;
    const base = { nodeId: this.#nodeId, publishEpoch, round };
    const deadline = schedule.registrationDeadline(round).getTime();

    // Read on entry, with nothing written since: read again only when rows need repairing.
    const registrations = known ?? (await this.#registrationsOf(hash));
    if (next.step === "wait-for-registration-window") {
      this.#step(next);
      this.#emit({
        type: "waiting-for-registration-window",
        at: new Date(this.#now),
        ...base,
        opensAt: next.at,
        deadline: new Date(deadline),
      });
      await sleepUntil(this.#ctx.clock, next.at.getTime(), signal);
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
    if (missing.length === 0 || this.#now >= deadline) {
      return this.#registered(publishEpoch, hash, round, reachable, undefined, registrations);
    }
    this.#step({
      step: "register",
      round,
      poets: missing.map((e) => e.address),
      at: new Date(deadline),
    });
    const registering: Registering = {
      publishEpoch,
      hash,
      round,
      reachable,
      missing,
      registered: registrations.some((r) => reachable(r.address)),
    };
    const existing = this.#ctx.runs.get(runKey(this.#nodeId, hash, round));
    if (existing !== undefined) return this.#joinRun(registering, existing);
    return this.#awaitAdmission(registering);
  }

  /**
   * An admission slot first (`RegistrationRunContext.admissions`), the run made only then:
   * thousands of identities wait for one, each parked, not holding a run and its calls. (A method
   * of its own: closures made in `#register` would keep its whole scope alive while parked.)
   */
  #awaitAdmission(registering: Registering): ParkedCycle {
    const signal = this.#signal;
    const admission = this.#ctx.admissions.acquire({ signal });
    return new ParkedCycle(
      (wake) => wakeOnSettled(admission, signal, wake),
      () => this.#admitted(registering, admission),
    );
  }

  /** The identity was admitted (or stopped waiting): its background registration starts. */
  async #admitted(registering: Registering, admission: Promise<void>): Promise<CycleResult> {
    // Rejects with the abort when the cycle stopped while it waited.
    await admission;
    if (this.#signal.aborted) {
      // Stopped once the slot was its: the slot goes back.
      this.#ctx.admissions.release();
      throwIfAborted(this.#signal);
    }
    const { hash, round, publishEpoch, missing } = registering;
    const { schedule } = this.#ctx;
    // The slot goes to the run (or back, when a run of this identity was made meanwhile).
    const run = this.#startRun(
      hash,
      publishEpoch,
      round,
      schedule.registrationDeadline(round).getTime(),
      schedule.proofDeadline(round).getTime(),
      missing,
    );
    return this.#joinRun(registering, run);
  }

  /**
   * Follows the identity's background registration: without a registration yet, parked until its
   * first success (or until every PoET gave up), then on to the proofs.
   */
  #joinRun(registering: Registering, run: RegistrationRun): Promise<CycleResult> | CycleResult {
    const { publishEpoch, hash, round, reachable } = registering;
    if (registering.registered) return this.#registered(publishEpoch, hash, round, reachable, run);
    const signal = this.#signal;
    return new ParkedCycle(
      (wake) => wakeOnSettled(run.firstSuccess, signal, wake),
      async () => {
        throwIfAborted(signal);
        return this.#registered(publishEpoch, hash, round, reachable, run);
      },
    );
  }

  /**
   * After the registration step (or with nothing left to register): on to the proofs of the
   * PoETs that took the challenge, or the outcome of none having taken it. `known`: the rows as
   * read, when no run was made since.
   */
  async #registered(
    publishEpoch: number,
    hash: Uint8Array,
    round: number,
    reachable: (address: string) => boolean,
    run: RegistrationRun | undefined,
    known?: PoetRegistration[],
  ): Promise<CycleResult> {
    const { schedule, pool } = this.#ctx;
    const signal = this.#signal;
    const deadline = schedule.registrationDeadline(round).getTime();
    const registrations = known ?? (await this.#registrationsOf(hash));
    const usable = registrations.filter((r) => reachable(r.address));
    if (usable.length === 0) {
      // Past the round start, a PoET that may hold the challenge (an intent the crash left
      // unconfirmed) is asked for its proof instead of giving the epoch up; so is, at once, a
      // PoET that accepted while the store could not take its row (the run's `unconfirmed`).
      const unconfirmed = run !== undefined && run.unconfirmed.size > 0;
      const held =
        this.#now >= deadline || unconfirmed ? await this.#heldIntents(hash, reachable) : [];
      if (held.length > 0) return this.#fetchProofs(publishEpoch, hash, round, held, undefined);
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
        const outcome: NiPostOutcome = {
          kind: "poet-set-mismatch",
          nodeId: this.#nodeId,
          publishEpoch,
          registeredAt: elsewhere.map((r) => r.address),
          configured: pool.addresses,
          error,
        };
        return this.#end(outcome, round);
      }
      if (run !== undefined && failures.some((f) => !run.refused.has(f.poet))) {
        // Some PoET only ran out of time: the window closes at the round start.
        await sleepUntil(this.#ctx.clock, deadline, signal);
      }
      if (this.#now >= deadline) {
        const late = await this.#heldIntents(hash, reachable);
        if (late.length > 0) return this.#fetchProofs(publishEpoch, hash, round, late, undefined);
        return this.#missed(round, publishEpoch, failures);
      }
      const outcome = outcomes.registrationFailed(
        this.#nodeId,
        publishEpoch,
        new Date(deadline),
        failures,
      );
      return this.#end(outcome, round);
    }
    const all = await this.#candidates(hash, reachable, run);
    return this.#fetchProofs(publishEpoch, hash, round, all, undefined, run, reachable);
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
    this.#intents = undefined;
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
      // Made only for an identity that has one: most have none, and each holds its cycle.
      this.#intents ??= new Map();
      this.#intents.set(intent.address, intent);
      pending.push({
        nodeId: this.#nodeId,
        hash,
        address: this.#ctx.pool.canonicalAddress(intent.address),
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
    // The rows live until the proofs are in: they share the cycle's identity and hash, and the
    // pool's address strings, instead of a copy of each per row (half a kilobyte per row, ten
    // thousand identities × five PoETs).
    for (const r of current) {
      r.nodeId = this.#nodeId;
      r.hash = hash;
      r.address = this.#ctx.pool.canonicalAddress(r.address);
    }
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

  /**
   * The identity's background registration, given the admission slot the cycle holds: a new run,
   * or the one already running for it (the slot then goes back).
   */
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
    if (existing !== undefined) {
      this.#ctx.admissions.release();
      return existing;
    }
    // Every cycle waiting on this run hears of each PoET that accepts (`RegistrationFollower`).
    const watchers = new Set<(accepted: PoetRegistration) => void>();
    const emit = (event: RegistrationEvent) => {
      this.#ctx.emit(event);
      if (event.type !== "registered") return;
      const accepted: PoetRegistration = {
        nodeId: event.nodeId,
        hash,
        address: event.poet,
        roundId: event.roundId,
        roundEnd: event.roundEnd,
      };
      for (const watcher of [...watchers]) watcher(accepted);
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
   * `candidates` (registrations by address, then unconfirmed intents, as {@link #candidates}
   * gives them) with the registration of one more PoET.
   */
  #withAccepted(
    candidates: readonly PoetRegistration[],
    accepted: PoetRegistration,
  ): PoetRegistration[] {
    const intents = candidates.filter((r) => this.#intents?.has(r.address) === true);
    const rows = candidates.filter((r) => this.#intents?.has(r.address) !== true);
    rows.push(accepted);
    rows.sort((a, b) => (a.address < b.address ? -1 : a.address > b.address ? 1 : 0));
    return [...rows, ...intents];
  }

  #cutoff(registrations: readonly PoetRegistration[], proofDeadline: number): number {
    const lastEnd = Math.max(...registrations.map((r) => r.roundEnd.getTime()));
    return proofCutoff(proofDeadline, lastEnd, this.#ctx.proofCutoffMs);
  }

  /**
   * The steps `wait-for-round-end` and `fetch-proofs`: waits for the background registration
   * (when one runs) so that every PoET that took the challenge is asked, then collects the proofs
   * (`proof-collection.ts`), storing each better choice before the next answer is judged.
   */
  async #fetchProofs(
    publishEpoch: number,
    hash: Uint8Array,
    round: number,
    known: readonly PoetRegistration[],
    stored: Choice | undefined,
    run?: RegistrationRun,
    reachable?: (address: string) => boolean,
  ): Promise<CycleResult> {
    const { schedule } = this.#ctx;
    const proofDeadline = schedule.proofDeadline(round).getTime();
    if (stored === undefined && this.#now >= proofDeadline) {
      this.#step({
        step: "expired",
        round,
        why: "proof-deadline-passed",
        at: new Date(proofDeadline),
      });
      const outcome = outcomes.noProof(schedule, this.#nodeId, round, publishEpoch, [], true);
      return this.#end(outcome, round);
    }
    const ahead: ProofsAhead = {
      publishEpoch,
      hash,
      round,
      registrations: known,
      stored,
      proofDeadline,
    };
    this.#announce(ahead);
    if (run === undefined || reachable === undefined) return this.#startCollecting(ahead);
    // The other PoETs keep being tried until the round starts; nothing else can happen before
    // the round ends, so wait for them (parked) and fetch from every PoET that took the
    // challenge. Each PoET that accepts meanwhile widens the set, and the waiting event is sent
    // again.
    const deadline = schedule.registrationDeadline(round).getTime();
    const follower = new RegistrationFollower(
      run,
      acceptWatchers.get(run),
      this.#ctx.clock,
      deadline,
      this.#signal,
    );
    return this.#parkFollowing(ahead, follower, reachable);
  }

  /** Sends `waiting-for-round-end` for the PoETs that hold the challenge now. */
  #announce(ahead: ProofsAhead): void {
    const { schedule } = this.#ctx;
    const { registrations, round, proofDeadline } = ahead;
    const cutoff = this.#cutoff(registrations, proofDeadline);
    const lastEnd = Math.max(...registrations.map((r) => r.roundEnd.getTime()));
    // Kept by every identity until its round ends: shared dates (`shared-dates.ts`).
    const { dates } = this.#ctx;
    if (ahead.stored === undefined && this.#now < lastEnd) {
      this.#step({ step: "wait-for-round-end", round, at: dates.at(lastEnd) });
    }
    this.#emit({
      type: "waiting-for-round-end",
      at: dates.at(this.#now),
      nodeId: this.#nodeId,
      publishEpoch: ahead.publishEpoch,
      round,
      roundEnd: dates.at(lastEnd),
      queryAt: dates.at(lastEnd + this.#ctx.proofQueryGraceMs + schedule.proofQueryJitter().minMs),
      cutoff: dates.at(cutoff),
      proofDeadline: dates.at(proofDeadline),
      poets: registrations.map((r) => r.address),
    });
  }

  /** Parked until the background registration says more (see {@link RegistrationFollower}). */
  #parkFollowing(
    ahead: ProofsAhead,
    follower: RegistrationFollower,
    reachable: (address: string) => boolean,
  ): ParkedCycle {
    return new ParkedCycle(
      (wake) => follower.park(wake),
      () => this.#followed(ahead, follower, reachable),
    );
  }

  /**
   * Woken while the background registration runs: one more PoET accepted (the set grows by it;
   * the run stored its row and dropped its intent in one transaction, so no row is read again),
   * or the run is done or the round started (every row is read once more, and the proofs follow).
   */
  async #followed(
    ahead: ProofsAhead,
    follower: RegistrationFollower,
    reachable: (address: string) => boolean,
  ): Promise<CycleResult> {
    try {
      throwIfAborted(this.#signal);
      follower.throwIfFailed();
      const finished = follower.finished || this.#now >= follower.deadline;
      const before = new Set(ahead.registrations.map((r) => r.address));
      if (finished) {
        ahead.registrations = await this.#candidates(ahead.hash, reachable, follower.run);
      } else {
        const accepted = follower.accepted.shift();
        if (
          accepted !== undefined &&
          reachable(accepted.address) &&
          !before.has(accepted.address)
        ) {
          ahead.registrations = this.#withAccepted(ahead.registrations, accepted);
        }
      }
      if (ahead.registrations.some((r) => !before.has(r.address))) this.#announce(ahead);
      if (!finished) return this.#parkFollowing(ahead, follower, reachable);
    } catch (err) {
      follower.stop();
      throw err;
    }
    follower.stop();
    return this.#startCollecting(ahead);
  }

  /** The `fetch-proofs` step: the collection of the proofs of `ahead.registrations`. */
  #startCollecting(ahead: ProofsAhead): Promise<CycleResult> {
    const { publishEpoch, hash, round, registrations, stored, proofDeadline } = ahead;
    let cutoff = this.#cutoff(registrations, proofDeadline);
    // A start after the cut-off still gives every PoET one bounded chance to answer: time for a
    // connection and a download, twice the request timeout.
    const lateStart = this.#now >= cutoff;
    if (lateStart) {
      cutoff = Math.min(proofDeadline, this.#now + 2 * this.#ctx.requestTimeoutMs);
    }
    this.#step({
      step: "fetch-proofs",
      round,
      poets: registrations.map((r) => r.address),
      lateStart,
      at: this.#ctx.dates.at(stored === undefined ? proofDeadline : cutoff),
    });
    const collection = new ProofCollection(this.#ctx, {
      hash,
      registrations,
      chosen: stored,
      cutoffMs: cutoff,
      proofDeadlineMs: proofDeadline,
    });
    return this.#collect({
      publishEpoch,
      hash,
      round,
      collection,
      proofDeadline,
      intentsOnly: registrations.every((r) => this.#intents?.has(r.address) === true),
    });
  }

  /**
   * Goes on with the `fetch-proofs` step: stores and reports each answer as it is judged, parks
   * the cycle when none is there (the PoETs' proofs come at the round's end), and at the end runs
   * PoST over the best choice or ends with the outcome of having none.
   */
  async #collect(collecting: Collecting): Promise<CycleResult> {
    const { publishEpoch, hash, round, collection, proofDeadline, intentsOnly } = collecting;
    try {
      for (;;) {
        const step = await collection.next(this.#signal);
        if (step === "done") break;
        if (step === "wait") {
          return new ParkedCycle(
            (wake) => collection.park(this.#signal, wake),
            () => this.#collect(collecting),
          );
        }
        await this.#answered(publishEpoch, round, step);
      }
    } catch (err) {
      collection.stop();
      throw err;
    }
    const best = collection.best;
    if (best !== undefined) return this.#prove(publishEpoch, hash, round, best);
    const failures = [...collection.failures];
    const expired = this.#now >= proofDeadline;
    if (intentsOnly && !expired) return this.#missed(round, publishEpoch, failures);
    const { schedule } = this.#ctx;
    const outcome = outcomes.noProof(
      schedule,
      this.#nodeId,
      round,
      publishEpoch,
      failures,
      expired,
    );
    return this.#end(outcome, round);
  }

  /** One judged answer: an intent it settles is resolved, a better choice stored, and each reported. */
  async #answered(publishEpoch: number, round: number, answer: ProofAnswer): Promise<void> {
    const intent = this.#intents?.get(answer.poet);
    if (intent !== undefined && intent.roundId === answer.roundId) {
      this.#intents?.delete(answer.poet);
      await this.#resolveIntent(intent, answer.roundId, answer.kind !== "not-a-member");
    }
    if (answer.kind === "not-a-member") {
      this.#emit({
        type: "proof-rejected",
        at: new Date(this.#now),
        poet: answer.poet,
        roundId: answer.roundId,
        nodeId: this.#nodeId,
        error: answer.error,
      });
    } else if (answer.kind === "better") {
      const { choice, replaces } = answer;
      await this.#ctx.state.challenges.setPoetProof(this.#nodeId, choice.ref, choice.membership, {
        signal: this.#signal,
      });
      this.#emit({
        type: "best-proof-selected",
        at: new Date(this.#now),
        nodeId: this.#nodeId,
        publishEpoch,
        round,
        poet: choice.poet,
        roundId: choice.roundId,
        leaves: choice.leaves,
        ticks: ticksOf(choice.leaves, this.#ctx.tickSize),
        ref: choice.ref,
        replaces:
          replaces === undefined || replaces.poet === ""
            ? undefined
            : {
                poet: replaces.poet,
                leaves: replaces.leaves,
                ticks: ticksOf(replaces.leaves, this.#ctx.tickSize),
              },
      });
    }
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

  /** The `post` step (`post-step.ts`), then the NiPoST. */
  async #prove(
    publishEpoch: number,
    hash: Uint8Array,
    round: number,
    choice: Choice,
  ): Promise<NiPostOutcome> {
    const { schedule } = this.#ctx;
    const publishEnd = schedule.publishEpochEnd(round).getTime();
    if (this.#now >= publishEnd) {
      const why = "the publish epoch ended before PoST";
      return this.#end(outcomes.expired(this.#nodeId, publishEpoch, publishEnd, why), round);
    }
    this.#step({ step: "post", round, at: new Date(publishEnd) });
    const done = await runPostStep(
      this.#ctx,
      { nodeId: this.#nodeId, publishEpoch, round, publishEnd, choice },
      this.#signal,
    );
    if (done.kind === "stopped") return this.#end(done.outcome, round);
    const nipost = await this.#nipost(publishEpoch, hash, choice, done.row);
    this.#step({
      step: "publish-atx",
      round,
      from: schedule.epochStart(publishEpoch),
      at: new Date(publishEnd),
    });
    return this.#end({ kind: "ready", nodeId: this.#nodeId, publishEpoch, nipost }, round);
  }

  /** The NiPoST of `row`; the chosen proof is read back when the cycle did not choose it itself. */
  async #nipost(
    publishEpoch: number,
    hash: Uint8Array,
    choice: Choice | undefined,
    row: NipostRow,
  ): Promise<NiPost> {
    const known =
      choice !== undefined && choice.poet !== ""
        ? choice
        : await this.#storedChoice(row.poetProofRef, row.membership);
    const { tickSize } = this.#ctx;
    return assembleNiPost({ nodeId: this.#nodeId, publishEpoch, hash, tickSize }, known, row);
  }

  #missed(
    round: number,
    publishEpoch: number,
    failures: { poet: string; error: PoetError }[],
  ): Promise<NiPostOutcome> {
    const outcome = outcomes.windowMissed(
      this.#ctx.schedule,
      this.#now,
      this.#nodeId,
      round,
      publishEpoch,
      failures,
    );
    this.#step({ step: "window-missed", round, at: outcome.deadline });
    return this.#end(outcome, round);
  }
}
