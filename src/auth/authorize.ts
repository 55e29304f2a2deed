/**
 * @module auth/authorize
 *
 * How a node gets admitted to a PoET round (docs/protocol.md §2.6–§2.9; docs/node-client.md
 * §2.5): with a certificate when the PoET advertises a certifier and the node can certify,
 * otherwise with a proof of work. Mirrors the Go node, which learned the order the hard way
 * (docs/node-client.md §7 item 11):
 *
 * 1. Certificate first — cached or newly obtained through the node's certification callback
 *    from the certifier the PoET advertises. If certification fails for any reason, PoW.
 * 2. On a 401 (the PoET refused the certificate), forget it, certify once more and submit again;
 *    if that is refused too, or certification fails, submit with PoW. A request that carries a
 *    certificate always takes the certificate path on the server, even one without a certifier
 *    (docs/protocol.md §8), so the PoW retry carries none.
 * 3. On 400 "invalid proof of work parameters" (the PoW challenge rotated while solving), fetch
 *    the parameters afresh and solve once more.
 *
 * Every other answer is final and reaches the caller as the client threw it.
 */

import type { AbortOptions } from "../abort-options.js";
import type { PoetCertifier, PoetClient, SubmitResult } from "../client/index.js";
import { type Clock, systemClock } from "../clock.js";
import { AbortedError, PoetRpcError } from "../errors.js";
import { type Logger, silentLogger } from "../logger.js";
import { CertificateCache, type IssuedCertificate } from "./certificate-cache.js";
import { solvePow } from "./pow.js";
import type { Signer } from "./signer.js";
import { type Authorization, buildSubmitRequest } from "./submit-request.js";

/** The node's way to certify with a certifier (for example {@link certify} with its PoST). */
export type CertifyCallback = (
  request: { nodeId: Uint8Array; certifier: PoetCertifier },
  options: AbortOptions,
) => Promise<IssuedCertificate>;

/** Options of {@link authorize}. */
export interface AuthorizeOptions extends AbortOptions {
  client: Pick<PoetClient, "url" | "info" | "powParams">;
  nodeId: Uint8Array;
  /** The challenge to register (PoW input). */
  challenge: Uint8Array;
  /** Certification callback; without one, PoW. */
  certify?: CertifyCallback | undefined;
  /** Certificates shared across PoETs and calls (default: a fresh in-memory cache). */
  certificates?: CertificateCache | undefined;
  /** `"auto"` (certificate, else PoW; the default) or `"pow"`. */
  method?: "auto" | "pow" | undefined;
  /** Refetch the PoW parameters instead of using cached ones. */
  freshPowParams?: boolean | undefined;
  /** Highest PoW difficulty accepted (see {@link solvePow}). */
  maxPowDifficulty?: number | undefined;
  logger?: Logger | undefined;
}

/**
 * Chooses and produces the authorisation of one registration.
 *
 * @throws {AbortedError} when `signal` fires; errors of `info`/`powParams`; {@link ConfigError}
 *   for an infeasible PoW difficulty.
 * @example
 * ```ts
 * const authorization = await authorize({ client, nodeId: signer.nodeId, challenge, certify, signal });
 * ```
 */
export async function authorize(options: AuthorizeOptions): Promise<Authorization> {
  const { client, nodeId, challenge, signal } = options;
  const logger = options.logger ?? silentLogger;
  if (options.method !== "pow" && options.certify !== undefined) {
    const info = await client.info({ signal });
    const certifier = info.certifier;
    if (certifier !== undefined) {
      const certify = options.certify;
      const cache = options.certificates ?? new CertificateCache();
      try {
        const certificate = await cache.get(
          nodeId,
          certifier,
          (o) => certify({ nodeId, certifier }, o),
          { signal },
        );
        return { kind: "certificate", certificate, certifier };
      } catch (err) {
        if (err instanceof AbortedError || signal?.aborted) throw err;
        logger.warn(
          { poet: client.url, certifier: certifier.url, err },
          "certification failed; falling back to proof of work",
        );
      }
    }
  }
  const powParams = await client.powParams({ signal, fresh: options.freshPowParams });
  const nonce = await solvePow({
    powChallenge: powParams.challenge,
    nodeId,
    poetChallenge: challenge,
    difficulty: powParams.difficulty,
    maxDifficulty: options.maxPowDifficulty,
    signal,
  });
  return { kind: "pow", nonce, powParams };
}

