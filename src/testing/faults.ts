/**
 * @module testing/faults
 *
 * Failures a test can switch on and off while a mock PoET runs, covering what a node meets in the
 * field (docs/node-client.md §4, §7; docs/protocol.md §1.4, §3.2): the server down, hanging or slow,
 * bursts of 5xx, rate limiting with `Retry-After`, a proof under a different service key, a proof
 * that does not verify, a proof whose members lack a challenge, an oversize response, an empty
 * (`leaves = 0`) proof.
 *
 * Request-level faults are decided once per request, before the service runs, by
 * {@link MockPoetFaults.beforeRequest}; the REST gateway and the gRPC/Connect interceptor both call
 * it, so every protocol sees the same failure expressed in its own way (an HTTP status and a
 * `google.rpc.Status` body, or a gRPC status). Proof-level faults change what the service returns.
 * Delays sleep on a {@link Clock}, so a test with a `ManualClock` releases a slow response by
 * advancing the clock instead of waiting.
 */
import { Code, ConnectError } from "@connectrpc/connect";
import { toHex } from "../bytes.js";
import type { Clock } from "../clock.js";

/** Statuses a 5xx burst can use. */
export type FaultStatus = 500 | 502 | 503 | 504;

const STATUS_CODES: Record<FaultStatus, [Code, string]> = {
  500: [Code.Internal, "internal error"],
  502: [Code.Unavailable, "bad gateway"],
  503: [Code.Unavailable, "service unavailable"],
  504: [Code.DeadlineExceeded, "gateway timeout"],
};

/** Metadata key that carries the rate limit's `Retry-After` (seconds) on every protocol. */
export const RETRY_AFTER = "retry-after";

/** The HTTP status a fault asked for, when `error` came from a fault. */
export function faultHttpStatus(error: ConnectError): number | undefined {
  const status = (error as Partial<FaultError>).httpStatus;
  return typeof status === "number" ? status : undefined;
}

/**
 * The error a request-level fault produces, with the HTTP status the REST gateway should use.
 * (`instanceof` cannot tell it apart from other `ConnectError`s, whose check is structural; use
 * `faultHttpStatus`.)
 */
export class FaultError extends ConnectError {
  readonly httpStatus: number;
  constructor(message: string, code: Code, httpStatus: number, retryAfterSeconds?: number) {
    super(
      message,
      code,
      retryAfterSeconds === undefined ? undefined : { [RETRY_AFTER]: String(retryAfterSeconds) },
    );
    this.httpStatus = httpStatus;
  }
}

/**
 * The switches of one mock PoET. Read {@link MockPoetFaults.clear} to reset all of them.
 *
 * @example
 * ```ts
 * mock.faults.failNext(3);            // the next three requests get 503
 * mock.faults.rateLimitNext(1, 2000); // then one 429 with Retry-After: 2
 * mock.faults.invalidProof = true;    // proofs stop verifying
 * await mock.faults.down();           // connection refused …
 * await mock.faults.up();             // … and back on the same port
 * ```
 */
export class MockPoetFaults {
  /** Requests are accepted and never answered (until this is switched off or the mock stops). */
  #hang = false;
  /** Each response is delayed by this many ms of {@link delayClock}. */
  delayMs = 0;
  /** The clock delays sleep on (the mock's clock unless replaced). */
  delayClock: Clock;
  /** Proofs carry a service key other than the one `/v1/info` advertises. */
  wrongServiceKey = false;
  /** Proofs are served with one proven leaf flipped, so that verification fails. */
  invalidProof = false;
  /** Proofs are served empty (`leaves = 0`, no Merkle proof), as a registration-only PoET does. */
  emptyProof = false;
  /** When above zero, proof responses are padded with extra members to exceed this many bytes. */
  oversizeBytes = 0;

  readonly #failures: { code: Code; status: number; message: string; retryAfter?: number }[] = [];
  readonly #omitted = new Set<string>();
  #hangWaiters: (() => void)[] = [];
  readonly #listener: { down(): Promise<void>; up(): Promise<void> };
  readonly #stopped: AbortSignal;

