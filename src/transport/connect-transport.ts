/**
 * @module transport/connect-transport
 *
 * `PoetService` over gRPC (what the PoET serves natively, docs/protocol.md §1.1, §1.5) and over
 * the Connect protocol (which the mock PoET and Connect-based gateways serve), both through
 * `@connectrpc/connect-node`. gRPC runs on HTTP/2 — cleartext with prior knowledge for `http:`
 * URLs, TLS with ALPN for `https:` — through sessions this transport owns, each with an error
 * listener for its whole life ({@link GuardedHttp2Sessions}); Connect runs on HTTP/1.1 by default
 * through a keep-alive agent it owns. `close()` tears either down.
 *
 * The library's rules apply as for REST: one attempt per call with its own time limit on the
 * injected clock, a cap on the response message (`readMaxBytes`), and failures as
 * {@link PoetRpcError}s classified from the gRPC code and message. The PoET's gRPC errors arrive
 * trailers-only with a percent-encoded `grpc-message` that may contain a newline
 * (`invalid certificate%0Ano matching cert public keys`); Connect decodes it. A server that
 * does not speak the protocol at all (the REST gateway's port, a web server) gives a final
 * `wrong-protocol` error that names the likely cause (`protocol-mismatch.ts`), not a retriable
 * server error.
 */
import type { DescMessage, DescMethodUnary, MessageShape } from "@bufbuild/protobuf";
import { Code, ConnectError, type Transport } from "@connectrpc/connect";
import type { UniversalClientFn } from "@connectrpc/connect/protocol";
import {
  createConnectTransport,
  createGrpcTransport,
  createNodeHttpClient,
} from "@connectrpc/connect-node";
import { type Clock, systemClock } from "../clock.js";
import { AbortedError, PoetError, PoetRpcError } from "../errors.js";
import { PoetService } from "../gen/rpc/api/v1/api_pb.js";
import { type AttemptTarget, closedTransportError, runAttempt } from "./attempt.js";
import { DEFAULT_MAX_PROOF_RESPONSE_BYTES, DEFAULT_MAX_RESPONSE_BYTES } from "./http-exchange.js";
import { GuardedHttp2Sessions } from "./http2-sessions.js";
import { createKeepAliveAgent } from "./keep-alive-agent.js";
import {
  DEFAULT_ATTEMPT_TIMEOUT_MS,
  type PoetTransport,
  type PoetTransportOptions,
  type UnaryCallOptions,
} from "./poet-transport.js";
import { protocolMismatch } from "./protocol-mismatch.js";
import { parseBaseUrl } from "./rest-transport.js";
import { classifyFailure } from "./rpc-failure.js";
import { rpcProofDownload } from "./rpc-proof-download.js";

/** Options of {@link createConnectRpcTransport}. */
export interface ConnectRpcTransportOptions extends PoetTransportOptions {
  /** `"grpc"` (HTTP/2) or `"connect"`. */
  protocol: "grpc" | "connect";
  /** HTTP version of the Connect protocol (default `"1.1"`; gRPC always uses `"2"`). */
  httpVersion?: "1.1" | "2" | undefined;
  /** Time source for per-attempt limits (default the system clock). */
  clock?: Clock | undefined;
}

const NETWORK_ERROR = /^E[A-Z]+$/;

function nodeErrorCode(err: unknown): string | undefined {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 5; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string" && NETWORK_ERROR.test(code)) return code;
    e = e.cause;
  }
  return undefined;
}

/**
 * The {@link PoetRpcError} for a failed gRPC or Connect call (of the caller's own, not aborted).
 *
 * @example
 * ```ts
 * throw errorFromConnect(err, { server, method: "rpc.api.v1.PoetService/Proof" }, "grpc");
 * ```
 */
export function errorFromConnect(
  err: unknown,
  target: AttemptTarget,
  protocol: "grpc" | "connect" = "grpc",
): PoetError {
  if (err instanceof PoetError) return err;
  const mismatch = protocolMismatch(err, protocol);
  if (mismatch !== undefined) {
    return new PoetRpcError(mismatch, {
      ...target,
      kind: "wrong-protocol",
      retriable: false,
      cause: err,
    });
  }
  const connectError = ConnectError.from(err);
  const networkCode = nodeErrorCode(err);
  if (networkCode !== undefined && connectError.code !== Code.ResourceExhausted) {
    return new PoetRpcError(`${networkCode}: ${connectError.rawMessage}`, {
      ...target,
      kind: "network",
      retriable: true,
      cause: err,
    });
  }
  if (connectError.code === Code.Canceled) {
    // Not the caller's cancel (that is an AbortedError before this point): the stream or its
    // connection was reset under the call, as when a server goes away.
    return new PoetRpcError(`connection closed: ${connectError.rawMessage}`, {
      ...target,
      kind: "network",
      retriable: true,
      cause: err,
    });
  }
  const grpcCode = connectError.code as number;
  const message = connectError.rawMessage;
  const { kind, retriable } = classifyFailure({ grpcCode, message });
  return new PoetRpcError(`${Code[connectError.code] ?? grpcCode}: ${message}`, {
    ...target,
    kind,
    retriable,
    grpcCode,
    cause: err,
  });
}

