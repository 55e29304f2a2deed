import assert from "node:assert/strict";
import { getEventListeners } from "node:events";
import { describe, it } from "node:test";
import {
  AbortFanOut,
  anySignal,
  asPoetError,
  atTime,
  DEADLINE_PASSED,
  isAbort,
  linkedController,
  sleepUntil,
  startTimeLimit,
  withTimeout,
} from "../src/cancellation.js";
import { type Clock, ManualClock } from "../src/clock.js";
import { AbortedError, PoetError, StorageError } from "../src/errors.js";

/** A task that settles only when its signal fires, with the signal's reason. */
const heeding = (signal: AbortSignal) =>
  new Promise<never>((_, reject) => {
    signal.addEventListener("abort", () => reject(signal.reason), { once: true });
  });

describe("startTimeLimit", () => {
  it("runs out after its time on the clock, with a reason built only then", async () => {
    const clock = new ManualClock(0);
    let built = 0;
    const reason = new Error("time ran out");
    const limit = startTimeLimit(clock, 1_000, undefined, {
      reason: () => {
        built++;
        return reason;
      },
    });
    await clock.advance(999);
    assert.equal(limit.signal.aborted, false);
    assert.equal(built, 0);
    await clock.advance(1);
    assert.equal(limit.expired, true);
    assert.equal(limit.signal.reason, reason);
    assert.equal(built, 1);
    await limit.stop();
    assert.equal(clock.pending, 0);
  });

  it("a plain limit ignores progress; a silence limit counts from the last sign of life", async () => {
    const clock = new ManualClock(0);
    const plain = startTimeLimit(clock, 1_000, undefined, { reason: () => "plain" });
    const silence = startTimeLimit(clock, 1_000, undefined, {
      reason: () => "silence",
      silence: true,
    });
    await clock.advance(600);
    plain.progress();
    silence.progress();
    await clock.advance(400);
    assert.equal(plain.expired, true);
    assert.equal(silence.expired, false);
    await clock.advance(500);
    silence.progress();
    await clock.advance(999);
    assert.equal(silence.expired, false);
    await clock.advance(1);
    assert.equal(silence.expired, true);
    assert.equal(silence.signal.reason, "silence");
    assert.equal(clock.now(), 2_500);
    await plain.stop();
    await silence.stop();
    assert.equal(clock.pending, 0);
  });

  it("follows the caller's signal with its reason, and is unlinked by stop", async () => {
    const clock = new ManualClock(0);
    const caller = new AbortController();
    const first = startTimeLimit(clock, 1_000, caller.signal, { reason: () => "time" });
    await first.stop();
    assert.equal(clock.pending, 0);
    const second = startTimeLimit(clock, 1_000, caller.signal, { reason: () => "time" });
    caller.abort("caller's reason");
    assert.equal(first.signal.aborted, false, "a stopped limit no longer follows the caller");
    assert.equal(second.signal.reason, "caller's reason");
    assert.equal(second.expired, false);
    await second.stop();
    const late = startTimeLimit(clock, 1_000, caller.signal, { reason: () => "time" });
    assert.equal(late.signal.reason, "caller's reason", "an aborted caller aborts it at once");
    await late.stop();
    assert.equal(clock.pending, 0);
  });
});

/** `clock` without its timer: what a caller's own Clock implementation may be. */
const sleepOnly = (clock: ManualClock): Clock => ({
  now: () => clock.now(),
  sleep: (ms, options) => clock.sleep(ms, options),
});

describe("time limits on a clock without setTimer", () => {
  it("run out, count silence and stop as on a clock with one", async () => {
    const manual = new ManualClock(0);
    const clock = sleepOnly(manual);
    const plain = startTimeLimit(clock, 1_000, undefined, { reason: () => "plain" });
    const silence = startTimeLimit(clock, 1_000, undefined, {
      reason: () => "silence",
      silence: true,
    });
    const stopped = startTimeLimit(clock, 1_000, undefined, { reason: () => "stopped" });
    await stopped.stop();
    await manual.advance(600);
    silence.progress();
    await manual.advance(400);
    assert.equal(plain.expired, true);
    assert.equal(plain.signal.reason, "plain");
    assert.equal(silence.expired, false);
    assert.equal(stopped.signal.aborted, false);
    await manual.advance(600);
    assert.equal(silence.expired, true);
    await plain.stop();
    await silence.stop();
    assert.equal(manual.pending, 0);
  });
});

