/**
 * @module registration/proof-claims
 *
 * One proof download per PoET and round for every worker on one node state (a fleet on
 * PostgreSQL, or several processes on one SQLite file; docs/operator-guide.md, "Running a fleet").
 * The proof fetcher already downloads once per PoET and round within a process; this shares the
 * download between processes through the store's claims (`storage/proof-claim-repository.ts`).
 *
 * When a worker's fetch is due, it first looks for the result in the store; if it is not there, it
 * claims the round. The claim holder downloads, verifies and stores the proof and its member list,
 * renewing its claim every third of the claim time while it works, and then marks the claim
 * `"stored"` — or `"not-stored"` when the result cannot be shared (a member list the store could
 * not take, an invalid proof): each worker then downloads for itself. The other workers poll the
 * store instead of the PoET, every poll interval and at the claim's expiry; when the holder gives the
 * claim up (no proof before its deadline) or dies (its claim expires unrenewed), the next worker to
 * ask takes the claim over, with a `proof-claim-taken-over` event, and downloads.
 *
 * The claims are an economy, not a safety rule: a claim that fails (PostgreSQL ends one of two
 * transactions that claim the same rounds in opposite orders) is asked again after a poll
 * interval, and a worker that still cannot claim (a damaged row, the store unreachable) downloads
 * as it would alone, with a warning.
 */

import { anySignal, sleepUntil } from "../cancellation.js";
import type { Clock } from "../clock.js";
import { PoetError } from "../errors.js";
import type { Logger } from "../logger.js";
import type { ProofClaim, ProofClaimRepository } from "../storage/index.js";
import type { RegistrationEvent } from "./events.js";

/** Failed claims (errors, not refusals) before a worker downloads without one. */
const CLAIM_ATTEMPTS = 5;

/** Settings of {@link ProofClaims}. */
export interface ProofClaimsInit {
  claims: ProofClaimRepository;
  /** This worker, as the claims name it (the manager's lease holder). */
  holder: string;
  /** How long a claim lasts unrenewed: after it, another worker takes the download over. */
  ttlMs: number;
  /** How often a waiting worker looks for the stored result. */
  pollIntervalMs: number;
  clock: Clock;
  logger: Logger;
  emit: (event: RegistrationEvent) => void;
}

/** The round a fetch is about. */
export interface ClaimedRound {
  poet: string;
  roundId: string;
}

/** What {@link ProofClaims.turn} found: the stored result, or leave to download. */
export type ProofTurn<T> =
  | { kind: "stored"; value: T }
  /** `claim`: ours; `undefined`: download without a claim (results not shared, or no claims). */
  | { kind: "download"; claim: ProofClaim | undefined };

/**
 * Decides, across the workers sharing a node state, which one downloads a PoET round's proof.
 *
 * @example
 * ```ts
 * const claims = new ProofClaims({ claims: state.proofClaims, holder, ttlMs: 30_000,
 *   pollIntervalMs: 1_000, clock, logger, emit });
 * const turn = await claims.turn(round, () => deadlineMs, () => readStored(), signal);
 * const verified = turn.kind === "stored"
 *   ? turn.value
 *   : await claims.hold(round, turn.claim, () => download(), { shared: () => true, final: () => false }, signal);
 * ```
 */
export class ProofClaims {
  readonly #init: ProofClaimsInit;

  constructor(init: ProofClaimsInit) {
    this.#init = init;
  }

  /**
   * Waits until the round's result is in the store (`stored()` finds it) or this worker is to
   * download it. Rejects with a `PoetError` of code `"timeout"` when another worker still holds
   * the claim at `untilMs()`, or with the abort reason.
   */
  async turn<T>(
    round: ClaimedRound,
    untilMs: () => number,
    stored: () => Promise<T | undefined>,
    signal: AbortSignal,
  ): Promise<ProofTurn<T>> {
    const { claims, clock, holder, ttlMs, logger, emit } = this.#init;
    let failures = 0;
    for (;;) {
      const found = await stored();
      if (found !== undefined) return { kind: "stored", value: found };
      let got: Awaited<ReturnType<ProofClaimRepository["claim"]>>;
      try {
        got = await claims.claim(round.poet, round.roundId, {
          holder,
          at: new Date(clock.now()),
          ttlMs,
          signal,
        });
      } catch (err) {
        if (signal.aborted) throw err;
        // Transient as a rule: PostgreSQL ends one of two workers' transactions that claim the
        // same rounds in another order ("deadlock detected"). Asked again after a poll interval.
        failures++;
        if (failures >= CLAIM_ATTEMPTS) {
          logger.warn({ err, ...round }, "could not claim the proof download; downloading alone");
          return { kind: "download", claim: undefined };
        }
        logger.info({ err, ...round }, "could not claim the proof download; asking again");
        await this.#pause(round, untilMs(), undefined, signal);
        continue;
      }
      if (got.granted) {
        const previous = got.previous;
        if (previous !== undefined && previous.outcome === "open") {
          logger.info(
            { ...round, previous: previous.holder, expiredAt: previous.expiresAt },
            "took over the proof download of a worker whose claim expired",
          );
          emit({
            type: "proof-claim-taken-over",
            at: new Date(clock.now()),
            poet: round.poet,
            roundId: round.roundId,
            holder,
            token: got.claim.token,
            previous: {
              holder: previous.holder,
              token: previous.token,
              expiresAt: previous.expiresAt,
            },
          });
        }
        if (previous !== undefined) {
          // The previous holder may have stored the result just before we claimed.
          const late = await stored();
          if (late !== undefined) {
            await this.#finish(got.claim, "stored");
            return { kind: "stored", value: late };
          }
        }
        return { kind: "download", claim: got.claim };
      }
      const current = got.current;
      if (current.outcome === "not-stored") return { kind: "download", claim: undefined };
      await this.#pause(round, untilMs(), current, signal);
    }
  }

