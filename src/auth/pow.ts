/**
 * @module auth/pow
 *
 * The PoET's proof of work (docs/protocol.md §2.9), the authorisation every PoET accepts and the
 * fallback when no certificate can be had (docs/node-client.md §2.5). The node searches nonces
 * 0, 1, 2, … until
 *
 * ```
 * RIPEMD-256(powChallenge ‖ nodeId ‖ poetChallenge ‖ LE64(nonce))
 * ```
 *
 * starts with `difficulty` zero bits, then echoes the parameters it solved (challenge and
 * difficulty) in its Submit.
 *
 * The search compresses the blocks that do not contain the nonce once (a "midstate") and then
 * re-hashes only the tail per nonce, with no allocation in the loop. It yields to the event loop
 * every few thousand hashes so that a node keeps serving I/O while it searches, and it stops at
 * once, with {@link AbortedError}, when its signal fires. A difficulty above `maxDifficulty` is
 * refused up front: a PoET advertising one would make the search run for years.
 */

import { setImmediate as yieldToEventLoop } from "node:timers/promises";
import type { AbortOptions } from "../abort-options.js";
import { AbortedError, ConfigError, throwIfAborted } from "../errors.js";
import {
  RIPEMD256_BLOCK_BYTES,
  RIPEMD256_DIGEST_BYTES,
  readBlockWords,
  ripemd256,
  ripemd256Compress,
  ripemd256Init,
  ripemd256Output,
  ripemd256Pad,
} from "./ripemd256.js";

/** The highest difficulty {@link solvePow} accepts by default (2^32 hashes expected). */
export const DEFAULT_MAX_POW_DIFFICULTY = 32;

/** What a proof of work is computed over. */
export interface PowInput {
  /** The PoET's current PoW challenge (`GET /v1/pow_params`). */
  powChallenge: Uint8Array;
  /** The node id (32-byte ed25519 public key). */
  nodeId: Uint8Array;
  /** The challenge the node registers. */
  poetChallenge: Uint8Array;
}

/** Options of {@link solvePow}. */
export interface SolvePowOptions extends PowInput, AbortOptions {
  /** Required leading zero bits. */
  difficulty: number;
  /** Refuse difficulties above this (default {@link DEFAULT_MAX_POW_DIFFICULTY}). */
  maxDifficulty?: number | undefined;
  /** Hashes between two yields to the event loop (default 4096). */
  yieldEvery?: number | undefined;
  /** The first nonce to try (default 0). */
  startNonce?: bigint | undefined;
}

/**
 * The bytes hashed for `nonce`: `powChallenge ‖ nodeId ‖ poetChallenge ‖ LE64(nonce)`.
 *
 * @example
 * ```ts
 * const digest = ripemd256(powMessage({ powChallenge, nodeId, poetChallenge }, 2664n));
 * ```
 */
export function powMessage(input: PowInput, nonce: bigint): Uint8Array {
  const { powChallenge, nodeId, poetChallenge } = input;
  const out = new Uint8Array(powChallenge.length + nodeId.length + poetChallenge.length + 8);
  out.set(powChallenge, 0);
  out.set(nodeId, powChallenge.length);
  out.set(poetChallenge, powChallenge.length + nodeId.length);
  new DataView(out.buffer).setBigUint64(out.length - 8, BigInt.asUintN(64, nonce), true);
  return out;
}

/**
 * Whether `digest` starts with at least `bits` zero bits (whole zero bytes, then the top
 * `bits mod 8` bits of the next byte).
 *
 * @example
 * ```ts
 * hasLeadingZeroBits(Uint8Array.of(0x00, 0x0c), 12); // true
 * ```
 */
export function hasLeadingZeroBits(digest: Uint8Array, bits: number): boolean {
  const whole = bits >>> 3;
  for (let i = 0; i < whole; i++) if (digest[i] !== 0) return false;
  const rest = bits & 7;
  if (rest === 0) return true;
  return (digest[whole] ?? 0xff) >>> (8 - rest) === 0;
}

