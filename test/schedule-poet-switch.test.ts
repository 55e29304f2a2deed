import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  MAINNET,
  type PoetSwitchIdentityRows,
  planPoetSwitch,
  type RoundSchedule,
} from "../src/schedule/index.js";

const HOUR = 3_600_000;
const from = MAINNET.schedule;
/** Round 30 starts 60 h later than on mainnet (2024-09-18 20:00). */
const later = from.withPhase({ phaseShiftMs: 300 * HOUR, cycleGapMs: 12 * HOUR });
/** Round 30 starts 120 h earlier than on mainnet (2024-09-11 08:00). */
const earlier = from.withPhase({ phaseShiftMs: 120 * HOUR, cycleGapMs: 12 * HOUR });
const id = (b: number) => new Uint8Array(32).fill(b);
const OLD = "https://old.example";
const KEPT = "https://kept.example";
const NEW = "https://new.example";
const POETS = [NEW, KEPT];

interface Case {
  name: string;
  to: RoundSchedule;
  at: string;
  rows: Omit<PoetSwitchIdentityRows, "nodeId">;
  mode: "now" | "after-proof" | undefined;
  remove: string[];
  keep: string[];
  /** Submit intents deleted / kept (default: none). */
  intentsRemove?: string[];
  intentsKeep?: string[];
  nipost?: RegExp;
  lost?: number[];
  reason?: RegExp;
}

const regs = (...rows: [string, string][]) =>
  rows.map(([address, roundId]) => ({ address, roundId }));
const waiting = { publishEpoch: 31, poetProofRef: undefined };

const CASES: Case[] = [
  {
    name: "new phase's round not started yet: the old PoETs' rows go, the new set's stay",
    to: later,
    at: "2024-09-10T00:00:00Z",
    rows: { challenge: waiting, registrations: regs([OLD, "30"], [KEPT, "30"]) },
    mode: "now",
    remove: [OLD],
    keep: [KEPT],
    reason: /registered again in the new phase's round 30/,
  },
  {
    name: "same phase before the round start: a plain PoET-set change re-registers",
    to: from,
    at: "2024-09-16T07:00:00Z",
    rows: { challenge: waiting, registrations: regs([OLD, "30"]) },
    mode: "now",
    remove: [OLD],
    keep: [],
  },
  {
    // The next round starts exactly one cycle gap (the default PoST time) after the proof.
    name: "same phase after the round start: the running round's row stays for its proof, nothing is lost",
    to: from,
    at: "2024-09-16T09:00:00Z",
    rows: { challenge: waiting, registrations: regs([OLD, "30"]) },
    mode: "after-proof",
    remove: [],
    keep: [OLD],
    reason: /round 30 is kept/,
  },
  {
    name: "both rounds run: the kept round's row stays, a row of another round goes",
    to: later,
    at: "2024-09-28T00:00:00Z",
    rows: { challenge: waiting, registrations: regs([OLD, "30"], ["https://older.example", "29"]) },
    mode: "after-proof",
    remove: ["https://older.example"],
    keep: [OLD],
    reason: /round 29 is not the round kept \(30\)/,
  },
  {
    name: "new phase already started, old round not yet: the old row is kept (the plan keeps that round), an epoch is lost",
    to: earlier,
    at: "2024-09-12T00:00:00Z",
    rows: { challenge: waiting, registrations: regs([OLD, "30"]) },
    mode: "after-proof",
    remove: [],
    keep: [OLD],
    lost: [32],
  },
  {
    name: "proof already chosen: rows outside the new set go",
    to: later,
    at: "2024-09-29T20:00:00Z",
    rows: {
      challenge: { publishEpoch: 31, poetProofRef: id(0xaa) },
      registrations: regs([OLD, "30"], [KEPT, "30"]),
      nipost: { poetProofRef: id(0xaa) },
    },
    mode: "after-proof",
    remove: [OLD],
    keep: [KEPT],
    reason: /proof is already chosen/,
  },
  {
    name: "no challenge: rows outside the new set go, and so does a NiPoST",
    to: later,
    at: "2024-09-10T00:00:00Z",
    rows: { registrations: regs([OLD, "30"], [NEW, "30"]), nipost: { poetProofRef: id(1) } },
    mode: undefined,
    remove: [OLD],
    keep: [NEW],
    nipost: /no challenge/,
    reason: /no challenge uses it/,
  },
  {
    name: "submit intents are judged like registrations: the old PoET's goes, the new set's stays",
    to: later,
    at: "2024-09-10T00:00:00Z",
    rows: {
      challenge: waiting,
      registrations: regs([KEPT, "30"]),
      intents: regs([OLD, "30"], [NEW, "30"]),
    },
    mode: "now",
    remove: [],
    keep: [KEPT],
    intentsRemove: [OLD],
    intentsKeep: [NEW],
  },
  {
    name: "a submit intent for the kept round stays, one for another round goes",
    to: later,
    at: "2024-09-28T00:00:00Z",
    rows: {
      challenge: waiting,
      registrations: [],
      intents: regs([OLD, "30"], ["https://older.example", "29"]),
    },
    mode: "after-proof",
    remove: [],
    keep: [],
    intentsRemove: ["https://older.example"],
    intentsKeep: [OLD],
  },
  {
    name: "a NiPoST with no proof chosen goes",
    to: from,
    at: "2024-09-10T00:00:00Z",
    rows: { challenge: waiting, registrations: [], nipost: { poetProofRef: id(1) } },
    mode: "now",
    remove: [],
    keep: [],
    nipost: /no proof chosen/,
  },
  {
    name: "a NiPoST built on another proof goes",
    to: from,
    at: "2024-09-29T20:00:00Z",
    rows: {
      challenge: { publishEpoch: 31, poetProofRef: id(2) },
      registrations: [],
      nipost: { poetProofRef: id(1) },
    },
    mode: "after-proof",
    remove: [],
    keep: [],
    nipost: /another proof/,
  },
];