  /**
   * Sleeps a poll interval (at most until `current` expires or `until`); rejects with a timeout
   * when `until` has come.
   */
  async #pause(
    round: ClaimedRound,
    until: number,
    current: ProofClaim | undefined,
    signal: AbortSignal,
  ): Promise<void> {
    const now = this.#init.clock.now();
    if (now >= until) {
      const who =
        current === undefined
          ? "its download could not be claimed"
          : `${current.holder} holds its download and has not stored it`;
      throw new PoetError(
        "timeout",
        `no proof of round ${round.roundId} from ${round.poet} before ${new Date(until).toISOString()}: ${who}`,
      );
    }
    const expiry =
      current === undefined ? Infinity : Math.max(now + 1, current.expiresAt.getTime());
    const wake = Math.min(now + this.#init.pollIntervalMs, expiry, until);
    await sleepUntil(this.#init.clock, wake, signal);
  }

  /**
   * Runs `download` holding `claim` (nothing to hold when `undefined`): renews the claim while it
   * runs, then marks it `"stored"` or `"not-stored"` (`shared(result)`), or, when `download`
   * fails, `"not-stored"` for a final failure (`final(err)`: every worker would get the same) and
   * released otherwise (the next worker to ask takes it).
   */
  async hold<T>(
    round: ClaimedRound,
    claim: ProofClaim | undefined,
    download: () => Promise<T>,
    verdict: { shared: (result: T) => boolean; final: (err: unknown) => boolean },
    signal: AbortSignal,
  ): Promise<T> {
    if (claim === undefined) return download();
    const stop = new AbortController();
    const heartbeat = this.#renew(round, claim, anySignal(stop.signal, signal));
    let result: T;
    try {
      result = await download();
    } catch (err) {
      stop.abort();
      await heartbeat;
      if (verdict.final(err)) await this.#finish(claim, "not-stored");
      else await this.#release(claim);
      throw err;
    }
    stop.abort();
    await heartbeat;
    await this.#finish(claim, verdict.shared(result) ? "stored" : "not-stored");
    return result;
  }

  /** Deletes the claims made before `before`; a failure is logged, not thrown. */
  async prune(before: Date, signal: AbortSignal): Promise<void> {
    try {
      await this.#init.claims.pruneClaimedBefore(before, { signal });
    } catch (err) {
      if (signal.aborted) throw err;
      this.#init.logger.warn({ err }, "could not prune proof download claims");
    }
  }

  /** Renews `claim` every third of the claim time until `signal` aborts or it is lost. */
  async #renew(round: ClaimedRound, claim: ProofClaim, signal: AbortSignal): Promise<void> {
    const { claims, clock, ttlMs, logger } = this.#init;
    let current = claim;
    try {
      for (;;) {
        await clock.sleep(Math.max(1, Math.floor(ttlMs / 3)), { signal });
        const renewed = await claims.renew(current, { at: new Date(clock.now()), ttlMs, signal });
        if (renewed === undefined) {
          logger.warn(
            { ...round, token: current.token },
            "the proof download claim was taken over; downloading on",
          );
          return;
        }
        current = renewed;
      }
    } catch (err) {
      if (signal.aborted) return;
      logger.warn({ err, ...round }, "could not renew the proof download claim");
    }
  }

  async #finish(claim: ProofClaim, outcome: "stored" | "not-stored"): Promise<void> {
    try {
      await this.#init.claims.finish(claim, outcome);
    } catch (err) {
      this.#init.logger.warn(
        { err, poet: claim.poet, roundId: claim.roundId },
        "could not mark the proof download claim finished",
      );
    }
  }

  async #release(claim: ProofClaim): Promise<void> {
    try {
      await this.#init.claims.release(claim, { at: new Date(this.#init.clock.now()) });
    } catch (err) {
      this.#init.logger.warn(
        { err, poet: claim.poet, roundId: claim.roundId },
        "could not release the proof download claim",
      );
    }
  }
}
