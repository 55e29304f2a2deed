import assert from "node:assert/strict";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, beforeEach, describe, it } from "node:test";
import { createPoetClient, type PoetSubmitRequest } from "../src/client/index.js";
import { ManualClock } from "../src/clock.js";
import {
  AbortedError,
  PoetRpcError,
  ProofNotReadyError,
  ProofVerificationError,
} from "../src/errors.js";

type Handler = (req: http.IncomingMessage, res: http.ServerResponse, n: number) => void;

const INFO = JSON.stringify({
  servicePubkey: Buffer.alloc(32, 7).toString("base64"),
  phaseShift: "5s",
  cycleGap: "15s",
  certifier: { url: "", pubkey: "" },
});
const SUBMITTED = '{"roundId":"3","roundEnd":"42.5s"}';
const REQUEST: PoetSubmitRequest = {
  prefix: new Uint8Array(21),
  challenge: new Uint8Array(32).fill(1),
  pubkey: new Uint8Array(32).fill(2),
  signature: new Uint8Array(64).fill(3),
  nonce: 5n,
  powParams: { challenge: new Uint8Array(32), difficulty: 0 },
};

function status(
  res: http.ServerResponse,
  code: number,
  grpc: number,
  message: string,
  headers: Record<string, string> = {},
) {
  res.writeHead(code, { "content-type": "application/json", ...headers });
  res.end(JSON.stringify({ code: grpc, message, details: [] }));
}

