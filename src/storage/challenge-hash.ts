/**
 * @module storage/challenge-hash
 *
 * The hash of a `challenge` row that has none recorded: a row go-spacemesh wrote (it never stores
 * the hash it registered), or one of ours whose companion file was deleted (docs/node-client.md
 * §1.2, §4). The hash is not lost, only unrecorded: it is BLAKE3(0x00 ‖ SCALE(challenge)), computed
 * from the row's columns. go-spacemesh v1.7 registers the `NIPostChallengeV1` hash for v1 ATXs and
 * the `NIPostChallengeV2` hash for v2 ATXs, and the row does not say which; so both are computed and
 * the registrations decide: the one a PoET holds wins, and with no registration yet it is V1's (what
 * the Go node builds for v1 ATXs, mainnet's at v1.7). When registrations exist and hold neither,
 * the hash is unknown and nothing is guessed.
 */
import { equalBytes } from "../bytes.js";
import { type NipostChallenge, nipostChallengeHash, nipostChallengeV2Hash } from "../wire/index.js";

/** The hashes a row may have been registered under: V1 first, then V2. */
export function challengeHashCandidates(challenge: NipostChallenge): Uint8Array[] {
  const v2 = {
    publishEpoch: challenge.publishEpoch,
    prevAtx: challenge.prevAtx,
    positioningAtx: challenge.positioningAtx,
    initialPost: challenge.initialPost,
  };
  return [nipostChallengeHash(challenge), nipostChallengeV2Hash(v2)];
}

/**
 * The hash of a challenge row without a recorded one, decided by the hashes the identity's
 * registrations hold; `undefined` when they hold neither candidate.
 *
 * @example
 * ```ts
 * const record = await state.challenges.get(nodeId);
 * const registrations = await state.registrations.listFor(nodeId);
 * const hash = record.hash ?? computedChallengeHash(record.challenge, registrations.map((r) => r.hash));
 * ```
 */
export function computedChallengeHash(
  challenge: NipostChallenge,
  registeredHashes: readonly Uint8Array[],
): Uint8Array | undefined {
  const candidates = challengeHashCandidates(challenge);
  if (registeredHashes.length === 0) return candidates[0];
  return candidates.find((c) => registeredHashes.some((h) => equalBytes(h, c)));
}