describe("atTime", () => {
  for (const [name, wrap] of [
    ["with setTimer", (c: ManualClock): Clock => c],
    ["with sleep only", sleepOnly],
  ] as const) {
    it(`calls back at the instant unless cancelled (${name})`, async () => {
      const manual = new ManualClock(1_000);
      const clock = wrap(manual);
      const calls: string[] = [];
      atTime(clock, 3_000, () => calls.push("due"));
      const cancel = atTime(clock, 2_000, () => calls.push("cancelled"));
      cancel();
      await manual.advance(1_999);
      assert.deepEqual(calls, []);
      await manual.advance(1);
      assert.deepEqual(calls, ["due"]);
      assert.equal(manual.pending, 0);
    });

    it(`calls back in a microtask when the instant has passed (${name})`, async () => {
      const clock = wrap(new ManualClock(5_000));
      const calls: string[] = [];
      atTime(clock, 4_000, () => calls.push("past"));
      atTime(clock, 5_000, () => calls.push("now"));
      atTime(clock, 4_000, () => calls.push("cancelled"))();
      assert.deepEqual(calls, [], "not synchronously");
      await Promise.resolve();
      assert.deepEqual(calls, ["past", "now"]);
    });
  }
});

describe("linkedController", () => {
  it("follows its sources with their reason until unlinked, and aborts on its own", () => {
    const a = new AbortController();
    const b = new AbortController();
    const first = linkedController(a.signal, undefined, b.signal);
    b.abort("b's reason");
    assert.equal(first.signal.reason, "b's reason");
    const second = linkedController(a.signal);
    second.unlink();
    a.abort("a's reason");
    assert.equal(second.signal.aborted, false, "an unlinked controller no longer follows");
    const third = linkedController(a.signal);
    assert.equal(third.signal.reason, "a's reason", "an aborted source aborts it at once");
    const own = linkedController(new AbortController().signal);
    own.abort(DEADLINE_PASSED);
    assert.equal(own.signal.reason, DEADLINE_PASSED);
  });

  it("leaves no listener on its sources once unlinked or aborted", () => {
    const a = new AbortController();
    const b = new AbortController();
    const linked = linkedController(a.signal, b.signal);
    assert.equal(getEventListeners(a.signal, "abort").length, 1);
    linked.unlink();
    assert.equal(getEventListeners(a.signal, "abort").length, 0);
    assert.equal(getEventListeners(b.signal, "abort").length, 0);
    const aborted = linkedController(a.signal, b.signal);
    aborted.abort(DEADLINE_PASSED);
    assert.equal(getEventListeners(a.signal, "abort").length, 0);
    assert.equal(getEventListeners(b.signal, "abort").length, 0);
    // A source that fires leaves the others' listeners until unlink, as before.
    const fired = linkedController(a.signal, b.signal);
    a.abort("a");
    assert.equal(fired.signal.reason, "a");
    fired.unlink();
    assert.equal(getEventListeners(b.signal, "abort").length, 0);
  });
});

describe("AbortFanOut", () => {
  it("passes one signal's abort on to every linked controller, with one listener on it", () => {
    const closed = new AbortController();
    const fanOut = new AbortFanOut(closed.signal);
    const links = [0, 1, 2].map(() => linkedController(fanOut));
    assert.equal(getEventListeners(closed.signal, "abort").length, 1);
    links[1]?.unlink();
    closed.abort("closed");
    assert.equal(fanOut.aborted, true);
    assert.equal(fanOut.reason, "closed");
    assert.deepEqual(
      links.map((l) => l.signal.reason),
      ["closed", undefined, "closed"],
      "an unlinked controller no longer follows",
    );
    assert.equal(getEventListeners(closed.signal, "abort").length, 0);
    const late = linkedController(fanOut);
    assert.equal(late.signal.reason, "closed", "an aborted fan-out aborts a new link at once");
  });

  it("aborts on its own or with a fan-out it follows, and forgets it once aborted", () => {
    const parent = new AbortFanOut();
    const generation = new AbortFanOut(parent);
    const caller = new AbortController();
    const linked = linkedController(caller.signal, generation);
    generation.abort("the PoET set changed");
    assert.equal(linked.signal.reason, "the PoET set changed");
    assert.equal(getEventListeners(caller.signal, "abort").length, 0, "aborting unlinks it");
    const next = new AbortFanOut(parent);
    const other = linkedController(next);
    parent.abort("closed");
    assert.equal(next.reason, "closed");
    assert.equal(other.signal.reason, "closed");
    assert.equal(generation.reason, "the PoET set changed", "aborts once, with its first reason");
    const member = new AbortController();
    new AbortFanOut(new AbortFanOut(AbortSignal.abort("early"))).add(member);
    assert.equal(member.signal.reason, "early");
  });
});

