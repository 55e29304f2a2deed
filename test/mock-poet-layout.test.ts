/**
 * The mock PoET's two layouts: everything on one port (the default), or the real server's — the
 * REST gateway (HTTP/1.1 only) and gRPC (HTTP/2 only) on separate ports and no Connect
 * (docs/protocol.md §1.5; test/fixtures/real-server).
 */
import assert from "node:assert/strict";
import * as http from "node:http";
import * as http2 from "node:http2";
import * as net from "node:net";
import { after, before, describe, it } from "node:test";
import { ConfigError } from "../src/errors.js";
import { ManualClock, type MockPoet, startMockPoet } from "../src/testing/index.js";

const GENESIS = Date.parse("2024-06-01T00:00:00Z");

/** Writes `bytes` on a fresh connection to `url` and collects what comes back until it closes. */
function rawExchange(url: string, bytes: string | Buffer): Promise<Buffer> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = net.connect(Number(port), hostname, () => socket.write(bytes));
    socket.on("data", (chunk: Buffer) => chunks.push(chunk));
    socket.on("error", reject);
    socket.on("close", () => resolve(Buffer.concat(chunks)));
  });
}

/** One gRPC call with an empty message; resolves with grpc-status and grpc-message. */
function grpcCall(url: string, path: string): Promise<{ status: string; message: string }> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(url);
    session.on("error", reject);
    const stream = session.request({
      ":method": "POST",
      ":path": path,
      "content-type": "application/grpc",
      te: "trailers",
    });
    let headers: http2.IncomingHttpHeaders = {};
    let trailers: http2.IncomingHttpHeaders = {};
    stream.on("response", (h) => {
      headers = h;
    });
    stream.on("trailers", (t) => {
      trailers = t;
    });
    stream.on("data", () => {});
    stream.on("error", reject);
    stream.on("end", () => {
      session.close();
      resolve({
        status: String(trailers["grpc-status"] ?? headers["grpc-status"] ?? ""),
        message: decodeURIComponent(
          String(trailers["grpc-message"] ?? headers["grpc-message"] ?? ""),
        ),
      });
    });
    stream.end(Buffer.alloc(5));
  });
}

/** One HTTP/1.1 request on its own connection; resolves with the status and the body. */
function http1(
  url: string,
  method: string,
  body?: string,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      {
        method,
        agent: false,
        headers: body === undefined ? {} : { "content-type": "application/json" },
      },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => {
          text += chunk;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text }));
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

const HTTP2_PREFACE = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

describe("the mock PoET's one-port layout (the default)", () => {
  it("serves REST, gRPC and Connect on one URL", async () => {
    await using poet = await startMockPoet({ clock: new ManualClock(GENESIS) });
    assert.equal(poet.layout, "one-port");
    assert.equal(poet.restUrl, poet.url);
    assert.equal(poet.grpcUrl, poet.url);
    assert.equal(poet.connectUrl, poet.url);
    for (const protocol of ["rest", "grpc", "connect"] as const) {
      assert.equal(poet.urlFor(protocol), poet.url);
    }
  });
});

describe("the mock PoET in the real server's layout", () => {
  let poet: MockPoet;
  before(async () => {
    poet = await startMockPoet({ layout: "real-server", clock: new ManualClock(GENESIS) });
  });
  after(() => poet.stop());

  it("has the REST gateway and gRPC on two ports and no Connect", () => {
    assert.equal(poet.layout, "real-server");
    assert.equal(poet.url, poet.restUrl);
    assert.notEqual(poet.restUrl, poet.grpcUrl);
    assert.equal(poet.connectUrl, undefined);
    assert.equal(poet.urlFor("rest"), poet.restUrl);
    assert.equal(poet.urlFor("grpc"), poet.grpcUrl);
    assert.throws(() => poet.urlFor("connect"), ConfigError);
  });

  it("answers the HTTP/2 preface on the REST port in HTTP/1.1 and closes", async () => {
    const reply = await rawExchange(poet.restUrl, HTTP2_PREFACE);
    assert.match(reply.toString("latin1"), /^HTTP\/1\.1 400 /);
  });

  it("answers HTTP/1.1 on the gRPC port with HTTP/2 frames, never with HTTP/1.1", async () => {
    const reply = await rawExchange(
      poet.grpcUrl,
      "GET /v1/info HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
    );
    assert.ok(reply.length >= 9, "an HTTP/2 frame header");
    assert.doesNotMatch(reply.toString("latin1"), /^HTTP\//);
    assert.equal(reply[3], 0x4, "the server's first frame is SETTINGS");
  });

  it("answers a Connect path on the REST port like the gateway: 404 Not Found", async () => {
    const res = await http1(`${poet.restUrl}/rpc.api.v1.PoetService/Info`, "POST", "{}");
    assert.equal(res.status, 404);
    assert.deepEqual(JSON.parse(res.body), { code: 5, message: "Not Found", details: [] });
  });

  it("answers unknown gRPC services and methods like grpc-go: Unimplemented", async () => {
    assert.deepEqual(await grpcCall(poet.grpcUrl, "/rpc.api.v1.PoetService/Nope"), {
      status: "12",
      message: "unknown method Nope for service rpc.api.v1.PoetService",
    });
    assert.deepEqual(
      await grpcCall(poet.grpcUrl, "/rpc.api.v1.ConfigurationService/ReloadTrustedKeys"),
      { status: "12", message: "unknown service rpc.api.v1.ConfigurationService" },
    );
    assert.deepEqual(await grpcCall(poet.grpcUrl, "/rpc.api.v1.PoetService/PowParams"), {
      status: "0",
      message: "",
    });
  });

  it("takes both ports down and up together, and restarts on the same ports", async () => {
    const ports = [poet.port, Number(new URL(poet.grpcUrl).port)];
    await poet.faults.down();
    for (const url of [poet.restUrl, poet.grpcUrl]) {
      await assert.rejects(rawExchange(url, "x"), /ECONNREFUSED/);
    }
    await poet.faults.up();
    await poet.restart();
    assert.deepEqual([poet.port, Number(new URL(poet.grpcUrl).port)], ports);
    assert.equal((await http1(`${poet.restUrl}/v1/info`, "GET")).status, 200);
    assert.equal((await grpcCall(poet.grpcUrl, "/rpc.api.v1.PoetService/Info")).status, "0");
  });
});
