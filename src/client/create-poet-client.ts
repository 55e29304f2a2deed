/**
 * @module client/create-poet-client
 *
 * One client per PoET server, speaking exactly what the real PoET speaks (docs/protocol.md §1–§2)
 * and handling failure the way the Go node learned to (docs/node-client.md §2, §7), with the
 * checks it skips:
 *
 * - `info()` and `powParams()` are cached (5 minutes by default) and callers arriving during a
 *   fetch share it; a PoET whose service key differs from the configured one is refused.
 * - `submit()` retries network failures, timeouts, 429 and 5xx (but 501) until the caller's
 *   deadline — normally the round start, when registration closes — with pauses on the injected
 *   clock and `Retry-After` honoured; every other answer is final and thrown at once.
 * - `proof()` turns 404 "proof not found" into {@link ProofNotReadyError}, so that the caller
 *   decides when to ask again, checks the service key and the members' sizes. Proofs have their
 *   own size cap, sized for mainnet rounds of millions of members; over REST the body is parsed
 *   as it streams in, the members packed into one buffer, and the time limit bounds silence.
 * - Every attempt has its own time limit and every body a size cap; malformed answers are typed
 *   errors, never crashes.
 */

import { create } from "@bufbuild/protobuf";
import { equalBytes } from "../bytes.js";
import { systemClock } from "../clock.js";
import { ConfigError, PoetRpcError, ProofNotReadyError } from "../errors.js";
import {
  InfoRequestSchema,
  PoetService,
  PowParamsRequestSchema,
  ProofRequestSchema,
} from "../gen/rpc/api/v1/api_pb.js";
import { silentLogger } from "../logger.js";
import {
  type AttemptTarget,
  createPoetTransport,
  DEFAULT_ATTEMPT_TIMEOUT_MS,
} from "../transport/index.js";
import type {
  CachedCallOptions,
  PoetClient,
  PoetClientOptions,
  PoetInfo,
  PoetRoundProof,
  PoetSubmitRequest,
  PowParams,
  ProofCallOptions,
  RetryCallOptions,
  SubmitResult,
} from "./poet-client.js";
import {
  readInfo,
  readPowParams,
  readProofResponse,
  readSubmitResponse,
  toSubmitRequest,
} from "./responses.js";
import { retryUntil } from "./retry.js";
import { SharedCache } from "./shared-cache.js";
import { WrongServiceKeyError } from "./wrong-service-key-error.js";

const DEFAULT_TTL_MS = 5 * 60_000;
const DEFAULT_PROOF_TIMEOUT_MS = 120_000;
const DEFAULT_RETRY_DELAY_MS = 10_000;

function positive(setting: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!(value >= 0) || !Number.isFinite(value)) {
    throw new ConfigError(setting, `${value} is not a non-negative number of milliseconds`);
  }
  return value;
}

/**
 * Creates a client of one PoET server.
 *
 * @throws {ConfigError} for a URL that is not http(s), an unknown protocol, a service key that is
 *   not 32 bytes or a negative duration.
 * @example
 * ```ts
 * await using poet = createPoetClient({
 *   url: "https://mainnet-poet-0.spacemesh.network",
 *   servicePubkey: expectedKey,
 * });
 * const { phaseShiftMs, certifier } = await poet.info({ signal });
 * const { roundId, roundEnd } = await poet.submit(request, { signal, retryUntil: roundStart });
 * const { proof, members } = await poet.proof(roundId, { signal });
 * ```
 */
