/**
 * @module registration/post-step
 *
 * The `post` step of one identity (docs/node-client.md §1.8): the node's PoST provider proves
 * over the chosen proof's ref before the publish epoch ends, and the result is written as the
 * identity's `nipost` row; then the NiPoST the caller gets is assembled from the row and the
 * chosen proof. A provider still running at the publish epoch's end is stopped (its signal
 * aborts) and the step reports the deadline; a provider that fails, or returns something the row
 * cannot hold, reports `post-failed` and leaves the chosen proof stored for the next call.
 *
 * PoST is never run twice for a store that blips: a retriable failure writing the `nipost` row
 * (a PostgreSQL restart or failover, a broken connection) is tried again with the PoST result in
 * hand, by the library's one retry policy (`src/retry-policy.ts`, 1–2× `storeRetryDelayMs` on the
 * clock), until the publish epoch ends. A write whose commit went through although its answer was
 * lost finds its own row on the next attempt, and counts as written. A write still failing when
 * the cycle is paused (the manager resumes it from the node state) leaves the result in
 * `proved`, where the resumed cycle takes it instead of running PoST again.
 */

import { raceAbort } from "../abortable.js";
import { equalBytes, toHex } from "../bytes.js";
import {
  asPoetError,
  atTime,
  DEADLINE_PASSED,
  linkedController,
  TASK_SETTLED,
} from "../cancellation.js";
import type { Clock } from "../clock.js";
import { AbortedError, ConfigError, isRetriableStoreFailure, StorageError } from "../errors.js";
import type { Logger } from "../logger.js";
import { decideRetry, type RandomSource } from "../retry-policy.js";
import type { NodeState } from "../storage/index.js";
import type { MembershipProof } from "../wire/index.js";
import { ticksOf } from "./best-proof.js";
import { expired } from "./cycle-outcomes.js";
import type { RegistrationEvent } from "./events.js";
import type {
  ExpiredOutcome,
  NiPost,
  PostFailedOutcome,
  PostProvider,
  PostResult,
} from "./nipost.js";
import type { ProofChoice } from "./proof-collection.js";

/** What the step needs from the manager. */
export interface PostStepContext {
  state: NodeState;
  clock: Clock;
  post: PostProvider;
  emit: (event: RegistrationEvent) => void;
  /** Confirms the identity's lease before PoST starts; throws `LeaseLostError` when it is gone. */
  confirmLease?: ((nodeId: Uint8Array, signal: AbortSignal) => Promise<void>) | undefined;
  /** Base pause before the `nipost` row is written again after a retriable store failure. */
  storeRetryDelayMs: number;
  random: RandomSource;
  logger: Logger;
  /**
   * PoST results whose `nipost` row is not written yet, by identity and proof ref: a cycle
   * resumed after a store failure (the manager's pause) writes the row from here instead of
   * running PoST again.
   */
  proved: Map<string, ProvedResult>;
}

/** A PoST result whose `nipost` row is not written yet, kept until its publish epoch ends. */
export interface ProvedResult {
  result: PostResult;
  /** The publish epoch's end (ms): past it, the result is of no use and is forgotten. */
  publishEnd: number;
}

/** The `nipost` row: the PoST result with the proof ref and membership it was built on. */
export interface NipostRow {
  post: NiPost["post"];
  numUnits: number;
  vrfNonce: bigint;
  labelsPerUnit: bigint;
  membership: MembershipProof;
  poetProofRef: Uint8Array;
}

/**
 * Runs PoST over `choice` and stores the `nipost` row; resolves with the row, or with the outcome
 * that stopped it. Rejects with `AbortedError` when `signal` aborts, or with a `StorageError`.
 *
 * @example
 * ```ts
 * const done = await runPostStep(ctx, { nodeId, publishEpoch, round, publishEnd, choice }, signal);
 * if (done.kind === "stored") return assembleNiPost({ nodeId, publishEpoch, hash, tickSize }, known, done.row);
 * ```
 */
export async function runPostStep(
  ctx: PostStepContext,
  input: {
    nodeId: Uint8Array;
    publishEpoch: number;
    round: number;
    /** The publish epoch's end (ms): PoST must be done by then. */
    publishEnd: number;
    choice: ProofChoice;
  },
  signal: AbortSignal,
): Promise<
  | { kind: "stored"; row: NipostRow }
  | { kind: "stopped"; outcome: ExpiredOutcome | PostFailedOutcome }
> {
  const { clock } = ctx;
  const { nodeId, publishEpoch, publishEnd, choice } = input;
  const key = `${toHex(nodeId)}:${toHex(choice.ref)}`;
  forgetExpired(ctx.proved, clock.now());
  let result = ctx.proved.get(key)?.result;
  if (result === undefined) {
    const proved = await runPost(ctx, input, signal);
    if (proved.kind === "stopped") return proved;
    result = proved.result;
    ctx.proved.set(key, { result, publishEnd });
  }
  const row: NipostRow = {
    post: result.post,
    numUnits: result.numUnits,
    vrfNonce: result.vrfNonce,
    labelsPerUnit: result.labelsPerUnit,
    membership: choice.membership,
    poetProofRef: choice.ref,
  };
  try {
    await storeNipostRow(ctx, nodeId, row, publishEnd, signal);
  } catch (err) {
    // Kept for a resumed or restarted cycle (a store failure, a PoET set change, the caller's
    // abort) while the row may still be written; a row the store refuses for good drops it.
    const final = !isRetriableStoreFailure(err) && !(err instanceof AbortedError);
    if (final) ctx.proved.delete(key);
    if (!(err instanceof ConfigError)) throw err;
    // The PoST provider returned something the nipost row cannot hold.
    return { kind: "stopped", outcome: { kind: "post-failed", nodeId, publishEpoch, error: err } };
  }
  ctx.proved.delete(key);
  return { kind: "stored", row };
}

