import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ManualClock } from "../src/clock.js";
import { AbortedError, ConfigError, PoetRpcError } from "../src/errors.js";
import { PoetService } from "../src/proto.js";
import {
  classifyFailure,
  createPoetTransport,
  expandPath,
  joinUrlPath,
  parseRetryAfter,
  restRoute,
  runAttempt,
} from "../src/transport/index.js";

describe("the REST routes", () => {
  it("come from the google.api.http annotations of the descriptors", () => {
    assert.deepEqual(restRoute(PoetService.method.info), {
      verb: "GET",
      template: "/v1/info",
      body: "",
    });
    assert.deepEqual(restRoute(PoetService.method.powParams), {
      verb: "GET",
      template: "/v1/pow_params",
      body: "",
    });
    assert.deepEqual(restRoute(PoetService.method.submit), {
      verb: "POST",
      template: "/v1/submit",
      body: "*",
    });
    assert.deepEqual(restRoute(PoetService.method.proof), {
      verb: "GET",
      template: "/v1/proofs/{round_id}",
      body: "",
    });
  });

  it("fill path variables percent-encoded and refuse missing ones", () => {
    assert.equal(expandPath("/v1/proofs/{round_id}", { round_id: "30" }), "/v1/proofs/30");
    assert.equal(
      expandPath("/v1/proofs/{round_id}", { round_id: "../x?" }),
      "/v1/proofs/..%2Fx%3F",
    );
    assert.throws(() => expandPath("/v1/proofs/{round_id}", {}), ConfigError);
  });

  it("join base paths like Go's JoinPath", () => {
    assert.equal(joinUrlPath(new URL("http://h:1"), "/v1/info").href, "http://h:1/v1/info");
    assert.equal(joinUrlPath(new URL("https://h/api/"), "/v1/info").href, "https://h/api/v1/info");
    assert.equal(joinUrlPath(new URL("https://h/api"), "v1/info").href, "https://h/api/v1/info");
  });
});

describe("failure classification", () => {
  const cases: [number | undefined, number | undefined, string, string, boolean][] = [
    [400, 3, "invalid signature", "invalid-request", false],
    [400, 9, "too late to register for the desired round", "too-late", false],
    [401, 16, "invalid certificate\nno matching cert public keys", "unauthorized", false],
    [404, 5, "proof not found", "proof-not-found", false],
    [404, 5, "Not Found", "not-found", false],
    [409, 6, "conflicting registration", "conflicting-registration", false],
    [429, 8, "maximum number of round members reached", "round-full", true],
    [
      429,
      8,
      "grpc: received message larger than max (9000000 vs. 8388608)",
      "response-too-large",
      false,
    ],
    [429, undefined, "Too Many Requests", "rate-limited", true],
    [500, 13, "unknown error submitting challenge", "server-error", true],
    [501, 12, "Method Not Allowed", "unimplemented", false],
    [503, 14, "no healthy upstream", "unavailable", true],
    [502, undefined, "Bad Gateway", "server-error", true],
    [undefined, 4, "deadline exceeded", "timeout", true],
    [undefined, 5, "proof not found", "proof-not-found", false],
    [418, undefined, "I'm a teapot", "unknown", false],
  ];
  for (const [httpStatus, grpcCode, message, kind, retriable] of cases) {
    it(`maps ${httpStatus ?? "gRPC"} ${grpcCode ?? "-"} "${message.split("\n")[0]}" to ${kind}`, () => {
      assert.deepEqual(classifyFailure({ httpStatus, grpcCode, message }), { kind, retriable });
    });
  }
});

describe("Retry-After", () => {
  const now = Date.parse("2030-01-01T00:00:00Z");
  it("reads seconds and HTTP dates and ignores garbage", () => {
    assert.equal(parseRetryAfter("120", now), 120_000);
    assert.equal(parseRetryAfter("Tue, 01 Jan 2030 00:00:30 GMT", now), 30_000);
    assert.equal(parseRetryAfter("Mon, 31 Dec 2029 00:00:00 GMT", now), 0);
    assert.equal(parseRetryAfter("soon", now), undefined);
    assert.equal(parseRetryAfter("-5", now), undefined);
    assert.equal(parseRetryAfter(undefined, now), undefined);
  });
});

describe("an attempt", () => {
  const target = { server: "http://poet", method: "Info" };

  it("times out on its clock and aborts its work", async () => {
    const clock = new ManualClock(0);
    let workSignal: AbortSignal | undefined;
    const attempt = runAttempt(clock, 1_000, undefined, target, (signal) => {
      workSignal = signal;
      return new Promise((_, reject) =>
        signal.addEventListener("abort", () => reject(signal.reason)),
      );
    });
    await clock.advance(1_000);
    await assert.rejects(
      attempt,
      (err: unknown) => err instanceof PoetRpcError && err.kind === "timeout" && err.retriable,
    );
    assert.equal(workSignal?.aborted, true);
    assert.equal(clock.pending, 0);
  });

  it("leaves no timer behind when the work settles", async () => {
    const clock = new ManualClock(0);
    assert.equal(await runAttempt(clock, 1_000, undefined, target, async () => 7), 7);
    assert.equal(clock.pending, 0);
  });

  it("rejects with AbortedError when the caller aborts", async () => {
    const clock = new ManualClock(0);
    const controller = new AbortController();
    const attempt = runAttempt(
      clock,
      1_000,
      controller.signal,
      target,
      (signal) =>
        new Promise((_, reject) =>
          signal.addEventListener("abort", () => reject(new Error("stopped"))),
        ),
    );
    controller.abort();
    await assert.rejects(attempt, AbortedError);
  });
});

describe("transport creation", () => {
  it("refuses unknown protocols and non-http URLs", () => {
    assert.throws(
      () => createPoetTransport({ url: "http://h", protocol: "soap" as never }),
      ConfigError,
    );
    assert.throws(() => createPoetTransport({ url: "ftp://h" }), ConfigError);
    assert.throws(() => createPoetTransport({ url: "not a url" }), ConfigError);
  });

  it("reports a refused connection as a retriable network error", async () => {
    for (const protocol of ["rest", "grpc", "connect"] as const) {
      const transport = createPoetTransport({ url: "http://127.0.0.1:1", protocol });
      await assert.rejects(
        transport.unary(PoetService.method.info, {} as never),
        (err: unknown) => err instanceof PoetRpcError && err.kind === "network" && err.retriable,
        protocol,
      );
      await transport.close();
      await assert.rejects(transport.unary(PoetService.method.info, {} as never), /closed/);
    }
  });
});
