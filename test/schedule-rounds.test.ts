import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { blake3 } from "@noble/hashes/blake3.js";
import { ConfigError } from "../src/errors.js";
import { MAINNET, planPhaseSwitch, RoundSchedule } from "../src/schedule/index.js";

const HOUR = 3_600_000;
const iso = (d: Date) => d.toISOString();
const at = (s: string) => new Date(s);

describe("RoundSchedule", () => {
  const s = MAINNET.schedule;

  it("holds the spec's worked mainnet example for rounds 30 and 31", () => {
    assert.equal(iso(s.roundStart(30)), "2024-09-16T08:00:00.000Z");
    assert.equal(iso(s.roundEnd(30)), "2024-09-29T20:00:00.000Z");
    assert.equal(s.publishEpoch(30), 31);
    assert.equal(iso(s.registrationOpens(30)), "2024-09-02T08:00:00.000Z");
    assert.equal(iso(s.registrationDeadline(30)), "2024-09-16T08:00:00.000Z");
    assert.deepEqual(
      { start: iso(s.cycleGap(30).start), end: iso(s.cycleGap(30).end) },
      { start: "2024-09-29T20:00:00.000Z", end: "2024-09-30T08:00:00.000Z" },
    );
    assert.equal(iso(s.proofDeadline(30)), "2024-10-03T20:00:00.000Z");
    assert.equal(iso(s.publishEpochEnd(30)), "2024-10-04T08:00:00.000Z");
    assert.equal(iso(s.epochStart(30)), "2024-09-06T08:00:00.000Z");
    assert.equal(iso(s.epochStart(31)), "2024-09-20T08:00:00.000Z");

    assert.equal(iso(s.roundStart(31)), "2024-09-30T08:00:00.000Z");
    assert.equal(iso(s.roundEnd(31)), "2024-10-13T20:00:00.000Z");
    assert.equal(iso(s.proofDeadline(31)), "2024-10-17T20:00:00.000Z");
    assert.equal(s.publishEpoch(31), 32);
  });

  it("agrees with the round ends that real mainnet nodes reported", () => {
    assert.equal(iso(s.roundEnd(3)), "2023-09-17T20:00:00.000Z");
    assert.equal(iso(s.roundEnd(4)), "2023-10-01T20:00:00.000Z");
    assert.equal(iso(s.roundEnd(9)), "2023-12-10T20:00:00.000Z");
  });

  it("names the round open for registration at an instant, with the start as the boundary", () => {
    assert.equal(s.openRound(at("2024-09-16T07:59:59.476Z")), 30);
    assert.equal(s.openRound(at("2024-09-16T08:00:00.000Z")), 31);
    assert.equal(s.openRound(at("2024-09-02T08:00:00.000Z")), 30);
    assert.equal(s.openRound(at("2023-07-14T08:00:00.000Z")), 0);
    assert.equal(s.openRound(at("2020-01-01T00:00:00.000Z")), 0);
    assert.equal(s.openRound(at("2023-07-24T08:00:00.000Z")), 1);
  });

  it("says which round executes at an instant and none in the cycle gap", () => {
    assert.equal(s.executingRound(at("2024-09-20T00:00:00Z")), 30);
    assert.equal(s.executingRound(at("2024-09-29T20:00:00Z")), undefined);
    assert.equal(s.executingRound(at("2024-09-30T07:59:59Z")), undefined);
    assert.equal(s.executingRound(at("2024-09-30T08:00:00Z")), 31);
    assert.equal(s.executingRound(at("2023-07-20T00:00:00Z")), undefined);
  });

  it("matches a real submit response: round 30 ends 1166400.52 s after 07:59:59.476853Z", () => {
    const submittedAt = Date.parse("2024-09-16T07:59:59.476Z");
    assert.equal(s.openRound(new Date(submittedAt)), 30);
    assert.equal(s.roundEnd(30).getTime() - submittedAt, 1_166_400_524);
  });

  it("gives the proof-query jitter as 0.02–0.04 % of the cycle gap", () => {
    assert.deepEqual(s.proofQueryJitter(), { minMs: 8640, maxMs: 17280 });
  });

  it("lists the coming rounds with every deadline", () => {
    const rounds = s.upcoming(at("2024-09-10T00:00:00Z"), 2);
    assert.deepEqual(
      rounds.map((r) => [r.round, iso(r.roundEnd), r.publishEpoch]),
      [
        [30, "2024-09-29T20:00:00.000Z", 31],
        [31, "2024-10-13T20:00:00.000Z", 32],
      ],
    );
    assert.equal(iso(rounds[0]!.cycleGapEnd), "2024-09-30T08:00:00.000Z");
  });

  it("refuses numbers that are not integer milliseconds or do not fit in an epoch", () => {
    const base = {
      genesis: new Date(0),
      epochDurationMs: 100,
      phaseShiftMs: 10,
      cycleGapMs: 10,
    };
    assert.throws(() => new RoundSchedule({ ...base, epochDurationMs: 0 }), ConfigError);
    assert.throws(() => new RoundSchedule({ ...base, phaseShiftMs: 1.5 }), ConfigError);
    assert.throws(() => new RoundSchedule({ ...base, cycleGapMs: 100 }), ConfigError);
    assert.throws(() => new RoundSchedule({ ...base, phaseShiftMs: 100 }), ConfigError);
    assert.throws(() => new RoundSchedule({ ...base, genesis: new Date(Number.NaN) }), ConfigError);
    assert.throws(() => s.roundStart(0.5), ConfigError);
  });

  it("compares phases and derives a schedule with another phase", () => {
    assert.ok(s.samePhase({ phaseShiftMs: 240 * HOUR, cycleGapMs: 12 * HOUR }));
    assert.ok(!s.samePhase({ phaseShiftMs: 240 * HOUR, cycleGapMs: 2 * HOUR }));
    const other = s.withPhase({ phaseShiftMs: 120 * HOUR, cycleGapMs: 12 * HOUR });
    assert.equal(iso(other.roundStart(30)), "2024-09-11T08:00:00.000Z");
  });
});