describe("withTimeout", () => {
  it("rejects with a timeout PoetError naming the work when its time runs out", async () => {
    const clock = new ManualClock(0);
    const done = withTimeout(clock, 2_000, "info of http://poet", undefined, heeding);
    const rejected = assert.rejects(done, (err: unknown) => {
      assert.ok(err instanceof PoetError);
      assert.equal(err.code, "timeout");
      assert.equal(err.message, "info of http://poet took longer than 2000 ms");
      return true;
    });
    await clock.advance(2_000);
    await rejected;
    assert.equal(clock.pending, 0);
  });

  it("stops waiting for a task that ignores its signal", async () => {
    const clock = new ManualClock(0);
    const done = withTimeout(clock, 2_000, "submit", undefined, () => new Promise(() => {}));
    const rejected = assert.rejects(
      done,
      (err: unknown) => err instanceof PoetError && err.code === "timeout",
    );
    await clock.advance(2_000);
    await rejected;
  });

  it("rejects with AbortedError, not a timeout, when the caller aborts", async () => {
    const clock = new ManualClock(0);
    const caller = new AbortController();
    const done = withTimeout(clock, 2_000, "submit", caller.signal, () => new Promise(() => {}));
    const rejected = assert.rejects(done, AbortedError);
    caller.abort(DEADLINE_PASSED);
    await rejected;
    assert.equal(clock.pending, 0);
  });

  it("returns the task's value and leaves no timer", async () => {
    const clock = new ManualClock(0);
    assert.equal(await withTimeout(clock, 2_000, "info", undefined, async () => 7), 7);
    await clock.advance(0);
    assert.equal(clock.pending, 0);
  });
});

describe("the small helpers", () => {
  it("sleepUntil returns at once for an instant passed, and sleeps on the clock otherwise", async () => {
    const clock = new ManualClock(5_000);
    await sleepUntil(clock, 4_000, undefined);
    await assert.rejects(sleepUntil(clock, 4_000, AbortSignal.abort()), AbortedError);
    let woke = false;
    const sleeping = sleepUntil(clock, 6_000, undefined).then(() => {
      woke = true;
    });
    await clock.advance(999);
    assert.equal(woke, false);
    await clock.advance(1);
    await sleeping;
    assert.equal(woke, true);
  });

  it("anySignal ignores absent signals and fires with the first reason", () => {
    const a = new AbortController();
    const b = new AbortController();
    const both = anySignal(a.signal, undefined, b.signal);
    b.abort("b");
    assert.equal(both.reason, "b");
    assert.equal(anySignal(undefined).aborted, false);
  });

  it("isAbort and asPoetError tell aborts from other failures", () => {
    const platform = new DOMException("stopped", "AbortError");
    assert.equal(isAbort(new AbortedError()), true);
    assert.equal(isAbort(platform), true);
    assert.equal(isAbort(new DOMException("late", "TimeoutError")), true);
    assert.equal(isAbort(new Error("boom")), false);
    const storage = new StorageError("locked", { kind: "io" });
    assert.equal(asPoetError(storage), storage);
    const aborted = asPoetError(platform);
    assert.ok(aborted instanceof AbortedError);
    assert.equal(aborted.cause, platform);
    const internal = asPoetError("boom");
    assert.equal(internal.code, "internal");
    assert.equal(internal.message, "boom");
  });
});
