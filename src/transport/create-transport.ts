/**
 * @module transport/create-transport
 *
 * Picks the {@link PoetTransport} for a protocol name: REST (the default, because public PoETs
 * expose only their grpc-gateway over HTTPS — docs/protocol.md §1.5), gRPC or Connect.
 */
import type { Clock } from "../clock.js";
import { ConfigError } from "../errors.js";
import { createConnectRpcTransport } from "./connect-transport.js";
import type { PoetProtocol, PoetTransport, PoetTransportOptions } from "./poet-transport.js";
import { createRestTransport } from "./rest-transport.js";

/** Options of {@link createPoetTransport}. */
export interface CreatePoetTransportOptions extends PoetTransportOptions {
  protocol?: PoetProtocol | undefined;
  clock?: Clock | undefined;
  /** Extra headers of REST requests. */
  headers?: Record<string, string> | undefined;
}

/**
 * A transport to one PoET over `protocol` (default `"rest"`).
 *
 * @throws {ConfigError} for an unknown protocol or a URL that is not http(s).
 * @example
 * ```ts
 * const transport = createPoetTransport({ url: "http://127.0.0.1:50002", protocol: "grpc" });
 * ```
 */
export function createPoetTransport(options: CreatePoetTransportOptions): PoetTransport {
  const protocol = options.protocol ?? "rest";
  switch (protocol) {
    case "rest":
      return createRestTransport(options);
    case "grpc":
    case "connect":
      return createConnectRpcTransport({ ...options, protocol });
    default:
      throw new ConfigError("protocol", `${JSON.stringify(protocol)} is not rest, grpc or connect`);
  }
}
