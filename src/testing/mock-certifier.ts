/**
 * @module testing/mock-certifier
 *
 * A certifier service for tests (docs/protocol.md §2.8): `POST /certify` takes a node's PoST proof
 * and metadata as snake_case JSON and, when a pluggable rule accepts it, answers with a signed
 * certificate `{"certificate","signature","pub_key"}` (standard base64). The certificate is the
 * SCALE `data` a PoET checks — node id and optional expiry — signed with the certifier's ed25519
 * key, so a mock PoET configured with this certifier's `pubkey` accepts it.
 *
 * Verifying a real PoST is out of scope for a mock: the rule decides (default: accept every
 * well-formed request). The statuses are the real service's: 403 `invalid proof: …` when the rule
 * says no, 413 for a body over the size limit, 400/415/422 for a malformed body (its web
 * framework's defaults), 429 when overloaded and 500 on internal errors — the last two switchable
 * through {@link MockCertifier.faults}. Error bodies are plain text, as the service sends them.
 */

import { ed25519 } from "@noble/curves/ed25519.js";
import type { AbortOptions } from "../abort-options.js";
import type { CertifyRequest } from "../auth/index.js";
import { type Clock, systemClock } from "../clock.js";
import { throwIfAborted } from "../errors.js";
import { encodeCertificate } from "../wire/index.js";
import { decodeLenientBase64 } from "./gateway-json.js";
import { RequestBodyTooLarge, readRequestBody } from "./request-body.js";
import { signingSeed } from "./signing-key.js";
import { type NodeServerRequest, SinglePortServer, sendResponse } from "./single-port-server.js";

/**
 * Decides whether a PoST passes: `true` to certify, `false` or a reason text to refuse with 403.
 */
export type CertifyRule = (request: CertifyRequest) => boolean | string | Promise<boolean | string>;

/** Settings of {@link startMockCertifier}. */
export interface MockCertifierOptions extends AbortOptions {
  /** The certifier's ed25519 key: 32-byte seed or 64-byte `seed ‖ pub`. Default: random. */
  signingKey?: Uint8Array;
  /** Certificate lifetime in ms; absent means certificates never expire (the service default). */
  certificateExpirationMs?: number;
  /** Which proofs pass. Default: all well-formed requests. */
  rule?: CertifyRule;
  /** Largest accepted body in bytes. Default 65536. */
  maxBodySize?: number;
  /** Time source for expiries. Default: the system clock. */
  clock?: Clock;
  /** Port on 127.0.0.1. Default 0. */
  port?: number;
}

/** Switchable failures of a mock certifier. */
export interface MockCertifierFaults {
  /** Answer every request with this status (429 overloaded, 500 internal, …) while set. */
  status: number | undefined;
  /** The next `count` requests get `status` (default 500). */
  failNext(count: number, status?: number): void;
}

/** A running mock certifier. */
export interface MockCertifier extends AsyncDisposable {
  /** `http://127.0.0.1:<port>`: the certifier URL a PoET advertises. */
  readonly url: string;
  /** `${url}/certify`. */
  readonly certifyUrl: string;
  /** The certifier's public key (what a PoET trusts and advertises). */
  readonly pubkey: Uint8Array;
  readonly faults: MockCertifierFaults;
  /** Every well-formed request received, in order. */
  readonly requests: CertifyRequest[];
  stop(): Promise<void>;
  close(): Promise<void>;
}

class HttpFailure extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function bytesField(value: unknown, name: string, length?: number): Uint8Array {
  const bytes = typeof value === "string" ? decodeLenientBase64(value) : undefined;
  if (bytes === undefined || (length !== undefined && bytes.length !== length)) {
    throw new HttpFailure(
      422,
      `Failed to deserialize the JSON body into the target type: ${name}: invalid value`,
    );
  }
  return bytes;
}

function intField(value: unknown, name: string, max: bigint): bigint {
  const ok =
    (typeof value === "number" && Number.isSafeInteger(value) && value >= 0) ||
    (typeof value === "string" && /^[0-9]+$/.test(value));
  const big = ok ? BigInt(value as number | string) : -1n;
  if (big < 0n || big > max) {
    throw new HttpFailure(
      422,
      `Failed to deserialize the JSON body into the target type: ${name}: invalid type`,
    );
  }
  return big;
}

function record(value: unknown, name: string): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new HttpFailure(
      422,
      `Failed to deserialize the JSON body into the target type: missing field \`${name}\``,
    );
  }
  return value as Record<string, unknown>;
}

/**
 * Parses and checks a `/certify` body (snake_case JSON, standard base64) into the request the
 * node's `certify` sends.
 */
