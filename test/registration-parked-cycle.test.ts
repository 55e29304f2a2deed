/**
 * A cycle parked without a suspended call (`registration/parked-cycle.ts`): woken once, by the
 * first of a promise's settling and its signal's abort, with no listener left behind; resumed
 * by `park`, parked again as often as the cycle says.
 */
import assert from "node:assert/strict";
import { getEventListeners } from "node:events";
import { describe, it } from "node:test";
import { type CycleResult, ParkedCycle, wakeOnSettled } from "../src/registration/parked-cycle.js";

function deferred() {
  let resolve: () => void = () => {};
  let reject: (err: unknown) => void = () => {};
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  promise.catch(() => {});
  return { promise, resolve, reject };
}

const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

/** The cycle going on once `parked` is woken: its outcome, or parked again. */
const goneOn = (parked: ParkedCycle) =>
  new Promise<Promise<CycleResult>>((resolve) => parked.park(resolve)).then((next) => next);

describe("wakeOnSettled", () => {
  it("wakes once when the promise resolves, and stops listening to the signal", async () => {
    const signal = new AbortController().signal;
    const d = deferred();
    let wakes = 0;
    wakeOnSettled(d.promise, signal, () => wakes++);
    assert.equal(getEventListeners(signal, "abort").length, 1);
    d.resolve();
    await settle();
    assert.equal(wakes, 1);
    assert.equal(getEventListeners(signal, "abort").length, 0);
  });

  it("wakes once when the promise rejects (the woken code reads the rejection itself)", async () => {
    const signal = new AbortController().signal;
    const d = deferred();
    let wakes = 0;
    wakeOnSettled(d.promise, signal, () => wakes++);
    d.reject(new Error("refused"));
    await settle();
    assert.equal(wakes, 1);
    await assert.rejects(d.promise, /refused/);
  });

  it("wakes once on an abort, not again when the promise settles later", async () => {
    const caller = new AbortController();
    const d = deferred();
    let wakes = 0;
    wakeOnSettled(d.promise, caller.signal, () => wakes++);
    caller.abort();
    assert.equal(wakes, 1);
    d.resolve();
    await settle();
    assert.equal(wakes, 1);
  });

  it("wakes at once for a signal that aborted already, adding no listener", async () => {
    const signal = AbortSignal.abort();
    let wakes = 0;
    wakeOnSettled(deferred().promise, signal, () => wakes++);
    assert.equal(wakes, 1);
    assert.equal(getEventListeners(signal, "abort").length, 0);
  });
});

describe("ParkedCycle", () => {
  it("resumes once woken, and is parked again as often as the cycle says", async () => {
    const wakers: (() => void)[] = [];
    let resumed = 0;
    const park = (wake: () => void) => {
      wakers.push(wake);
    };
    const parked = (left: number): ParkedCycle =>
      new ParkedCycle(park, async () => {
        resumed++;
        return left === 0 ? ({ kind: "done" } as never) : parked(left - 1);
      });
    let result: unknown = parked(2);
    let woken = 0;
    while (result instanceof ParkedCycle) {
      const next = goneOn(result);
      await settle();
      assert.equal(resumed, woken, "not resumed before it is woken");
      wakers[woken]?.();
      woken++;
      result = await next;
    }
    assert.deepEqual(result, { kind: "done" });
    assert.equal(resumed, 3);
  });

  it("passes on the rejection of the resumed cycle", async () => {
    const parked = new ParkedCycle(
      (wake) => wake(),
      () => Promise.reject(new Error("aborted")),
    );
    await assert.rejects(goneOn(parked), /aborted/);
  });

  it("park: calls back once, in a microtask of its own, however often it is woken", async () => {
    let wakeIt: () => void = () => {};
    const parked = new ParkedCycle(
      (wake) => {
        wakeIt = wake;
      },
      async () => {
        resumed++;
        return "done" as never;
      },
    );
    let resumed = 0;
    const calls: Promise<unknown>[] = [];
    parked.park((next) => calls.push(next));
    assert.equal(calls.length, 0);
    wakeIt();
    wakeIt();
    assert.equal(calls.length, 1);
    assert.equal(resumed, 0, "not resumed inside whatever woke it");
    assert.equal(await calls[0], "done");
    assert.equal(resumed, 1);
  });

  it("park: a park that throws is a rejected continuation, not a throw", async () => {
    const parked = new ParkedCycle(
      () => {
        throw new Error("no timer");
      },
      async () => "done" as never,
    );
    const calls: Promise<unknown>[] = [];
    assert.doesNotThrow(() => parked.park((next) => calls.push(next)));
    assert.equal(calls.length, 1);
    await assert.rejects(calls[0] as Promise<unknown>, /no timer/);
  });
});
