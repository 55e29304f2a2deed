/**
 * @module registration/shared-verifier
 *
 * One verification per proof, whatever the number of identities that use it
 * (docs/node-client.md §1.6, §2.7, §5; docs/protocol.md §5.5).
 *
 * A proof is identified by its ref (blake3 of its SCALE encoding) together with the statement it
 * is checked against: the ref does not cover the member list, so the same proof served with other
 * members is another check. Results are shared in memory while the manager runs (failures too: an
 * invalid proof stays invalid), and successes are written to the verified-proofs table, so that a
 * restarted node trusts what it verified before instead of spending the time again, which is what
 * go-spacemesh's `poets` table does for it.
 *
 * Why verdicts are remembered in three places, each for something the others cannot do:
 * - **this map** (per manager, in memory): it holds the verification *in flight*, so a thousand
 *   identities that wait for the same proof share one promise instead of starting a thousand
 *   verifications before the first ends, and it remembers *failures*, which the table does not
 *   store. It works with any {@link ProofVerifier}, including a caller's own without a cache.
 * - **the verified-proofs table** (`state.proofs`, on disk): successes that survive a restart,
 *   shared with other processes on the same node state.
 * - **`ParallelVerifier`'s LRU** (`verify/pool`, in memory): the verifier is public and used on
 *   its own, without a manager or a node state (core cannot reach storage); its small cache spares
 *   such callers a second verification of the same proof. Under a manager it is rarely hit, and
 *   costs a few dozen entries.
 * Folding them would need the core verifier to know the node state, or the manager to drop the
 * in-flight sharing; neither is simpler.
 *
 * The table is a cache, so a store that blips (a PostgreSQL restart or failover) costs no proof:
 * a stored verdict that cannot be read is verified again, and a verified proof whose row meets a
 * retriable failure is used at once while the row is written in the background, tried again by
 * the library's one retry policy (1–2× `storeRetryDelayMs` on the clock) until the proof is of no
 * more use (`proofDeadlineMs`, the proof deadline of the identities that asked) or the owner closes.
 */

import type { AbortOptions } from "../abort-options.js";
import { raceAbort } from "../abortable.js";
import { equalBytes, toHex } from "../bytes.js";
import type { Clock } from "../clock.js";
import { isRetriableStoreFailure, ProofVerificationError } from "../errors.js";
import { type Logger, silentLogger } from "../logger.js";
import { DEFAULT_STORE_RETRY_DELAY_MS, type RandomSource, retry } from "../retry-policy.js";
import type { NodeState } from "../storage/index.js";
import { proofRef } from "../verify/index.js";
import type { PoetProof } from "../wire/index.js";
import type { RoundMembers } from "./round-members.js";

/**
 * Checks a PoET proof against a statement; rejects with `ProofVerificationError` when invalid.
 * `proofRef` is the proof's reference, already computed by the caller, for a verifier that keys a
 * cache by it (a `ParallelVerifier` does); others ignore it.
 */
export interface ProofVerifier {
  verify(
    proof: PoetProof,
    statement: Uint8Array,
    options?: AbortOptions & { proofRef?: Uint8Array | undefined },
  ): Promise<void>;
}

/** A proof of one PoET round that passed verification. */
export interface VerifiedRoundProof {
  /** The PoET's normalised address. */
  poet: string;
  roundId: string;
  proof: PoetProof;
  /** blake3(SCALE(proof)): the PoST challenge of identities that pick it. */
  ref: Uint8Array;
  /** The membership root the proof was verified against. */
  statement: Uint8Array;
  members: RoundMembers;
  /** The service key the PoET sent with the proof. */
  servicePubkey: Uint8Array;
  /** True when the verification result came from the node state. */
  fromCache: boolean;
}

const MEMORY_ENTRIES = 512;

/**
 * Verifies each proof once and remembers the answer, in memory and in the node state.
 *
 * @example
 * ```ts
 * const verifier = new SharedVerifier({ state, verifier: { verify: verifyPoetProof }, clock });
 * const verified = await verifier.check({ poet, roundId, proof, members, servicePubkey }, { signal });
 * ```
 */
export class SharedVerifier {
  readonly #state: NodeState;
  readonly #verifier: ProofVerifier;
  readonly #clock: Clock;
  readonly #signal: AbortSignal | undefined;
  readonly #results = new Map<string, Promise<boolean>>();
  readonly #logger: Logger;
  readonly #storeRetryDelayMs: number;
  readonly #random: RandomSource;
  /** Verdict rows being written in the background. */
  readonly #writes = new Set<Promise<void>>();

