/**
 * @module transport/poet-transport
 *
 * The seam between the PoET client and the wire. A {@link PoetTransport} performs one unary call
 * of the `PoetService` (docs/protocol.md §1.1) with generated request and response messages, and
 * knows nothing of caching, retries or what the answers mean. Three implementations exist — the
 * grpc-gateway REST API that public PoETs serve, gRPC, and Connect — so that one client works with
 * all three, and tests can hand the client a transport of their own.
 *
 * Contract of `unary`: resolve with the response message, or reject with a {@link PoetRpcError}
 * (server answer, network, timeout, oversize or malformed body) or an {@link AbortedError}.
 */
import type { DescMessage, DescMethodUnary, MessageShape } from "@bufbuild/protobuf";
import type { AbortOptions } from "../abort-options.js";
import type { ProofRequest } from "../gen/rpc/api/v1/api_pb.js";
import type { ProofResponseJson } from "../wire/index.js";

/**
 * The wire protocols a PoET client can speak. A real PoET serves `"rest"` (its grpc-gateway, the
 * only one public PoETs expose) and `"grpc"` on separate ports, and no `"connect"` (which the mock
 * PoET and Connect-based gateways serve).
 */
export type PoetProtocol = "rest" | "grpc" | "connect";

/** Options of one call. */
export interface UnaryCallOptions extends AbortOptions {
  /** This attempt's time limit in milliseconds (overrides the transport's default). */
  timeoutMs?: number | undefined;
}

/** Options of a streamed proof download. */
export interface ProofDownloadOptions extends AbortOptions {
  /** Longest silence (no bytes) before the download fails as a `timeout`; its length is free. */
  idleTimeoutMs?: number | undefined;
  /** Called with the number of body bytes received so far, after each chunk. */
  onProgress?: ((receivedBytes: number) => void) | undefined;
}

/** One PoET server reached over one protocol. */
export interface PoetTransport {
  /** The server's base URL. */
  readonly url: string;
  readonly protocol: PoetProtocol;
  /** Calls one unary method of `PoetService`. */
  unary<I extends DescMessage, O extends DescMessage>(
    method: DescMethodUnary<I, O>,
    request: MessageShape<I>,
    options?: UnaryCallOptions,
  ): Promise<MessageShape<O>>;
  /**
   * Optional: downloads a round's proof as a stream, the members packed as they arrive, under the
   * proof size cap and a limit on silence. Transports without it serve proofs through `unary`.
   */
  downloadProof?(request: ProofRequest, options?: ProofDownloadOptions): Promise<ProofResponseJson>;
  /** Closes every connection. Calls after `close()` fail. */
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** Options shared by every transport. */
export interface PoetTransportOptions {
  /** The server's base URL (`https://poet.example`, `http://127.0.0.1:8080`). */
  url: string;
  /** Default per-attempt time limit in milliseconds (default 30 000). */
  timeoutMs?: number | undefined;
  /** Most bytes of a response body or message, proofs excepted (default 16 MiB). */
  maxResponseBytes?: number | undefined;
  /** Most bytes of a proof response (default 2 GiB − 1: tens of millions of members). */
  maxProofResponseBytes?: number | undefined;
}

/** The default per-attempt time limit. */
export const DEFAULT_ATTEMPT_TIMEOUT_MS = 30_000;
