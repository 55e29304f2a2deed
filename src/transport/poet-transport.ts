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

/**
 * The wire protocols a PoET client can speak. A real PoET serves `"rest"` (its grpc-gateway, the
 * only one public PoETs expose) and `"grpc"` on separate ports, and no `"connect"` (which the mock
 * PoET and Connect-based gateways serve).
 */
export type PoetProtocol = "rest" | "grpc" | "connect";

/** Options of one call. */
export interface UnaryCallOptions {
  signal?: AbortSignal | undefined;
  /** This attempt's time limit in milliseconds (overrides the transport's default). */
  timeoutMs?: number | undefined;
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
  /** Most bytes of a response body or message (default 16 MiB). */
  maxResponseBytes?: number | undefined;
}

/** The default per-attempt time limit. */
export const DEFAULT_ATTEMPT_TIMEOUT_MS = 30_000;
