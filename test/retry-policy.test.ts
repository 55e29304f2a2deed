import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ManualClock } from "../src/clock.js";
import {
  AbortedError,
  ConfigError,
  PoetError,
  PoetRpcError,
  ProofNotReadyError,
  ProofVerificationError,
  RegistrationRejectedError,
  StorageError,
  WireFormatError,
} from "../src/errors.js";
import {
  classifyFailure,
  decideRetry,
  drawJitter,
  type RetryFailure,
  type RetryPolicy,
  retry,
} from "../src/retry-policy.js";
import { prng } from "./helpers/prng.js";

const rpc = (retriable: boolean, retryAfterMs?: number) =>
  new PoetRpcError("failed", {
    server: "http://poet",
    method: "Submit",
    kind: retriable ? "unavailable" : "invalid-request",
    retriable,
    ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
  });

/** Lets the work run, then moves the clock from one sleeper to the next until none is left. */
async function runDown(clock: ManualClock): Promise<void> {
  do await clock.advance(0);
  while (await clock.advanceToNextWakeup());
}

/** A random source that counts its draws. */
function counting(random: () => number) {
  const source = () => {
    source.draws++;
    return random();
  };
  source.draws = 0;
  return source;
}

describe("classifyFailure", () => {
  const table: [string, unknown, ReturnType<typeof classifyFailure>][] = [
    ["a retriable RPC failure", rpc(true), "transient"],
    ["a final RPC failure", rpc(false), "final"],
    ["a time limit of our own", new PoetError("timeout", "took too long"), "transient"],
    [
      "a rejected registration",
      new RegistrationRejectedError("http://poet", "too-late", "too late"),
      "final",
    ],
    [
      "a proof that does not verify",
      new ProofVerificationError("bad-members", "the members do not hash to the root"),
      "final",
    ],
    ["a proof not ready yet", new ProofNotReadyError("http://poet", "9"), "unclassified"],
    ["the node's own database", new StorageError("locked", { kind: "io" }), "unclassified"],
    [
      "a retriable failure of the node's own database (a restart, a broken connection)",
      new StorageError("Connection terminated unexpectedly", { kind: "io", retriable: true }),
      "transient",
    ],
    [
      "a damaged row of the node's own database",
      new StorageError("does not decode", { kind: "corrupt" }),
      "unclassified",
    ],
    ["bad configuration", new ConfigError("url", "not a URL"), "final"],
    ["a malformed answer", new WireFormatError("roundId", "too long"), "final"],
    ["an abort that is not the caller's", new AbortedError(), "unclassified"],
    ["an internal failure", new PoetError("internal", "bug"), "unclassified"],
    ["a plain Error", new Error("bug"), "unclassified"],
    ["something not an Error", "bug", "unclassified"],
  ];
  for (const [what, error, verdict] of table) {
    it(`calls ${what} ${verdict}`, () => {
      assert.equal(classifyFailure(error), verdict);
    });
  }
});

describe("decideRetry", () => {
  const policy = (extra: Partial<RetryPolicy> = {}): RetryPolicy => ({
    delayMs: 1_000,
    random: () => 0.5,
    ...extra,
  });

  it("pauses uniformly in [delay, 2·delay], whole ms, from the injected random source", () => {
    const random = prng(0x5eed);
    const seen = new Set<number>();
    for (let i = 0; i < 2_000; i++) {
      const next = decideRetry(policy({ random }), rpc(true), 1, 10_000);
      assert.equal(next.retry, true);
      if (!next.retry) return;
      assert.ok(next.pauseMs >= 1_000 && next.pauseMs <= 2_000, `${next.pauseMs}`);
      assert.ok(Number.isInteger(next.pauseMs));
      assert.equal(next.at, 10_000 + next.pauseMs);
      seen.add(Math.floor((next.pauseMs - 1_000) / 100));
    }
    // Every tenth of the range is hit: the draw is spread, not stuck at one end.
    assert.equal(seen.size >= 10, true);
    assert.deepEqual(decideRetry(policy({ random: () => 0 }), rpc(true), 1, 0), {
      retry: true,
      pauseMs: 1_000,
      at: 1_000,
    });
    assert.deepEqual(decideRetry(policy({ random: () => 0.999999 }), rpc(true), 1, 0), {
      retry: true,
      pauseMs: 2_000,
      at: 2_000,
    });
  });

  it("waits for the server's Retry-After when it asks for longer", () => {
    assert.deepEqual(decideRetry(policy(), rpc(true, 60_000), 1, 0), {
      retry: true,
      pauseMs: 60_000,
      at: 60_000,
    });
    // A shorter Retry-After does not shorten the pause.
    assert.deepEqual(decideRetry(policy(), rpc(true, 10), 1, 0), {
      retry: true,
      pauseMs: 1_500,
      at: 1_500,
    });
  });

  it("stops when the next attempt would start at or after the deadline", () => {
    assert.deepEqual(decideRetry(policy({ until: 1_500 }), rpc(true), 1, 0), {
      retry: false,
      why: "deadline",
    });
    assert.equal(decideRetry(policy({ until: 1_501 }), rpc(true), 1, 0).retry, true);
  });

  it("stops after maxAttempts, without drawing", () => {
    const random = counting(() => 0.5);
    assert.deepEqual(decideRetry(policy({ random, maxAttempts: 3 }), rpc(true), 3, 0), {
      retry: false,
      why: "attempts",
    });
    assert.equal(random.draws, 0);
    assert.equal(decideRetry(policy({ random, maxAttempts: 3 }), rpc(true), 2, 0).retry, true);
    assert.equal(random.draws, 1);
  });

  it("never retries a final failure, and draws nothing for it", () => {
    const random = counting(() => 0.5);
    const rejected = new RegistrationRejectedError("http://poet", "too-late", "too late");
    assert.deepEqual(decideRetry(policy({ random, retryUnclassified: true }), rejected, 1, 0), {
      retry: false,
      why: "final",
    });
    assert.equal(random.draws, 0);
  });

  it("retries unclassified failures only when told to", () => {
    const bug = new Error("bug");
    assert.deepEqual(decideRetry(policy(), bug, 1, 0), { retry: false, why: "unclassified" });
    assert.deepEqual(decideRetry(policy({ retryUnclassified: true }), bug, 1, 0), {
      retry: true,
      pauseMs: 1_500,
      at: 1_500,
    });
  });
});

