import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { PoetError, ProofVerificationError } from "../src/errors.js";
import {
  expired,
  noProof,
  outcomeRule,
  registrationFailed,
  windowMissed,
} from "../src/registration/cycle-outcomes.js";
import type { NiPostOutcome } from "../src/registration/nipost.js";
import { RoundSchedule } from "../src/schedule/index.js";

const schedule = new RoundSchedule({
  genesis: new Date(1_700_000_000_000),
  epochDurationMs: 40_000,
  phaseShiftMs: 12_000,
  cycleGapMs: 8_000,
});
const nodeId = new Uint8Array(32).fill(1);
const round = 0;
const publishEpoch = schedule.publishEpoch(round);
const at = new Date(schedule.proofDeadline(round).getTime() + 1);
const rpc = { poet: "http://a", error: new PoetError("rpc", "connection refused") };
const bad = {
  poet: "http://b",
  error: new ProofVerificationError("missing-member", "not among the members"),
};

const cases: {
  name: string;
  outcome: NiPostOutcome;
  resets: boolean;
  event: string | undefined;
  code?: string;
}[] = [
  {
    name: "window missed: cleared and reported",
    outcome: windowMissed(schedule, at.getTime(), nodeId, round, publishEpoch, [rpc]),
    resets: true,
    event: "window-missed",
    code: "registration-window-missed",
  },
  {
    name: "every PoET refused: rows kept, no event (the caller has the outcome)",
    outcome: registrationFailed(nodeId, publishEpoch, schedule.registrationDeadline(round), []),
    resets: false,
    event: undefined,
    code: "registration-rejected",
  },
  {
    name: "no proof before the deadline, network errors only: rows kept, code rpc",
    outcome: noProof(schedule, nodeId, round, publishEpoch, [rpc], false),
    resets: false,
    event: undefined,
    code: "rpc",
  },
  {
    name: "no proof, one proof failed verification: code proof-verification",
    outcome: noProof(schedule, nodeId, round, publishEpoch, [rpc, bad], false),
    resets: false,
    event: undefined,
    code: "proof-verification",
  },
  {
    name: "no proof by the proof deadline: cleared, challenge-expired",
    outcome: noProof(schedule, nodeId, round, publishEpoch, [], true),
    resets: true,
    event: "challenge-expired",
    code: "deadline-passed",
  },
  {
    name: "the publish epoch ended: cleared, challenge-expired",
    outcome: expired(nodeId, publishEpoch, at.getTime(), "the publish epoch ended"),
    resets: true,
    event: "challenge-expired",
    code: "deadline-passed",
  },
  {
    name: "PoST failed: the chosen proof stays, post-failed",
    outcome: { kind: "post-failed", nodeId, publishEpoch, error: rpc.error },
    resets: false,
    event: "post-failed",
  },
  {
    name: "PoET set mismatch: rows kept, poet-set-mismatch",
    outcome: {
      kind: "poet-set-mismatch",
      nodeId,
      publishEpoch,
      registeredAt: ["http://gone"],
      configured: ["http://a"],
      error: new PoetError("config", "registered only at http://gone"),
    },
    resets: false,
    event: "poet-set-mismatch",
  },
];

describe("cycle outcomes", () => {
  for (const c of cases) {
    it(c.name, () => {
      const rule = outcomeRule(c.outcome);
      assert.equal(rule.resets(c.outcome), c.resets);
      const event = rule.event(c.outcome, at, round);
      assert.equal(event?.type, c.event);
      if (event !== undefined && "nodeId" in event) assert.deepEqual(event.nodeId, nodeId);
      if (event !== undefined && "round" in event) assert.equal(event.round, round);
      if (c.code !== undefined && "error" in c.outcome) {
        assert.equal(c.outcome.error.code, c.code);
      }
    });
  }
});