/** Forgets the kept PoST results whose publish epoch has ended. */
function forgetExpired(proved: Map<string, ProvedResult>, now: number): void {
  for (const [key, kept] of proved) if (kept.publishEnd <= now) proved.delete(key);
}

/** PoST over the chosen proof's ref, stopped at the publish epoch's end. */
async function runPost(
  ctx: PostStepContext,
  input: Parameters<typeof runPostStep>[1],
  signal: AbortSignal,
): Promise<
  | { kind: "proved"; result: PostResult }
  | { kind: "stopped"; outcome: ExpiredOutcome | PostFailedOutcome }
> {
  const { clock } = ctx;
  const { nodeId, publishEpoch, round, publishEnd, choice } = input;
  await ctx.confirmLease?.(nodeId, signal);
  ctx.emit({
    type: "post-started",
    at: new Date(clock.now()),
    nodeId,
    publishEpoch,
    round,
    ref: choice.ref,
    deadline: new Date(publishEnd),
  });
  const timer = linkedController(signal);
  const postSignal = timer.signal;
  let late = false;
  const stopDeadline = atTime(clock, publishEnd, () => {
    late = true;
    timer.abort(DEADLINE_PASSED);
  });
  let result: Awaited<ReturnType<PostProvider>>;
  try {
    result = await raceAbort(
      ctx.post(
        { nodeId, challenge: choice.ref, publishEpoch, deadline: new Date(publishEnd) },
        { signal: postSignal },
      ),
      postSignal,
    );
  } catch (err) {
    if (signal.aborted) throw new AbortedError(undefined, { cause: err });
    if (late) {
      const why = "PoST did not finish in the publish epoch";
      return { kind: "stopped", outcome: expired(nodeId, publishEpoch, publishEnd, why) };
    }
    const error = asPoetError(err);
    return { kind: "stopped", outcome: { kind: "post-failed", nodeId, publishEpoch, error } };
  } finally {
    stopDeadline();
    timer.abort(TASK_SETTLED);
  }
  return { kind: "proved", result };
}

/**
 * Writes the `nipost` row, again and again while the store fails retriably, until the publish
 * epoch ends (then the last failure is thrown). After a failed attempt, a row already there on
 * the same proof is this write's own, committed although its answer was lost.
 */
async function storeNipostRow(
  ctx: PostStepContext,
  nodeId: Uint8Array,
  row: NipostRow,
  publishEnd: number,
  signal: AbortSignal,
): Promise<void> {
  const { clock, state } = ctx;
  const policy = { delayMs: ctx.storeRetryDelayMs, random: ctx.random, until: publishEnd };
  for (let attempt = 1; ; attempt++) {
    try {
      await state.nipost.add(nodeId, row, { signal });
      return;
    } catch (err) {
      let failure = err;
      if (attempt > 1 && err instanceof StorageError && err.kind === "duplicate") {
        try {
          const stored = await state.nipost.get(nodeId, { signal });
          if (stored !== undefined && equalBytes(stored.poetProofRef, row.poetProofRef)) return;
        } catch (readErr) {
          // The row cannot be read now: one more failed attempt, judged as such.
          if (!isRetriableStoreFailure(readErr)) throw readErr;
          failure = readErr;
        }
      }
      if (signal.aborted) throw failure;
      const decision = decideRetry(policy, failure, attempt, clock.now());
      // Only a retriable store failure is tried again (`classifyFailure`: transient).
      if (!decision.retry || !(failure instanceof StorageError)) throw failure;
      ctx.logger.debug(
        { err: failure, nodeId: toHex(nodeId), attempt, nextAttemptAt: decision.at },
        "could not write the NiPoST row; the PoST result is kept and the write tried again",
      );
      await clock.sleep(decision.pauseMs, { signal });
    }
  }
}

/**
 * The NiPoST the caller gets: the `nipost` row with the chosen proof's PoET, round and size
 * (`known.poet === ""`: the proof is no longer cached, those stay unknown).
 *
 * @example
 * ```ts
 * const nipost = assembleNiPost({ nodeId, publishEpoch, hash, tickSize }, choice, row);
 * ```
 */
export function assembleNiPost(
  identity: { nodeId: Uint8Array; publishEpoch: number; hash: Uint8Array; tickSize: bigint },
  known: ProofChoice,
  row: NipostRow,
): NiPost {
  const found = known.poet !== "";
  return {
    nodeId: identity.nodeId,
    publishEpoch: identity.publishEpoch,
    challengeHash: identity.hash,
    poet: found ? known.poet : undefined,
    roundId: found ? known.roundId : undefined,
    leaves: found ? known.leaves : undefined,
    ticks: found ? ticksOf(known.leaves, identity.tickSize) : undefined,
    proofRef: row.poetProofRef,
    membership: row.membership,
    post: row.post,
    numUnits: row.numUnits,
    vrfNonce: row.vrfNonce,
    labelsPerUnit: row.labelsPerUnit,
  };
}
