/**
 * @module errors
 *
 * Every failure the library reports is a {@link PoetError}: one base class with a stable
 * string `code` a caller can branch on and the underlying `cause`, plus a few subclasses for the
 * cases a caller acts on differently (retry an RPC, give up on a PoET, wait for a proof, reject a
 * proof, repair state, fix configuration). `instanceof` works across duplicate installs of the
 * package because each class checks a registry-wide brand instead of its prototype chain.
 */

/** Stable codes carried by {@link PoetError.code}. */
export type PoetErrorCode =
  | "malformed"
  | "rpc"
  | "registration-rejected"
  | "proof-not-ready"
  | "proof-verification"
  | "storage"
  | "config"
  | "aborted"
  | "timeout"
  | "registration-window-missed"
  | "internal";

const brand = Symbol.for("spacemesh-poet-client.error");

/** Options shared by every error constructor. */
export interface PoetErrorOptions {
  cause?: unknown;
}

/**
 * The base of every error this library throws or rejects with.
 *
 * @example
 * ```ts
 * try {
 *   await client.submit(request, { signal });
 * } catch (err) {
 *   if (err instanceof PoetError && err.code === "rpc") console.warn(err.message);
 * }
 * ```
 */
export class PoetError extends Error {
  /** A stable machine-readable code. */
  readonly code: PoetErrorCode;
  readonly [brand] = true;

  constructor(code: PoetErrorCode, message: string, options: PoetErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.name = "PoetError";
  }

  static override [Symbol.hasInstance](value: unknown): boolean {
    if (typeof value !== "object" || value === null || !(brand in value)) return false;
    // `instanceof` runs this on the class named on its right-hand side; that class decides.
    // biome-ignore lint/complexity/noThisInStatic: the receiver is the class being tested against
    const target = this as unknown as { name: string };
    if (target === (PoetError as unknown)) return true;
    // Subclasses keep their own identity: compare by name along the prototype chain.
    let proto = Object.getPrototypeOf(value) as { constructor?: { name?: string } } | null;
    while (proto !== null) {
      if (proto.constructor?.name === target.name) return true;
      proto = Object.getPrototypeOf(proto) as typeof proto;
    }
    return false;
  }
}

/**
 * Bytes that do not decode: a SCALE value, a JSON body, a stored column. `field` names the
 * place that was wrong (for example `PoetProof.proof.proofNodes[12]`).
 */
export class WireFormatError extends PoetError {
  readonly field: string;
  constructor(field: string, message: string, options: PoetErrorOptions = {}) {
    super("malformed", `${field}: ${message}`, options);
    this.name = "WireFormatError";
    this.field = field;
  }
}

/** What a {@link PoetRpcError} is about, for the cases a caller acts on. */
export type PoetRpcErrorKind =
  | "invalid-request"
  | "unauthorized"
  | "too-late"
  | "conflicting-registration"
  | "round-full"
  | "proof-not-found"
  | "not-found"
  | "unimplemented"
  | "server-error"
  | "unavailable"
  | "rate-limited"
  | "response-too-large"
  | "bad-response"
  | "wrong-protocol"
  | "network"
  | "timeout"
  | "unknown";

/** Details of a failed call to a PoET or certifier. */
export interface PoetRpcErrorInit extends PoetErrorOptions {
  /** The server's base URL. */
  server: string;
  /** The method or path that failed. */
  method: string;
  kind: PoetRpcErrorKind;
  /** gRPC status code, when the server sent one. */
  grpcCode?: number;
  /** HTTP status, when there was an HTTP response. */
  httpStatus?: number;
  /** Whether trying the same call again later may succeed. */
  retriable: boolean;
  /** A server-requested wait before retrying, in milliseconds. */
  retryAfterMs?: number;
}

/**
 * A call to a PoET (or certifier) failed: the network, the server, or its answer.
 *
 * @example
 * ```ts
 * try {
 *   await client.proof("30", { signal });
 * } catch (err) {
 *   if (err instanceof PoetRpcError && err.retriable) scheduleRetry(err.retryAfterMs);
 * }
 * ```
 */
export class PoetRpcError extends PoetError {
  readonly server: string;
  readonly method: string;
  readonly kind: PoetRpcErrorKind;
  readonly grpcCode: number | undefined;
  readonly httpStatus: number | undefined;
  readonly retriable: boolean;
  readonly retryAfterMs: number | undefined;

  constructor(message: string, init: PoetRpcErrorInit) {
    super("rpc", `${init.server} ${init.method}: ${message}`, init);
    this.name = "PoetRpcError";
    this.server = init.server;
    this.method = init.method;
    this.kind = init.kind;
    this.grpcCode = init.grpcCode;
    this.httpStatus = init.httpStatus;
    this.retriable = init.retriable;
    this.retryAfterMs = init.retryAfterMs;
  }
}

