/**
 * @module testing/rest-gateway
 *
 * The PoET's REST API as its grpc-gateway serves it (docs/protocol.md §1.1–§1.4), in front of the
 * mock's `PoetService` handlers:
 *
 * - `GET /v1/info`, `GET /v1/pow_params`, `POST /v1/submit` (the whole body is the request),
 *   `GET /v1/proofs/{round_id}` (the path segment, URL-decoded, is the round id; an empty one is
 *   allowed and simply not found). A GET's body is read and ignored, as the gateway does with the
 *   `{}` that go-spacemesh sends.
 * - Unknown path: 404 `{"code":5,"message":"Not Found","details":[]}`; known path, wrong method:
 *   501 with code 12 `Method Not Allowed` (the gateway maps its 405 to Unimplemented).
 * - Errors: the gRPC code mapped to HTTP like the gateway's `HTTPStatusFromCode`, a
 *   `google.rpc.Status` JSON body with `details: []`, and for Unauthenticated a
 *   `Www-Authenticate` header carrying the message with newlines turned into spaces.
 * - Success: `Content-Type: application/json` and `Grpc-Metadata-Content-Type: application/grpc`.
 *
 * Request bodies are capped at the gRPC server's receive limit (4 MiB); a larger one gets the
 * error the gateway passes on from gRPC.
 */
import { create, type DescMessage, type MessageShape } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import {
  InfoResponseSchema,
  PowParamsResponseSchema,
  ProofRequestSchema,
  ProofResponseSchema,
  SubmitRequestSchema,
  SubmitResponseSchema,
} from "../gen/rpc/api/v1/api_pb.js";
import { faultHttpStatus, type MockPoetFaults, RETRY_AFTER } from "./faults.js";
import { decodeGatewayJson, encodeGatewayJson } from "./gateway-json.js";
import type { MockPoetHandlers } from "./mock-poet-service.js";
import { RequestBodyTooLarge, readRequestBody } from "./request-body.js";
import {
  type NodeServerRequest,
  type NodeServerResponse,
  sendResponse,
} from "./single-port-server.js";

/** The gRPC server's default receive limit, which bounds REST request bodies too. */
export const MAX_REQUEST_BYTES = 4 * 1024 * 1024;

/** grpc-gateway's mapping from gRPC codes to HTTP statuses. */
export function httpStatusFromCode(code: Code): number {
  switch (code) {
    case Code.Canceled:
      return 499;
    case Code.InvalidArgument:
    case Code.FailedPrecondition:
    case Code.OutOfRange:
      return 400;
    case Code.DeadlineExceeded:
      return 504;
    case Code.NotFound:
      return 404;
    case Code.AlreadyExists:
    case Code.Aborted:
      return 409;
    case Code.PermissionDenied:
      return 403;
    case Code.Unauthenticated:
      return 401;
    case Code.ResourceExhausted:
      return 429;
    case Code.Unimplemented:
      return 501;
    case Code.Unavailable:
      return 503;
    default:
      return 500;
  }
}

type Route = "info" | "powParams" | "submit" | "proof";

interface Match {
  route: Route;
  method: "GET" | "POST";
  roundId?: string;
}

function match(path: string): Match | undefined {
  if (path === "/v1/info") return { route: "info", method: "GET" };
  if (path === "/v1/pow_params") return { route: "powParams", method: "GET" };
  if (path === "/v1/submit") return { route: "submit", method: "POST" };
  const proof = /^\/v1\/proofs\/([^/]*)$/.exec(path);
  if (proof) {
    let roundId: string;
    try {
      roundId = decodeURIComponent(proof[1] ?? "");
    } catch {
      roundId = proof[1] ?? "";
    }
    return { route: "proof", method: "GET", roundId };
  }
  return undefined;
}

function sendError(res: NodeServerResponse, error: unknown): void {
  const err = ConnectError.from(error);
  const status = faultHttpStatus(err) ?? httpStatusFromCode(err.code);
  const headers: [string, string][] = [];
  if (err.code === Code.Unauthenticated) {
    headers.push(["Www-Authenticate", err.rawMessage.replace(/\n/g, " ")]);
  }
  const retryAfter = err.metadata.get(RETRY_AFTER);
  if (retryAfter !== null) headers.push(["Retry-After", retryAfter]);
  sendResponse(
    res,
    status,
    JSON.stringify({ code: err.code, message: err.rawMessage, details: [] }),
    "application/json",
    headers,
  );
}

function sendMessage<Desc extends DescMessage>(
  res: NodeServerResponse,
  schema: Desc,
  message: MessageShape<Desc>,
): void {
  sendResponse(res, 200, encodeGatewayJson(schema, message), "application/json", [
    ["Grpc-Metadata-Content-Type", "application/grpc"],
  ]);
}

/**
 * Creates the REST handler of a mock PoET, for `http` and `http2` servers alike.
 *
 * @example
 * ```ts
 * const rest = createRestGateway({ handlers, faults });
 * http.createServer((req, res) => void rest(req, res));
 * ```
 */
export function createRestGateway(options: {
  handlers: MockPoetHandlers;
  faults: MockPoetFaults;
}): (req: NodeServerRequest, res: NodeServerResponse) => Promise<void> {
  const { handlers, faults } = options;
  return async (req, res) => {
    try {
      const path = (req.url ?? "/").split("?")[0] ?? "/";
      const found = match(path);
      const body = await readRequestBody(req, MAX_REQUEST_BYTES);
      // The request's end, as a signal, only for a request that waits (a hang or a delay): a
      // controller and an abort per request were a fifth of the mock's work under load.
      await faults.beforeRequest(() => {
        const gone = new AbortController();
        if (res.destroyed) gone.abort();
        (res as { once(event: "close", listener: () => void): unknown }).once("close", () =>
          gone.abort(),
        );
        return gone.signal;
      });
      if (found === undefined) throw new ConnectError("Not Found", Code.NotFound);
      if (req.method !== found.method) {
        throw new ConnectError("Method Not Allowed", Code.Unimplemented);
      }
      switch (found.route) {
        case "info":
          return sendMessage(res, InfoResponseSchema, handlers.info());
        case "powParams":
          return sendMessage(res, PowParamsResponseSchema, handlers.powParams());
        case "proof":
          return sendMessage(
            res,
            ProofResponseSchema,
            handlers.proof(create(ProofRequestSchema, { roundId: found.roundId ?? "" })),
          );
        case "submit": {
          const request = decodeGatewayJson(SubmitRequestSchema, body);
          return sendMessage(res, SubmitResponseSchema, handlers.submit(request));
        }
      }
    } catch (error) {
      if (error instanceof RequestBodyTooLarge) {
        return sendError(
          res,
          new ConnectError(
            `grpc: received message larger than max (${error.size} vs. ${MAX_REQUEST_BYTES})`,
            Code.ResourceExhausted,
          ),
        );
      }
      sendError(res, error);
    }
  };
}
