/**
 * @module transport
 *
 * The wire under the PoET client (docs/protocol.md §1): one unary call of `PoetService` over the
 * REST gateway, gRPC or Connect, with per-attempt time limits, response-size caps and failures
 * classified into {@link PoetRpcError}s.
 */
export type { AttemptTarget } from "./attempt.js";
export { AttemptTimeout, runAttempt } from "./attempt.js";
export type { ConnectRpcTransportOptions } from "./connect-transport.js";
export { createConnectRpcTransport } from "./connect-transport.js";
export type { CreatePoetTransportOptions } from "./create-transport.js";
export { createPoetTransport } from "./create-transport.js";
export type {
  HttpBodySink,
  HttpExchangeOptions,
  HttpRequest,
  HttpResponse,
} from "./http-exchange.js";
export {
  DEFAULT_MAX_PROOF_RESPONSE_BYTES,
  DEFAULT_MAX_RESPONSE_BYTES,
  httpExchange,
} from "./http-exchange.js";
export { GuardedHttp2Sessions } from "./http2-sessions.js";
export type { KeepAliveAgentOptions } from "./keep-alive-agent.js";
export { createKeepAliveAgent, IDLE_SOCKET_TIMEOUT_MS } from "./keep-alive-agent.js";
export type {
  PoetProtocol,
  PoetTransport,
  PoetTransportOptions,
  ProofDownloadOptions,
  UnaryCallOptions,
} from "./poet-transport.js";
export { DEFAULT_ATTEMPT_TIMEOUT_MS } from "./poet-transport.js";
export { notGatewayReply, notHttp1Reply, protocolMismatch } from "./protocol-mismatch.js";
export type { RestRoute } from "./rest-route.js";
export { expandPath, restRoute } from "./rest-route.js";
export type { RestTransportOptions } from "./rest-transport.js";
export {
  createRestTransport,
  errorFromHttpResponse,
  joinUrlPath,
  parseBaseUrl,
} from "./rest-transport.js";
export { parseRetryAfter } from "./retry-after.js";
export type { FailureClass } from "./rpc-failure.js";
export {
  classifyFailure,
  GrpcStatus,
  grpcCodeFromHttpStatus,
  PROOF_NOT_FOUND_MESSAGE,
  ROUND_FULL_MESSAGE,
  TOO_LATE_MESSAGE,
} from "./rpc-failure.js";
export { runWithSilenceLimit } from "./silence-limit.js";
