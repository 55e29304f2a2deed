/**
 * @module testing/single-port-server
 *
 * One TCP port on loopback that speaks HTTP/1.1 and HTTP/2 cleartext, so that a mock PoET serves
 * its REST gateway, Connect and gRPC on a single URL; or, to serve like the real server, only one
 * of the two (docs/protocol.md §1.5: the REST gateway is a Go HTTP/1.1 server, gRPC a separate
 * HTTP/2-only listener).
 *
 * With both versions, each new connection is peeked at: an HTTP/2 client with prior knowledge opens
 * with the preface `PRI * HTTP/2.0`, which no HTTP/1 request starts with, so the first three bytes
 * decide. The bytes are put back and the socket is handed to an `http2` or an `http` server that
 * never listens itself. With one version, every connection goes to that server, and a client of
 * the other version meets what it would meet at the real server: an HTTP/1.1-only port answers the
 * HTTP/2 preface with an HTTP/1.1 400 and closes; an HTTP/2-only port answers HTTP/1.1 with its
 * own SETTINGS frame (grpc-go, too, writes its SETTINGS before it reads the client's preface, then
 * closes), which no HTTP/1.1 parser accepts.
 *
 * Every socket and HTTP/2 session is tracked, so that {@link SinglePortServer.close} (and
 * {@link SinglePortServer.down}) end all of them at once — idle keep-alive connections and gRPC
 * sessions included — and a test process never hangs on a server that is still "in use".
 */
import * as http from "node:http";
import * as http2 from "node:http2";
import * as net from "node:net";

/** A request from either HTTP version. */
export type NodeServerRequest = http.IncomingMessage | http2.Http2ServerRequest;
/** A response for either HTTP version. */
export type NodeServerResponse = http.ServerResponse | http2.Http2ServerResponse;
/** A request handler for both HTTP versions. */
export type DualHandler = (req: NodeServerRequest, res: NodeServerResponse) => void;

const PREFACE_HEAD = Buffer.from("PRI");

/** Which HTTP versions a {@link SinglePortServer} speaks. */
export type HttpVersions = "1.1+2" | "1.1" | "2";

/** What an HTTP/1.1-only server answers to the HTTP/2 preface. */
const HTTP2_PREFACE_ANSWER =
  "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n400 Bad Request";

/**
 * Answers with `status` and the whole of `body`: `Content-Type`, then `headers` in order, then
 * `Content-Length`. Does nothing once the response has started or the connection is gone.
 *
 * @example
 * ```ts
 * sendResponse(res, 200, JSON.stringify(body), "application/json", [["Retry-After", "1"]]);
 * ```
 */
export function sendResponse(
  res: NodeServerResponse,
  status: number,
  body: string,
  contentType: string,
  headers: readonly (readonly [string, string])[] = [],
): void {
  if (res.headersSent || res.destroyed) return;
  const out = res as NodeServerResponse & {
    setHeader(name: string, value: string): void;
    end(body: string): void;
  };
  out.statusCode = status;
  out.setHeader("Content-Type", contentType);
  for (const [name, value] of headers) out.setHeader(name, value);
  out.setHeader("Content-Length", String(Buffer.byteLength(body)));
  out.end(body);
}

/**
 * A loopback listener that dispatches HTTP/1.1 and HTTP/2 (h2c, prior knowledge) to one handler.
 *
 * @example
 * ```ts
 * const server = new SinglePortServer((req, res) => res.end("ok"));
 * const port = await server.listen();
 * await server.close();
 * ```
 */
export class SinglePortServer {
  readonly host: string;
  #port: number;
  #listener: net.Server | undefined;
  readonly #http1: http.Server;
  readonly #http2: http2.Http2Server;
  readonly #sockets = new Set<net.Socket>();
  readonly #sessions = new Set<http2.ServerHttp2Session>();
  readonly #versions: HttpVersions;

  constructor(
    handler: DualHandler,
    options: { host?: string; port?: number; versions?: HttpVersions } = {},
  ) {
    this.host = options.host ?? "127.0.0.1";
    this.#port = options.port ?? 0;
    this.#versions = options.versions ?? "1.1+2";
    this.#http1 = http.createServer(handler as http.RequestListener);
    this.#http1.keepAliveTimeout = 5_000;
    if (this.#versions === "1.1") {
      this.#http1.on("clientError", (err: NodeJS.ErrnoException, socket: net.Socket) => {
        if (!socket.writable) socket.destroy();
        else if (err.code === "HPE_PAUSED_H2_UPGRADE") socket.end(HTTP2_PREFACE_ANSWER);
        else socket.end("HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n");
      });
    }
    this.#http2 = http2.createServer(handler as (req: unknown, res: unknown) => void);
    this.#http2.on("session", (session: http2.ServerHttp2Session) => {
      this.#sessions.add(session);
      session.once("close", () => this.#sessions.delete(session));
    });
    this.#http2.on("sessionError", () => {});
  }

  /** The HTTP versions this port speaks. */
  get versions(): HttpVersions {
    return this.#versions;
  }

  /** The bound port (0 until the first {@link listen}). */
  get port(): number {
    return this.#port;
  }

  /** Whether the listener is accepting connections. */
  get listening(): boolean {
    return this.#listener !== undefined;
  }

  /** Starts listening (on the port of the previous run, if any); resolves with the port. */
  async listen(): Promise<number> {
    if (this.#listener !== undefined) return this.#port;
    const listener = net.createServer((socket) => this.#accept(socket));
    await new Promise<void>((resolve, reject) => {
      listener.once("error", reject);
      listener.listen(this.#port, this.host, () => {
        listener.off("error", reject);
        resolve();
      });
    });
    this.#listener = listener;
    this.#port = (listener.address() as net.AddressInfo).port;
    return this.#port;
  }

  /** Stops listening and ends every connection; {@link listen} brings it back on the same port. */
  async down(): Promise<void> {
    const listener = this.#listener;
    this.#listener = undefined;
    const closed = listener
      ? new Promise<void>((resolve) => listener.close(() => resolve()))
      : Promise.resolve();
    for (const session of this.#sessions) session.destroy();
    for (const socket of this.#sockets) socket.destroy();
    this.#http1.closeAllConnections();
    await closed;
  }

  /** Same as {@link down}; the server can still be listened on again. */
  close(): Promise<void> {
    return this.down();
  }

  #accept(socket: net.Socket): void {
    this.#sockets.add(socket);
    socket.once("close", () => this.#sockets.delete(socket));
    socket.on("error", () => socket.destroy());
    if (this.#versions !== "1.1+2") {
      (this.#versions === "2" ? this.#http2 : this.#http1).emit("connection", socket);
      return;
    }
    let head = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      head = Buffer.concat([head, chunk]);
      if (head.length < PREFACE_HEAD.length && head.equals(PREFACE_HEAD.subarray(0, head.length))) {
        return;
      }
      socket.off("data", onData);
      socket.pause();
      socket.unshift(head);
      const target = head.subarray(0, PREFACE_HEAD.length).equals(PREFACE_HEAD)
        ? this.#http2
        : this.#http1;
      target.emit("connection", socket);
      process.nextTick(() => socket.resume());
    };
    socket.on("data", onData);
  }
}
