/**
 * @module wire/certificate
 *
 * The SCALE layout of a certifier's certificate `data` (docs/protocol.md §2.8), the bytes the
 * certifier signs with ed25519:
 *
 * ```
 * compact(len pubkey) ‖ pubkey (≤ 32 bytes) ‖ option tag ‖ [compact64(expiration, unix seconds)]
 * ```
 *
 * A 32-byte node id therefore starts with `0x80`; a certificate is 34 bytes without expiry and
 * 39 with one (present-day timestamps take the 4-byte big-integer form `0x03 ‖ LE32(t)`).
 *
 * The decoder follows the PoET server rather than the strict rules of the other layouts, because
 * what matters is whether the server will accept a certificate: an option tag other than `0x01`
 * reads as "no expiry", and bytes after the structure are ignored (the signature still covers
 * them). Truncation, a pubkey over 32 bytes and non-canonical compact integers are still errors,
 * as they are for the server.
 */
import { ScaleReader, ScaleWriter } from "./scale.js";

/** Most bytes in the certified public key (node id). */
export const CERTIFICATE_PUBKEY_MAX_BYTES = 32;

/** What a certificate certifies: a node id and, optionally, when the certificate expires. */
export interface CertificateData {
  /** The certified node id (ed25519 public key, 32 bytes). */
  pubkey: Uint8Array;
  /** Expiry in unix seconds; absent when the certificate never expires. */
  expiration?: bigint;
}

/**
 * SCALE-encodes certificate data (what a certifier signs).
 *
 * @throws {WireFormatError} when the pubkey is over 32 bytes or the expiration is outside u64.
 * @example
 * ```ts
 * const data = encodeCertificate({ pubkey: nodeId, expiration: 1735689600n }); // 39 bytes
 * ```
 */
export function encodeCertificate(cert: CertificateData): Uint8Array {
  const writer = new ScaleWriter(48);
  writer.bytes("Certificate.pubkey", cert.pubkey, CERTIFICATE_PUBKEY_MAX_BYTES);
  writer.option("Certificate.expiration", cert.expiration, (w, v, f) => w.compact(f, v));
  return writer.finish();
}

/**
 * Decodes certificate data the way the PoET server does: a tag other than `0x01` means no expiry
 * and trailing bytes are ignored.
 *
 * @throws {WireFormatError} naming the field on truncated input, a pubkey over 32 bytes or a
 *   non-canonical compact integer.
 * @example
 * ```ts
 * const { pubkey, expiration } = decodeCertificate(certificate.data);
 * if (expiration !== undefined && expiration * 1000n < BigInt(clock.now())) renew();
 * ```
 */
export function decodeCertificate(bytes: Uint8Array): CertificateData {
  const reader = new ScaleReader(bytes);
  const pubkey = reader.bytes("Certificate.pubkey", CERTIFICATE_PUBKEY_MAX_BYTES);
  const expiration = reader.option("Certificate.expiration", (r, f) => r.compact(f), {
    lenient: true,
  });
  return expiration === undefined ? { pubkey } : { pubkey, expiration };
}
