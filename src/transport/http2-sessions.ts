/**
 * @module transport/http2-sessions
 *
 * The HTTP/2 sessions of a gRPC transport (and of Connect over HTTP/2), each with an `'error'`
 * listener for its whole life.
 *
 * Why this exists: `@connectrpc/connect-node`'s `Http2SessionManager` listens for a session's
 * `'error'` only while the session is its current one, and removes the listener when it moves on
 * (a failed call, `abort()`). Node emits a session's `'error'` when the session's socket closes,
 * which can come after the calls on it have already failed. Pointed at a server that answers in
 * HTTP/1.1 (a PoET's REST gateway, a web server), the call fails with a protocol error, `close()`
 * detaches the manager's listener, and the session's own `ERR_HTTP2_ERROR` then arrives with no
 * listener: Node throws "Unhandled 'error' event" and the process exits. Here every session the
 * manager hands a stream on gets a listener of ours as soon as we see it, never removed; the error
 * itself still reaches each call through its stream, so nothing is lost by swallowing it here.
 *
 * Keep-alive pings stay off (the manager's default): the PoET's gRPC server disconnects a client
 * that pings more often than every five minutes (docs/protocol.md §1.5).
 */
import type * as http2 from "node:http2";
import { Http2SessionManager } from "@connectrpc/connect-node";

/**
 * A session manager for `createGrpcTransport`/`createConnectTransport` that never leaves a session
 * without an `'error'` listener, and whose {@link GuardedHttp2Sessions.close} ends every session.
 *
 * @example
 * ```ts
 * const sessions = new GuardedHttp2Sessions("http://127.0.0.1:50002");
 * const transport = createGrpcTransport({ baseUrl, sessionManager: sessions });
 * // … calls …
 * sessions.close();
 * ```
 */
export class GuardedHttp2Sessions {
  readonly authority: string;
  readonly #manager: Http2SessionManager;
  readonly #sessions = new Set<http2.Http2Session>();

  constructor(baseUrl: string) {
    this.#manager = new Http2SessionManager(baseUrl);
    this.authority = this.#manager.authority;
  }

  /** Opens a stream, on a new session if needed, and guards that session. */
  async request(
    method: string,
    path: string,
    headers: http2.OutgoingHttpHeaders,
    options: Omit<http2.ClientSessionRequestOptions, "signal">,
  ): Promise<http2.ClientHttp2Stream> {
    const stream = await this.#manager.request(method, path, headers, options);
    // The stream was created synchronously on its session just before the manager resolved, so
    // no I/O event (and so no session error) can have come in between.
    this.#guard(stream.session);
    return stream;
  }

  /** Tells the manager that a stream is alive (keeps its idle bookkeeping right). */
  notifyResponseByteRead(stream: http2.ClientHttp2Stream): void {
    this.#manager.notifyResponseByteRead(stream);
  }

  /** Ends every session, current and shutting down; later requests open a new one. */
  close(): void {
    this.#manager.abort();
    for (const session of this.#sessions) {
      if (!session.destroyed) session.destroy();
    }
  }

  #guard(session: http2.Http2Session | undefined): void {
    if (session === undefined || this.#sessions.has(session)) return;
    this.#sessions.add(session);
    // Swallowed on purpose: each call on the session gets the failure through its own stream.
    session.on("error", () => {});
    session.once("close", () => this.#sessions.delete(session));
  }
}