describe("planPoetSwitch", () => {
  for (const c of CASES) {
    it(c.name, () => {
      const plan = planPoetSwitch({
        from,
        to: c.to,
        poets: POETS,
        at: new Date(c.at),
        identities: [{ nodeId: id(1), ...c.rows }],
      });
      const [one] = plan.identities;
      assert.ok(one);
      assert.equal(one.phase?.mode, c.mode);
      assert.deepEqual(
        one.deleteRegistrations.map((r) => r.address),
        c.remove,
      );
      assert.deepEqual(
        one.keepRegistrations.map((r) => r.address),
        c.keep,
      );
      assert.deepEqual(
        one.deleteIntents.map((r) => r.address),
        c.intentsRemove ?? [],
      );
      assert.deepEqual(
        one.keepIntents.map((r) => r.address),
        c.intentsKeep ?? [],
      );
      if (c.nipost === undefined) assert.equal(one.deleteNipost, undefined);
      else assert.match(one.deleteNipost ?? "", c.nipost);
      assert.deepEqual(plan.lostPublishEpochs, c.lost ?? []);
      assert.equal(plan.safe, (c.lost ?? []).length === 0);
      if (c.reason !== undefined) {
        const reasons = [...one.deleteRegistrations, ...one.keepRegistrations].map((r) => r.reason);
        assert.ok(
          reasons.some((r) => c.reason?.test(r)),
          `${reasons.join("; ")} !~ ${c.reason}`,
        );
      }
    });
  }

  it("sums up several identities: sorted by node id, safe at the latest switch, lost epochs joined", () => {
    const plan = planPoetSwitch({
      from,
      to: earlier,
      poets: [NEW],
      at: new Date("2024-09-20T00:00:00Z"),
      identities: [
        { nodeId: id(9), challenge: waiting, registrations: regs([OLD, "30"]) },
        { nodeId: id(3), challenge: { ...waiting, publishEpoch: 32 }, registrations: [] },
        { nodeId: id(5), registrations: [] },
      ],
    });
    assert.deepEqual(
      plan.identities.map((i) => i.nodeId[0]),
      [3, 5, 9],
    );
    assert.equal(plan.identities[1]?.phase, undefined);
    assert.deepEqual(plan.lostPublishEpochs, [32]);
    assert.ok(!plan.safe);
    // Identity 9 keeps round 30 until it ends; identity 3's epoch-32 challenge fits the new round 31.
    assert.equal(plan.safeAt.toISOString(), "2024-09-29T20:00:00.000Z");
    assert.equal(plan.latest, plan.identities[2]?.phase);
  });

  it("with no identity is safe at the instant itself", () => {
    const at = new Date("2024-09-20T00:00:00Z");
    const plan = planPoetSwitch({ from, to: later, poets: [NEW], at, identities: [] });
    assert.deepEqual(plan.identities, []);
    assert.ok(plan.safe);
    assert.equal(plan.safeAt.getTime(), at.getTime());
    assert.equal(plan.latest.publishEpoch, 31);
  });
});
