/**
 * @module transport/http-exchange
 *
 * One HTTP/1.1 request and its whole response body, on `node:http`/`node:https`, for the REST
 * gateway of a PoET (docs/protocol.md §1.2) and for certifiers (§2.8). Written on the node modules
 * rather than `fetch` for two reasons: the response body is counted while it streams, so a hostile
 * server that sends gigabytes is cut off at the cap instead of filling memory, and the connection
 * pool (an `Agent` the caller owns) can be destroyed by `close()`, so no socket outlives its
 * client.
 *
 * A caller may also take the body as it streams (`onResponse` returning a sink): a proof of
 * millions of members is then parsed chunk by chunk and never held whole.
 *
 * Failures before a status line arrives (refused connection, reset, DNS, TLS) become a retriable
 * `network` {@link PoetRpcError}, except an answer that is not HTTP/1.1 at all (an HTTP/2-only
 * server such as a PoET's gRPC port), which is a final `wrong-protocol` one; a body over the cap
 * becomes a non-retriable `response-too-large` one. Statuses are returned, not judged: deciding
 * what a 404 means is the caller's business.
 *
 * A request that fails on a reused keep-alive connection before any byte of its answer arrived
 * most likely met a connection the server had just closed; an idempotent one is sent again at
 * once on another connection (see {@link httpExchange}), instead of failing and waiting a poll.
 */
import * as http from "node:http";
import * as https from "node:https";
import type { AbortOptions } from "../abort-options.js";
import { abortedError, PoetRpcError } from "../errors.js";
import type { AttemptTarget } from "./attempt.js";
import { feedBody } from "./body-turns.js";
import { notHttp1Reply } from "./protocol-mismatch.js";

/** 16 MiB: the default cap on a response body (twice the PoET gateway's own 8 MiB limit). */
export const DEFAULT_MAX_RESPONSE_BYTES = 16 * 1024 * 1024;

/**
 * 2 GiB − 1: the default cap on a proof download. A round's proof carries every member (47 bytes
 * of JSON each over REST, 34 in protobuf), so this admits about 45 million members over REST:
 * tens of millions, where mainnet rounds have a few million (docs/protocol.md §3.4). Every other
 * call keeps {@link DEFAULT_MAX_RESPONSE_BYTES}.
 */
export const DEFAULT_MAX_PROOF_RESPONSE_BYTES = 2 ** 31 - 1;

/**
 * Where a streamed body goes: called with each chunk as it arrives. A throw stops the exchange,
 * which then rejects with the thrown error.
 */
export type HttpBodySink = (chunk: Uint8Array) => void;

/** A request for {@link httpExchange}. */
export interface HttpRequest {
  url: URL;
  method: string;
  headers?: Record<string, string>;
  body?: Uint8Array | undefined;
}

/** A response with its whole body. */
export interface HttpResponse {
  status: number;
  statusText: string;
  /** Header names in lower case; repeated headers joined with ", ". */
  headers: Record<string, string>;
  body: Uint8Array;
}

/** Options of {@link httpExchange}. */
export interface HttpExchangeOptions extends AbortOptions {
  /** Most bytes of body accepted. */
  maxResponseBytes: number;
  /** Connection pool: an `https.Agent` for `https:` URLs, an `http.Agent` for `http:` ones. */
  agent?: http.Agent | undefined;
  /** Names the server and method in errors. */
  target: AttemptTarget;
  /**
   * Whether sending the request twice is harmless. Default: by method (GET, HEAD, OPTIONS, PUT and
   * DELETE are, RFC 9110 §9.2.2). Only such a request is sent again after a failure on a reused
   * connection.
   */
  idempotent?: boolean | undefined;
  /**
   * Called when the status line and headers arrive. A returned sink receives the body chunk by
   * chunk (still counted against `maxResponseBytes`) and the response's `body` is then empty;
   * without one the body is collected, up to `maxBufferedBytes`.
   */
  onResponse?:
    | ((status: number, headers: Record<string, string>) => HttpBodySink | undefined)
    | undefined;
  /** Most bytes of a collected body (default `maxResponseBytes`). */
  maxBufferedBytes?: number | undefined;
}

const IDEMPOTENT_METHODS = new Set(["GET", "HEAD", "OPTIONS", "PUT", "DELETE"]);
/** How many times a request is sent again after failing on a stale reused connection. */
const MAX_STALE_RETRIES = 3;
/** Failures on a reused connection before any byte of the answer arrived. */
const staleConnectionFailures = new WeakSet<object>();

function flattenHeaders(raw: http.IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(raw)) {
    if (value === undefined) continue;
    out[name.toLowerCase()] = Array.isArray(value) ? value.join(", ") : value;
  }
  return out;
}

/**
 * Sends one request and reads the whole response, cutting the body off at `maxResponseBytes`.
 * An idempotent request that fails on a reused keep-alive connection before any byte of the
 * answer arrived is sent again on another connection, up to three times.
 *
 * @throws {PoetRpcError} kind `network` (retriable) when no response arrived, kind
 *   `wrong-protocol` when the answer is not HTTP/1.1, kind `response-too-large` when the body is
 *   over the cap.
 * @throws {AbortedError} when `signal` fired.
 * @example
 * ```ts
 * const res = await httpExchange(
 *   { url: new URL("/v1/info", base), method: "GET" },
 *   { maxResponseBytes: DEFAULT_MAX_RESPONSE_BYTES, target: { server: base, method: "Info" } },
 * );
 * ```
 */
