/**
 * @module auth/submit-request
 *
 * Assembles a registration (docs/protocol.md §1.1, §2.1–§2.2): the node signs
 * `prefix ‖ challenge` with its ed25519 key and attaches its authorisation — a certificate with
 * the 4-byte hint of the certifier key (which servers before v0.10.6 ignore, so it is always safe
 * to send, §2.6), or a PoW nonce with the parameters it was solved for, echoed exactly (§2.9) —
 * and the deadline after which the registration must not land in a later round (§2.4).
 */
import type { AbortOptions } from "../abort-options.js";
import type { Certificate, PoetCertifier, PoetSubmitRequest, PowParams } from "../client/index.js";
import { ConfigError, throwIfAborted } from "../errors.js";
import { certificateHint } from "./certificate-check.js";
import type { Signer } from "./signer.js";

/** How a registration is authorised. */
export type Authorization =
  | { kind: "certificate"; certificate: Certificate; certifier: PoetCertifier }
  | { kind: "pow"; nonce: bigint; powParams: PowParams };

/** Input of {@link buildSubmitRequest}. */
export interface BuildSubmitRequestInput extends AbortOptions {
  signer: Signer;
  /** Signing prefix: `poetSigningPrefix(genesisId)`. */
  prefix: Uint8Array;
  /** The 32-byte challenge. */
  challenge: Uint8Array;
  authorization: Authorization;
  /** The latest acceptable round end (the round the proof is needed for). */
  deadline?: Date | undefined;
}

/**
 * A signed, authorised registration.
 *
 * @throws {ConfigError} when the signer's signature is not 64 bytes.
 * @example
 * ```ts
 * const request = await buildSubmitRequest({ signer, prefix, challenge, authorization, deadline });
 * const { roundId } = await client.submit(request, { signal, retryUntil: roundStart });
 * ```
 */
export async function buildSubmitRequest(
  input: BuildSubmitRequestInput,
): Promise<PoetSubmitRequest> {
  const { signer, prefix, challenge, authorization } = input;
  throwIfAborted(input.signal);
  const message = new Uint8Array(prefix.length + challenge.length);
  message.set(prefix);
  message.set(challenge, prefix.length);
  const signature = await signer.sign(message);
  if (signature.length !== 64) {
    throw new ConfigError("signer", `an ed25519 signature is 64 bytes, got ${signature.length}`);
  }
  const request: PoetSubmitRequest = {
    prefix,
    challenge,
    pubkey: signer.nodeId,
    signature,
    ...(input.deadline === undefined ? {} : { deadline: input.deadline }),
  };
  if (authorization.kind === "certificate") {
    request.certificate = authorization.certificate;
    request.certificatePubkeyHint = certificateHint(authorization.certifier.pubkey);
  } else {
    request.nonce = authorization.nonce;
    request.powParams = authorization.powParams;
  }
  return request;
}
