/**
 * @module auth/certificate-cache
 *
 * Certificates kept per (node id, certifier key) (docs/node-client.md §2.6): certification costs
 * the certifier a PoST verification, so a node asks once and reuses the answer for every PoET
 * that trusts the same certifier, across restarts when a {@link CertificateStore} (the node
 * state's `poet_certificates` table) is given. Concurrent requests for the same key share one
 * certification, as the Go node's singleflight does.
 *
 * Unlike the Go node, a cached certificate is re-checked on every use — signature by the
 * certifier the PoET advertises now, node id, and expiry with a renewal margin (default one
 * hour) — and replaced before it lapses. A freshly issued certificate that fails those checks,
 * or that the certifier signed with a key other than the advertised one, is refused as a
 * `bad-response` from the certifier.
 */

import type { AbortOptions } from "../abort-options.js";
import { raceAbort } from "../abortable.js";
import { equalBytes, toHex } from "../bytes.js";
import type { Certificate, PoetCertifier } from "../client/index.js";
import { type Clock, systemClock } from "../clock.js";
import { PoetRpcError } from "../errors.js";
import { checkCertificate } from "./certificate-check.js";

/** A certificate row as the node state keeps it. */
export interface StoredCertificate {
  nodeId: Uint8Array;
  /** The certifier's public key. */
  certifierId: Uint8Array;
  /** SCALE certificate data. */
  certificate: Uint8Array;
  signature: Uint8Array;
}

/** Persistence for certificates (the node state's certificate repository fits). */
export interface CertificateStore {
  get(
    nodeId: Uint8Array,
    certifierId: Uint8Array,
    options?: AbortOptions,
  ): Promise<StoredCertificate | undefined>;
  put(certificate: StoredCertificate, options?: AbortOptions): Promise<void>;
  delete(nodeId: Uint8Array, certifierId: Uint8Array, options?: AbortOptions): Promise<unknown>;
}

/** A certificate as a certifier hands it out; `pubkey` is the key it says it signed with. */
export interface IssuedCertificate extends Certificate {
  pubkey?: Uint8Array | undefined;
}

/** Obtains a new certificate from the certifier. */
export type ObtainCertificate = (options: AbortOptions) => Promise<IssuedCertificate>;

/** Options of {@link CertificateCache}. */
export interface CertificateCacheOptions {
  clock?: Clock | undefined;
  store?: CertificateStore | undefined;
  /** Renew a certificate expiring within this many ms (default one hour). */
  renewBeforeMs?: number | undefined;
}

/**
 * Certificates per (node id, certifier key), in memory and optionally persisted.
 *
 * @example
 * ```ts
 * const certificates = new CertificateCache({ store: state.certificates, clock });
 * const cert = await certificates.get(nodeId, info.certifier, (o) => askCertifier(o), { signal });
 * ```
 */
export class CertificateCache {
  readonly #clock: Clock;
  readonly #store: CertificateStore | undefined;
  readonly #renewBeforeMs: number;
  readonly #memory = new Map<string, Certificate>();
  readonly #inFlight = new Map<string, Promise<Certificate>>();

  constructor(options: CertificateCacheOptions = {}) {
    this.#clock = options.clock ?? systemClock;
    this.#store = options.store;
    this.#renewBeforeMs = options.renewBeforeMs ?? 3_600_000;
  }

  #usable(cert: Certificate, nodeId: Uint8Array, certifierPubkey: Uint8Array): boolean {
    return checkCertificate(cert, {
      certifierPubkey,
      nodeId,
      nowMs: this.#clock.now(),
      renewBeforeMs: this.#renewBeforeMs,
    }).ok;
  }

  /**
   * A usable certificate of `nodeId` by `certifier`: cached, stored, or newly obtained.
   *
   * @throws {PoetRpcError} kind `bad-response` (server: the certifier) when a new certificate is
   *   unusable; whatever `obtain` throws.
   */
  async get(
    nodeId: Uint8Array,
    certifier: PoetCertifier,
    obtain: ObtainCertificate,
    options: AbortOptions = {},
  ): Promise<Certificate> {
    const key = `${toHex(nodeId)}:${toHex(certifier.pubkey)}`;
    const cached = this.#memory.get(key);
    if (cached !== undefined && this.#usable(cached, nodeId, certifier.pubkey)) return cached;
    const running = this.#inFlight.get(key);
    if (running !== undefined) return raceAbort(running, options.signal);
    const work = (async () => {
      const stored = await this.#store?.get(nodeId, certifier.pubkey, options);
      if (stored !== undefined) {
        const cert = { data: stored.certificate, signature: stored.signature };
        if (this.#usable(cert, nodeId, certifier.pubkey)) {
          this.#memory.set(key, cert);
          return cert;
        }
      }
      const issued = await obtain(options);
      const target = { server: certifier.url, method: "POST /certify" };
      if (issued.pubkey !== undefined && !equalBytes(issued.pubkey, certifier.pubkey)) {
        throw new PoetRpcError(
          `the certifier signed with ${toHex(issued.pubkey)}, not the advertised ${toHex(certifier.pubkey)}`,
          { ...target, kind: "bad-response", retriable: false },
        );
      }
      const cert: Certificate = { data: issued.data, signature: issued.signature };
      const check = checkCertificate(cert, {
        certifierPubkey: certifier.pubkey,
        nodeId,
        nowMs: this.#clock.now(),
      });
      if (!check.ok) {
        throw new PoetRpcError(`the new certificate is unusable: ${check.message}`, {
          ...target,
          kind: "bad-response",
          retriable: false,
        });
      }
      this.#memory.set(key, cert);
      await this.#store?.put(
        {
          nodeId,
          certifierId: certifier.pubkey,
          certificate: cert.data,
          signature: cert.signature,
        },
        options,
      );
      return cert;
    })();
    this.#inFlight.set(key, work);
    try {
      return await work;
    } finally {
      this.#inFlight.delete(key);
    }
  }

  /** Forgets the certificate of `nodeId` by `certifierPubkey` (after the PoET refused it). */
  async invalidate(
    nodeId: Uint8Array,
    certifierPubkey: Uint8Array,
    options: AbortOptions = {},
  ): Promise<void> {
    this.#memory.delete(`${toHex(nodeId)}:${toHex(certifierPubkey)}`);
    await this.#store?.delete(nodeId, certifierPubkey, options);
  }
}
