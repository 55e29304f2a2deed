/**
 * @module auth/certificate-check
 *
 * A node's own check of a certificate before it uses one (docs/protocol.md §2.8;
 * docs/node-client.md §2.6, §8): the checks the PoET will run — the certifier's ed25519 signature
 * over the data, the SCALE decoding, the certified node id — plus expiry, judged locally with a
 * margin so that a certificate is renewed before it lapses instead of after the PoET's 401. The
 * Go node checks expiry only when it obtains a certificate and then relies on the 401.
 *
 * The certifier key must be the one the PoET advertises in its info: a certificate from any other
 * certifier is worthless at that PoET. The result is a value, not an exception, because an
 * expiring certificate is an ordinary reason to fetch a new one.
 */

import { equalBytes } from "../bytes.js";
import type { Certificate } from "../client/index.js";
import { decodeCertificate } from "../wire/index.js";
import { verifyEd25519 } from "./ed25519-verify.js";

/** Why a certificate cannot be used. */
export type CertificateProblem =
  | "signature-mismatch"
  | "malformed"
  | "pubkey-mismatch"
  | "expired"
  | "expiring";

/** The outcome of {@link checkCertificate}. */
export type CertificateCheck =
  | { ok: true; expiresAt: Date | undefined }
  | { ok: false; problem: CertificateProblem; message: string; expiresAt?: Date | undefined };

/** Options of {@link checkCertificate}. */
export interface CheckCertificateOptions {
  /** The certifier key the PoET advertises. */
  certifierPubkey: Uint8Array;
  /** The node the certificate must certify. */
  nodeId: Uint8Array;
  /** Unix ms now. */
  nowMs: number;
  /** Treat a certificate expiring within this many ms as unusable (default 0). */
  renewBeforeMs?: number | undefined;
}

/**
 * The first 4 bytes of a certifier key: the `certificatePubkeyHint` of a Submit.
 *
 * @example
 * ```ts
 * certificateHint(certifierPubkey); // Uint8Array(4)
 * ```
 */
export function certificateHint(certifierPubkey: Uint8Array): Uint8Array {
  return certifierPubkey.slice(0, 4);
}

/**
 * Checks a certificate as the PoET will, and its expiry with a renewal margin.
 *
 * @example
 * ```ts
 * const check = checkCertificate(cert, { certifierPubkey, nodeId, nowMs: clock.now(), renewBeforeMs: 3_600_000 });
 * if (!check.ok) cert = await recertify();
 * ```
 */
export function checkCertificate(
  certificate: Certificate,
  options: CheckCertificateOptions,
): CertificateCheck {
  if (!verifyEd25519(options.certifierPubkey, certificate.data, certificate.signature)) {
    return {
      ok: false,
      problem: "signature-mismatch",
      message: "the signature is not the advertised certifier's",
    };
  }
  let decoded: ReturnType<typeof decodeCertificate>;
  try {
    decoded = decodeCertificate(certificate.data);
  } catch (err) {
    return { ok: false, problem: "malformed", message: (err as Error).message };
  }
  if (!equalBytes(decoded.pubkey, options.nodeId)) {
    return {
      ok: false,
      problem: "pubkey-mismatch",
      message: "the certificate is for another node",
    };
  }
  if (decoded.expiration === undefined) return { ok: true, expiresAt: undefined };
  const expiresMs = Number(decoded.expiration) * 1000;
  const expiresAt = new Date(Math.min(expiresMs, 8.64e15));
  if (expiresMs <= options.nowMs) {
    return {
      ok: false,
      problem: "expired",
      message: `the certificate expired at ${expiresAt.toISOString()}`,
      expiresAt,
    };
  }
  if (expiresMs - options.nowMs <= (options.renewBeforeMs ?? 0)) {
    return {
      ok: false,
      problem: "expiring",
      message: `the certificate expires at ${expiresAt.toISOString()}, within the renewal margin`,
      expiresAt,
    };
  }
  return { ok: true, expiresAt };
}
