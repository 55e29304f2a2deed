/**
 * @module registration/client-adapter
 *
 * Turns the library's {@link PoetClient} into the manager's {@link RegistrationPoetClient}
 * (docs/protocol.md §2.2, §2.6–§2.9; docs/node-client.md §2.5). Registration goes through the
 * auth layer's `submitAuthorized`: signature over `prefix ‖ challenge`, a certificate when the
 * PoET advertises a certifier and the node can certify (re-certified once on a 401), proof of
 * work otherwise. Each call is a single attempt: the manager retries on its own clock, so that
 * its schedule decides when to stop, and reports every failure as an event.
 */
import type { AbortOptions } from "../abort-options.js";
import { type CertificateCache, type CertifyCallback, submitAuthorized } from "../auth/index.js";
import type { PoetClient } from "../client/index.js";
import type { Clock } from "../clock.js";
import type { Logger } from "../logger.js";
import type {
  PoetServiceInfo,
  RegisterRequest,
  RegisterResult,
  RegistrationPoetClient,
} from "./poet-client-port.js";

/** Settings of {@link adaptPoetClient}. */
export interface AdaptPoetClientOptions {
  /** The node's certification callback; without it, proof of work. */
  certify?: CertifyCallback | undefined;
  /** Certificates shared by every PoET (persist them with the node state's repository). */
  certificates?: CertificateCache | undefined;
  clock?: Clock | undefined;
  logger?: Logger | undefined;
}

/**
 * Adapts a {@link PoetClient} for the registration manager.
 *
 * @example
 * ```ts
 * const poet = adaptPoetClient(createPoetClient({ url }), { certify, certificates });
 * const { roundId, roundEndMs } = await poet.register({ signer, prefix, challenge, deadline });
 * ```
 */
export function adaptPoetClient(
  client: PoetClient,
  options: AdaptPoetClientOptions = {},
): RegistrationPoetClient {
  async function register(
    request: RegisterRequest,
    call: AbortOptions = {},
  ): Promise<RegisterResult> {
    const result = await submitAuthorized({
      client,
      signer: request.signer,
      prefix: request.prefix,
      challenge: request.challenge,
      deadline: request.deadline,
      certify: options.certify,
      certificates: options.certificates,
      clock: options.clock,
      logger: options.logger,
      signal: call.signal,
    });
    return { roundId: result.roundId, roundEndMs: result.untilRoundEndMs };
  }

  return {
    info: async (call = {}): Promise<PoetServiceInfo> => client.info({ signal: call.signal }),
    register,
    proof: (roundId, call = {}) => client.proof(roundId, { signal: call.signal, maxAttempts: 1 }),
    close: () => client.close(),
  };
}
