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
  | "deadline-passed"
  | "no-proof"
  | "registration-window-missed"
  | "lease-lost"
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
  /**
   * The same call may succeed if made again a little later: the database was unreachable or
   * restarting, a connection broke, or the server aborted the transaction to break a deadlock
   * or a serialization conflict. Default `false`.
   */
  retriable?: boolean | undefined;
}

/** The node state database refused an operation or holds a value that does not decode. */
export class StorageError extends PoetError {
  readonly kind: StorageErrorInit["kind"];
  readonly table: string | undefined;
  readonly column: string | undefined;
  readonly identity: string | undefined;
  /**
   * Whether the same call may succeed if made again a little later: the database was
   * unreachable or restarting, a connection broke, or the server aborted the transaction to break
   * a deadlock or a serialization conflict.
   */
  readonly retriable: boolean;
  constructor(message: string, init: StorageErrorInit) {
    const where = [init.table, init.column].filter(Boolean).join(".");
    const who = init.identity === undefined ? "" : ` (identity ${init.identity})`;
    super("storage", where ? `${where}${who}: ${message}` : `${message}${who}`, init);
    this.name = "StorageError";
    this.kind = init.kind;
    this.table = init.table;
    this.column = init.column;
    this.identity = init.identity;
    this.retriable = init.retriable === true;
  }
}

/**
 * Whether `err` is a failure of the node state's store that the same call may not meet a little
 * later (a broken connection, a PostgreSQL restart or failover, a deadlock, a busy SQLite file):
 * what the library pauses for and tries again, by its one retry policy (`src/retry-policy.ts`).
 *
 * @example
 * ```ts
 * try { await state.nipost.add(nodeId, row, { signal }); }
 * catch (err) { if (!isRetriableStoreFailure(err)) throw err; await pauseAndTryAgain(); }
 * ```
 */
export function isRetriableStoreFailure(err: unknown): err is StorageError {
  return err instanceof StorageError && err.retriable;
}

/**
 * What happened to an identity's lease (see `storage/lease-repository.ts`):
 *
 * - `"held-elsewhere"`: another live holder has it; it was never ours;
 * - `"taken-over"`: the row names another holder or a newer token: someone took it after ours
 *   expired (or an operator forced it);
 * - `"released"`: the row is gone or released: nobody holds it, and we no longer do;
 * - `"expired"`: no renewal could be written before our own expiry, so we stopped at that instant
 *   without waiting for the database (self-fencing).
 */
export type LeaseLostReason = "held-elsewhere" | "taken-over" | "released" | "expired";

const LEASE_LOST_PHRASES: Record<LeaseLostReason, string> = {
  "held-elsewhere": "was not granted: another holder has it",
  "taken-over": "was taken over",
  released: "was released",
  expired: "expired before a renewal could be written",
};

/** Who holds an identity's lease now, as a {@link LeaseLostError} reports it. */
export interface LeaseHolderInfo {
  holder: string;
  token: bigint;
  expiresAt: Date;
}

/**
 * The lease on an identity is not (or no longer) ours: a write for it was refused, a renewal
 * failed, or our lease ran out. Nothing was written for the identity by the failing call, and its
 * worker must stop working on it at once (docs/operator-guide.md, "One worker per identity").
 *
 * @example
 * ```ts
 * try {
 *   await manager.buildNiPost(request, { signal });
 * } catch (err) {
 *   if (err instanceof LeaseLostError) console.warn(`${err.reason}; now held by ${err.current?.holder}`);
 * }
 * ```
 */
export class LeaseLostError extends PoetError {
  /** The identity (32 bytes). */
  readonly nodeId: Uint8Array;
  /** The holder that does not (or no longer) hold it: us. */
  readonly holder: string;
  /** Our fencing token (0 when we never held it). */
  readonly token: bigint;
  readonly reason: LeaseLostReason;
  /** The live lease of whoever holds it now, when known. */
  readonly current: LeaseHolderInfo | undefined;
  constructor(
    init: {
      nodeId: Uint8Array;
      holder: string;
      token: bigint;
      reason: LeaseLostReason;
      current?: LeaseHolderInfo | undefined;
    },
    options: PoetErrorOptions = {},
  ) {
    const id = Array.from(init.nodeId, (b) => b.toString(16).padStart(2, "0")).join("");
    const now =
      init.current === undefined
        ? ""
        : `; held by ${init.current.holder} (token ${init.current.token}) until ${init.current.expiresAt.toISOString()}`;
    super(
      "lease-lost",
      `identity ${id}: the lease of ${init.holder} (token ${init.token}) ${LEASE_LOST_PHRASES[init.reason]}${now}`,
      options,
    );
    this.name = "LeaseLostError";
    this.nodeId = init.nodeId;
    this.holder = init.holder;
    this.token = init.token;
    this.reason = init.reason;
    this.current = init.current;
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
