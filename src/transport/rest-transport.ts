/**
 * @module transport/rest-transport
 *
 * The PoET's REST API as the public servers serve it: grpc-gateway JSON over HTTP/1.1
 * (docs/protocol.md §1.2–§1.4; docs/node-client.md §2.1). Requests are written the way the Go
 * node writes them (lowerCamelCase protobuf JSON, only populated fields, `Content-Type:
 * application/json`); responses are parsed like the gateway parses requests — either name
 * spelling, unknown fields ignored — so a newer server that adds fields still works.
 *
 * A non-200 answer becomes a {@link PoetRpcError} from its status and `google.rpc.Status` body
 * (`{"code":5,"message":"proof not found","details":[]}`), with `Retry-After` honoured; a 200
 * whose body does not parse becomes a non-retriable `bad-response`. Each call is one attempt with
 * its own time limit on the injected clock and a cap on the body size. The connection pool
 * belongs to the transport and is destroyed by `close()`.
 *
 * Proofs are the exception (`downloadProof`): a mainnet proof carries millions of members, so it
 * has its own size cap (2 GiB by default), its body is read as a stream straight into packed
 * members ({@link ProofResponseJsonReader}, never one string), and its time limit bounds silence
 * — no bytes for that long — not the length of a transfer that is making progress.
 */
import type { DescMessage, DescMethodUnary, MessageShape } from "@bufbuild/protobuf";
import { type Clock, systemClock } from "../clock.js";
import { ConfigError, PoetRpcError, WireFormatError } from "../errors.js";
import { PoetService, type ProofRequest } from "../gen/rpc/api/v1/api_pb.js";
import {
  type ProofResponseJson,
  ProofResponseJsonReader,
  parsePoetJson,
  poetToJson,
} from "../wire/index.js";
import { type AttemptTarget, closedTransportError, runAttempt } from "./attempt.js";
import { bodyEndTurn } from "./body-turns.js";
import {
  DEFAULT_MAX_PROOF_RESPONSE_BYTES,
  DEFAULT_MAX_RESPONSE_BYTES,
  type HttpResponse,
  httpExchange,
} from "./http-exchange.js";
import { createKeepAliveAgent } from "./keep-alive-agent.js";
import {
  DEFAULT_ATTEMPT_TIMEOUT_MS,
  type PoetTransport,
  type PoetTransportOptions,
  type ProofDownloadOptions,
  type UnaryCallOptions,
} from "./poet-transport.js";
import { notGatewayReply } from "./protocol-mismatch.js";
import { expandPath, type RestRoute, restRoute } from "./rest-route.js";
import { parseRetryAfter } from "./retry-after.js";
import { classifyFailure, grpcCodeFromHttpStatus } from "./rpc-failure.js";
import { runWithSilenceLimit } from "./silence-limit.js";

/** Options of {@link createRestTransport}. */
export interface RestTransportOptions extends PoetTransportOptions {
  /** Time source for per-attempt limits and `Retry-After` dates (default the system clock). */
  clock?: Clock | undefined;
  /** Extra request headers (for example an API gateway key). */
  headers?: Record<string, string> | undefined;
}

const decoder = new TextDecoder("utf-8", { fatal: true });
const encoder = new TextEncoder();

/** Most request URLs a transport keeps parsed (one per path; the proofs' grow by round). */
const MAX_CACHED_URLS = 256;

/**
 * A parsed http(s) URL without query or fragment, for {@link joinUrlPath}.
 *
 * @throws {ConfigError} when `url` is not an http(s) URL.
 */
export function parseBaseUrl(url: string, setting = "url"): URL {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (err) {
    throw new ConfigError(setting, `${JSON.stringify(url)} is not a URL`, { cause: err });
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
    throw new ConfigError(setting, `${url} is not an http(s) URL`);
  }
  parsed.search = "";
  parsed.hash = "";
  return parsed;
}

/**
 * `base` with `path` appended to its path, one `/` between them, like Go's `JoinPath`.
 *
 * @example
 * ```ts
 * joinUrlPath(new URL("https://poet.example/api/"), "/v1/info").href; // https://poet.example/api/v1/info
 * ```
 */