export function createPoetClient(options: PoetClientOptions): PoetClient {
  const clock = options.clock ?? systemClock;
  const logger = options.logger ?? silentLogger;
  const expectedKey = options.servicePubkey;
  if (expectedKey !== undefined && expectedKey.length !== 32) {
    throw new ConfigError("servicePubkey", `must be 32 bytes, got ${expectedKey.length}`);
  }
  const timeoutMs = positive("timeoutMs", options.timeoutMs, DEFAULT_ATTEMPT_TIMEOUT_MS);
  const proofTimeoutMs = positive(
    "proofTimeoutMs",
    options.proofTimeoutMs,
    DEFAULT_PROOF_TIMEOUT_MS,
  );
  const retryDelayMs = positive("retryDelayMs", options.retryDelayMs, DEFAULT_RETRY_DELAY_MS);
  const infoTtlMs = positive("infoTtlMs", options.infoTtlMs, DEFAULT_TTL_MS);
  const powParamsTtlMs = positive("powParamsTtlMs", options.powParamsTtlMs, DEFAULT_TTL_MS);
  const transport =
    options.transport ??
    createPoetTransport({
      url: options.url,
      protocol: options.protocol,
      clock,
      timeoutMs,
      maxResponseBytes: options.maxResponseBytes,
      maxProofResponseBytes: options.maxProofResponseBytes,
    });
  const server = transport.url;
  const target = (method: string): AttemptTarget => ({ server, method });

  const infoCache = new SharedCache<PoetInfo>(clock, infoTtlMs, async () => {
    const res = await transport.unary(PoetService.method.info, create(InfoRequestSchema), {
      timeoutMs,
    });
    const info = readInfo(res, target("Info"));
    if (expectedKey !== undefined && !equalBytes(expectedKey, info.servicePubkey)) {
      throw new WrongServiceKeyError(server, "info", expectedKey, info.servicePubkey);
    }
    return info;
  });
  const powCache = new SharedCache<PowParams>(clock, powParamsTtlMs, async () => {
    const res = await transport.unary(
      PoetService.method.powParams,
      create(PowParamsRequestSchema),
      { timeoutMs },
    );
    return readPowParams(res, target("PowParams"));
  });

  function retryOptions(what: string, call: RetryCallOptions) {
    return {
      clock,
      logger,
      signal: call.signal,
      until: call.retryUntil?.getTime(),
      maxAttempts: call.maxAttempts,
      delayMs: retryDelayMs,
      random: options.random,
      what: `${what} at ${server}`,
    };
  }

  async function submit(
    request: PoetSubmitRequest,
    call: RetryCallOptions = {},
  ): Promise<SubmitResult> {
    const message = toSubmitRequest(request);
    return retryUntil(
      async () => {
        const res = await transport.unary(PoetService.method.submit, message, {
          signal: call.signal,
          timeoutMs,
        });
        const result = readSubmitResponse(res, target("Submit"), clock.now());
        logger.info(
          { server, roundId: result.roundId, roundEnd: result.roundEnd },
          "registered at PoET",
        );
        return result;
      },
      retryOptions("submit", call),
    );
  }

  async function proof(roundId: string, call: ProofCallOptions = {}): Promise<PoetRoundProof> {
    if (roundId === "") throw new ConfigError("roundId", "must not be empty");
    const request = create(ProofRequestSchema, { roundId });
    const answer = await retryUntil(
      async () => {
        try {
          // Streamed and packed where the transport can (all built-in ones), a whole message otherwise.
          if (transport.downloadProof !== undefined) {
            return await transport.downloadProof(request, {
              signal: call.signal,
              idleTimeoutMs: proofTimeoutMs,
              onProgress: call.onProgress,
            });
          }
          return await transport.unary(PoetService.method.proof, request, {
            signal: call.signal,
            timeoutMs: proofTimeoutMs,
          });
        } catch (err) {
          if (err instanceof PoetRpcError && err.kind === "proof-not-found") {
            throw new ProofNotReadyError(server, roundId, { cause: err });
          }
          throw err;
        }
      },
      retryOptions(`proof ${roundId}`, call),
    );
    const result = readProofResponse(answer, target(`Proof ${roundId}`));
    if (expectedKey !== undefined && !equalBytes(expectedKey, result.pubkey)) {
      throw new WrongServiceKeyError(server, "proof", expectedKey, result.pubkey);
    }
    return result;
  }

  async function close(): Promise<void> {
    await transport.close();
  }

  return {
    url: server,
    protocol: transport.protocol,
    info: (call: CachedCallOptions = {}) => infoCache.get(call),
    powParams: (call: CachedCallOptions = {}) => powCache.get(call),
    submit,
    proof,
    close,
    [Symbol.asyncDispose]: close,
  };
}
