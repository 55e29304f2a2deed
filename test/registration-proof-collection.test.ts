import assert from "node:assert/strict";
import { getEventListeners } from "node:events";
import { describe, it } from "node:test";
import { CANCELLED } from "../src/cancellation.js";
import { AbortedError, PoetError } from "../src/errors.js";
import {
  type ProofAnswer,
  ProofCollection,
  type ProofCollectionContext,
} from "../src/registration/proof-collection.js";
import type { VerifiedRoundProof } from "../src/registration/shared-verifier.js";
import type { PoetRegistration } from "../src/storage/index.js";
import { ManualClock } from "../src/testing/index.js";
import { TurnBudget } from "../src/turn-budget.js";

const hash = new Uint8Array(32).fill(7);
const roundEnd = new Date(10_000);
const A = "http://a";
const B = "http://b";

function registration(address: string): PoetRegistration {
  return { nodeId: new Uint8Array(32), hash, address, roundId: "0", roundEnd };
}

/** A verified proof of `leaves` leaves whose member list holds the challenge or not. */
function proof(poet: string, leaves: bigint, member: boolean): VerifiedRoundProof {
  const members = {
    members: { length: 1 },
    indexOf: async () => (member ? 0 : -1),
    proofFor: (index: number) => ({ leafIndex: BigInt(index), nodes: [] }),
  };
  return {
    poet,
    roundId: "0",
    proof: { leaves },
    ref: new Uint8Array(32).fill(Number(leaves % 256n)),
    members,
  } as unknown as VerifiedRoundProof;
}

interface Deferred<T> {
  promise: Promise<T>;
  resolve: (value: T) => void;
  reject: (reason: unknown) => void;
}