/**
 * A {@link PoetTransport} speaking gRPC or Connect.
 *
 * @throws {ConfigError} when `url` is not an http(s) URL.
 * @example
 * ```ts
 * const transport = createConnectRpcTransport({ url: "http://127.0.0.1:50002", protocol: "grpc" });
 * const info = await transport.unary(PoetService.method.info, create(InfoRequestSchema));
 * await transport.close();
 * ```
 */
export function createConnectRpcTransport(options: ConnectRpcTransportOptions): PoetTransport {
  const base = parseBaseUrl(options.url);
  const baseUrl = base.href.replace(/\/+$/, "");
  const server = options.url;
  const clock = options.clock ?? systemClock;
  const defaultTimeoutMs = options.timeoutMs ?? DEFAULT_ATTEMPT_TIMEOUT_MS;
  const readMaxBytes = options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
  // Proofs carry every member of a round: their own cap, on a second transport over the same
  // connections (Connect sets the cap per transport, not per call).
  const proofMaxBytes = options.maxProofResponseBytes ?? DEFAULT_MAX_PROOF_RESPONSE_BYTES;
  let transport: Transport;
  let proofTransport: Transport;
  /** The same connections at the HTTP level, for the streamed proof download. */
  let httpClient: UniversalClientFn;
  let shutdown: () => void;
  const useHttp2 = options.protocol === "grpc" || options.httpVersion === "2";
  if (useHttp2) {
    // No keep-alive pings (the default): the PoET's gRPC server answers a client that pings more
    // often than every 5 minutes with GOAWAY too_many_pings.
    const sessionManager = new GuardedHttp2Sessions(baseUrl);
    shutdown = () => sessionManager.close();
    const over = (max: number) =>
      options.protocol === "grpc"
        ? createGrpcTransport({ baseUrl, readMaxBytes: max, sessionManager })
        : createConnectTransport({ baseUrl, httpVersion: "2", readMaxBytes: max, sessionManager });
    transport = over(readMaxBytes);
    proofTransport = over(proofMaxBytes);
    httpClient = createNodeHttpClient({ httpVersion: "2", sessionProvider: () => sessionManager });
  } else {
    const agent = createKeepAliveAgent(base);
    shutdown = () => agent.destroy();
    const over = (max: number) =>
      createConnectTransport({
        baseUrl,
        httpVersion: "1.1",
        readMaxBytes: max,
        nodeOptions: { agent },
      });
    transport = over(readMaxBytes);
    proofTransport = over(proofMaxBytes);
    httpClient = createNodeHttpClient({ httpVersion: "1.1", nodeOptions: { agent } });
  }
  let closed = false;

  async function unary<I extends DescMessage, O extends DescMessage>(
    method: DescMethodUnary<I, O>,
    request: MessageShape<I>,
    call: UnaryCallOptions = {},
  ): Promise<MessageShape<O>> {
    const target: AttemptTarget = { server, method: `${method.parent.typeName}/${method.name}` };
    if (closed) throw closedTransportError(target);
    return runAttempt(
      clock,
      call.timeoutMs ?? defaultTimeoutMs,
      call.signal,
      target,
      async (signal) => {
        try {
          const via = method.name === PoetService.method.proof.name ? proofTransport : transport;
          const response = await via.unary(method, signal, undefined, undefined, request);
          return response.message as MessageShape<O>;
        } catch (err) {
          if (signal.aborted) throw new AbortedError(undefined, { cause: err });
          throw errorFromConnect(err, target, options.protocol);
        }
      },
    );
  }

  async function close(): Promise<void> {
    closed = true;
    shutdown();
  }

  // Proofs are streamed: members packed as they arrive, under the proof cap and a silence limit.
  const downloadProof = rpcProofDownload({
    protocol: options.protocol,
    baseUrl,
    server,
    httpClient,
    clock,
    maxProofResponseBytes: proofMaxBytes,
    maxErrorBytes: readMaxBytes,
    defaultIdleMs: defaultTimeoutMs,
    closed: () => closed,
    toError: (err, target) => errorFromConnect(err, target, options.protocol),
  });

  return {
    url: server,
    protocol: options.protocol,
    unary,
    downloadProof,
    close,
    [Symbol.asyncDispose]: close,
  };
}
