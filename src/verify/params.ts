/**
 * @module verify/params
 *
 * The constants of the proof-of-sequential-work protocol (docs/protocol.md §5.1, §4.3) and the
 * one check every entry point makes on the caller's security parameter.
 */
import { ConfigError } from "../errors.js";
import { MERKLE_MAX_PROOF_NODES } from "../wire/index.js";

/** `T`: the number of leaves a proof opens, chosen by Fiat–Shamir (docs/protocol.md §5.1). */
export const SECURITY_PARAM = 150;

/** SHA-256 calls per label: one over the input, then 399 over the previous digest. */
export const LABEL_HASH_NESTING_DEPTH = 400;

/** Most proof nodes a node can SCALE-encode, hence the most a proof may carry (docs/protocol.md §4.3). */
export const MAX_PROOF_NODES = MERKLE_MAX_PROOF_NODES;

/** Bytes in every label, node and root of an honest proof. */
export const NODE_BYTES = 32;

/**
 * Returns the security parameter to use, {@link SECURITY_PARAM} when none is given. The reference
 * keeps it in a `uint8`, so it must be an integer from 1 to 255.
 *
 * @throws {ConfigError} for anything else.
 */
export function resolveSecurityParam(securityParam: number | undefined): number {
  if (securityParam === undefined) return SECURITY_PARAM;
  if (!Number.isInteger(securityParam) || securityParam < 1 || securityParam > 255) {
    throw new ConfigError(
      "securityParam",
      `must be an integer from 1 to 255, got ${String(securityParam)}`,
    );
  }
  return securityParam;
}