/** Options of {@link submitAuthorized}. */
export interface SubmitAuthorizedOptions extends AbortOptions {
  client: PoetClient;
  signer: Signer;
  /** Signing prefix: `poetSigningPrefix(genesisId)`. */
  prefix: Uint8Array;
  challenge: Uint8Array;
  /** The latest acceptable round end (sent to the PoET). */
  deadline?: Date | undefined;
  /** Retry transient failures until this instant (normally the round start). */
  retryUntil?: Date | undefined;
  certify?: CertifyCallback | undefined;
  certificates?: CertificateCache | undefined;
  maxPowDifficulty?: number | undefined;
  clock?: Clock | undefined;
  logger?: Logger | undefined;
}

/** A registration and how it was authorised. */
export interface SubmitAuthorizedResult extends SubmitResult {
  authorization: Authorization["kind"];
}

function isUnauthorized(err: unknown): boolean {
  return err instanceof PoetRpcError && err.kind === "unauthorized";
}

function isStalePowParams(err: unknown): boolean {
  return (
    err instanceof PoetRpcError &&
    err.kind === "invalid-request" &&
    err.message.includes("invalid proof of work parameters")
  );
}

/**
 * Authorises, signs and submits one registration, handling 401 (re-certify once, then PoW) and
 * rotated PoW parameters (solve once more).
 *
 * @throws {PoetRpcError} the PoET's final answer; {@link AbortedError} when `signal` fires.
 * @example
 * ```ts
 * const { roundId, roundEnd, authorization } = await submitAuthorized({
 *   client, signer, prefix, challenge, deadline, retryUntil: roundStart, certify, certificates, signal,
 * });
 * ```
 */
export async function submitAuthorized(
  options: SubmitAuthorizedOptions,
): Promise<SubmitAuthorizedResult> {
  const { client, signer, prefix, challenge, signal } = options;
  const logger = options.logger ?? silentLogger;
  const clock = options.clock ?? systemClock;
  const certificates = options.certificates ?? new CertificateCache({ clock });
  const base = {
    client,
    nodeId: signer.nodeId,
    challenge,
    certify: options.certify,
    certificates,
    maxPowDifficulty: options.maxPowDifficulty,
    logger,
    signal,
  };
  const send = async (authorization: Authorization): Promise<SubmitAuthorizedResult> => {
    const request = await buildSubmitRequest({
      signer,
      prefix,
      challenge,
      authorization,
      deadline: options.deadline,
      signal,
    });
    const result = await client.submit(request, { signal, retryUntil: options.retryUntil });
    return { ...result, authorization: authorization.kind };
  };

  let authorization = await authorize(base);
  let recertified = false;
  let resolvedPow = false;
  for (;;) {
    try {
      return await send(authorization);
    } catch (err) {
      if (isUnauthorized(err) && authorization.kind === "certificate") {
        await certificates.invalidate(signer.nodeId, authorization.certifier.pubkey, { signal });
        if (!recertified) {
          recertified = true;
          logger.warn({ poet: client.url }, "the PoET refused the certificate; certifying again");
          authorization = await authorize(base);
        } else {
          logger.warn(
            { poet: client.url },
            "the PoET refused the new certificate; using proof of work",
          );
          authorization = await authorize({ ...base, method: "pow" });
        }
        continue;
      }
      if (isStalePowParams(err) && authorization.kind === "pow" && !resolvedPow) {
        resolvedPow = true;
        logger.info({ poet: client.url }, "PoW parameters rotated; solving again");
        authorization = await authorize({ ...base, method: "pow", freshPowParams: true });
        continue;
      }
      throw err;
    }
  }
}