export function parseCertifyRequest(body: string): CertifyRequest {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch (error) {
    throw new HttpFailure(
      400,
      `Failed to parse the request body as JSON: ${error instanceof Error ? error.message : error}`,
    );
  }
  const root = record(json, "proof");
  const proof = record(root.proof, "proof");
  const metadata = record(root.metadata, "metadata");
  return {
    proof: {
      nonce: Number(intField(proof.nonce, "proof.nonce", 0xffff_ffffn)),
      indices: bytesField(proof.indices, "proof.indices"),
      pow: intField(proof.pow ?? proof.k2_pow, "proof.pow", (1n << 64n) - 1n),
    },
    metadata: {
      nodeId: bytesField(metadata.node_id, "metadata.node_id", 32),
      commitmentAtxId: bytesField(metadata.commitment_atx_id, "metadata.commitment_atx_id", 32),
      challenge: bytesField(metadata.challenge, "metadata.challenge", 32),
      numUnits: Number(intField(metadata.num_units, "metadata.num_units", 0xffff_ffffn)),
    },
  };
}

async function readBody(req: NodeServerRequest, limit: number): Promise<string> {
  try {
    return await readRequestBody(req, limit);
  } catch (error) {
    if (error instanceof RequestBodyTooLarge) {
      throw new HttpFailure(413, "Failed to buffer the request body: length limit exceeded");
    }
    throw error;
  }
}

/**
 * Starts a mock certifier on `127.0.0.1`.
 *
 * @example
 * ```ts
 * await using certifier = await startMockCertifier({ certificateExpirationMs: 14 * 86_400_000 });
 * await using poet = await startMockPoet({ certifier: { url: certifier.url, pubkey: certifier.pubkey } });
 * const res = await fetch(certifier.certifyUrl, { method: "POST", headers: { "content-type": "application/json" }, body });
 * const { certificate, signature, pub_key } = await res.json();
 * ```
 */
export async function startMockCertifier(
  options: MockCertifierOptions = {},
): Promise<MockCertifier> {
  throwIfAborted(options.signal);
  const seed = signingSeed(options.signingKey, "signingKey");
  const pubkey = ed25519.getPublicKey(seed);
  const clock = options.clock ?? systemClock;
  const rule = options.rule ?? (() => true);
  const limit = options.maxBodySize ?? 65_536;
  const lifetime = options.certificateExpirationMs;
  const requests: CertifyRequest[] = [];
  const queued: number[] = [];
  const faults: MockCertifierFaults = {
    status: undefined,
    failNext(count, status = 500) {
      for (let i = 0; i < count; i++) queued.push(status);
    },
  };

  const certify = async (req: NodeServerRequest): Promise<string> => {
    const path = (req.url ?? "/").split("?")[0];
    if (path !== "/certify") throw new HttpFailure(404, "");
    if (req.method !== "POST") throw new HttpFailure(405, "");
    const body = await readBody(req, limit);
    const forced = queued.shift() ?? faults.status;
    if (forced !== undefined) {
      throw new HttpFailure(forced, forced === 429 ? "too many requests" : "internal error");
    }
    const type = String(req.headers["content-type"] ?? "");
    if (!/^application\/json\b/i.test(type)) {
      throw new HttpFailure(415, "Expected request with `Content-Type: application/json`");
    }
    const request = parseCertifyRequest(body);
    requests.push(request);
    const verdict = await rule(request);
    if (verdict !== true) {
      const reason = typeof verdict === "string" ? verdict : "proof rejected";
      throw new HttpFailure(403, `invalid proof: ${reason}`);
    }
    const expiration =
      lifetime === undefined ? undefined : BigInt(Math.floor((clock.now() + lifetime) / 1000));
    const data = encodeCertificate(
      expiration === undefined
        ? { pubkey: request.metadata.nodeId }
        : { pubkey: request.metadata.nodeId, expiration },
    );
    return JSON.stringify({
      certificate: Buffer.from(data).toString("base64"),
      signature: Buffer.from(ed25519.sign(data, seed)).toString("base64"),
      pub_key: Buffer.from(pubkey).toString("base64"),
    });
  };

  const server = new SinglePortServer(
    (req, res) => {
      certify(req).then(
        (body) => sendResponse(res, 200, body, "application/json"),
        (error: unknown) => {
          const failure =
            error instanceof HttpFailure ? error : new HttpFailure(500, "error verifying proof");
          sendResponse(res, failure.status, failure.message, "text/plain; charset=utf-8");
        },
      );
    },
    { port: options.port ?? 0 },
  );
  const port = await server.listen();
  const url = `http://${server.host}:${port}`;
  const stop = () => server.close();
  return {
    url,
    certifyUrl: `${url}/certify`,
    pubkey,
    faults,
    requests,
    stop,
    close: stop,
    [Symbol.asyncDispose]: stop,
  };
}
