/**
 * @module transport/rpc-failure
 *
 * One place that decides what a failed PoET call means, whichever protocol carried it
 * (docs/protocol.md §1.4; docs/node-client.md §2.1–§2.2). A REST answer brings an HTTP status and
 * a `google.rpc.Status` body with the gRPC code; a gRPC or Connect answer brings the gRPC code
 * alone. Both are reduced to a {@link PoetRpcErrorKind} and a `retriable` flag:
 *
 * - 400 InvalidArgument → `invalid-request`; 400 FailedPrecondition ("too late to register for the
 *   desired round") → `too-late`; 401 Unauthenticated → `unauthorized` (the certificate was
 *   refused: re-certify or fall back to PoW); 409 AlreadyExists → `conflicting-registration`.
 *   None of them is retried: the same request gets the same answer.
 * - 404 NotFound is `proof-not-found` only with the message "proof not found"; the gateway answers
 *   an unknown path with 404 "Not Found", which means a wrong URL, not a proof still in the works.
 * - 429 ResourceExhausted is `round-full` ("maximum number of round members reached"),
 *   `response-too-large` (the gateway's own message-size limit: a retry cannot help) or
 *   `rate-limited`; the first and last are retried, as the Go node does.
 * - 501 Unimplemented (the gateway's answer to a wrong HTTP method) is final; every other 5xx is
 *   retried, as are network failures and per-attempt timeouts.
 *
 * Whether the other end speaks the protocol at all (a gRPC call answered in HTTP/1.1, a REST call
 * answered by a gRPC port) is decided before this, in `protocol-mismatch.ts`: such an answer
 * carries no status of the PoET's to classify.
 */
import type { PoetRpcErrorKind } from "../errors.js";

/** gRPC status codes used by the PoET and its gateway. */
export const GrpcStatus = {
  OK: 0,
  Canceled: 1,
  Unknown: 2,
  InvalidArgument: 3,
  DeadlineExceeded: 4,
  NotFound: 5,
  AlreadyExists: 6,
  PermissionDenied: 7,
  ResourceExhausted: 8,
  FailedPrecondition: 9,
  Aborted: 10,
  OutOfRange: 11,
  Unimplemented: 12,
  Internal: 13,
  Unavailable: 14,
  DataLoss: 15,
  Unauthenticated: 16,
} as const;

/** The message of a 404 that means "this round's proof is not (yet) available". */
export const PROOF_NOT_FOUND_MESSAGE = "proof not found";
/** The message of a registration refused because the round would end after the deadline. */
export const TOO_LATE_MESSAGE = "too late to register for the desired round";
/** The message of a registration refused because the round is full. */
export const ROUND_FULL_MESSAGE = "maximum number of round members reached";

/** What a failure means for the caller. */
export interface FailureClass {
  kind: PoetRpcErrorKind;
  retriable: boolean;
}

/** The gRPC code grpc-gateway maps to an HTTP status, for bodies that carry no code. */
export function grpcCodeFromHttpStatus(status: number): number {
  switch (status) {
    case 400:
      return GrpcStatus.InvalidArgument;
    case 401:
      return GrpcStatus.Unauthenticated;
    case 403:
      return GrpcStatus.PermissionDenied;
    case 404:
      return GrpcStatus.NotFound;
    case 409:
      return GrpcStatus.AlreadyExists;
    case 429:
      return GrpcStatus.ResourceExhausted;
    case 499:
      return GrpcStatus.Canceled;
    case 501:
      return GrpcStatus.Unimplemented;
    case 503:
      return GrpcStatus.Unavailable;
    case 504:
      return GrpcStatus.DeadlineExceeded;
    default:
      return status >= 500 ? GrpcStatus.Internal : GrpcStatus.Unknown;
  }
}

function looksTooLarge(message: string): boolean {
  return /larger than|too large|exceeds? .*(max|limit)|readMaxBytes/i.test(message);
}

/**
 * Classifies a failed call from its gRPC code, HTTP status (when there was one) and message.
 *
 * @example
 * ```ts
 * classifyFailure({ httpStatus: 404, grpcCode: 5, message: "proof not found" });
 * // { kind: "proof-not-found", retriable: false }
 * ```
 */
export function classifyFailure(failure: {
  grpcCode?: number | undefined;
  httpStatus?: number | undefined;
  message: string;
}): FailureClass {
  const { httpStatus, message } = failure;
  const code =
    failure.grpcCode ??
    (httpStatus === undefined ? GrpcStatus.Unknown : grpcCodeFromHttpStatus(httpStatus));
  const text = message.trim().toLowerCase();
  switch (code) {
    case GrpcStatus.InvalidArgument:
    case GrpcStatus.OutOfRange:
      return { kind: "invalid-request", retriable: false };
    case GrpcStatus.FailedPrecondition:
      return text.includes("too late")
        ? { kind: "too-late", retriable: false }
        : { kind: "invalid-request", retriable: false };
    case GrpcStatus.Unauthenticated:
    case GrpcStatus.PermissionDenied:
      return { kind: "unauthorized", retriable: false };
    case GrpcStatus.AlreadyExists:
      return { kind: "conflicting-registration", retriable: false };
    case GrpcStatus.NotFound:
      return text === PROOF_NOT_FOUND_MESSAGE
        ? { kind: "proof-not-found", retriable: false }
        : { kind: "not-found", retriable: false };
    case GrpcStatus.ResourceExhausted:
      if (text.includes(ROUND_FULL_MESSAGE)) return { kind: "round-full", retriable: true };
      if (looksTooLarge(message)) return { kind: "response-too-large", retriable: false };
      return { kind: "rate-limited", retriable: true };
    case GrpcStatus.Unimplemented:
      return { kind: "unimplemented", retriable: false };
    case GrpcStatus.Unavailable:
      return { kind: "unavailable", retriable: true };
    case GrpcStatus.DeadlineExceeded:
      return { kind: "timeout", retriable: true };
    case GrpcStatus.Internal:
    case GrpcStatus.Unknown:
    case GrpcStatus.Aborted:
    case GrpcStatus.DataLoss:
      if (httpStatus !== undefined && httpStatus < 500 && httpStatus !== 0) {
        return { kind: "unknown", retriable: false };
      }
      return { kind: "server-error", retriable: true };
    default:
      return { kind: "unknown", retriable: false };
  }
}
