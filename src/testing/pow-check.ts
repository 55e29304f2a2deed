/**
 * @module testing/pow-check
 *
 * The PoET server's proof-of-work admission (docs/protocol.md §2.9): the request must echo the
 * current or the previous PoW parameters exactly (challenge and difficulty), and
 * `RIPEMD-256(powChallenge ‖ nodeId ‖ poetChallenge ‖ LE64(nonce))` must start with `difficulty`
 * zero bits. The challenge rotates to the root of each finished proof, and the parameters from one
 * rotation back stay valid, so a node that solved just before a rotation is not turned away.
 *
 * Messages are the server's, because clients branch on them (a stale-parameters 400 means
 * "refetch and redo the PoW").
 */

import { checkPow, hasLeadingZeroBits, powMessage } from "../auth/pow.js";
import { ripemd256 } from "../auth/ripemd256.js";
import { equalBytes } from "../bytes.js";

/** PoW parameters as served by `GET /v1/pow_params`. */
export interface PowParameters {
  /** Random bytes at start, then the root of the last proof. */
  challenge: Uint8Array;
  /** Required number of leading zero bits. */
  difficulty: number;
}

/** Rejection text when the echoed parameters are neither the current nor the previous ones. */
export const POW_PARAMS_MESSAGE = "invalid proof of work parameters";
/** Rejection text when the hash lacks leading zero bits. */
export const POW_ZERO_BITS_MESSAGE = "invalid proof of work: invalid leading zero bits";

/**
 * The current and previous PoW parameters of one server, and the check against them.
 *
 * @example
 * ```ts
 * const pow = new PowVerifier({ challenge: randomBytes(32), difficulty: 8 });
 * const reason = pow.check(request.powParams, request.pubkey, request.challenge, request.nonce);
 * pow.rotate(proof.root); // after a round's proof
 * ```
 */
export class PowVerifier {
  #current: PowParameters;
  #previous: PowParameters | undefined;

  constructor(initial: PowParameters) {
    this.#current = initial;
  }

  /** The parameters a client must use now. */
  get current(): PowParameters {
    return this.#current;
  }

  /** Moves to a new challenge (the root of a new proof); the old parameters become "previous". */
  rotate(challenge: Uint8Array): void {
    this.#previous = this.#current;
    this.#current = { challenge: challenge.slice(), difficulty: this.#current.difficulty };
  }

  /** Sets the current parameters and the previous ones (still accepted), e.g. from a capture. */
  restore(current: PowParameters, previous: PowParameters | undefined): void {
    this.#current = current;
    this.#previous = previous;
  }

  /** `undefined` when the PoW is acceptable, else the server's rejection message. */
  check(
    params: PowParameters | undefined,
    nodeId: Uint8Array,
    poetChallenge: Uint8Array,
    nonce: bigint,
  ): string | undefined {
    const echoed = params ?? { challenge: new Uint8Array(0), difficulty: 0 };
    const known = [this.#current, this.#previous].some(
      (p) =>
        p !== undefined &&
        p.difficulty === echoed.difficulty &&
        equalBytes(p.challenge, echoed.challenge),
    );
    if (!known) return POW_PARAMS_MESSAGE;
    const input = { powChallenge: echoed.challenge, nodeId, poetChallenge };
    return checkPow(input, echoed.difficulty, nonce) ? undefined : POW_ZERO_BITS_MESSAGE;
  }
}

/**
 * Finds the smallest nonce that satisfies `params`, on the calling thread (what a client does; the
 * mock uses it in tests and demos). Cheap for the small difficulties used on loopback; the root
 * entry point's `solvePow` is the asynchronous, abortable search a node uses.
 *
 * @example
 * ```ts
 * const nonce = solvePowSync(params, nodeId, challenge);
 * ```
 */
export function solvePowSync(
  params: PowParameters,
  nodeId: Uint8Array,
  poetChallenge: Uint8Array,
): bigint {
  const input = powMessage({ powChallenge: params.challenge, nodeId, poetChallenge }, 0n);
  const view = new DataView(input.buffer);
  for (let nonce = 0n; ; nonce++) {
    view.setBigUint64(input.length - 8, nonce, true);
    if (hasLeadingZeroBits(ripemd256(input), params.difficulty)) return nonce;
  }
}
