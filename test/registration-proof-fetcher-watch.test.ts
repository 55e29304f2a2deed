/**
 * `ProofFetcher.watch`, the subscription every identity holds from its registration to the
 * round's end, on a real SQLite node state and a `ManualClock`: a subscriber is an object and a
 * listener on its signal, gone once it is answered or aborted, and a fetch nobody waits for any
 * more is cancelled.
 */
import assert from "node:assert/strict";
import { getEventListeners } from "node:events";
import { describe, it } from "node:test";
import { CANCELLED } from "../src/cancellation.js";
import { ManualClock } from "../src/clock.js";
import { AbortedError } from "../src/errors.js";
import { silentLogger } from "../src/logger.js";
import { ConcurrencyLimit } from "../src/registration/concurrency-limit.js";
import { ProofFetcher, type ProofSink } from "../src/registration/proof-fetcher.js";
import { SharedVerifier } from "../src/registration/shared-verifier.js";
import { type NodeState, openNodeState } from "../src/storage/index.js";
import { settle } from "./helpers/clock-driver.js";
import { tempDir } from "./helpers/temp-dir.js";

const dirs = tempDir("proof-fetcher-watch-");
const T = 1_750_000_000_000;

/** A sink that records what it was told. */
function recorder(): ProofSink & { told: unknown[]; poets: string[] } {
  const told: unknown[] = [];
  const poets: string[] = [];
  return {
    told,
    poets,
    proofArrived: (value, poet) => {
      told.push(value);
      poets.push(poet);
    },
    proofFailed: (error, poet) => {
      told.push(error);
      poets.push(poet);
    },
  };
}

/** A fetcher on `state` whose downloads never start before the round end. */
function fetcherOn(state: NodeState, clock: ManualClock, signal: AbortSignal): ProofFetcher {
  return new ProofFetcher({
    state,
    verifier: new SharedVerifier({
      state,
      verifier: { verify: () => Promise.reject(new Error("not reached")) },
      clock,
    }),
    clock,
    logger: silentLogger,
    random: () => 0.5,
    graceMs: 1_000,
    jitter: { minMs: 0, maxMs: 0 },
    pollIntervalMs: 1_000,
    maxPollIntervalMs: 10_000,
    tickSize: 100n,
    downloads: new ConcurrencyLimit(1),
    emit: () => {},
    signal,
  });
}

const request = {
  poet: "http://poet-a",
  source: { proof: () => Promise.reject(new Error("not asked before the round end")) },
  roundId: "3",
  roundEndMs: T + 60_000,
  untilMs: T + 120_000,
};

describe("ProofFetcher.watch", () => {
  it("removes an aborted subscriber's listener and cancels a fetch nobody waits for", async () => {
    const state = await openNodeState(dirs.file(), { create: true });
    const clock = new ManualClock(T);
    const closed = new AbortController();
    try {
      const fetcher = fetcherOn(state, clock, closed.signal);
      const first = new AbortController();
      const second = new AbortController();
      const a = recorder();
      const b = recorder();
      fetcher.watch(request, { signal: first.signal }, a);
      fetcher.watch(request, { signal: second.signal }, b);
      await settle();
      assert.equal(fetcher.active, 1, "one fetch for both subscribers");
      assert.equal(getEventListeners(first.signal, "abort").length, 1);

      first.abort();
      assert.equal(a.told.length, 1);
      assert.ok(a.told[0] instanceof AbortedError);
      assert.equal(getEventListeners(first.signal, "abort").length, 0);
      assert.equal(fetcher.active, 1, "the other subscriber still waits");

      second.abort();
      assert.ok(b.told[0] instanceof AbortedError);
      assert.equal(getEventListeners(second.signal, "abort").length, 0);
      assert.equal(fetcher.active, 0, "nobody waits: the fetch is cancelled");

      // A subscriber whose signal has already aborted is told at once and starts nothing.
      const late = recorder();
      fetcher.watch(request, { signal: AbortSignal.abort() }, late);
      assert.ok(late.told[0] instanceof AbortedError);
      await settle();
      assert.equal(fetcher.active, 0);
      assert.equal(clock.pending, 0, "no fetch left waiting for the round end");
    } finally {
      closed.abort();
      await settle();
      await state.close();
    }
  });

  it("stops a watch without a signal when cancelled, and the fetch with the last one", async () => {
    const state = await openNodeState(dirs.file(), { create: true });
    const clock = new ManualClock(T);
    const closed = new AbortController();
    try {
      const fetcher = fetcherOn(state, clock, closed.signal);
      const group = {};
      const a = recorder();
      const b = recorder();
      const watchA = fetcher.watch(request, { group }, a);
      const watchB = fetcher.watch(request, { group }, b);
      await settle();
      assert.equal(fetcher.active, 1);
      watchA.cancel();
      assert.deepEqual(a.told, [CANCELLED]);
      assert.deepEqual(a.poets, [request.poet], "the sink is told which PoET answered");
      watchA.cancel();
      assert.equal(a.told.length, 1, "told once");
      assert.equal(fetcher.active, 1);
      watchB.cancel();
      assert.deepEqual(b.told, [CANCELLED]);
      assert.equal(fetcher.active, 0, "nobody waits: the fetch is cancelled");
    } finally {
      closed.abort();
      await settle();
      await state.close();
    }
  });
});
