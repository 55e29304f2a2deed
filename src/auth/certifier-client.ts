/**
 * @module auth/certifier-client
 *
 * The certifier's HTTP API (docs/protocol.md §2.8; docs/node-client.md §2.6): `POST {url}/certify`
 * with a PoST proof and its metadata, answered by a certificate the PoET accepts in place of a
 * proof of work. The request is the JSON the Go node writes with `encoding/json` — snake_case
 * names, standard padded base64, plain JSON numbers (`pow` is a u64, written from a `bigint`
 * digit for digit so no precision is lost).
 *
 * Errors are typed {@link PoetRpcError}s whose `server` is the certifier: 403 (the certifier
 * refused the proof) is `unauthorized`; 400/413/415/422 (a body it cannot take) are
 * `invalid-request`; 429 (load shedding) is `rate-limited` and 5xx `server-error`/`unavailable`,
 * both retriable, with `Retry-After` honoured. A 200 that does not parse is `bad-response`.
 *
 * The URL is the certifier URL the PoET advertises; `/certify` is appended as the Go node does,
 * unless the URL already ends with it (some PoET configurations advertise the full endpoint).
 */

import * as http from "node:http";
import * as https from "node:https";
import type { AbortOptions } from "../abort-options.js";
import { type Clock, systemClock } from "../clock.js";
import { ConfigError, PoetRpcError } from "../errors.js";
import {
  type AttemptTarget,
  DEFAULT_ATTEMPT_TIMEOUT_MS,
  httpExchange,
  joinUrlPath,
  parseBaseUrl,
  parseRetryAfter,
  runAttempt,
} from "../transport/index.js";

/** The PoST proof a certifier checks. */
export interface CertifyProof {
  /** The PoST nonce (u32). */
  nonce: number;
  /** The proven label indices, bit-packed (PoST's own encoding). */
  indices: Uint8Array;
  /** The PoST proof-of-work nonce (u64). */
  pow: bigint;
}

/** What the proof is about. */
export interface CertifyMetadata {
  /** The node id (32 bytes). */
  nodeId: Uint8Array;
  /** The commitment ATX id (32 bytes). */
  commitmentAtxId: Uint8Array;
  /** The challenge the PoST proof answers (32 bytes; zeros for the initial PoST). */
  challenge: Uint8Array;
  /** Space units (u32). */
  numUnits: number;
}

/** Body of `POST /certify`. */
export interface CertifyRequest {
  proof: CertifyProof;
  metadata: CertifyMetadata;
}

/** A certifier's answer. */
export interface CertifyResponse {
  /** SCALE certificate data. */
  certificate: Uint8Array;
  /** ed25519 signature of `certificate`. */
  signature: Uint8Array;
  /** The certifier's public key. */
  pubKey: Uint8Array;
}

/** Options of {@link certify}. */
export interface CertifyOptions extends AbortOptions {
  clock?: Clock | undefined;
  /** Time limit of the request (default 30 s; PoST verification takes a while). */
  timeoutMs?: number | undefined;
  /** Most bytes of the answer (default 64 KiB; a certificate is under 200). */
  maxResponseBytes?: number | undefined;
}

const B64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function b64(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("base64");
}

function u32(setting: string, value: number): string {
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) {
    throw new ConfigError(setting, `${value} is not a u32`);
  }
  return String(value);
}

/** The JSON text of a certify request. */
export function certifyRequestJson(body: CertifyRequest): string {
  const { proof, metadata } = body;
  if (proof.pow < 0n || proof.pow >= 1n << 64n) {
    throw new ConfigError("proof.pow", `${proof.pow} is not a u64`);
  }
  for (const [name, bytes] of [
    ["metadata.nodeId", metadata.nodeId],
    ["metadata.commitmentAtxId", metadata.commitmentAtxId],
    ["metadata.challenge", metadata.challenge],
  ] as const) {
    if (bytes.length !== 32) throw new ConfigError(name, `must be 32 bytes, got ${bytes.length}`);
  }
  return (
    `{"proof":{"nonce":${u32("proof.nonce", proof.nonce)},"indices":${JSON.stringify(b64(proof.indices))},"pow":${proof.pow.toString()}},` +
    `"metadata":{"node_id":${JSON.stringify(b64(metadata.nodeId))},"commitment_atx_id":${JSON.stringify(b64(metadata.commitmentAtxId))},` +
    `"challenge":${JSON.stringify(b64(metadata.challenge))},"num_units":${u32("metadata.numUnits", metadata.numUnits)}}}`
  );
}