describe("drawJitter", () => {
  it("clamps a random source outside [0, 1) and a range with no width", () => {
    assert.equal(
      drawJitter(100, 200, () => -1),
      100,
    );
    assert.equal(
      drawJitter(100, 200, () => 2),
      200,
    );
    assert.equal(
      drawJitter(100, 50, () => 0.5),
      100,
    );
    assert.equal(
      drawJitter(-5, -5, () => 0.5),
      0,
    );
  });
});

describe("retry", () => {
  it("pauses on the clock between attempts and returns the first success", async () => {
    const clock = new ManualClock(0);
    const starts: number[] = [];
    const failures: RetryFailure[] = [];
    const done = retry(
      async (n) => {
        starts.push(clock.now());
        if (n < 3) throw rpc(true);
        return "ok";
      },
      { delayMs: 1_000, random: () => 0 },
      { clock, onFailure: (f) => failures.push(f) },
    );
    await runDown(clock);
    assert.equal(await done, "ok");
    assert.deepEqual(starts, [0, 1_000, 2_000]);
    assert.deepEqual(
      failures.map((f) => [f.attempt, f.decision.retry]),
      [
        [1, true],
        [2, true],
      ],
    );
    assert.equal(clock.pending, 0);
  });

  it("throws a final failure at once, without sleeping", async () => {
    const clock = new ManualClock(0);
    let attempts = 0;
    const refused = rpc(false);
    await assert.rejects(
      retry(
        async () => {
          attempts++;
          throw refused;
        },
        { delayMs: 1_000, random: () => 0 },
        { clock },
      ),
      (err: unknown) => err === refused,
    );
    assert.equal(attempts, 1);
    assert.equal(clock.pending, 0);
  });

  it("throws the last failure when the deadline comes", async () => {
    const clock = new ManualClock(0);
    let attempts = 0;
    const done = retry(
      async () => {
        attempts++;
        throw rpc(true);
      },
      { delayMs: 1_000, random: () => 0, until: 2_500 },
      { clock },
    );
    const rejected = assert.rejects(done, PoetRpcError);
    await runDown(clock);
    await rejected;
    // At 0, 1 000 and 2 000; a fourth would start at 3 000, after the deadline.
    assert.equal(attempts, 3);
    assert.equal(clock.now(), 2_000);
  });

  it("ends a pause with AbortedError when the signal fires, leaving no sleeper", async () => {
    const clock = new ManualClock(0);
    const controller = new AbortController();
    let attempts = 0;
    const done = retry(
      async () => {
        attempts++;
        throw rpc(true);
      },
      { delayMs: 1_000, random: () => 0 },
      { clock, signal: controller.signal },
    );
    const rejected = assert.rejects(done, AbortedError);
    await clock.advance(0);
    assert.equal(clock.pending, 1);
    controller.abort();
    await rejected;
    assert.equal(attempts, 1);
    assert.equal(clock.pending, 0);
  });

  it("reports an attempt that failed because the caller aborted as AbortedError", async () => {
    const clock = new ManualClock(0);
    const controller = new AbortController();
    await assert.rejects(
      retry(
        async () => {
          controller.abort();
          throw new Error("socket closed");
        },
        { delayMs: 1_000, random: () => 0 },
        { clock, signal: controller.signal },
      ),
      AbortedError,
    );
    assert.equal(clock.pending, 0);
  });

  it("does not start when the signal has already fired", async () => {
    const clock = new ManualClock(0);
    let attempts = 0;
    await assert.rejects(
      retry(
        async () => {
          attempts++;
        },
        { delayMs: 1_000, random: () => 0 },
        { clock, signal: AbortSignal.abort() },
      ),
      AbortedError,
    );
    assert.equal(attempts, 0);
  });
});