export function joinUrlPath(base: URL, path: string): URL {
  const url = new URL(base.href);
  url.pathname = `${base.pathname.replace(/\/+$/, "")}/${path.replace(/^\/+/, "")}`;
  return url;
}

/** The `google.rpc.Status` of an error body, if it is one. */
function readStatusBody(body: Uint8Array): { code?: number; message?: string } {
  try {
    const value: unknown = JSON.parse(decoder.decode(body));
    if (typeof value !== "object" || value === null) return {};
    const { code, message } = value as { code?: unknown; message?: unknown };
    return {
      ...(Number.isInteger(code) ? { code: code as number } : {}),
      ...(typeof message === "string" ? { message } : {}),
    };
  } catch {
    return {};
  }
}

/**
 * The {@link PoetRpcError} for a non-200 answer of the gateway.
 *
 * @example
 * ```ts
 * throw errorFromHttpResponse(res, { server, method: "GET /v1/proofs/30" }, clock.now());
 * ```
 */
export function errorFromHttpResponse(
  res: HttpResponse,
  target: AttemptTarget,
  nowMs: number,
): PoetRpcError {
  const mismatch = notGatewayReply(res.status, res.headers["content-type"]);
  if (mismatch !== undefined) {
    return new PoetRpcError(mismatch, {
      ...target,
      kind: "wrong-protocol",
      retriable: false,
      httpStatus: res.status,
    });
  }
  const status = readStatusBody(res.body);
  const grpcCode = status.code ?? grpcCodeFromHttpStatus(res.status);
  const message = status.message ?? res.statusText;
  const { kind, retriable } = classifyFailure({ grpcCode, httpStatus: res.status, message });
  const retryAfterMs = parseRetryAfter(res.headers["retry-after"], nowMs);
  return new PoetRpcError(`HTTP ${res.status}: ${message}`, {
    ...target,
    kind,
    retriable,
    grpcCode,
    httpStatus: res.status,
    ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
  });
}

/**
 * A {@link PoetTransport} over the PoET's REST gateway.
 *
 * @throws {ConfigError} when `url` is not an http(s) URL.
 * @example
 * ```ts
 * const transport = createRestTransport({ url: "https://poet-110.spacemesh.network" });
 * const info = await transport.unary(PoetService.method.info, create(InfoRequestSchema));
 * await transport.close();
 * ```
 */
