import assert from "node:assert/strict";
import { getEventListeners } from "node:events";
import { describe, it } from "node:test";
import { AbortedError, ConfigError } from "../src/errors.js";
import { compareProofs, selectBestProof, ticksOf } from "../src/registration/best-proof.js";
import { ConcurrencyLimit } from "../src/registration/concurrency-limit.js";
import { poetAddress } from "../src/registration/poet-address.js";
import { drawJitter } from "../src/retry-policy.js";

const ref = (b: number) => new Uint8Array(32).fill(b);

describe("selectBestProof", () => {
  it("picks the proof with the most leaves", () => {
    const best = selectBestProof([
      { poet: "http://a", leaves: 111n, ref: ref(1) },
      { poet: "http://b", leaves: 999n, ref: ref(2) },
      { poet: "http://c", leaves: 500n, ref: ref(3) },
    ]);
    assert.equal(best?.poet, "http://b");
  });

  it("breaks a tie by the smaller ref, whatever the order of arrival", () => {
    const a = { poet: "http://a", leaves: 7n, ref: ref(9) };
    const b = { poet: "http://b", leaves: 7n, ref: ref(3) };
    assert.equal(selectBestProof([a, b])?.poet, "http://b");
    assert.equal(selectBestProof([b, a])?.poet, "http://b");
    assert.equal(compareProofs(a, a), 0);
  });

  it("breaks a tie of identical proofs by the PoET address", () => {
    const a = { poet: "http://a", leaves: 7n, ref: ref(3) };
    const b = { poet: "http://b", leaves: 7n, ref: ref(3) };
    assert.equal(selectBestProof([b, a])?.poet, "http://a");
  });

  it("returns undefined for no candidates and counts ticks by integer division", () => {
    assert.equal(selectBestProof([]), undefined);
    assert.equal(ticksOf(86_831_894_949n, 9_331_200n), 9305n);
    assert.equal(ticksOf(5n, 0n), 0n);
  });
});

describe("drawJitter", () => {
  it("stays within the bounds, inclusive, for the extremes of the random source", () => {
    assert.equal(
      drawJitter(8640, 17280, () => 0),
      8640,
    );
    assert.equal(
      drawJitter(8640, 17280, () => 0.999999999),
      17280,
    );
    assert.equal(
      drawJitter(10, 10, () => 0.5),
      10,
    );
    const mid = drawJitter(8640, 17280, () => 0.5);
    assert.ok(mid >= 8640 && mid <= 17280);
  });
});

describe("ConcurrencyLimit", () => {
  it("never runs more tasks at once than its limit and runs them all", async () => {
    const limit = new ConcurrencyLimit(3);
    let running = 0;
    let peak = 0;
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        limit.run(async () => {
          running++;
          peak = Math.max(peak, running);
          await new Promise((r) => setImmediate(r));
          running--;
          return i;
        }),
      ),
    );
    assert.equal(peak, 3);
    assert.equal(results.length, 20);
    assert.equal(limit.active, 0);
  });

  it("rejects a waiting task with AbortedError when its signal aborts", async () => {
    const limit = new ConcurrencyLimit(1);
    let release!: () => void;
    const first = limit.run(() => new Promise<void>((r) => (release = r)));
    const controller = new AbortController();
    const second = limit.run(async () => 1, { signal: controller.signal });
    controller.abort();
    await assert.rejects(second, AbortedError);
    release();
    await first;
    assert.equal(await limit.run(async () => 2), 2);
  });

  it("leaves no listener on a waiting task's signal once it ran or gave up", async () => {
    const limit = new ConcurrencyLimit(1);
    let release!: () => void;
    const first = limit.run(() => new Promise<void>((r) => (release = r)));
    const kept = new AbortController();
    const dropped = new AbortController();
    const second = limit.run(async () => "ran", { signal: kept.signal });
    const third = limit.run(async () => "never", { signal: dropped.signal });
    assert.equal(getEventListeners(kept.signal, "abort").length, 1, "a queued task listens");
    assert.equal(limit.waiting, 2);
    dropped.abort();
    await assert.rejects(third, AbortedError);
    assert.equal(getEventListeners(dropped.signal, "abort").length, 0);
    assert.equal(limit.waiting, 1, "the task that gave up is counted out");
    release();
    await first;
    assert.equal(await second, "ran");
    assert.equal(getEventListeners(kept.signal, "abort").length, 0, "granted: listener removed");
    assert.equal(limit.active, 0);
  });
});

describe("poetAddress", () => {
  it("adds http when the scheme is missing and leaves an existing scheme alone", () => {
    assert.equal(poetAddress("poet.example:8080"), "http://poet.example:8080");
    assert.equal(
      poetAddress("https://mainnet-poet-0.spacemesh.network"),
      "https://mainnet-poet-0.spacemesh.network",
    );
    assert.equal(poetAddress("http://127.0.0.1:1/"), "http://127.0.0.1:1/");
  });

  it("refuses an empty address or another scheme", () => {
    assert.throws(() => poetAddress(""), ConfigError);
    assert.throws(() => poetAddress("ftp://x"), ConfigError);
  });
});
