/**
 * @module testing/certificate-check
 *
 * How a PoET server judges a certificate in a Submit (docs/protocol.md §2.7, §2.8), with the
 * server's own failure reasons, so that the mock's 401 messages match the real server's text.
 *
 * Candidate keys: without a hint only the configured certifier key; with a hint every trusted key
 * (configured key included) whose first 4 bytes equal the hint. For one candidate the checks run
 * in the server's order — ed25519 signature over `data`, SCALE decoding, node id, expiry — and the
 * first failure is the reason. The real server reports that reason only on the no-hint path; with
 * a hint, a known key that fails gives the generic `invalid certificate`, and no candidate at all
 * gives `no matching cert public keys` on both paths.
 *
 * Decoding uses the wire codec ({@link decodeCertificate}); when it fails, the reason is rebuilt
 * in the Go decoder's words (`EOF`, `unexpected EOF`, `too many elements …`) because clients and
 * tests compare the message text.
 */

import { ED25519_TORSION_SUBGROUP, ed25519 } from "@noble/curves/ed25519.js";
import { verifyEd25519 } from "../auth/index.js";
import { equalBytes, toHex } from "../bytes.js";
import { decodeCertificate } from "../wire/index.js";

/** The certificate as it arrives in a Submit request (`certificate.data`, `certificate.signature`). */
export interface SubmittedCertificate {
  data: Uint8Array;
  signature: Uint8Array;
}

/** Which certifier keys a PoET trusts. */
export interface CertifierKeys {
  /** The configured certifier key (`certifier-pubkey`), used when the request has no hint. */
  pubkey?: Uint8Array | undefined;
  /** Extra trusted keys (the trusted-keys directory), reachable only through a hint. */
  trustedKeys?: readonly Uint8Array[] | undefined;
}

/** The outcome: `undefined` when accepted, otherwise the reason after `invalid certificate\n`. */
export type CertificateRejection = string | undefined;

/** Length of a certifier key hint: the first 4 bytes of the key. */
export const CERTIFICATE_HINT_BYTES = 4;

/**
 * Judges a submitted certificate like the PoET server does. (The node's own check of a
 * certificate it holds is `checkCertificate` of the root entry point.)
 *
 * @returns `undefined` when some candidate key accepts it, else the server's reason text.
 * @example
 * ```ts
 * const reason = certificateRejection(cert, nodeId, hint, { pubkey: certifierKey }, clock.now());
 * if (reason !== undefined) throw new ConnectError(`invalid certificate\n${reason}`, Code.Unauthenticated);
 * ```
 */
export function certificateRejection(
  certificate: SubmittedCertificate,
  nodeId: Uint8Array,
  hint: Uint8Array,
  keys: CertifierKeys,
  nowMs: number,
): CertificateRejection {
  const withHint = hint.length > 0;
  const candidates = withHint ? hintedKeys(hint, keys) : keys.pubkey ? [keys.pubkey] : [];
  if (candidates.length === 0) return "no matching cert public keys";
  let reason: string | undefined;
  for (const key of candidates) {
    reason = checkWithKey(certificate, nodeId, key, nowMs);
    if (reason === undefined) return undefined;
  }
  return withHint ? "invalid certificate" : reason;
}

function hintedKeys(hint: Uint8Array, keys: CertifierKeys): Uint8Array[] {
  const all = [...(keys.pubkey ? [keys.pubkey] : []), ...(keys.trustedKeys ?? [])];
  const seen = new Set<string>();
  const out: Uint8Array[] = [];
  for (const key of all) {
    const id = toHex(key);
    if (seen.has(id) || !equalBytes(key.subarray(0, CERTIFICATE_HINT_BYTES), hint)) continue;
    seen.add(id);
    out.push(key);
  }
  return out;
}

function checkWithKey(
  certificate: SubmittedCertificate,
  nodeId: Uint8Array,
  key: Uint8Array,
  nowMs: number,
): string | undefined {
  if (!verifySignature(certificate.signature, certificate.data, key)) return "signature mismatch";
  let decoded: ReturnType<typeof decodeCertificate>;
  try {
    decoded = decodeCertificate(certificate.data);
  } catch {
    return `decoding: ${goDecodeFailure(certificate.data)}`;
  }
  if (!equalBytes(decoded.pubkey, nodeId)) return "pubkey mismatch";
  if (decoded.expiration !== undefined && decoded.expiration * 1000n < BigInt(nowMs)) {
    return `certificate expired at ${formatGoTime(decoded.expiration)}`;
  }
  return undefined;
}