function deferred<T>(): Deferred<T> {
  let resolve: (value: T) => void = () => {};
  let reject: (reason: unknown) => void = () => {};
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** A fetcher whose answers the test gives, one per PoET, and that records each stopped watch. */
function fakeFetcher() {
  const answers = new Map<string, Deferred<VerifiedRoundProof>>();
  /** The PoETs whose watch the collection stopped (cancelled) before an answer. */
  const stopped = new Set<string>();
  const fetcher: ProofCollectionContext["fetcher"] = {
    watch: (request, _options, sink) => {
      const answer = deferred<VerifiedRoundProof>();
      answers.set(request.poet, answer);
      let told = false;
      answer.promise.then(
        (value) => {
          if (told) return;
          told = true;
          sink.proofArrived(value, request.poet);
        },
        (err: unknown) => {
          if (told) return;
          told = true;
          sink.proofFailed(err, request.poet);
        },
      );
      return {
        cancel: () => {
          if (told) return;
          told = true;
          stopped.add(request.poet);
          sink.proofFailed(CANCELLED, request.poet);
        },
      };
    },
  };
  return { fetcher, answers, stopped };
}

function context(clock: ManualClock, fetcher: ProofCollectionContext["fetcher"]) {
  const pool: ProofCollectionContext["pool"] = {
    get: (address) => ({ address, client: {}, pubkey: new Uint8Array(32) }) as never,
    phase: () => Promise.reject(new Error("not asked: every PoET has a key")),
  };
  return { fetcher, pool, clock, turns: new TurnBudget(64) } satisfies ProofCollectionContext;
}

/**
 * Runs the collection to its end as the identity cycle does (parked between answers, stopped
 * when given up), gathering its answers.
 */
async function collect(collection: ProofCollection, signal = new AbortController().signal) {
  const answers: ProofAnswer[] = [];
  try {
    for (;;) {
      const step = await collection.next(signal);
      if (step === "done") return answers;
      if (step === "wait") await new Promise<void>((woken) => collection.park(signal, woken));
      else answers.push(step);
    }
  } finally {
    collection.stop();
  }
}

/**
 * A collection of A's and B's proofs with no choice yet, cut-off at 20 s and proof deadline at
 * 30 s, and the fake fetcher behind it.
 */
function twoPoets(clock: ManualClock) {
  const { fetcher, answers, stopped } = fakeFetcher();
  const collection = new ProofCollection(context(clock, fetcher), {
    hash,
    registrations: [registration(A), registration(B)],
    chosen: undefined,
    cutoffMs: 20_000,
    proofDeadlineMs: 30_000,
  });
  return { collection, answers, stopped };
}

const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

describe("ProofCollection", () => {
  it("offers each better proof in the order they arrive, and ends when every PoET answered", async () => {
    const clock = new ManualClock(roundEnd.getTime());
    const { collection, answers } = twoPoets(clock);
    const done = collect(collection);
    await settle();
    answers.get(A)?.resolve(proof(A, 100n, true));
    await settle();
    answers.get(B)?.resolve(proof(B, 300n, true));
    const got = await done;
    assert.deepEqual(
      got.map((a) => [a.kind, a.poet]),
      [
        ["better", A],
        ["better", B],
      ],
    );
    const second = got[1];
    assert.equal(second?.kind === "better" ? second.replaces?.poet : undefined, A);
    assert.equal(collection.best?.poet, B);
    assert.equal(collection.best?.leaves, 300n);
    assert.deepEqual(collection.failures, []);
  });

  it("judges the best of the proofs that arrived together first: one better choice, not one per proof", async () => {
    const clock = new ManualClock(roundEnd.getTime());
    const { collection, answers } = twoPoets(clock);
    const done = collect(collection);
    await settle();
    answers.get(A)?.resolve(proof(A, 100n, true));
    answers.get(B)?.resolve(proof(B, 300n, true));
    const got = await done;
    assert.deepEqual(
      got.map((a) => [a.kind, a.poet]),
      [
        ["better", B],
        ["no-better", A],
      ],
    );
    assert.equal(collection.best?.leaves, 300n);
  });

  it("judges a worse proof no better, and a proof without the challenge not a member", async () => {
    const clock = new ManualClock(roundEnd.getTime());
    const { fetcher, answers } = fakeFetcher();
    const collection = new ProofCollection(context(clock, fetcher), {
      hash,
      registrations: [registration(A), registration(B)],
      chosen: {
        poet: "http://chosen",
        roundId: "0",
        leaves: 500n,
        ref: new Uint8Array(32),
        membership: { leafIndex: 0n, nodes: [] },
      },
      cutoffMs: 20_000,
      proofDeadlineMs: 30_000,
    });
    const done = collect(collection);
    await settle();
    answers.get(A)?.resolve(proof(A, 100n, true));
    answers.get(B)?.resolve(proof(B, 900n, false));
    const got = await done;
    assert.deepEqual(
      got.map((a) => [a.kind, a.poet]),
      // Arrived together: the one with more leaves is judged first.
      [
        ["not-a-member", B],
        ["no-better", A],
      ],
    );
    assert.equal(collection.best?.poet, "http://chosen");
    assert.equal(collection.failures.length, 1);
    assert.equal(collection.failures[0]?.error.code, "proof-verification");
  });

  it("with a proof chosen, stops at the cut-off and stops the downloads still running", async () => {
    const clock = new ManualClock(roundEnd.getTime());
    const { collection, answers, stopped } = twoPoets(clock);
    const done = collect(collection);
    await settle();
    answers.get(A)?.resolve(proof(A, 100n, true));
    await settle();
    await clock.set(20_000);
    const got = await done;
    assert.deepEqual(
      got.map((a) => [a.kind, a.poet]),
      [["better", A]],
    );
    assert.ok(stopped.has(B), "B's download is no longer waited for");
    // An abort is no PoET's failure.
    assert.deepEqual(collection.failures, []);
  });

  it("without a proof, waits past the cut-off until the proof deadline, and names each failure", async () => {
    const clock = new ManualClock(roundEnd.getTime());
    const { collection, answers } = twoPoets(clock);
    const done = collect(collection);
    await settle();
    answers.get(A)?.reject(new PoetError("rpc", "connection refused"));
    await clock.set(20_000);
    await settle();
    assert.equal(clock.pending > 0, true, "still waiting after the cut-off");
    await clock.set(30_000);
    assert.deepEqual(await done, []);
    assert.equal(collection.best, undefined);
    assert.deepEqual(
      collection.failures.map((f) => [f.poet, f.error.code]),
      [[A, "rpc"]],
    );
  });

  it("rejects with the abort when the caller aborts", async () => {
    const clock = new ManualClock(roundEnd.getTime());
    const { fetcher, stopped } = fakeFetcher();
    const collection = new ProofCollection(context(clock, fetcher), {
      hash,
      registrations: [registration(A)],
      chosen: undefined,
      cutoffMs: 20_000,
      proofDeadlineMs: 30_000,
    });
    const caller = new AbortController();
    const done = collect(collection, caller.signal);
    await settle();
    caller.abort(new AbortedError("stop"));
    await assert.rejects(done, AbortedError);
    assert.ok(stopped.has(A), "A's download is no longer waited for");
  });

  describe("parked between answers", () => {
    /** {@link twoPoets}, asked once ("wait") and parked on `signal`, counting its wake-ups. */
    async function parkedTwoPoets(clock: ManualClock, signal: AbortSignal) {
      const parked = twoPoets(clock);
      assert.equal(await parked.collection.next(signal), "wait");
      let wakes = 0;
      parked.collection.park(signal, () => wakes++);
      return { ...parked, wakes: () => wakes };
    }

    it("wakes once, at the first answer, and keeps no timer or abort listener after it", async () => {
      const clock = new ManualClock(roundEnd.getTime());
      const signal = new AbortController().signal;
      const { collection, answers, wakes } = await parkedTwoPoets(clock, signal);
      assert.equal(getEventListeners(signal, "abort").length, 1);
      assert.equal(clock.pending, 1, "a timer at the proof deadline");
      answers.get(A)?.resolve(proof(A, 100n, true));
      await settle();
      answers.get(B)?.resolve(proof(B, 300n, true));
      await settle();
      assert.equal(wakes(), 1, "woken by the first answer only");
      assert.equal(getEventListeners(signal, "abort").length, 0);
      assert.equal(clock.pending, 0);
      const first = await collection.next(signal);
      assert.equal(typeof first === "object" && first.kind, "better");
      collection.stop();
    });

    it("wakes at its time (the proof deadline without a choice) and then says the collection is done", async () => {
      const clock = new ManualClock(roundEnd.getTime());
      const signal = new AbortController().signal;
      const { collection, stopped, wakes } = await parkedTwoPoets(clock, signal);
      await clock.set(29_999);
      assert.equal(wakes(), 0);
      await clock.set(30_000);
      assert.equal(wakes(), 1);
      assert.equal(await collection.next(signal), "done");
      assert.deepEqual([...stopped].sort(), [A, B], "the downloads are stopped when it is done");
    });

    it("wakes on an abort, after which next() rejects with it", async () => {
      const clock = new ManualClock(roundEnd.getTime());
      const caller = new AbortController();
      const { collection, stopped, wakes } = await parkedTwoPoets(clock, caller.signal);
      caller.abort(new AbortedError("stop"));
      assert.equal(wakes(), 1);
      assert.equal(clock.pending, 0, "its timer is stopped");
      await assert.rejects(collection.next(caller.signal), AbortedError);
      collection.stop();
      assert.deepEqual([...stopped].sort(), [A, B]);
    });

    it("wakes at once when an answer came before it parked", async () => {
      const clock = new ManualClock(roundEnd.getTime());
      const { collection, answers } = twoPoets(clock);
      const signal = new AbortController().signal;
      assert.equal(await collection.next(signal), "wait");
      answers.get(A)?.resolve(proof(A, 100n, true));
      await settle();
      let wakes = 0;
      collection.park(signal, () => wakes++);
      assert.equal(wakes, 1);
      assert.equal(getEventListeners(signal, "abort").length, 0);
      assert.equal(clock.pending, 0);
      collection.stop();
    });
  });
});