/** Why a PoET refused a registration for good (retrying the same request will not help). */
export type RegistrationRejectedReason =
  | "invalid-request"
  | "unauthorized"
  | "too-late"
  | "conflicting-registration"
  | "round-full"
  | "phase-mismatch"
  | "wrong-service-key";

/** A PoET refused a registration, and the same request will not succeed later. */
export class RegistrationRejectedError extends PoetError {
  readonly reason: RegistrationRejectedReason;
  readonly server: string;
  constructor(
    server: string,
    reason: RegistrationRejectedReason,
    message: string,
    options: PoetErrorOptions = {},
  ) {
    super("registration-rejected", `${server}: ${message}`, options);
    this.name = "RegistrationRejectedError";
    this.reason = reason;
    this.server = server;
  }
}

/** The proof of a round is not (yet) available: 404 "proof not found". */
export class ProofNotReadyError extends PoetError {
  readonly server: string;
  readonly roundId: string;
  constructor(server: string, roundId: string, options: PoetErrorOptions = {}) {
    super("proof-not-ready", `${server}: proof of round ${roundId} is not available yet`, options);
    this.name = "ProofNotReadyError";
    this.server = server;
    this.roundId = roundId;
  }
}

/** Why a proof was rejected. */
export type ProofVerificationReason =
  | "malformed"
  | "empty-proof"
  | "wrong-leaf-count"
  | "too-few-leaves"
  | "merkle-root-mismatch"
  | "snapshot-count-mismatch"
  | "label-mismatch"
  | "missing-member"
  | "bad-members";

/**
 * A PoET proof failed verification. `reason` says which check failed; the message says where.
 *
 * @example
 * ```ts
 * try {
 *   verifyPoetProofSync(proof, statement);
 * } catch (err) {
 *   if (err instanceof ProofVerificationError) console.log(err.reason);
 * }
 * ```
 */
export class ProofVerificationError extends PoetError {
  readonly reason: ProofVerificationReason;
  constructor(reason: ProofVerificationReason, message: string, options: PoetErrorOptions = {}) {
    super("proof-verification", message, options);
    this.name = "ProofVerificationError";
    this.reason = reason;
  }
}

/** Where in the node state a {@link StorageError} was found. */
export interface StorageErrorInit extends PoetErrorOptions {
  table?: string;
  column?: string;
  /** Hex of the identity (node id) the row belongs to. */
  identity?: string;
  kind:
    | "duplicate"
    | "missing"
    | "corrupt"
    | "schema-too-new"
    | "migration-failed"
    | "closed"
    | "readonly"
    | "io";
}

/** The node state database refused an operation or holds a value that does not decode. */
export class StorageError extends PoetError {
  readonly kind: StorageErrorInit["kind"];
  readonly table: string | undefined;
  readonly column: string | undefined;
  readonly identity: string | undefined;
  constructor(message: string, init: StorageErrorInit) {
    const where = [init.table, init.column].filter(Boolean).join(".");
    const who = init.identity === undefined ? "" : ` (identity ${init.identity})`;
    super("storage", where ? `${where}${who}: ${message}` : `${message}${who}`, init);
    this.name = "StorageError";
    this.kind = init.kind;
    this.table = init.table;
    this.column = init.column;
    this.identity = init.identity;
  }
}

/** Configuration or caller input that cannot work. `setting` names what was wrong. */
export class ConfigError extends PoetError {
  readonly setting: string;
  constructor(setting: string, message: string, options: PoetErrorOptions = {}) {
    super("config", `${setting}: ${message}`, options);
    this.name = "ConfigError";
    this.setting = setting;
  }
}

/** An operation was aborted through its `AbortSignal`. */
export class AbortedError extends PoetError {
  constructor(message = "the operation was aborted", options: PoetErrorOptions = {}) {
    super("aborted", message, options);
    this.name = "AbortedError";
  }
}

/**
 * The {@link AbortedError} of an aborted `signal`, with the signal's reason as its `cause`; a
 * reason that is itself an `AbortedError` is returned as it is (internal timers stopped after
 * every call would otherwise build one error with a stack trace per call).
 *
 * @example
 * ```ts
 * signal.addEventListener("abort", () => reject(abortedError(signal)), { once: true });
 * ```
 */
export function abortedError(signal: AbortSignal): AbortedError {
  if (signal.reason instanceof AbortedError) return signal.reason;
  return new AbortedError(undefined, { cause: signal.reason });
}

/** Throws {@link AbortedError} when `signal` is aborted. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw abortedError(signal);
}
