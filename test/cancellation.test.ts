import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  anySignal,
  asPoetError,
  DEADLINE_PASSED,
  isAbort,
  sleepUntil,
  startTimeLimit,
  withTimeout,
} from "../src/cancellation.js";
import { ManualClock } from "../src/clock.js";
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
