/**
 * Raw responders that replay captured PoET exchanges byte for byte: an HTTP/1.1 one on a plain
 * TCP server (status line, headers in their recorded order and case, body) and an HTTP/2 one for
 * gRPC (headers, one length-prefixed message, trailers — or trailers-only errors).
 */
import * as http2 from "node:http2";
import * as net from "node:net";
import type { GrpcExchange, HttpExchange } from "./client-fixtures.js";

export interface ReceivedRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: string;
}

export interface HttpReplayer {
  url: string;
  /** The exchange whose response the next request gets. */
  serve(exchange: HttpExchange): void;
  /** Requests received so far. */
  received: ReceivedRequest[];
  close(): Promise<void>;
}

function parseHead(head: string): Omit<ReceivedRequest, "body"> {
  const [requestLine = "", ...lines] = head.split("\r\n");
  const [method = "", path = ""] = requestLine.split(" ");
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(":");
    if (colon > 0)
      headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { method, path, headers };
}

export async function startHttpReplayer(): Promise<HttpReplayer> {
  let next: HttpExchange | undefined;
  const received: ReceivedRequest[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    let buffer = Buffer.alloc(0);
    socket.on("data", (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      const end = buffer.indexOf("\r\n\r\n");
      if (end < 0) return;
      const head = parseHead(buffer.subarray(0, end).toString("latin1"));
      const length = Number(head.headers["content-length"] ?? 0);
      if (buffer.length < end + 4 + length) return;
      const body = buffer.subarray(end + 4, end + 4 + length).toString("utf8");
      buffer = buffer.subarray(end + 4 + length);
      received.push({ ...head, body });
      const exchange = next;
      if (exchange === undefined) {
        socket.end("HTTP/1.1 500 No Exchange\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        return;
      }
      const { response } = exchange;
      const lines = [`HTTP/1.1 ${response.status} ${response.status_text}`];
      for (const [name, value] of response.headers) lines.push(`${name}: ${value}`);
      socket.end(`${lines.join("\r\n")}\r\n\r\n${response.body}`);
    });
    socket.on("error", () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    serve(exchange) {
      next = exchange;
    },
    received,
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

export interface GrpcReplayer {
  url: string;
  serve(exchange: GrpcExchange): void;
  /** Paths and request bodies (hex, with the 5-byte frame prefix) received so far. */
  received: { path: string; bodyHex: string }[];
  close(): Promise<void>;
}

export async function startGrpcReplayer(): Promise<GrpcReplayer> {
  let next: GrpcExchange | undefined;
  const received: { path: string; bodyHex: string }[] = [];
  const sessions = new Set<http2.ServerHttp2Session>();
  const server = http2.createServer();
  server.on("session", (session) => {
    sessions.add(session);
    session.on("close", () => sessions.delete(session));
  });
  server.on("stream", (stream, headers) => {
    const chunks: Buffer[] = [];
    stream.on("data", (c: Buffer) => chunks.push(c));
    stream.on("end", () => {
      received.push({
        path: String(headers[":path"]),
        bodyHex: Buffer.concat(chunks).toString("hex"),
      });
      const exchange = next;
      if (exchange === undefined) {
        stream.respond({ ":status": 500 }, { endStream: true });
        return;
      }
      const { response } = exchange;
      if (response.trailers_only) {
        stream.respond(response.headers as http2.OutgoingHttpHeaders, { endStream: true });
        return;
      }
      stream.respond(response.headers as http2.OutgoingHttpHeaders, { waitForTrailers: true });
      stream.on("wantTrailers", () => stream.sendTrailers(response.trailers ?? {}));
      stream.end(
        Buffer.from(`${response.frame_prefix_hex ?? ""}${response.message_hex ?? ""}`, "hex"),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    serve(exchange) {
      next = exchange;
    },
    received,
    async close() {
      for (const session of sessions) session.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