export async function httpExchange(
  request: HttpRequest,
  options: HttpExchangeOptions,
): Promise<HttpResponse> {
  const idempotent = options.idempotent ?? IDEMPOTENT_METHODS.has(request.method.toUpperCase());
  for (let retries = 0; ; retries++) {
    try {
      return await exchangeOnce(request, options);
    } catch (err) {
      const stale = typeof err === "object" && err !== null && staleConnectionFailures.has(err);
      if (!stale || !idempotent || retries >= MAX_STALE_RETRIES) throw err;
    }
  }
}

function exchangeOnce(request: HttpRequest, options: HttpExchangeOptions): Promise<HttpResponse> {
  const { signal, maxResponseBytes, target } = options;
  return new Promise<HttpResponse>((resolve, reject) => {
    if (signal?.aborted) {
      reject(abortedError(signal));
      return;
    }
    const secure = request.url.protocol === "https:";
    const headers: Record<string, string> = { ...request.headers };
    if (request.body !== undefined) headers["content-length"] = String(request.body.length);
    let settled = false;
    const fail = (err: unknown) => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener("abort", onAbort);
      reject(err);
    };
    const requestOptions: http.RequestOptions = {
      method: request.method,
      headers,
      agent: options.agent,
    };
    let answered = false;
    const req = (secure ? https : http).request(request.url, requestOptions, (res) => {
      answered = true;
      const status = res.statusCode ?? 0;
      const responseHeaders = flattenHeaders(res.headers);
      let sink: HttpBodySink | undefined;
      try {
        sink = options.onResponse?.(status, responseHeaders);
      } catch (err) {
        fail(err);
        req.destroy();
        return;
      }
      const limit =
        sink === undefined ? (options.maxBufferedBytes ?? maxResponseBytes) : maxResponseBytes;
      const tooLarge = () =>
        new PoetRpcError(`response body over the ${limit}-byte limit`, {
          ...target,
          kind: "response-too-large",
          httpStatus: status,
          retriable: false,
        });
      const declared = Number(responseHeaders["content-length"]);
      if (Number.isFinite(declared) && declared > limit) {
        fail(tooLarge());
        req.destroy();
        return;
      }
      const chunks: Buffer[] = [];
      let received = 0;
      /** Chunks handed to the sink (or waiting for their turn) so far. */
      let sunk = 0;
      /** The sink's turns for a chunk that found the turn's bytes spent. */
      let waiting: Promise<void> | undefined;
      const toSink = (piece: Uint8Array): boolean => {
        if (settled) return false;
        try {
          (sink as HttpBodySink)(piece);
        } catch (err) {
          fail(err);
          req.destroy();
          return false;
        }
        return !settled;
      };
      res.on("data", (chunk: Buffer) => {
        if (settled) return;
        received += chunk.length;
        if (received > limit) {
          fail(tooLarge());
          req.destroy();
          return;
        }
        if (sink === undefined) {
          chunks.push(chunk);
          return;
        }
        // A fast link delivers megabytes per turn of the event loop, and each download its own:
        // every chunk takes its bytes from the budget of all downloads, and once the turn's are
        // spent, reading pauses and the chunk waits for a later turn (body-turns.ts).
        const later = feedBody(chunk, sunk === 0, toSink);
        sunk++;
        if (later === undefined) return;
        res.pause();
        waiting = later.then(() => {
          waiting = undefined;
          if (!settled) res.resume();
        });
      });
      res.on("error", (err) => fail(networkError(err)));
      res.on("aborted", () => fail(networkError(new Error("response aborted"))));
      const end = () => {
        if (settled) return;
        // A paused stream does not end before its data is read, but a chunk held for a later
        // turn is not in the stream any more: it goes to the sink first.
        if (waiting !== undefined) {
          void waiting.then(end);
          return;
        }
        settled = true;
        signal?.removeEventListener("abort", onAbort);
        const body = new Uint8Array(sink === undefined ? received : 0);
        let offset = 0;
        for (const chunk of chunks) {
          body.set(chunk, offset);
          offset += chunk.length;
        }
        resolve({ status, statusText: res.statusMessage ?? "", headers: responseHeaders, body });
      };
      res.on("end", end);
    });
    const networkError = (err: unknown) => {
      if (signal?.aborted) return abortedError(signal);
      const text = err instanceof Error ? err.message : String(err);
      const mismatch = notHttp1Reply(err, "rest");
      if (mismatch !== undefined) {
        return new PoetRpcError(mismatch, {
          ...target,
          kind: "wrong-protocol",
          retriable: false,
          cause: err,
        });
      }
      return new PoetRpcError(text, { ...target, kind: "network", retriable: true, cause: err });
    };
    const onAbort = () => {
      fail(abortedError(signal as AbortSignal));
      req.destroy();
    };
    signal?.addEventListener("abort", onAbort, { once: true });
    req.on("error", (err) => {
      const failure = networkError(err);
      if (!answered && req.reusedSocket && failure instanceof PoetRpcError && failure.retriable) {
        staleConnectionFailures.add(failure);
      }
      fail(failure);
    });
    if (request.body !== undefined) req.end(request.body);
    else req.end();
  });
}
