import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ConfigError } from "../src/errors.js";
import { MAINNET, proofPacing, RoundSchedule } from "../src/schedule/index.js";

const SECOND = 1000;
const HOUR = 3_600_000;

function scheduleWithGap(cycleGapMs: number): RoundSchedule {
  return new RoundSchedule({
    genesis: new Date("2024-01-01T00:00:00Z"),
    epochDurationMs: cycleGapMs * 6,
    phaseShiftMs: cycleGapMs,
    cycleGapMs,
  });
}

describe("proofPacing", () => {
  it("keeps mainnet's pacing: 2.5 s grace, 10 s first poll, 5 min longest, 1 h cut-off", () => {
    assert.deepEqual(proofPacing(MAINNET.schedule), {
      graceMs: 2_500,
      jitter: { minMs: 8_640, maxMs: 17_280 },
      pollIntervalMs: 10_000,
      maxPollIntervalMs: 300_000,
      cutoffMs: HOUR,
    });
  });

  for (const gap of [500, 2 * SECOND, 10 * SECOND, 60 * SECOND, 10 * 60 * SECOND, 12 * HOUR]) {
    it(`asks every PoET (first query and one more) before the cut-off with a ${gap} ms cycle gap`, () => {
      const p = proofPacing(scheduleWithGap(gap));
      const latestFirstQuery = p.graceMs + p.jitter.maxMs;
      assert.ok(latestFirstQuery + 2 * p.pollIntervalMs <= p.cutoffMs, JSON.stringify(p));
      assert.ok(p.graceMs > 0 && p.graceMs <= 2_500);
      assert.ok(p.pollIntervalMs >= 100 && p.pollIntervalMs <= 10_000);
      assert.ok(p.maxPollIntervalMs >= p.pollIntervalMs && p.maxPollIntervalMs <= 300_000);
      // The pacing leaves most of the cycle gap to PoST and the ATX.
      assert.ok(p.cutoffMs <= gap, `cut-off ${p.cutoffMs} ms within the ${gap} ms gap`);
    });
  }

  it("scales the grace, the polls and the cut-off with a short cycle gap", () => {
    assert.deepEqual(proofPacing(scheduleWithGap(10 * SECOND)), {
      graceMs: 1_000,
      jitter: { minMs: 2, maxMs: 4 },
      pollIntervalMs: 100,
      maxPollIntervalMs: 208,
      cutoffMs: 1_204,
    });
  });

  it("takes the caller's settings, but never a cut-off before every PoET was asked twice", () => {
    const s = scheduleWithGap(60 * SECOND);
    const p = proofPacing(s, { graceMs: 300, pollIntervalMs: 1_000, maxPollIntervalMs: 4_000 });
    assert.equal(p.graceMs, 300);
    assert.equal(p.pollIntervalMs, 1_000);
    assert.equal(p.maxPollIntervalMs, 4_000);
    assert.equal(p.cutoffMs, 5_000); // 1/12 of the gap
    const tight = proofPacing(s, { graceMs: 300, pollIntervalMs: 1_000, cutoffMs: 10 });
    assert.equal(tight.cutoffMs, 300 + s.proofQueryJitter().maxMs + 2_000);
    assert.equal(proofPacing(s, { cutoffMs: 20_000 }).cutoffMs, 20_000);
  });

  it("refuses settings that are not whole non-negative ms, or a longest poll under the first", () => {
    const s = scheduleWithGap(60 * SECOND);
    assert.throws(() => proofPacing(s, { graceMs: -1 }), ConfigError);
    assert.throws(() => proofPacing(s, { pollIntervalMs: 1.5 }), ConfigError);
    assert.throws(
      () => proofPacing(s, { pollIntervalMs: 2_000, maxPollIntervalMs: 1_000 }),
      (err: unknown) => err instanceof ConfigError && /maxProofPollIntervalMs/.test(err.message),
    );
  });
});