  constructor(init: {
    state: NodeState;
    verifier: ProofVerifier;
    clock: Clock;
    /** Aborts shared work when the owner closes. */
    signal?: AbortSignal | undefined;
    logger?: Logger | undefined;
    /** Base pause before a verdict row is written again after a retriable store failure. Default 5 s. */
    storeRetryDelayMs?: number | undefined;
    /** Uniform random numbers in [0, 1) for those pauses. Default `Math.random`. */
    random?: RandomSource | undefined;
  }) {
    this.#state = init.state;
    this.#verifier = init.verifier;
    this.#clock = init.clock;
    this.#signal = init.signal;
    this.#logger = init.logger ?? silentLogger;
    this.#storeRetryDelayMs = init.storeRetryDelayMs ?? DEFAULT_STORE_RETRY_DELAY_MS;
    this.#random = init.random ?? Math.random;
  }

  /** Resolves when the verdict rows being written in the background are written (or gave up). */
  async idle(): Promise<void> {
    while (this.#writes.size > 0) await Promise.allSettled([...this.#writes]);
  }

  /**
   * Verifies `proof` against the members' root, or reuses an earlier answer. Rejects with the
   * verifier's `ProofVerificationError` for an invalid proof.
   */
  async check(
    input: {
      poet: string;
      roundId: string;
      proof: PoetProof;
      members: RoundMembers;
      servicePubkey: Uint8Array;
    },
    options: AbortOptions & {
      /**
       * The last instant the verdict is of use, unix ms (the proof deadline): a row the store
       * could not take is tried again until then. Default: until the owner closes.
       */
      proofDeadlineMs?: number | undefined;
    } = {},
  ): Promise<VerifiedRoundProof> {
    const ref = proofRef(input.proof);
    const statement = input.members.root;
    const key = `${toHex(ref)}:${toHex(statement)}`;
    let result = this.#results.get(key);
    if (result === undefined) {
      const started = this.#verifyOnce(input, ref, statement, options.proofDeadlineMs);
      result = started;
      // A storage or abort failure is not an answer about the proof: the next caller retries.
      started.catch((err: unknown) => {
        if (isTransient(err) && this.#results.get(key) === started) this.#results.delete(key);
      });
      this.#results.set(key, started);
      if (this.#results.size > MEMORY_ENTRIES) {
        const oldest = this.#results.keys().next().value;
        if (oldest !== undefined) this.#results.delete(oldest);
      }
    }
    const fromCache = await raceAbort(result, options.signal);
    return { ...input, ref, statement, fromCache };
  }

  async #verifyOnce(
    input: { poet: string; roundId: string; proof: PoetProof; servicePubkey: Uint8Array },
    ref: Uint8Array,
    statement: Uint8Array,
    proofDeadlineMs: number | undefined,
  ): Promise<boolean> {
    const signal = this.#signal;
    let stored: Awaited<ReturnType<NodeState["proofs"]["get"]>>;
    try {
      stored = await this.#state.proofs.get(ref, { signal });
    } catch (err) {
      // A verdict that cannot be read now is found again by verifying the proof.
      if (!isRetriableStoreFailure(err) || signal?.aborted) throw err;
      stored = undefined;
    }
    if (stored !== undefined && equalBytes(stored.statement, statement)) return true;
    await this.#verifier.verify(input.proof, statement, { signal, proofRef: ref });
    const row = {
      proof: input.proof,
      address: input.poet,
      roundId: input.roundId,
      servicePubkey: input.servicePubkey,
      statement,
      verifiedAt: new Date(this.#clock.now()),
    };
    // Written before the answer, as a rule (the other workers of a fleet look for it once the
    // member list is stored); when the store fails retriably the proof is used at once and its
    // row follows in the background, tried again until it is written, the proof is of no more
    // use or the owner closes.
    const put = () => this.#state.proofs.put(row, { signal });
    try {
      await put();
    } catch (err) {
      if (!isRetriableStoreFailure(err) || signal?.aborted) throw err;
      // Attempt 1 is the failure just met: the first write again comes after a pause.
      const write = retry(
        (n) => (n === 1 ? Promise.reject(err) : put()),
        { delayMs: this.#storeRetryDelayMs, random: this.#random, until: proofDeadlineMs },
        { clock: this.#clock, signal },
      ).then(
        () => {},
        (last: unknown) => {
          if (signal?.aborted) return;
          this.#logger.warn(
            { err: last, poet: input.poet, roundId: input.roundId },
            "could not store a verified proof; it is used without being cached",
          );
        },
      );
      this.#writes.add(write);
      void write.finally(() => this.#writes.delete(write));
    }
    return false;
  }
}

function isTransient(err: unknown): boolean {
  return !(err instanceof ProofVerificationError);
}
