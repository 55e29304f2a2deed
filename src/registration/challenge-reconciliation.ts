/**
 * @module registration/challenge-reconciliation
 *
 * The first thing an identity's cycle does (docs/node-client.md §1.2, §1.11): the caller's
 * challenge against the stored one. A stored row without a recorded hash (go-spacemesh wrote it)
 * gets its computed hash; a stale one (an older publish epoch) is cleared with everything bound
 * to it; another challenge for the same publish epoch replaces the stored one only while no PoET
 * can hold the old one (a registration row or an unconfirmed submit intent); a later stored
 * publish epoch, or a request without a challenge for an identity that has none, is a
 * `ConfigError`. Each repair is reported through the caller's `repaired`.
 */

import { equalBytes, toHex } from "../bytes.js";
import { ConfigError, StorageError } from "../errors.js";
import { type ChallengeRecord, computedChallengeHash, type NodeState } from "../storage/index.js";
import { encodeNipostChallenge } from "../wire/index.js";
import type { NiPostRequest } from "./nipost.js";

/** What reconciling needs: the node state, the identity, and how to report a repair. */
export interface ChallengeContext {
  state: NodeState;
  nodeId: Uint8Array;
  signal: AbortSignal;
  /** Reports one repair of the node state (a `state-repaired` event). */
  repaired: (problem: string, action: string) => void;
}

/**
 * The identity's challenge, stored (or resumed) with its hash: the stored one, checked against the
 * caller's and repaired when stale.
 *
 * @example
 * ```ts
 * const record = await reconcileChallenge({ state, nodeId, signal, repaired }, request);
 * const round = schedule.roundForPublishEpoch(record.challenge.publishEpoch);
 * ```
 */
export async function reconcileChallenge(
  ctx: ChallengeContext,
  request: NiPostRequest,
): Promise<ChallengeRecord & { hash: Uint8Array }> {
  const { state, nodeId, signal } = ctx;
  const given = request.challenge;
  let record = await state.challenges.get(nodeId, { signal });
  if (record !== undefined && record.hash === undefined) {
    record = await computedHash(ctx, record, given);
  }
  if (record !== undefined && given !== undefined) {
    const storedEpoch = record.challenge.publishEpoch;
    const givenEpoch = given.challenge.publishEpoch;
    if (storedEpoch < givenEpoch) {
      await state.resetIdentity(nodeId, { signal });
      ctx.repaired(
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
      record = await replaceChallenge(ctx, record, given);
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
    await state.challenges.add(nodeId, given.challenge, { hash: given.hash, signal });
    record = await state.challenges.get(nodeId, { signal });
    if (record === undefined) {
      throw new StorageError("the challenge just stored cannot be read back", {
        kind: "missing",
        table: "challenge",
        identity: toHex(nodeId),
      });
    }
  }
  if (record.hash === undefined) {
    throw new ConfigError(
      "challenge",
      "the stored challenge has no recorded hash (written by another program): pass it with its hash",
    );
  }
  return record as ChallengeRecord & { hash: Uint8Array };
}

/**
 * A row without a recorded hash (go-spacemesh wrote it, or the companion file was deleted): its
 * hash is computed from the row (`storage/challenge-hash.ts`) and recorded. A caller that passes
 * this very challenge with another hash is told so.
 */
async function computedHash(
  ctx: ChallengeContext,
  record: ChallengeRecord,
  given: NiPostRequest["challenge"],
): Promise<ChallengeRecord | undefined> {
  const { state, nodeId, signal } = ctx;
  const registrations = await state.registrations.listFor(nodeId, { signal });
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
  await state.challenges.setHash(nodeId, hash, { signal });
  return state.challenges.get(nodeId, { signal });
}

/** The caller brings another challenge for the same publish epoch than the stored one. */
async function replaceChallenge(
  ctx: ChallengeContext,
  record: ChallengeRecord,
  given: NonNullable<NiPostRequest["challenge"]>,
): Promise<ChallengeRecord | undefined> {
  const { state, nodeId, signal } = ctx;
  const registrations = await state.registrations.listFor(nodeId, { signal });
  if (record.hash === undefined) {
    // A row without a recorded hash (go-spacemesh wrote it): adopt the caller's hash when the
    // registrations say it is the one that was submitted, or when nothing was submitted yet.
    const submitted = registrations.map((r) => r.hash);
    if (submitted.length === 0 || submitted.some((h) => equalBytes(h, given.hash))) {
      await state.challenges.update(nodeId, given.challenge, { hash: given.hash, signal });
      return state.challenges.get(nodeId, { signal });
    }
  }
  // A submit intent of the stored challenge may have been accepted (the PoET answered after we
  // crashed): such a PoET holds the challenge as surely as one with a row, and would refuse
  // another one (409), so it counts.
  const intents = await state.intents.listFor(nodeId, { signal });
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
  await state.resetIdentity(nodeId, { signal });
  ctx.repaired(
    "the stored challenge differs from the one to register and was never accepted by a PoET",
    "replaced the challenge and cleared the rows bound to the old one",
  );
  return undefined;
}
