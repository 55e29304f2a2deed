import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ManualClock } from "../src/clock.js";
import { AbortedError, PoetError } from "../src/errors.js";

describe("ManualClock", () => {
  it("wakes sleepers in time order when advanced past them", async () => {
    const clock = new ManualClock(1000);
    const woke: number[] = [];
    void clock.sleep(500).then(() => woke.push(clock.now()));
    void clock.sleep(100).then(() => woke.push(clock.now()));
    await clock.advance(50);
    assert.deepEqual(woke, []);
    await clock.advance(1000);
    assert.deepEqual(woke, [1100, 1500]);
    assert.equal(clock.now(), 2050);
  });

  it("rejects a sleep with AbortedError when its signal aborts", async () => {
    const clock = new ManualClock();
    const controller = new AbortController();
    const sleeping = clock.sleep(1000, { signal: controller.signal });
    controller.abort();
    await assert.rejects(
      sleeping,
      (err) => err instanceof AbortedError && err instanceof PoetError,
    );
    assert.equal(clock.pending, 0);
  });

  it("steps to the next wake-up, waking everything due at that instant and nothing later", async () => {
    const clock = new ManualClock(1000);
    const woke: string[] = [];
    void clock.sleep(300).then(() => woke.push(`a@${clock.now()}`));
    void clock.sleep(300).then(() => woke.push(`b@${clock.now()}`));
    void clock.sleep(900).then(() => woke.push(`c@${clock.now()}`));
    assert.equal(await clock.advanceToNextWakeup(), true);
    assert.deepEqual(woke, ["a@1300", "b@1300"]);
    assert.equal(clock.now(), 1300);
    assert.equal(await clock.advanceToNextWakeup(1500), false, "nothing due by the limit");
    assert.equal(clock.now(), 1500);
    assert.deepEqual(woke, ["a@1300", "b@1300"]);
    assert.equal(await clock.advanceToNextWakeup(new Date(5000)), true);
    assert.deepEqual(woke, ["a@1300", "b@1300", "c@1900"]);
    assert.equal(await clock.advanceToNextWakeup(), false, "no sleeper left");
    assert.equal(clock.now(), 1900);
  });
});