describe("MAINNET", () => {
  it("carries the genesis id derived from genesis seconds and the extra data", () => {
    const seconds = String(MAINNET.schedule.genesis.getTime() / 1000);
    const digest = blake3(new TextEncoder().encode(seconds + MAINNET.genesisExtraData));
    assert.deepEqual(MAINNET.genesisId, digest.slice(0, 20));
    assert.equal(
      Buffer.from(MAINNET.genesisId).toString("hex"),
      "9eebff023abb17ccb775c602daade8ed708f0a50",
    );
  });

  it("lists the five mainnet PoETs with 32-byte keys and the mainnet tick size", () => {
    assert.equal(MAINNET.poets.length, 5);
    for (const poet of MAINNET.poets) {
      assert.match(poet.url, /^https:\/\/.*spacemesh\.network$/);
      assert.equal(poet.pubkey?.length, 32);
    }
    assert.equal(MAINNET.tickSize, 9_331_200n);
    assert.equal(
      MAINNET.layersPerEpoch * MAINNET.layerDurationMs,
      MAINNET.schedule.epochDurationMs,
    );
    assert.equal(MAINNET.schedule.phaseShiftMs, 240 * HOUR);
    assert.equal(MAINNET.schedule.cycleGapMs, 12 * HOUR);
  });
});

describe("planPhaseSwitch", () => {
  const from = MAINNET.schedule;

  it("switches now when the new phase's round for the same publish epoch has not started", () => {
    const to = from.withPhase({ phaseShiftMs: 300 * HOUR, cycleGapMs: 12 * HOUR });
    const plan = planPhaseSwitch({ from, to, at: at("2024-09-10T00:00:00Z"), publishEpoch: 31 });
    assert.equal(plan.mode, "now");
    assert.equal(plan.firstNewRound, 30);
    assert.deepEqual(plan.lostPublishEpochs, []);
    assert.ok(plan.safe);
  });

  it("keeps the current round and loses nothing when the new round starts after the proof plus PoST", () => {
    const to = from.withPhase({ phaseShiftMs: 300 * HOUR, cycleGapMs: 12 * HOUR });
    // Round 30 already runs in the old phase and in the new one.
    const plan = planPhaseSwitch({ from, to, at: at("2024-09-28T00:00:00Z"), publishEpoch: 31 });
    assert.equal(plan.mode, "after-proof");
    assert.equal(plan.keepRound, 30);
    assert.equal(iso(plan.switchAt), "2024-09-29T20:00:00.000Z");
    assert.equal(plan.firstNewRound, 31);
    assert.ok(plan.safe);
  });

  it("names the publish epoch lost when the new phase's next round starts before the old proof", () => {
    const to = from.withPhase({ phaseShiftMs: 120 * HOUR, cycleGapMs: 12 * HOUR });
    // Old round 30 ends 2024-09-29 20:00; new round 31 starts 2024-09-25 08:00: too early.
    const plan = planPhaseSwitch({ from, to, at: at("2024-09-20T00:00:00Z"), publishEpoch: 31 });
    assert.equal(plan.mode, "after-proof");
    assert.equal(plan.firstNewRound, 32);
    assert.equal(plan.firstNewPublishEpoch, 33);
    assert.deepEqual(plan.lostPublishEpochs, [32]);
    assert.ok(!plan.safe);
    assert.match(plan.explanation, /publish epoch 32 will have no ATX/);
  });

  it("loses nothing in the same phase: the next round starts exactly one cycle gap (the default PoST time) after the proof", () => {
    const plan = planPhaseSwitch({
      from,
      to: from,
      at: at("2024-09-20T00:00:00Z"),
      publishEpoch: 31,
    });
    assert.equal(plan.mode, "after-proof");
    assert.equal(plan.firstNewRound, 31);
    assert.deepEqual(plan.lostPublishEpochs, []);
    assert.ok(plan.safe);
    // One millisecond more of PoST and the next round is missed.
    const late = planPhaseSwitch({
      from,
      to: from,
      at: at("2024-09-20T00:00:00Z"),
      publishEpoch: 31,
      postDurationMs: 12 * HOUR + 1,
    });
    assert.deepEqual(late.lostPublishEpochs, [32]);
  });

  it("derives the publish epoch from the round executing at the instant", () => {
    const to = from.withPhase({ phaseShiftMs: 300 * HOUR, cycleGapMs: 12 * HOUR });
    const plan = planPhaseSwitch({ from, to, at: at("2024-09-28T00:00:00Z") });
    assert.equal(plan.publishEpoch, 31);
  });

  it("refuses a schedule of another network", () => {
    const to = new RoundSchedule({
      genesis: new Date(0),
      epochDurationMs: from.epochDurationMs,
      phaseShiftMs: 0,
      cycleGapMs: 0,
    });
    assert.throws(() => planPhaseSwitch({ from, to, at: new Date() }), ConfigError);
  });
});
