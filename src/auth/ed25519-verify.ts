/**
 * @module auth/ed25519-verify
 *
 * ed25519 verification on `node:crypto` (RFC 8032, as OpenSSL implements it), for the
 * certificates a certifier signs (docs/protocol.md §2.8). The key object API takes no raw keys:
 * the raw 32-byte key goes in as a JWK (`kty: "OKP"`), which OpenSSL imports about ten times
 * faster than the same key wrapped in DER SubjectPublicKeyInfo (0.07 against 0.7 ms, which made
 * key import the costliest step of a mock PoET's submit). A malformed key or signature verifies
 * as `false`, never throws.
 */
import { createPublicKey, verify } from "node:crypto";

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
    const x = Buffer.from(publicKey.buffer, publicKey.byteOffset, 32).toString("base64url");
    const key = createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x }, format: "jwk" });
    return verify(null, message, key, signature);
  } catch {
    return false;
  }
}
