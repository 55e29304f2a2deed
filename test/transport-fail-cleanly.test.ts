/**
 * Transports that fail cleanly (issue 13, point 5): a client pointed at a port or server that does
 * not speak its protocol gets one final, typed error that names the likely mistake, and nothing is
 * left behind that can crash the process; stale keep-alive connections are not reused.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import * as http from "node:http";
import * as http2 from "node:http2";
import * as net from "node:net";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { create } from "@bufbuild/protobuf";
import { createPoetClient } from "../src/client/index.js";
import { ManualClock } from "../src/clock.js";
import { PoetRpcError } from "../src/errors.js";
import { InfoRequestSchema, PoetService } from "../src/proto.js";
import { type MockPoet, startMockPoet } from "../src/testing/index.js";
import {
  createKeepAliveAgent,
  createPoetTransport,
  DEFAULT_MAX_RESPONSE_BYTES,
  httpExchange,
  notGatewayReply,
  type PoetProtocol,
} from "../src/transport/index.js";
import { nodeModule } from "./helpers/node-script.js";
import { build, drive, identity, ofType, ready, setup } from "./registration-harness.js";

const REPO = fileURLToPath(new URL("..", import.meta.url));
const GENESIS = Date.parse("2024-06-01T00:00:00Z");
/** What the real server's `/v1/info` answered (transcript A-info). */
const INFO_JSON =
  '{"servicePubkey":"fZa87lric23eK1tSwDnSoPTN+4WFbLm5pCjvCMIJJgc=","phaseShift":"5s","cycleGap":"15s","certifier":{"url":"","pubkey":""}}';

/** A loopback server that counts connections and ends them all on close. */
interface TestServer {
  url: string;
  connections: net.Socket[];
  close(): Promise<void>;
}

function track(
  server: http.Server | http2.Http2Server,
  connections: net.Socket[],
): () => Promise<void> {
  server.on("connection", (socket: net.Socket) => connections.push(socket));
  return () =>
    new Promise<void>((resolve) => {
      for (const socket of connections) socket.destroy();
      server.close(() => resolve());
    });
}

async function listen(server: http.Server | http2.Http2Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  return `http://127.0.0.1:${port}`;
}

/** An HTTP/1.1 web server (Node's defaults, no HTTP/2) answering every request with `status`. */
async function startWebServer(status: number, contentType: string, body: string) {
  const connections: net.Socket[] = [];
  const server = http.createServer((_req, res) => {
    res.writeHead(status, { "content-type": contentType });
    res.end(body);
  });
  const close = track(server, connections);
  return { url: await listen(server), connections, close } satisfies TestServer;
}

/** An HTTP/2 cleartext server that is not gRPC, answering every stream with `status`. */
async function startH2Server(status: number, contentType: string, body: string) {
  const connections: net.Socket[] = [];
  const server = http2.createServer((_req, res) => {
    res.writeHead(status, { "content-type": contentType });
    res.end(body);
  });
  server.on("sessionError", () => {});
  const close = track(server, connections);
  return { url: await listen(server), connections, close } satisfies TestServer;
}

async function callInfo(url: string, protocol: PoetProtocol): Promise<unknown> {
  const transport = createPoetTransport({ url, protocol });
  try {
    return await transport.unary(PoetService.method.info, create(InfoRequestSchema));
  } catch (err) {
    return err;
  } finally {
    await transport.close();
  }
}

function assertWrongProtocol(err: unknown, hint: RegExp): void {
  assert.ok(err instanceof PoetRpcError, `expected a PoetRpcError, got ${String(err)}`);
  assert.equal(err.kind, "wrong-protocol", err.message);
  assert.equal(err.retriable, false);
  assert.match(err.message, hint);
  assert.doesNotMatch(err.message, /\n/);
}

/**
 * Runs the CLI in a child process, so that an unhandled 'error' event would end it for real: its
 * transpiled entry point under `npm test`, through tsx otherwise (./helpers/node-script.ts).
 */
