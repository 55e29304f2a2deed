/**
 * @module testing/signing-key
 *
 * The ed25519 key a mock server signs with, as its options give it: a 32-byte seed, Go's 64-byte
 * private key `seed ‖ pub` (only the seed is used), or nothing for a random seed.
 */
import { ConfigError } from "../errors.js";

/**
 * The 32-byte ed25519 seed of `key`, or a random seed when `key` is absent.
 *
 * @throws {ConfigError} named `setting` when `key` is neither 32 nor 64 bytes.
 * @example
 * ```ts
 * const seed = signingSeed(options.serviceKey, "serviceKey");
 * const pubkey = ed25519.getPublicKey(seed);
 * ```
 */
export function signingSeed(key: Uint8Array | undefined, setting: string): Uint8Array {
  if (key === undefined) return crypto.getRandomValues(new Uint8Array(32));
  if (key.length === 32 || key.length === 64) return key.slice(0, 32);
  throw new ConfigError(
    setting,
    `must be a 32-byte seed or 64 bytes (seed ‖ pub), got ${key.length}`,
  );
}