async function until(condition: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 10_000; i++) {
    if (condition()) return;
    await new Promise((r) => setImmediate(r));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe("the PoET client under failures", () => {
  let server: http.Server;
  let url: string;
  let handler: Handler;
  let requests: { at: number; path: string }[];
  let clock: ManualClock;

  before(async () => {
    server = http.createServer((req, res) => {
      req.resume();
      req.on("end", () => {
        requests.push({ at: clock.now(), path: req.url ?? "" });
        handler(req, res, requests.length);
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });
  beforeEach(() => {
    requests = [];
    clock = new ManualClock(Date.parse("2030-01-01T00:00:00Z"));
  });

  const client = (
    extra: Parameters<typeof createPoetClient>[0] extends infer O ? Partial<O> : never = {},
  ) =>
    createPoetClient({
      url,
      clock,
      random: () => 0,
      retryDelayMs: 10_000,
      timeoutMs: 5_000,
      ...extra,
    });

  /** Advances the clock past each retry pause until `done` settles. */
  async function drive<T>(done: Promise<T>): Promise<T> {
    let settled = false;
    const watched = done.finally(() => {
      settled = true;
    });
    watched.catch(() => {});
    for (let seen = 0; !settled; ) {
      await until(
        () =>
          settled ||
          (requests.length > seen &&
            clock.pending === 1 &&
            (clock.nextWakeup() ?? 0) - clock.now() !== 5_000),
        "a retry pause",
      );
      if (settled) break;
      seen = requests.length;
      await clock.set(clock.nextWakeup() as number);
    }
    return watched;
  }

  it("retries 503, 500 and 429 until the PoET accepts, honouring Retry-After", async () => {
    handler = (_req, res, n) => {
      if (n === 1) status(res, 503, 14, "unavailable");
      else if (n === 2) status(res, 500, 13, "unknown error submitting challenge");
      else if (n === 3)
        status(res, 429, 8, "maximum number of round members reached", { "retry-after": "30" });
      else res.end(SUBMITTED);
    };
    const poet = client();
    const start = clock.now();
    const result = await drive(poet.submit(REQUEST, { retryUntil: new Date(start + 3_600_000) }));
    assert.equal(result.roundId, "3");
    assert.equal(result.untilRoundEndMs, 42_500);
    assert.deepEqual(
      requests.map((r) => r.at - start),
      [0, 10_000, 20_000, 50_000],
    );
    assert.equal(result.roundEnd.getTime(), start + 50_000 + 42_500);
    await poet.close();
  });

  it("stops retrying when the next attempt would start after the deadline and throws the last error", async () => {
    handler = (_req, res) => status(res, 503, 14, "backend down");
    const poet = client();
    const start = clock.now();
    await assert.rejects(
      drive(poet.submit(REQUEST, { retryUntil: new Date(start + 25_000) })),
      (err: unknown) => {
        assert.ok(err instanceof PoetRpcError);
        assert.equal(err.kind, "unavailable");
        assert.equal(err.retriable, true);
        return true;
      },
    );
    assert.deepEqual(
      requests.map((r) => r.at - start),
      [0, 10_000, 20_000],
    );
    await poet.close();
  });

  it("never retries other 4xx answers, nor 501", async () => {
    for (const [code, grpc, message, kind] of [
      [400, 3, "invalid signature", "invalid-request"],
      [400, 9, "too late to register for the desired round", "too-late"],
      [401, 16, "invalid certificate\nsignature mismatch", "unauthorized"],
      [409, 6, "conflicting registration", "conflicting-registration"],
      [501, 12, "Method Not Allowed", "unimplemented"],
    ] as const) {
      requests = [];
      handler = (_req, res) => status(res, code, grpc, message);
      const poet = client();
      await assert.rejects(
        poet.submit(REQUEST, { retryUntil: new Date(clock.now() + 3_600_000) }),
        (err: unknown) => {
          assert.ok(err instanceof PoetRpcError);
          assert.equal(err.kind, kind);
          return true;
        },
      );
      assert.equal(requests.length, 1, kind);
      await poet.close();
    }
  });

  it("retries a dropped connection", async () => {
    handler = (req, res, n) => {
      if (n === 1) req.socket.destroy();
      else res.end(SUBMITTED);
    };
    const poet = client();
    const result = await drive(
      poet.submit(REQUEST, { retryUntil: new Date(clock.now() + 60_000) }),
    );
    assert.equal(result.roundId, "3");
    assert.equal(requests.length, 2);
    await poet.close();
  });

  it("gives up on a silent attempt after its own time limit and tries again", async () => {
    handler = (_req, res, n) => {
      if (n > 1) res.end(SUBMITTED);
    };
    const poet = client();
    const done = poet.submit(REQUEST, { retryUntil: new Date(clock.now() + 60_000) });
    await until(() => requests.length === 1 && clock.pending === 1, "the first attempt");
    await clock.advance(5_000);
    const result = await drive(done);
    assert.equal(result.roundId, "3");
    assert.equal(requests.length, 2);
    await poet.close();
  });

  it("reports a timeout of a single attempt as a retriable timeout", async () => {
    handler = () => {};
    const poet = client();
    const info = poet.info();
    await until(() => requests.length === 1, "the request");
    await clock.advance(5_000);
    await assert.rejects(
      info,
      (err: unknown) => err instanceof PoetRpcError && err.kind === "timeout" && err.retriable,
    );
    await poet.close();
  });

  it("stops with AbortedError when cancelled during an attempt or during a pause", async () => {
    handler = () => {};
    const poet = client();
    const controller = new AbortController();
    const hanging = poet.proof("1", { signal: controller.signal });
    await until(() => requests.length === 1, "the request");
    controller.abort();
    await assert.rejects(hanging, AbortedError);

    handler = (_req, res) => status(res, 503, 14, "down");
    const second = new AbortController();
    const pausing = poet.submit(REQUEST, {
      signal: second.signal,
      retryUntil: new Date(clock.now() + 60_000),
    });
    await until(
      () =>
        requests.length === 2 && clock.pending === 1 && clock.nextWakeup() === clock.now() + 10_000,
      "the pause",
    );
    second.abort();
    await assert.rejects(pausing, AbortedError);
    assert.equal(clock.pending, 0);
    await poet.close();
  });

  it("cuts off oversize bodies, declared or streamed", async () => {
    const poet = client({ maxResponseBytes: 1_000, maxProofResponseBytes: 1_000 });
    handler = (_req, res) => {
      res.writeHead(200, { "content-length": "5000000" });
      res.write("{");
    };
    await assert.rejects(
      poet.info(),
      (err: unknown) =>
        err instanceof PoetRpcError && err.kind === "response-too-large" && !err.retriable,
    );
    handler = (_req, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      const chunk = "x".repeat(512);
      for (let i = 0; i < 100; i++) res.write(chunk);
      res.end();
    };
    await assert.rejects(
      poet.proof("1"),
      (err: unknown) => err instanceof PoetRpcError && err.kind === "response-too-large",
    );
    await poet.close();
  });

  it("reports malformed and incomplete answers as bad responses", async () => {
    const poet = client({ infoTtlMs: 0 });
    const cases: [() => Promise<unknown>, string][] = [
      [() => poet.info({ fresh: true }), "{not json"],
      [
        () => poet.info({ fresh: true }),
        JSON.stringify({ servicePubkey: "AAAA", phaseShift: "5s", cycleGap: "1s" }),
      ],
      [
        () => poet.info({ fresh: true }),
        JSON.stringify({
          servicePubkey: Buffer.alloc(32).toString("base64"),
          phaseShift: null,
          cycleGap: "1s",
        }),
      ],
      [
        () => poet.info({ fresh: true }),
        JSON.stringify({
          servicePubkey: Buffer.alloc(32).toString("base64"),
          phaseShift: "1s",
          cycleGap: "1s",
          certifier: { url: "ftp://x", pubkey: Buffer.alloc(32).toString("base64") },
        }),
      ],
      [() => poet.submit(REQUEST), '{"roundId":5,"roundEnd":"1s"}'],
      [() => poet.submit(REQUEST), '{"roundId":"abc","roundEnd":"1s"}'],
      [() => poet.submit(REQUEST), '{"roundId":"3","roundEnd":null}'],
      [() => poet.submit(REQUEST), '{"roundId":"3","roundEnd":"-4s"}'],
      [() => poet.proof("1"), '{"proof":null,"pubkey":""}'],
      [
        () => poet.proof("1"),
        JSON.stringify({
          proof: {
            proof: { root: "AAAA", provenLeaves: [], proofNodes: [] },
            members: [],
            leaves: "1",
          },
          pubkey: Buffer.alloc(32).toString("base64"),
        }),
      ],
      [() => poet.powParams(), '{"powParams":null}'],
      [() => poet.powParams(), "[]"],
    ];
    for (const [call, body] of cases) {
      handler = (_req, res) => res.end(body);
      await assert.rejects(call(), (err: unknown) => {
        assert.ok(err instanceof PoetRpcError, body);
        assert.equal(err.kind, "bad-response", body);
        assert.equal(err.retriable, false);
        return true;
      });
    }
    await poet.close();
  });

  it("reads an error body that is not a google.rpc.Status by its HTTP status", async () => {
    handler = (_req, res) => {
      res.writeHead(502, "Bad Gateway", { "content-type": "text/html" });
      res.end("<html>bad gateway</html>");
    };
    const poet = client();
    await assert.rejects(poet.info(), (err: unknown) => {
      assert.ok(err instanceof PoetRpcError);
      assert.equal(err.kind, "server-error");
      assert.equal(err.httpStatus, 502);
      assert.equal(err.retriable, true);
      return true;
    });
    await poet.close();
  });

  it("reports members that are not 32 bytes", async () => {
    const b = (n: number) => Buffer.alloc(n, 1).toString("base64");
    handler = (_req, res) =>
      res.end(
        JSON.stringify({
          proof: {
            proof: { root: b(32), provenLeaves: [b(32)], proofNodes: [] },
            members: [b(32), b(14)],
            leaves: "10",
          },
          pubkey: b(32),
        }),
      );
    const poet = client();
    await assert.rejects(
      poet.proof("1"),
      (err: unknown) => err instanceof ProofVerificationError && err.reason === "bad-members",
    );
    await poet.close();
  });

  it("does not retry a proof that is not ready", async () => {
    handler = (_req, res) => status(res, 404, 5, "proof not found");
    const poet = client();
    await assert.rejects(
      poet.proof("9", { retryUntil: new Date(clock.now() + 60_000) }),
      ProofNotReadyError,
    );
    assert.equal(requests.length, 1);
    await poet.close();
  });

  it("caches info for its time to live and shares one request among concurrent callers", async () => {
    let release: () => void = () => {};
    handler = (_req, res) => {
      release = () => res.end(INFO);
    };
    const poet = client({ infoTtlMs: 60_000 });
    const callers = Promise.all([poet.info(), poet.info(), poet.info()]);
    await until(() => requests.length === 1, "the request");
    release();
    const [a, b, c] = await callers;
    assert.equal(requests.length, 1);
    assert.deepEqual(a, b);
    assert.deepEqual(b, c);
    assert.equal(a.certifier, undefined);
    handler = (_req, res) => res.end(INFO);
    await poet.info();
    assert.equal(requests.length, 1);
    await clock.advance(60_000);
    await poet.info();
    assert.equal(requests.length, 2);
    await poet.info({ fresh: true });
    assert.equal(requests.length, 3);
    await poet.close();
  });

  it("does not cache failures, and a caller's abort leaves the shared request to the others", async () => {
    handler = (_req, res, n) => (n === 1 ? status(res, 503, 14, "down") : res.end(INFO));
    const poet = client();
    await assert.rejects(poet.info());
    await poet.info();
    assert.equal(requests.length, 2);

    let release: () => void = () => {};
    handler = (_req, res) => {
      release = () => res.end(INFO);
    };
    const controller = new AbortController();
    const impatient = poet.info({ fresh: true, signal: controller.signal });
    const patient = poet.info({ fresh: true });
    await until(() => requests.length === 3, "the request");
    controller.abort();
    await assert.rejects(impatient, AbortedError);
    release();
    assert.equal((await patient).phaseShiftMs, 5_000);
    await poet.close();
  });
});
