/**
 * @module client/poet-client
 *
 * The types of the PoET client (docs/protocol.md §1; docs/node-client.md §2): what one PoET
 * server tells a node and accepts from it, in the library's units — bytes as `Uint8Array`, leaf
 * counts as `bigint`, durations in milliseconds, instants as `Date`. The implementation is
 * {@link createPoetClient}.
 */
import type { AbortOptions } from "../abort-options.js";
import type { Clock } from "../clock.js";
import type { Logger } from "../logger.js";
import type { PoetProtocol, PoetTransport } from "../transport/index.js";
import type { PackedMembers, PoetProof } from "../wire/index.js";

/** The certifier a PoET trusts (from its info). */
export interface PoetCertifier {
  /** Base URL of the certifier; certificates are requested at `{url}/certify`. */
  url: string;
  /** The certifier's ed25519 public key (32 bytes). */
  pubkey: Uint8Array;
}

/** What `GET /v1/info` says about a PoET. */
export interface PoetInfo {
  /** The PoET's ed25519 public key (32 bytes). */
  servicePubkey: Uint8Array;
  /** When rounds start relative to epochs. */
  phaseShiftMs: number;
  /** The idle gap between a round's end and the next round's start. */
  cycleGapMs: number;
  /** The certifier, when the PoET accepts certificates (absent when it sends empty fields). */
  certifier?: PoetCertifier;
}

/** Proof-of-work parameters (`GET /v1/pow_params`). */
export interface PowParams {
  /** The PoW challenge (random at start, then the root of the last proof). */
  challenge: Uint8Array;
  /** Required leading zero bits. */
  difficulty: number;
}

/** A certificate from a certifier, as sent in a Submit. */
export interface Certificate {
  /** SCALE certificate data (node id and optional expiry). */
  data: Uint8Array;
  /** The certifier's ed25519 signature over `data`. */
  signature: Uint8Array;
}

/** A registration request (`POST /v1/submit`). Build one with `buildSubmitRequest`. */
export interface PoetSubmitRequest {
  /** Signed before the challenge: genesis id ‖ 0x04 for Spacemesh nodes. */
  prefix: Uint8Array;
  /** The challenge to register (32 bytes). */
  challenge: Uint8Array;
  /** The node id (32 bytes). */
  pubkey: Uint8Array;
  /** ed25519 over `prefix ‖ challenge` (64 bytes). */
  signature: Uint8Array;
  /** The PoET refuses ("too late") when the open round ends after this. */
  deadline?: Date | undefined;
  /** Certificate authorisation. */
  certificate?: Certificate | undefined;
  /** First 4 bytes of the certifier's key, to pick among trusted certifiers. */
  certificatePubkeyHint?: Uint8Array | undefined;
  /** PoW authorisation: the nonce… */
  nonce?: bigint | undefined;
  /** …and the parameters it was solved for, echoed exactly. */
  powParams?: PowParams | undefined;
}

/** A PoET accepted a registration. */
export interface SubmitResult {
  /** The round id, as the PoET spells it (use it verbatim to fetch the proof). */
  roundId: string;
  /** Time from the server's answer to the end of the round, as the server reported it. */
  untilRoundEndMs: number;
  /** The round end on the client's clock: answer time + `untilRoundEndMs`. */
  roundEnd: Date;
}

/** A round's proof (`GET /v1/proofs/{roundId}`). */
export interface PoetRoundProof {
  /** The proof of sequential work. */
  proof: PoetProof;
  /**
   * Every registered challenge, in the PoET's order, packed in one buffer (a mainnet round has
   * millions); their membership root is the statement. `members.at(i)` reads one,
   * `members.toArray()` copies them out one by one (for small rounds), `members.bytes` is the
   * packed form.
   */
  members: PackedMembers;
  /** The PoET's service key, as the response states it. */
  pubkey: Uint8Array;
}

/** Options of cached reads. */
export interface CachedCallOptions extends AbortOptions {
  /** Bypass the cache. */
  fresh?: boolean | undefined;
}

/** Options of calls that may be retried. */
export interface RetryCallOptions extends AbortOptions {
  /** Keep retrying transient failures (network, timeouts, 429, 5xx but 501) until this instant. */
  retryUntil?: Date | undefined;
  /** Most attempts (default: unlimited with `retryUntil`, else 1). */
  maxAttempts?: number | undefined;
}

/** Options of {@link PoetClient.proof}. */
export interface ProofCallOptions extends RetryCallOptions {
  /** Called with the number of body bytes received so far, while a proof downloads over REST. */
  onProgress?: ((receivedBytes: number) => void) | undefined;
}

/** Options of {@link createPoetClient}. */
export interface PoetClientOptions {
  /** The PoET's base URL. */
  url: string;
  /**
   * Wire protocol (default `"rest"`, the only one public PoETs expose). A real PoET serves REST and
   * gRPC on separate ports (`url` must name the port of the protocol) and no Connect.
   */
  protocol?: PoetProtocol | undefined;
  /** The PoET's expected service key; info and proof responses must carry it. */
  servicePubkey?: Uint8Array | undefined;
  clock?: Clock | undefined;
  logger?: Logger | undefined;
  /** Time limit of one attempt of info, PoW params and submit (default 30 s). */
  timeoutMs?: number | undefined;
  /**
   * Time limit of a proof download (default 120 s). Over REST it bounds silence — no bytes for
   * this long — so a long transfer that is making progress is never cut off; over gRPC and
   * Connect it bounds the whole attempt.
   */
  proofTimeoutMs?: number | undefined;
  /** Most bytes of one response, proofs excepted (default 16 MiB). */
  maxResponseBytes?: number | undefined;
  /**
   * Most bytes of a proof response (default 2 GiB − 1, about 45 million members over REST;
   * mainnet rounds have a few million).
   */
  maxProofResponseBytes?: number | undefined;
  /** How long info stays cached (default 5 min). */
  infoTtlMs?: number | undefined;
  /** How long PoW parameters stay cached (default 5 min). */
  powParamsTtlMs?: number | undefined;
  /** Base pause between retries; each pause is uniform in [d, 2d] (default 10 s, as mainnet). */
  retryDelayMs?: number | undefined;
  /** Random source for retry pauses (default `Math.random`). */
  random?: (() => number) | undefined;
  /** Use this transport instead of creating one (tests, custom stacks). */
  transport?: PoetTransport | undefined;
}

/**
 * A client of one PoET server.
 *
 * @example
 * ```ts
 * await using client = createPoetClient({ url: "https://poet-110.spacemesh.network" });
 * const info = await client.info();
 * ```
 */
export interface PoetClient {
  /** The server's base URL. */
  readonly url: string;
  readonly protocol: PoetProtocol;
  /** The server's info, cached; concurrent callers share one request. */
  info(options?: CachedCallOptions): Promise<PoetInfo>;
  /** The current PoW parameters, cached. */
  powParams(options?: CachedCallOptions): Promise<PowParams>;
  /** Registers a challenge; retries transient failures until `retryUntil`. */
  submit(request: PoetSubmitRequest, options?: RetryCallOptions): Promise<SubmitResult>;
  /**
   * The proof of a finished round.
   *
   * @throws {ProofNotReadyError} while the PoET answers 404 "proof not found".
   */
  proof(roundId: string, options?: ProofCallOptions): Promise<PoetRoundProof>;
  /** Closes the connections. */
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}