function runCliProcess(args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const main = nodeModule("../src/cli/main.ts", import.meta.url);
    const child = spawn(process.execPath, [...main.loader, main.file, ...args], {
      cwd: REPO,
      env: { ...process.env, NO_COLOR: "1" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      out += chunk;
    });
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
      err += chunk;
    });
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, out, err }));
  });
}

describe("a client pointed at a port that does not speak its protocol", () => {
  let poet: MockPoet;
  before(async () => {
    poet = await startMockPoet({ layout: "real-server", clock: new ManualClock(GENESIS) });
  });
  after(() => poet.stop());

  it("the CLI's info and fetch-proof over gRPC at a REST port print one line and exit 1, not crash", async () => {
    const web = await startWebServer(404, "text/html", "<html><body>Not here</body></html>");
    try {
      const [info, fetch] = await Promise.all([
        runCliProcess(["info", poet.restUrl, "--protocol", "grpc"]),
        runCliProcess(["fetch-proof", web.url, "0", "--protocol", "grpc"]),
      ]);
      for (const run of [info, fetch]) {
        assert.equal(run.code, 1, run.err);
        assert.doesNotMatch(run.err, /Unhandled|ERR_HTTP2_ERROR| {4}at /);
        const lines = run.err.split("\n").filter((line) => line !== "");
        assert.equal(lines.length, 1, run.err);
        assert.match(lines[0] ?? "", /not gRPC: is this the REST gateway port.*--protocol rest/);
      }
    } finally {
      await web.close();
    }
  });

  it("gRPC at the REST gateway or an HTTP/1.1 web server: wrong-protocol, not retried", async () => {
    assertWrongProtocol(await callInfo(poet.restUrl, "grpc"), /REST gateway port/);
    const web = await startWebServer(200, "text/html", "<html></html>");
    try {
      assertWrongProtocol(await callInfo(web.url, "grpc"), /not HTTP\/2/);
    } finally {
      await web.close();
    }
  });

  it("gRPC at an HTTP/2 server that is not gRPC: wrong-protocol for HTML, JSON and 404s", async () => {
    for (const [status, type] of [
      [200, "text/html"],
      [200, "application/json"],
      [404, "text/html"],
    ] as const) {
      const h2 = await startH2Server(status, type, "<html></html>");
      try {
        const err = await callInfo(h2.url, "grpc");
        assertWrongProtocol(err, new RegExp(type.replace("/", "\\/")));
      } finally {
        await h2.close();
      }
    }
  });

  it("a proxy's 502, 503 or 429 in HTML stays a retriable failure", async () => {
    for (const status of [502, 503, 429]) {
      const proxy = await startH2Server(status, "text/html", "<html>Try later</html>");
      try {
        const err = await callInfo(proxy.url, "grpc");
        assert.ok(err instanceof PoetRpcError);
        assert.equal(err.retriable, true, `${status}: ${err.message}`);
        assert.notEqual(err.kind, "wrong-protocol");
      } finally {
        await proxy.close();
      }
    }
  });

  it("Connect at the REST gateway or the gRPC port: wrong-protocol saying real PoETs have no Connect", async () => {
    assertWrongProtocol(await callInfo(poet.restUrl, "connect"), /real PoETs serve no Connect/);
    assertWrongProtocol(await callInfo(poet.grpcUrl, "connect"), /not HTTP\/1\.1/);
    const web = await startWebServer(404, "text/html", "<html></html>");
    try {
      assertWrongProtocol(await callInfo(web.url, "connect"), /HTTP 404 text\/html/);
    } finally {
      await web.close();
    }
  });

  it("REST at the gRPC port or at a web server's 404 page: wrong-protocol", async () => {
    assertWrongProtocol(await callInfo(poet.grpcUrl, "rest"), /gRPC port\? Use protocol "grpc"/);
    const web = await startWebServer(404, "text/html", "<html></html>");
    try {
      assertWrongProtocol(await callInfo(web.url, "rest"), /HTTP 404 text\/html/);
    } finally {
      await web.close();
    }
  });

  it("each protocol at its own port works", async () => {
    for (const protocol of ["rest", "grpc"] as const) {
      const info = await callInfo(poet.urlFor(protocol), protocol);
      assert.ok(!(info instanceof Error), String(info));
    }
  });

  // A regression would wait forever; the limit only turns that into a failure.
  it("the client gives up at once instead of retrying a wrong-protocol failure", {
    timeout: 60_000,
  }, async () => {
    const clock = new ManualClock(GENESIS);
    const web = await startWebServer(200, "text/html", "<html></html>");
    try {
      await using client = createPoetClient({ url: web.url, protocol: "grpc", clock });
      // With a retriable failure this would sleep on the manual clock, which never moves.
      await assert.rejects(
        client.proof("0", { retryUntil: new Date(GENESIS + 3_600_000) }),
        (err: unknown) => err instanceof PoetRpcError && err.kind === "wrong-protocol",
      );
      assert.equal(web.connections.length, 1);
    } finally {
      await web.close();
    }
  });
});

