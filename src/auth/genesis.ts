/**
 * @module auth/genesis
 *
 * The bytes a node puts in front of its challenge before signing a Submit (docs/protocol.md §2.2).
 * A Spacemesh node signs with domain separation: every signature covers
 * `genesisId ‖ domain ‖ message`, and for a PoET registration the domain byte is `0x04` (POET).
 * The node sends `genesisId ‖ 0x04` as the request's `prefix`, and the PoET checks the signature
 * over `prefix ‖ challenge`, so the two agree byte for byte.
 *
 * The genesis id is the first 20 bytes of
 * `BLAKE3(ascii(decimal unix seconds of genesis) ‖ ascii(genesis extra data))`; the extra data is
 * hashed as the text it is, not decoded from hex. On mainnet that gives
 * `9eebff023abb17ccb775c602daade8ed708f0a50`, and the prefix `9eebff02…0a50 04`.
 */
import { blake3 } from "@noble/hashes/blake3.js";
import { ConfigError } from "../errors.js";

/** Bytes in a genesis id. */
export const GENESIS_ID_BYTES = 20;
/** The signing domain of PoET registrations. */
export const POET_SIGNING_DOMAIN = 0x04;

/**
 * The network's genesis id from its genesis time (whole seconds) and extra data.
 *
 * @throws {ConfigError} for an invalid `Date` or one that is not a whole second.
 * @example
 * ```ts
 * genesisId(new Date("2023-07-14T08:00:00Z"),
 *   "00000000000000000001a6bc150307b5c1998045752b3c87eccf3c013036f3cc"); // 9eebff02…0a50
 * ```
 */
export function genesisId(genesisTime: Date, extraData: string): Uint8Array {
  const ms = genesisTime.getTime();
  if (!Number.isFinite(ms)) throw new ConfigError("genesisTime", "invalid Date");
  if (ms % 1000 !== 0) {
    throw new ConfigError("genesisTime", `${genesisTime.toISOString()} is not a whole second`);
  }
  const text = `${ms / 1000}${extraData}`;
  return blake3(new TextEncoder().encode(text)).slice(0, GENESIS_ID_BYTES);
}

/**
 * The `prefix` of a Submit: `genesisId ‖ 0x04`.
 *
 * @throws {ConfigError} when `genesis` is not 20 bytes.
 * @example
 * ```ts
 * const prefix = poetSigningPrefix(genesisId(genesis, extraData)); // 21 bytes
 * ```
 */
export function poetSigningPrefix(genesis: Uint8Array): Uint8Array {
  if (genesis.length !== GENESIS_ID_BYTES) {
    throw new ConfigError(
      "genesisId",
      `a genesis id is ${GENESIS_ID_BYTES} bytes, got ${genesis.length}`,
    );
  }
  const prefix = new Uint8Array(GENESIS_ID_BYTES + 1);
  prefix.set(genesis);
  prefix[GENESIS_ID_BYTES] = POET_SIGNING_DOMAIN;
  return prefix;
}