/**
 * Whether `nonce` solves the proof of work (what the PoET checks).
 *
 * @example
 * ```ts
 * checkPow({ powChallenge, nodeId, poetChallenge }, 12, 2664n); // true
 * ```
 */
export function checkPow(input: PowInput, difficulty: number, nonce: bigint): boolean {
  return hasLeadingZeroBits(ripemd256(powMessage(input, nonce)), difficulty);
}

function checkDifficulty(difficulty: number, max: number): void {
  if (!Number.isInteger(difficulty) || difficulty < 0) {
    throw new ConfigError("powParams.difficulty", `${difficulty} is not a bit count`);
  }
  if (difficulty > max) {
    throw new ConfigError(
      "powParams.difficulty",
      `difficulty ${difficulty} is above the accepted maximum of ${max} leading zero bits`,
    );
  }
}

/**
 * Searches the smallest nonce (from `startNonce`) whose RIPEMD-256 digest has `difficulty`
 * leading zero bits. Cancellable; yields to the event loop periodically.
 *
 * @throws {AbortedError} when `signal` fires.
 * @throws {ConfigError} when `difficulty` is negative, fractional or above `maxDifficulty`.
 * @example
 * ```ts
 * const { challenge, difficulty } = await client.powParams({ signal });
 * const nonce = await solvePow({ powChallenge: challenge, nodeId, poetChallenge, difficulty, signal });
 * ```
 */
export async function solvePow(options: SolvePowOptions): Promise<bigint> {
  const { difficulty, signal } = options;
  checkDifficulty(difficulty, options.maxDifficulty ?? DEFAULT_MAX_POW_DIFFICULTY);
  throwIfAborted(signal);
  const yieldEvery = Math.max(1, options.yieldEvery ?? 4096);

  const message = powMessage(options, 0n);
  const padded = ripemd256Pad(message);
  const nonceOffset = message.length - 8;
  // The blocks before the one holding the nonce's first byte never change: compress them once.
  const firstVaryingBlock = Math.floor(nonceOffset / RIPEMD256_BLOCK_BYTES);
  const midstate = new Uint32Array(8);
  const state = new Uint32Array(8);
  const words = new Uint32Array(16);
  const digest = new Uint8Array(RIPEMD256_DIGEST_BYTES);
  ripemd256Init(midstate);
  for (let block = 0; block < firstVaryingBlock; block++) {
    readBlockWords(padded, block * RIPEMD256_BLOCK_BYTES, words);
    ripemd256Compress(midstate, words);
  }
  const view = new DataView(padded.buffer);
  const blocks = padded.length / RIPEMD256_BLOCK_BYTES;

  // The nonce as two 32-bit halves: number arithmetic in the loop, a bigint only for the result.
  const start = BigInt.asUintN(64, options.startNonce ?? 0n);
  let lo = Number(start & 0xffffffffn);
  let hi = Number(start >> 32n);
  for (let sinceYield = 0; ; sinceYield++) {
    if (sinceYield === yieldEvery) {
      sinceYield = 0;
      await yieldToEventLoop(undefined, { signal }).catch((err: unknown) => {
        throw new AbortedError("the proof-of-work search was aborted", { cause: err });
      });
    }
    view.setUint32(nonceOffset, lo, true);
    view.setUint32(nonceOffset + 4, hi, true);
    state.set(midstate);
    for (let block = firstVaryingBlock; block < blocks; block++) {
      readBlockWords(padded, block * RIPEMD256_BLOCK_BYTES, words);
      ripemd256Compress(state, words);
    }
    ripemd256Output(state, digest);
    if (hasLeadingZeroBits(digest, difficulty)) return (BigInt(hi) << 32n) | BigInt(lo);
    lo = (lo + 1) >>> 0;
    if (lo === 0) hi = (hi + 1) >>> 0;
  }
}