describe("the classification of other answers", () => {
  it("a 404 or 405 page that is not the gateway's JSON is a wrong URL; other statuses are not", () => {
    assert.match(notGatewayReply(404, "text/html; charset=utf-8") ?? "", /REST gateway URL/);
    assert.match(notGatewayReply(405, "text/plain") ?? "", /HTTP 405 text\/plain/);
    assert.equal(notGatewayReply(404, "application/json"), undefined);
    assert.equal(notGatewayReply(404, undefined), undefined);
    assert.equal(notGatewayReply(429, "text/html"), undefined);
    assert.equal(notGatewayReply(503, "text/html"), undefined);
  });

  it("a connection closed under a gRPC call is a retriable network failure", async () => {
    const sockets: net.Socket[] = [];
    const server = net.createServer((socket) => {
      sockets.push(socket);
      socket.once("data", () => socket.destroy());
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as net.AddressInfo;
    try {
      const err = await callInfo(`http://127.0.0.1:${port}`, "grpc");
      assert.ok(err instanceof PoetRpcError, String(err));
      assert.equal(err.retriable, true, err.message);
      assert.equal(err.kind, "network");
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});

describe("keep-alive connections", () => {
  it("a request that meets a connection the server just closed is sent again on a new one", async () => {
    const connections: net.Socket[] = [];
    let requests = 0;
    const server = http.createServer((req, res) => {
      requests += 1;
      // The second request on a connection finds it closed, as when the server's idle limit
      // ran out just as the request went out.
      const socket = req.socket as net.Socket & { served?: number };
      socket.served = (socket.served ?? 0) + 1;
      if (socket.served > 1) {
        socket.destroy();
        return;
      }
      res.writeHead(200, { "content-type": "application/json" });
      res.end(INFO_JSON);
    });
    server.keepAliveTimeout = 60_000;
    const close = track(server, connections);
    const url = await listen(server);
    const transport = createPoetTransport({ url, protocol: "rest" });
    try {
      await transport.unary(PoetService.method.info, create(InfoRequestSchema));
      const info = await transport.unary(PoetService.method.info, create(InfoRequestSchema));
      assert.equal(info.cycleGap?.seconds, 15n);
      assert.equal(requests, 3);
      assert.equal(connections.length, 2);
    } finally {
      await transport.close();
      await close();
    }
  });

  it("a request that is not idempotent is not sent twice", async () => {
    const connections: net.Socket[] = [];
    let requests = 0;
    const server = http.createServer((req, res) => {
      requests += 1;
      if (requests > 1) {
        req.socket.destroy();
        return;
      }
      res.end("{}");
    });
    server.keepAliveTimeout = 60_000;
    const close = track(server, connections);
    const url = new URL("/certify", await listen(server));
    const agent = createKeepAliveAgent(url);
    const exchange = () =>
      httpExchange(
        { url, method: "POST", body: new Uint8Array([123, 125]) },
        {
          agent,
          maxResponseBytes: DEFAULT_MAX_RESPONSE_BYTES,
          target: { server: url.origin, method: "POST /certify" },
        },
      );
    try {
      assert.equal((await exchange()).status, 200);
      await assert.rejects(
        exchange(),
        (err: unknown) => err instanceof PoetRpcError && err.kind === "network" && err.retriable,
      );
      assert.equal(requests, 2);
    } finally {
      agent.destroy();
      await close();
    }
  });

  // A regression would wait forever; the limit only turns that into a failure.
  it("an idle connection is closed by the client, not left for the server to drop", {
    timeout: 60_000,
  }, async () => {
    const connections: net.Socket[] = [];
    const server = http.createServer((_req, res) => res.end("{}"));
    server.keepAliveTimeout = 600_000;
    const close = track(server, connections);
    const url = new URL("/v1/info", await listen(server));
    const agent = createKeepAliveAgent(url, { idleTimeoutMs: 10 });
    try {
      const res = await httpExchange(
        { url, method: "GET" },
        {
          agent,
          maxResponseBytes: DEFAULT_MAX_RESPONSE_BYTES,
          target: { server: url.origin, method: "GET /v1/info" },
        },
      );
      assert.equal(res.status, 200);
      const [socket] = connections;
      assert.ok(socket);
      // The server never closes it (its limit is ten minutes): the end comes from the client.
      await new Promise<void>((resolve) => {
        if (socket.destroyed) resolve();
        else socket.once("close", () => resolve());
      });
      assert.equal(connections.length, 1);
    } finally {
      agent.destroy();
      await close();
    }
  });

  it("a slow answer on a busy connection is not cut by the idle limit", async () => {
    const connections: net.Socket[] = [];
    const server = http.createServer((_req, res) => {
      setTimeout(() => res.end("{}"), 100);
    });
    const close = track(server, connections);
    const url = new URL("/v1/info", await listen(server));
    const agent = createKeepAliveAgent(url, { idleTimeoutMs: 10 });
    try {
      const res = await httpExchange(
        { url, method: "GET" },
        {
          agent,
          maxResponseBytes: DEFAULT_MAX_RESPONSE_BYTES,
          target: { server: url.origin, method: "GET /v1/info" },
        },
      );
      assert.equal(res.status, 200);
    } finally {
      agent.destroy();
      await close();
    }
  });
});

describe("the registration manager with a PoET configured on the wrong port", () => {
  it("registers with the others and gives up on that PoET at once, naming the mistake", async () => {
    const h = await setup([{ layout: "real-server" }, { layout: "real-server" }]);
    try {
      const [good, misconfigured] = h.poets as [MockPoet, MockPoet];
      await h.manager.close();
      await h.restart({
        poets: [
          { url: good.restUrl, pubkey: good.info.servicePubkey },
          // gRPC at the REST gateway's port: a real-server layout answers in HTTP/1.1.
          {
            url: misconfigured.restUrl,
            pubkey: misconfigured.info.servicePubkey,
            protocol: "grpc",
          },
        ],
      });
      const nipost = ready(await drive(h.clock, build(h, identity(1))));
      assert.equal(nipost.poet, good.restUrl);
      const failed = ofType(h.events, "registration-failed");
      assert.equal(failed.length, 1, failed.map((e) => e.error.message).join("\n"));
      const [event] = failed;
      assert.ok(event?.error instanceof PoetRpcError);
      assert.equal(event.error.kind, "wrong-protocol");
      assert.equal(event.nextAttemptAt, undefined);
      assert.match(event.error.message, /REST gateway port/);
    } finally {
      await h.close();
    }
  });
});