/**
 * ed25519 verification that never throws: malformed keys or signatures simply fail.
 *
 * The verdict is `@noble/curves`' strict one (`zip215: false`). Most signatures are valid, and
 * `node:crypto` confirms those about twenty times faster (pure-JS curve arithmetic was 60 % of the
 * mock's CPU time under ten thousand registrations), so it answers first: OpenSSL's check is
 * cofactorless ([S]B = R + [k]A, S < L, R compared as bytes), noble's cofactored, so whatever
 * OpenSSL accepts noble accepts too, except a key or R in a non-canonical encoding (y ≥ p) and a
 * key of small order, which noble refuses and OpenSSL may not. Those, and every signature OpenSSL
 * refuses, go to noble.
 */
export function verifySignature(
  signature: Uint8Array,
  message: Uint8Array,
  pubkey: Uint8Array,
): boolean {
  if (signature.length !== 64 || pubkey.length !== 32) return false;
  if (
    isCanonicalY(pubkey, 0) &&
    isCanonicalY(signature, 0) &&
    !SMALL_ORDER_Y.has(yHex(pubkey)) &&
    verifyEd25519(pubkey, message, signature)
  ) {
    return true;
  }
  try {
    return ed25519.verify(signature, message, pubkey, { zip215: false });
  } catch {
    return false;
  }
}

/** The y coordinates (hex, sign bit cleared) of the eight points of small order. */
const SMALL_ORDER_Y = new Set(
  ED25519_TORSION_SUBGROUP.map((point) => yHex(new Uint8Array(Buffer.from(point, "hex")))),
);

/** The hex of a point encoding's y coordinate (its sign bit cleared). */
function yHex(point: Uint8Array): string {
  const y = point.slice(0, 32);
  y[31] = (y[31] as number) & 0x7f;
  return toHex(y);
}

/**
 * Whether the 32-byte point encoding at `offset` has its y coordinate below p = 2^255 − 19: the
 * low 255 bits (little-endian) are not all of 0x7f ff … ff ed … ff.
 */
function isCanonicalY(bytes: Uint8Array, offset: number): boolean {
  if (((bytes[offset + 31] as number) & 0x7f) !== 0x7f) return true;
  for (let i = 30; i >= 1; i--) if (bytes[offset + i] !== 0xff) return true;
  return (bytes[offset] as number) < 0xed;
}

/**
 * The Go SCALE decoder's error text for certificate data that does not decode: the length
 * prefix over 32, or the input ending inside a value (`EOF` when nothing of the value was read,
 * `unexpected EOF` when part of it was).
 */
function goDecodeFailure(data: Uint8Array): string {
  const length = readCompact(data, 0);
  if (length === undefined) return "EOF";
  if (length.value > 32n) {
    return `too many elements to decode in collection with scale limit set: (${length.value} > 32)`;
  }
  const afterPubkey = length.next + Number(length.value);
  if (afterPubkey > data.length) return length.next === data.length ? "EOF" : "unexpected EOF";
  if (afterPubkey === data.length) return "EOF";
  if (data[afterPubkey] === 1) {
    const expiry = readCompact(data, afterPubkey + 1);
    if (expiry === undefined) return afterPubkey + 1 === data.length ? "EOF" : "unexpected EOF";
  }
  return "non-canonical compact integer";
}

function readCompact(data: Uint8Array, at: number): { value: bigint; next: number } | undefined {
  const head = data[at];
  if (head === undefined) return undefined;
  const mode = head & 3;
  const width = mode === 0 ? 1 : mode === 1 ? 2 : mode === 2 ? 4 : (head >> 2) + 5;
  if (at + width > data.length) return undefined;
  if (mode === 3) {
    let value = 0n;
    for (let i = width - 1; i >= 1; i--) value = (value << 8n) | BigInt(data[at + i] ?? 0);
    return { value, next: at + width };
  }
  let raw = 0;
  for (let i = width - 1; i >= 0; i--) raw = raw * 256 + (data[at + i] ?? 0);
  return { value: BigInt(Math.floor(raw / 4)), next: at + width };
}

/** Go's `time.Time` default text in UTC, e.g. `2020-01-01 00:00:00 +0000 UTC`. */
export function formatGoTime(unixSeconds: bigint): string {
  if (unixSeconds > 8_640_000_000_000n) return `unix ${unixSeconds}`;
  const iso = new Date(Number(unixSeconds) * 1000).toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)} +0000 UTC`;
}
