/**
 * @module transport/rpc-proof-download
 *
 * A round's proof over gRPC or Connect, read as it arrives (docs/protocol.md §1.1, §3.4): the
 * binary twin of the REST transport's streamed download. Connect's own unary call collects the
 * whole message and decodes it into one `Uint8Array` per member — at mainnet size hundreds of
 * megabytes and one long event-loop block — so the Proof call is made here at the HTTP level,
 * through the same HTTP client (`createNodeHttpClient`, the transport's own sessions or agent)
 * and the same request headers and response checks as Connect uses, and the message is fed chunk
 * by chunk to a {@link ProofResponseProtoReader} that packs the members.
 *
 * The same rules as REST: the proof size cap (`maxProofResponseBytes`) counts every byte of the
 * answer and refuses an announced length above it before reading, a limit on silence (not on
 * length) ends a server that stops sending, error answers are read under the small cap and
 * classified as every other gRPC/Connect failure (`errorFromConnect`), and a malformed message is
 * a final `bad-response`.
 */

import { create, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import type { UniversalClientFn, UniversalClientResponse } from "@connectrpc/connect/protocol";
import {
  requestHeader as connectRequestHeader,
  errorFromJsonBytes,
  validateResponse as validateConnectResponse,
} from "@connectrpc/connect/protocol-connect";
import {
  requestHeader as grpcRequestHeader,
  validateResponse as validateGrpcResponse,
  validateTrailer as validateGrpcTrailer,
} from "@connectrpc/connect/protocol-grpc";
import { anySignal } from "../cancellation.js";
import type { Clock } from "../clock.js";
import { AbortedError, PoetError, PoetRpcError, WireFormatError } from "../errors.js";
import { PoetService, type ProofRequest, ProofRequestSchema } from "../gen/rpc/api/v1/api_pb.js";
import { type ProofResponseJson, ProofResponseProtoReader } from "../wire/index.js";
import { type AttemptTarget, closedTransportError } from "./attempt.js";
import { bodyEndTurn, feedBody } from "./body-turns.js";
import type { ProofDownloadOptions } from "./poet-transport.js";
import { runWithSilenceLimit } from "./silence-limit.js";

/** How a {@link rpcProofDownload} reaches its server. */
export interface RpcProofDownloadInit {
  protocol: "grpc" | "connect";
  /** The server's base URL without a trailing slash. */
  baseUrl: string;
  /** The URL as the caller gave it, for errors. */
  server: string;
  /** The HTTP client of the transport (its sessions or keep-alive agent). */
  httpClient: UniversalClientFn;
  clock: Clock;
  /** Most bytes of the proof answer (every byte on the wire counts). */
  maxProofResponseBytes: number;
  /** Most bytes of an error answer's body. */
  maxErrorBytes: number;
  /** Silence limit when the call gives none. */
  defaultIdleMs: number;
  /** Whether the transport was closed. */
  closed: () => boolean;
  /** Turns a failure into the transport's error (`errorFromConnect`). */
  toError: (err: unknown, target: AttemptTarget) => PoetError;
}

/** Bytes of a gRPC message envelope's head: a flags byte and a 32-bit big-endian length. */
const ENVELOPE_HEAD = 5;

/**
 * The `downloadProof` of a gRPC or Connect transport.
 *
 * @example
 * ```ts
 * const download = rpcProofDownload({ protocol: "grpc", baseUrl, server: url, httpClient, clock,
 *   maxProofResponseBytes, maxErrorBytes: 16 << 20, defaultIdleMs: 30_000,
 *   closed: () => false, toError: (err, target) => errorFromConnect(err, target, "grpc") });
 * const { response, members } = await download(create(ProofRequestSchema, { roundId: "30" }));
 * ```
 */
export function rpcProofDownload(
  init: RpcProofDownloadInit,
): (request: ProofRequest, options?: ProofDownloadOptions) => Promise<ProofResponseJson> {
  const method = PoetService.method.proof;
  const url = `${init.baseUrl}/${PoetService.typeName}/${method.name}`;
  const target: AttemptTarget = {
    server: init.server,
    method: `${PoetService.typeName}/${method.name}`,
  };

  const tooLarge = (): PoetRpcError =>
    new PoetRpcError(`response body over the ${init.maxProofResponseBytes}-byte limit`, {
      ...target,
      kind: "response-too-large",
      retriable: false,
    });

  return async (request, call = {}) => {
    if (init.closed()) throw closedTransportError(target);
    const message = toBinary(ProofRequestSchema, create(ProofRequestSchema, request));
    const grpc = init.protocol === "grpc";
    const header = grpc
      ? grpcRequestHeader(true, undefined, undefined)
      : connectRequestHeader("unary", true, undefined, undefined, true);
    const body = grpc ? envelope(message) : message;
    return runWithSilenceLimit(
      init.clock,
      call.idleTimeoutMs ?? init.defaultIdleMs,
      call.signal,
      target,
      async (signal, progress) => {
        const stop = new AbortController();
        const both = anySignal(signal, stop.signal);
        try {
          const res = await init.httpClient({
            url,
            method: "POST",
            header,
            body: once(body),
            signal: both,
          });
          progress();
          const read = grpc ? readGrpc : readConnect;
          return await read(
            res,
            () => {
              progress();
            },
            call.onProgress,
          );
        } catch (err) {
          // Ends the request: it may still be sending (a cap, a malformed message).
          stop.abort(DOWNLOAD_FAILED);
          if (signal.aborted) throw new AbortedError(undefined, { cause: err });
          if (err instanceof WireFormatError) throw malformed(err);
          throw err instanceof PoetError ? err : init.toError(err, target);
        }
      },
    );
  };

  /** A gRPC answer: one enveloped message, then the status in the trailers. */
  async function readGrpc(
    res: UniversalClientResponse,
    progress: () => void,
    onProgress: ((bytes: number) => void) | undefined,
  ): Promise<ProofResponseJson> {
    const { headerError } = validateGrpcResponse(res.status, res.header);
    const head = new Uint8Array(ENVELOPE_HEAD);
    let headAt = 0;
    let left = 0;
    let reader: ProofResponseProtoReader | undefined;
    let received = 0;
    let first = true;
    /** One piece of the body: envelope heads and the message. */
    const consume = (chunk: Uint8Array): boolean => {
      let i = 0;
      while (i < chunk.length) {
        if (left === 0) {
          const take = Math.min(ENVELOPE_HEAD - headAt, chunk.length - i);
          head.set(chunk.subarray(i, i + take), headAt);
          headAt += take;
          i += take;
          if (headAt < ENVELOPE_HEAD) break;
          headAt = 0;
          if (reader !== undefined) {
            throw new ConnectError(
              "protocol error: received extra output message for unary method",
              Code.Unimplemented,
            );
          }
          const flags = head[0] as number;
          if (flags !== 0) {
            throw new WireFormatError(
              "grpc envelope",
              `flags ${flags}: a compressed or unknown message (none was asked for)`,
            );
          }
          const length = new DataView(head.buffer).getUint32(1);
          if (length > init.maxProofResponseBytes) throw tooLarge();
          reader = new ProofResponseProtoReader({ expectedBytes: length });
          left = length;
          continue;
        }
        const take = Math.min(left, chunk.length - i);
        (reader as ProofResponseProtoReader).push(chunk.subarray(i, i + take));
        left -= take;
        i += take;
      }
      return true;
    };
    for await (const chunk of res.body) {
      progress();
      received += chunk.length;
      if (received > init.maxProofResponseBytes + ENVELOPE_HEAD) throw tooLarge();
      const later = feedBody(chunk, first, consume);
      first = false;
      if (later !== undefined) await later;
      if (reader !== undefined) onProgress?.(reader.bytesRead);
    }
    validateGrpcTrailer(res.trailer, res.header);
    if (reader === undefined) {
      if (headerError !== undefined) throw headerError;
      throw new ConnectError(
        "protocol error: missing output message for unary method",
        res.trailer.has("grpc-status") ? Code.Unimplemented : Code.Unknown,
      );
    }
    if (headerError !== undefined) {
      throw new ConnectError(
        "protocol error: received output message for unary method with error status",
        Code.Unknown,
      );
    }
    if (left > 0 || headAt > 0) {
      throw new WireFormatError("grpc envelope", `the body ends inside a message`);
    }
    await bodyEndTurn();
    return reader.finish();
  }

  /** A Connect unary answer: the bare message, or a JSON error with an HTTP error status. */
  async function readConnect(
    res: UniversalClientResponse,
    progress: () => void,
    onProgress: ((bytes: number) => void) | undefined,
  ): Promise<ProofResponseJson> {
    const { isUnaryError, unaryError } = validateConnectResponse(
      "unary",
      true,
      res.status,
      res.header,
    );
    if (isUnaryError) {
      const parts: Uint8Array[] = [];
      let size = 0;
      for await (const chunk of res.body) {
        progress();
        size += chunk.length;
        if (size > init.maxErrorBytes) throw unaryError;
        parts.push(chunk);
      }
      const metadata = new Headers(res.header);
      res.trailer.forEach((value, key) => {
        metadata.append(key, value);
      });
      throw errorFromJsonBytes(Buffer.concat(parts), metadata, unaryError);
    }
    const encoding = res.header.get("content-encoding");
    if (encoding !== null && encoding.toLowerCase() !== "identity") {
      throw new WireFormatError("content-encoding", `${encoding} (none was asked for)`);
    }
    const declared = Number(res.header.get("content-length") ?? Number.NaN);
    if (Number.isFinite(declared) && declared > init.maxProofResponseBytes) throw tooLarge();
    const reader = new ProofResponseProtoReader({
      expectedBytes: Number.isSafeInteger(declared) ? declared : undefined,
    });
    let first = true;
    for await (const chunk of res.body) {
      progress();
      if (reader.bytesRead + chunk.length > init.maxProofResponseBytes) throw tooLarge();
      const later = feedBody(chunk, first, (piece) => {
        reader.push(piece);
        return true;
      });
      first = false;
      if (later !== undefined) await later;
      onProgress?.(reader.bytesRead);
    }
    await bodyEndTurn();
    return reader.finish();
  }

  function malformed(err: WireFormatError): PoetRpcError {
    return new PoetRpcError(`malformed rpc.api.v1.ProofResponse: ${err.message}`, {
      ...target,
      kind: "bad-response",
      retriable: false,
      cause: err,
    });
  }
}

/** Why a failed download's request is ended (not the platform's DOMException with a stack). */
const DOWNLOAD_FAILED = new AbortedError("the download failed");

/** `message` in a gRPC envelope (uncompressed). */
function envelope(message: Uint8Array): Uint8Array {
  const out = new Uint8Array(ENVELOPE_HEAD + message.length);
  new DataView(out.buffer).setUint32(1, message.length);
  out.set(message, ENVELOPE_HEAD);
  return out;
}

async function* once(bytes: Uint8Array): AsyncIterable<Uint8Array> {
  yield bytes;
}
