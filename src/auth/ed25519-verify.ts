/**
 * @module auth/ed25519-verify
 *
 * ed25519 verification on `node:crypto` (RFC 8032, as OpenSSL implements it), for the
 * certificates a certifier signs (docs/protocol.md §2.8). The raw 32-byte key is wrapped in its
 * SubjectPublicKeyInfo form because the key object API takes no raw keys. A malformed key or
 * signature verifies as `false`, never throws.
 */
import { createPublicKey, verify } from "node:crypto";

// SubjectPublicKeyInfo header of an ed25519 key (RFC 8410).
// biome-ignore format: one DER header
const SPKI_ED25519_PREFIX = Uint8Array.of(
  0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
);

/**
 * Whether `signature` is `publicKey`'s ed25519 signature of `message`.
 *
 * @example
 * ```ts
 * if (!verifyEd25519(certifierPubkey, cert.data, cert.signature)) refuse();
 * ```
 */
export function verifyEd25519(
  publicKey: Uint8Array,
  message: Uint8Array,
  signature: Uint8Array,
): boolean {
  if (publicKey.length !== 32 || signature.length !== 64) return false;
  try {
    const der = new Uint8Array(SPKI_ED25519_PREFIX.length + 32);
    der.set(SPKI_ED25519_PREFIX);
    der.set(publicKey, SPKI_ED25519_PREFIX.length);
    const key = createPublicKey({ key: Buffer.from(der), format: "der", type: "spki" });
    return verify(null, message, key, signature);
  } catch {
    return false;
  }
}