export function createRestTransport(options: RestTransportOptions): PoetTransport {
  const base = parseBaseUrl(options.url);
  const server = options.url;
  const clock = options.clock ?? systemClock;
  const defaultTimeoutMs = options.timeoutMs ?? DEFAULT_ATTEMPT_TIMEOUT_MS;
  const maxResponseBytes = options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
  const maxProofResponseBytes = options.maxProofResponseBytes ?? DEFAULT_MAX_PROOF_RESPONSE_BYTES;
  const agent = createKeepAliveAgent(base);
  const routes = new Map<string, RestRoute>();
  for (const method of PoetService.methods) routes.set(method.name, restRoute(method));
  /**
   * The URL of each path asked for (a submit's is the same every time; a proof's, one per
   * round): parsing one per call was a tenth of a millisecond of every submit. Read only.
   */
  const urls = new Map<string, URL>();
  const urlOf = (path: string): URL => {
    let url = urls.get(path);
    if (url === undefined) {
      if (urls.size >= MAX_CACHED_URLS) urls.clear();
      url = joinUrlPath(base, path);
      urls.set(path, url);
    }
    return url;
  };
  let closed = false;

  async function unary<I extends DescMessage, O extends DescMessage>(
    method: DescMethodUnary<I, O>,
    request: MessageShape<I>,
    call: UnaryCallOptions = {},
  ): Promise<MessageShape<O>> {
    const route = routes.get(method.name) ?? restRoute(method);
    const values: Record<string, string> = {};
    for (const field of method.input.fields) {
      const value = (request as Record<string, unknown>)[field.localName];
      if (typeof value === "string" || typeof value === "number" || typeof value === "bigint") {
        values[field.name] = String(value);
      }
    }
    const path = expandPath(route.template, values);
    const target: AttemptTarget = { server, method: `${route.verb} ${path}` };
    if (closed) throw closedTransportError(target);
    const url = urlOf(path);
    const headers: Record<string, string> = { accept: "application/json", ...options.headers };
    let body: Uint8Array | undefined;
    if (route.body === "*") {
      headers["content-type"] = "application/json";
      const json = poetToJson(method.input, request, { emitDefaults: false });
      body = encoder.encode(JSON.stringify(json));
    }
    const res = await runAttempt(
      clock,
      call.timeoutMs ?? defaultTimeoutMs,
      call.signal,
      target,
      (signal) =>
        httpExchange(
          { url, method: route.verb, headers, body },
          // Every PoetService call may be sent twice: a repeated Submit of the same challenge is
          // answered like the first (docs/protocol.md §2.5), the others only read.
          { signal, maxResponseBytes, agent, target, idempotent: true },
        ),
    );
    if (res.status !== 200) throw errorFromHttpResponse(res, target, clock.now());
    try {
      return parsePoetJson(method.output, decoder.decode(res.body));
    } catch (err) {
      const detail =
        err instanceof WireFormatError ? err.message : `body is not UTF-8 (${String(err)})`;
      throw new PoetRpcError(`malformed ${method.output.typeName}: ${detail}`, {
        ...target,
        kind: "bad-response",
        httpStatus: res.status,
        retriable: false,
        cause: err,
      });
    }
  }

  async function downloadProof(
    request: ProofRequest,
    call: ProofDownloadOptions = {},
  ): Promise<ProofResponseJson> {
    const route = routes.get(PoetService.method.proof.name) ?? restRoute(PoetService.method.proof);
    const path = expandPath(route.template, { round_id: request.roundId });
    const target: AttemptTarget = { server, method: `${route.verb} ${path}` };
    if (closed) throw closedTransportError(target);
    const url = urlOf(path);
    const headers: Record<string, string> = { accept: "application/json", ...options.headers };
    let reader: ProofResponseJsonReader | undefined;
    /** Set when a 200 answer's body is streamed: makes its reader. */
    let openReader: (() => ProofResponseJsonReader) | undefined;
    const res = await runWithSilenceLimit(
      clock,
      call.idleTimeoutMs ?? defaultTimeoutMs,
      call.signal,
      target,
      (signal, progress) =>
        httpExchange(
          { url, method: route.verb, headers },
          {
            signal,
            maxResponseBytes: maxProofResponseBytes,
            maxBufferedBytes: maxResponseBytes,
            agent,
            target,
            onResponse: (status, responseHeaders) => {
              progress();
              if (status !== 200) return undefined;
              const declared = Number(responseHeaders["content-length"]);
              const open = () =>
                new ProofResponseJsonReader({
                  expectedBytes: Number.isSafeInteger(declared) ? declared : undefined,
                });
              openReader = open;
              // Set up with the first chunk, in the turn the exchange gives it (the reader
              // allocates a buffer for every member at once).
              return (chunk) => {
                progress();
                reader ??= open();
                reader.push(chunk);
                call.onProgress?.(reader.bytesRead);
              };
            },
          },
        ),
    ).catch((err: unknown) => {
      throw err instanceof WireFormatError ? malformed(err, target, 200) : err;
    });
    if (res.status !== 200 || openReader === undefined) {
      throw errorFromHttpResponse(res, target, clock.now());
    }
    // Parsing the rest of the answer takes a few ms: a turn of its own (body-turns.ts).
    await bodyEndTurn();
    try {
      // An empty body never made its reader; it ends early all the same.
      return (reader ?? openReader()).finish();
    } catch (err) {
      throw malformed(err, target, res.status);
    }
  }

  function malformed(err: unknown, target: AttemptTarget, httpStatus: number): PoetRpcError {
    const detail = err instanceof Error ? err.message : String(err);
    return new PoetRpcError(`malformed rpc.api.v1.ProofResponse: ${detail}`, {
      ...target,
      kind: "bad-response",
      httpStatus,
      retriable: false,
      cause: err,
    });
  }

  async function close(): Promise<void> {
    closed = true;
    agent.destroy();
  }

  return {
    url: server,
    protocol: "rest",
    unary,
    downloadProof,
    close,
    [Symbol.asyncDispose]: close,
  };
}
