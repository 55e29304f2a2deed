/**
 * @module transport/protocol-mismatch
 *
 * One place that recognises "the server at this URL does not speak the protocol we used", so that
 * a misconfigured URL is a final `wrong-protocol` {@link PoetRpcError} with a message that names
 * the likely cause, instead of a "server error" retried until the round starts.
 *
 * A real PoET serves its REST gateway (HTTP/1.1, JSON) and gRPC (HTTP/2 only) on separate ports
 * and has no Connect (docs/protocol.md §1.5). The usual mistakes, and what they look like here:
 *
 * - gRPC pointed at the REST port or a web server: the answer to the HTTP/2 preface is HTTP/1.1,
 *   which nghttp2 reports as `ERR_HTTP2_ERROR`; or an HTTP/2 server answers with a status or a
 *   content type that is not gRPC's (`text/html`, `application/json`, 404, 415).
 * - REST or Connect (HTTP/1.1) pointed at the gRPC port: the answer is an HTTP/2 SETTINGS frame,
 *   which the HTTP/1.1 parser rejects with `HPE_INVALID_CONSTANT` ("Expected HTTP/").
 * - Connect pointed at the REST gateway: 404 for `/rpc.api.v1.PoetService/...`, or a content type
 *   that is not Connect's; no PoET method is ever unimplemented on a PoET that serves Connect.
 *
 * A 5xx is never read as a mismatch: a proxy in front of a PoET answers 502/503 in HTML while the
 * PoET restarts, and that must stay retriable. Nor are the statuses a proxy uses for what they
 * mean whatever the protocol (401, 403, 407 for access; 408, 429 for "later"): those keep their
 * own classification.
 */
import { Code, ConnectError } from "@connectrpc/connect";
import type { PoetProtocol } from "./poet-transport.js";

/** What the other end answered with, in words (for example "HTTP 404 text/html"). */
function explain(protocol: PoetProtocol, answeredWith: string): string {
  switch (protocol) {
    case "grpc":
      return `answered with ${answeredWith}, not gRPC: is this the REST gateway port (or a web server)? Use protocol "rest" (--protocol rest) with this URL, or the PoET's gRPC port`;
    case "connect":
      return `answered with ${answeredWith}, not Connect: real PoETs serve no Connect; use protocol "rest" (--protocol rest) with the REST gateway port, or "grpc" (--protocol grpc) with the gRPC port`;
    default:
      return `answered with ${answeredWith}: is this the PoET's gRPC port? Use protocol "grpc" (--protocol grpc) with this URL, or the PoET's REST gateway port`;
  }
}

/** Every string `code` along an error's `cause` chain. */
function errorCodes(err: unknown): Set<string> {
  const codes = new Set<string>();
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 6; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string") codes.add(code);
    e = e.cause;
  }
  return codes;
}

/** The failure code of Node's HTTP/1.1 parser for a reply that does not start with `HTTP/`. */
const NOT_HTTP1 = "HPE_INVALID_CONSTANT";
/** The failure code of Node's HTTP/2 session for bytes that are not HTTP/2. */
const NOT_HTTP2 = "ERR_HTTP2_ERROR";

/**
 * Why a failed HTTP/1.1 exchange (REST, certifier, Connect over HTTP/1.1) shows that the other end
 * does not speak HTTP/1.1, or `undefined` when it does not show that.
 *
 * @example
 * ```ts
 * notHttp1Reply(err, "rest"); // 'answered with bytes that are not HTTP/1.1 (an HTTP/2-only server?): is this …'
 * ```
 */
export function notHttp1Reply(err: unknown, protocol: PoetProtocol): string | undefined {
  if (!errorCodes(err).has(NOT_HTTP1)) return undefined;
  return explain(protocol, "bytes that are not HTTP/1.1 (an HTTP/2-only server?)");
}

/**
 * Why a non-200 REST answer shows that the URL is not a PoET's REST gateway: a 404 or 405 whose
 * body is not the gateway's JSON (the gateway answers every error, unknown paths included, with a
 * `google.rpc.Status` JSON body). `undefined` otherwise.
 *
 * @example
 * ```ts
 * notGatewayReply(404, "text/html"); // 'answered with HTTP 404 text/html, not the PoET gateway's JSON: …'
 * ```
 */
export function notGatewayReply(
  status: number,
  contentType: string | undefined,
): string | undefined {
  if (status !== 404 && status !== 405) return undefined;
  if (contentType === undefined || /json/i.test(contentType)) return undefined;
  return `answered with HTTP ${status} ${contentType}, not the PoET gateway's JSON: is this the PoET's REST gateway URL? A gRPC port takes protocol "grpc" (--protocol grpc)`;
}

/** Statuses that mean the same from a proxy as from the server; never a mismatch. */
const PROXY_STATUSES = new Set([401, 403, 407, 408, 429]);
const GRPC_CONTENT_TYPE = /^application\/grpc(\+|;|$)/i;
const CONNECT_CONTENT_TYPE = /^application\/(proto|json)(;|$)/i;

/**
 * Why a failed gRPC or Connect call shows that the other end does not speak that protocol, or
 * `undefined` when the failure is an ordinary one (a status from a real server, the network).
 *
 * @example
 * ```ts
 * const why = protocolMismatch(err, "grpc");
 * if (why !== undefined) throw new PoetRpcError(why, { ...target, kind: "wrong-protocol", retriable: false });
 * ```
 */
export function protocolMismatch(err: unknown, protocol: "grpc" | "connect"): string | undefined {
  const codes = errorCodes(err);
  if (codes.has(NOT_HTTP2)) return explain(protocol, "bytes that are not HTTP/2 (HTTP/1.1?)");
  if (codes.has(NOT_HTTP1)) return explain(protocol, "bytes that are not HTTP/1.1 (HTTP/2 only?)");
  if (!(err instanceof ConnectError)) return undefined;
  const contentType = err.metadata.get("content-type") ?? undefined;
  const unsupported = /^unsupported content type (.+)$/.exec(err.rawMessage);
  if (unsupported?.[1] !== undefined) return explain(protocol, `content type ${unsupported[1]}`);
  const status = /^HTTP (\d{3})\b/.exec(err.rawMessage)?.[1];
  if (status !== undefined) {
    const code = Number(status);
    if (code >= 500 || PROXY_STATUSES.has(code)) return undefined;
    const expected = protocol === "grpc" ? GRPC_CONTENT_TYPE : CONNECT_CONTENT_TYPE;
    const foreign = contentType === undefined || !expected.test(contentType);
    if (foreign || code === 404 || code === 415) {
      return explain(protocol, `HTTP ${code}${contentType === undefined ? "" : ` ${contentType}`}`);
    }
    return undefined;
  }
  if (protocol === "connect" && err.code === Code.Unimplemented) {
    // Every PoetService method exists on a PoET that serves Connect, so Unimplemented means that
    // this URL has no PoetService over Connect: most often the REST gateway's 404 "Not Found".
    const what = contentType === undefined ? "Unimplemented" : `Unimplemented (${contentType})`;
    return explain(protocol, what);
  }
  return undefined;
}