/** The `/certify` endpoint of a certifier URL. */
export function certifyEndpoint(url: string): URL {
  const base = parseBaseUrl(url, "certifier.url");
  return /\/certify\/?$/.test(base.pathname) ? base : joinUrlPath(base, "/certify");
}

function classifyCertifierStatus(status: number): {
  kind: PoetRpcError["kind"];
  retriable: boolean;
} {
  if (status === 403 || status === 401) return { kind: "unauthorized", retriable: false };
  if (status === 429) return { kind: "rate-limited", retriable: true };
  if (status === 503) return { kind: "unavailable", retriable: true };
  if (status === 501) return { kind: "unimplemented", retriable: false };
  if (status >= 500) return { kind: "server-error", retriable: true };
  if (status === 404) return { kind: "not-found", retriable: false };
  if (status >= 400) return { kind: "invalid-request", retriable: false };
  return { kind: "unknown", retriable: false };
}

function readField(
  target: AttemptTarget,
  value: Record<string, unknown>,
  name: string,
): Uint8Array {
  const text = value[name];
  if (typeof text !== "string" || !B64.test(text)) {
    throw new PoetRpcError(`${name} is not standard base64`, {
      ...target,
      kind: "bad-response",
      retriable: false,
    });
  }
  return new Uint8Array(Buffer.from(text, "base64"));
}

/**
 * Asks a certifier for a certificate of the node's PoST.
 *
 * @throws {PoetRpcError} with the certifier as `server`: `unauthorized` (403), `rate-limited`
 *   (429), `server-error`/`unavailable` (5xx), `invalid-request` (other 4xx), `network`,
 *   `timeout`, `response-too-large`, `bad-response`.
 * @throws {ConfigError} for a URL that is not http(s) or a field of the wrong size.
 * @example
 * ```ts
 * const { certificate, signature, pubKey } = await certify(info.certifier.url, {
 *   proof: { nonce, indices, pow },
 *   metadata: { nodeId, commitmentAtxId, challenge: new Uint8Array(32), numUnits },
 * }, { signal });
 * ```
 */
export async function certify(
  url: string,
  body: CertifyRequest,
  options: CertifyOptions = {},
): Promise<CertifyResponse> {
  const endpoint = certifyEndpoint(url);
  const json = certifyRequestJson(body);
  const clock = options.clock ?? systemClock;
  const target: AttemptTarget = { server: url, method: "POST /certify" };
  const agent =
    endpoint.protocol === "https:"
      ? new https.Agent({ keepAlive: false })
      : new http.Agent({ keepAlive: false });
  try {
    const res = await runAttempt(
      clock,
      options.timeoutMs ?? DEFAULT_ATTEMPT_TIMEOUT_MS,
      options.signal,
      target,
      (signal) =>
        httpExchange(
          {
            url: endpoint,
            method: "POST",
            headers: { "content-type": "application/json", accept: "application/json" },
            body: new TextEncoder().encode(json),
          },
          {
            signal,
            maxResponseBytes: options.maxResponseBytes ?? 64 * 1024,
            target,
            agent,
          },
        ),
    );
    const text = new TextDecoder().decode(res.body);
    if (res.status !== 200) {
      const { kind, retriable } = classifyCertifierStatus(res.status);
      const retryAfterMs = parseRetryAfter(res.headers["retry-after"], clock.now());
      throw new PoetRpcError(`HTTP ${res.status}: ${text.slice(0, 500) || res.statusText}`, {
        ...target,
        kind,
        retriable,
        httpStatus: res.status,
        ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
      });
    }
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      throw new PoetRpcError("the answer is not JSON", {
        ...target,
        kind: "bad-response",
        httpStatus: 200,
        retriable: false,
        cause: err,
      });
    }
    if (typeof value !== "object" || value === null) {
      throw new PoetRpcError("the answer is not a JSON object", {
        ...target,
        kind: "bad-response",
        httpStatus: 200,
        retriable: false,
      });
    }
    const fields = value as Record<string, unknown>;
    return {
      certificate: readField(target, fields, "certificate"),
      signature: readField(target, fields, "signature"),
      pubKey: readField(target, fields, "pub_key"),
    };
  } finally {
    agent.destroy();
  }
}