  constructor(options: {
    clock: Clock;
    listener: { down(): Promise<void>; up(): Promise<void> };
    stopped: AbortSignal;
  }) {
    this.delayClock = options.clock;
    this.#listener = options.listener;
    this.#stopped = options.stopped;
  }

  /** Whether requests hang. Switching it off releases the requests already hanging. */
  get hang(): boolean {
    return this.#hang;
  }

  /** How many requests are being held by {@link hang} right now. */
  get hanging(): number {
    return this.#hangWaiters.length;
  }

  set hang(value: boolean) {
    this.#hang = value;
    if (!value) this.#release();
  }

  /** The next `count` requests fail with `status` (default 503). */
  failNext(count: number, status: FaultStatus = 503): void {
    const [code, message] = STATUS_CODES[status];
    for (let i = 0; i < count; i++) this.#failures.push({ code, status, message });
  }

  /** The next `count` requests get 429 with `Retry-After` (whole seconds, rounded up). */
  rateLimitNext(count: number, retryAfterMs = 1000): void {
    const retryAfter = Math.max(0, Math.ceil(retryAfterMs / 1000));
    for (let i = 0; i < count; i++) {
      this.#failures.push({
        code: Code.ResourceExhausted,
        status: 429,
        message: "too many requests",
        retryAfter,
      });
    }
  }

  /** Rounds that close from now on leave out this challenge, so the proof lacks it. */
  omitChallenge(challenge: Uint8Array): void {
    this.#omitted.add(toHex(challenge));
  }

  /** The omitted challenges, hex-encoded. */
  get omitted(): ReadonlySet<string> {
    return this.#omitted;
  }

  /** Closes the listener and every connection: clients get "connection refused". */
  down(): Promise<void> {
    return this.#listener.down();
  }

  /** Listens again on the same port. */
  up(): Promise<void> {
    return this.#listener.up();
  }

  /** Switches every fault off (the listener's state is left as it is). */
  clear(): void {
    this.hang = false;
    this.delayMs = 0;
    this.wrongServiceKey = false;
    this.invalidProof = false;
    this.emptyProof = false;
    this.oversizeBytes = 0;
    this.#failures.length = 0;
    this.#omitted.clear();
  }

  /**
   * Applies the request-level faults to one request: hangs, delays, or throws a {@link FaultError}.
   * Resolves when the request may proceed. `signal` (the request's end), or a function that makes
   * it, is only needed, and made, when the request has to wait.
   */
  async beforeRequest(signal?: AbortSignal | (() => AbortSignal)): Promise<void> {
    if (this.#hang || this.delayMs > 0) {
      const given = typeof signal === "function" ? signal() : signal;
      const signals = given ? AbortSignal.any([given, this.#stopped]) : this.#stopped;
      if (this.#hang) await this.#waitForRelease(signals);
      if (this.delayMs > 0) await this.delayClock.sleep(this.delayMs, { signal: signals });
    }
    const failure = this.#failures.shift();
    if (failure !== undefined) {
      throw new FaultError(failure.message, failure.code, failure.status, failure.retryAfter);
    }
  }

  #waitForRelease(signal: AbortSignal): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (signal.aborted) {
        reject(new ConnectError("server stopped", Code.Unavailable));
        return;
      }
      const wake = () => {
        signal.removeEventListener("abort", onAbort);
        resolve();
      };
      const onAbort = () => {
        this.#hangWaiters = this.#hangWaiters.filter((w) => w !== wake);
        reject(new ConnectError("server stopped", Code.Unavailable));
      };
      signal.addEventListener("abort", onAbort, { once: true });
      this.#hangWaiters.push(wake);
    });
  }

  #release(): void {
    const waiters = this.#hangWaiters;
    this.#hangWaiters = [];
    for (const wake of waiters) wake();
  }
}
