import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type NextStepRows, planNextStep, proofCutoff } from "../src/registration/next-step.js";
import { RoundSchedule } from "../src/schedule/index.js";

const schedule = new RoundSchedule({
  genesis: new Date(1_700_000_000_000),
  epochDurationMs: 40_000,
  phaseShiftMs: 12_000,
  cycleGapMs: 8_000,
});
const round = 0;
const publishEpoch = schedule.publishEpoch(round);
const roundStart = schedule.roundStart(round).getTime();
const roundEnd = schedule.roundEnd(round);
const A = "http://a";
const B = "http://b";
const cutoffMs = 1_000;

const none: NextStepRows = {
  publishEpoch,
  registrations: [],
  submitIntents: [],
  missingPoets: [A, B],
  proofChosen: false,
  nipostStored: false,
};

const cases: { name: string; now: number; rows: NextStepRows; want: Record<string, unknown> }[] = [
  {
    name: "no challenge",
    now: roundStart,
    rows: { ...none, publishEpoch: undefined },
    want: { step: "build-challenge" },
  },
  {
    name: "rows that contradict each other",
    now: roundStart,
    rows: { ...none, inconsistent: true },
    want: { step: "repair" },
  },
  {
    name: "a fresh challenge while the window is open",
    now: schedule.registrationOpens(round).getTime(),
    rows: none,
    want: { step: "register", poets: [A, B] },
  },
  {
    name: "a stored NiPoST is resumed, not redone",
    now: roundEnd.getTime() + 5_000,
    rows: { ...none, missingPoets: [], proofChosen: true, nipostStored: true },
    want: { step: "publish-atx" },
  },
  {
    name: "a registration row without a proof waits for the round end",
    now: roundStart + 1,
    rows: { ...none, registrations: [{ poet: A, roundEnd }], missingPoets: [B] },
    want: { step: "wait-for-round-end" },
  },
  {
    name: "a registration row without a proof fetches after the round end",
    now: roundEnd.getTime() + 1,
    rows: { ...none, registrations: [{ poet: A, roundEnd }], missingPoets: [B] },
    want: { step: "fetch-proofs", poets: [A], lateStart: false },
  },
  {
    name: "an unconfirmed submit intent after the round start is not missed",
    now: roundStart + 1,
    rows: { ...none, submitIntents: [{ poet: A }], missingPoets: [B] },
    want: { step: "wait-for-round-end" },
  },
  {
    name: "a restart after the cut-off with a stored choice asks the unanswered PoETs",
    now: roundEnd.getTime() + cutoffMs + 1,
    rows: {
      ...none,
      registrations: [
        { poet: A, roundEnd },
        { poet: B, roundEnd },
      ],
      missingPoets: [],
      proofChosen: true,
      unanswered: [B],
    },
    want: { step: "fetch-proofs", poets: [B], lateStart: true },
  },
  {
    name: "a stored choice with every PoET answered goes to PoST",
    now: roundEnd.getTime() + cutoffMs + 1,
    rows: {
      ...none,
      registrations: [{ poet: A, roundEnd }],
      missingPoets: [],
      proofChosen: true,
      unanswered: [],
    },
    want: { step: "post" },
  },
  {
    name: "the window missed",
    now: schedule.registrationDeadline(round).getTime(),
    rows: none,
    want: { step: "window-missed" },
  },
  {
    name: "the challenge expired at the proof deadline",
    now: schedule.proofDeadline(round).getTime(),
    rows: { ...none, registrations: [{ poet: A, roundEnd }], missingPoets: [] },
    want: { step: "expired", why: "proof-deadline-passed" },
  },
  {
    name: "the publish epoch ended with a proof chosen",
    now: schedule.publishEpochEnd(round).getTime(),
    rows: { ...none, registrations: [{ poet: A, roundEnd }], missingPoets: [], proofChosen: true },
    want: { step: "expired", why: "publish-epoch-ended" },
  },
  {
    name: "the publish epoch ended with nothing chosen (the cycle reports it as expired)",
    now: schedule.publishEpochEnd(round).getTime(),
    rows: none,
    want: { step: "expired", why: "publish-epoch-ended" },
  },
  {
    name: "the publish epoch ended with a NiPoST stored",
    now: schedule.publishEpochEnd(round).getTime(),
    rows: { ...none, missingPoets: [], proofChosen: true, nipostStored: true },
    want: { step: "expired", why: "publish-epoch-ended" },
  },
  {
    name: "before the window opens, even with a registration row, the cycle waits for it",
    now: schedule.registrationOpens(round).getTime() - 1,
    rows: { ...none, registrations: [{ poet: A, roundEnd }], missingPoets: [B] },
    want: { step: "wait-for-registration-window", at: schedule.registrationOpens(round) },
  },
  {
    name: "a registered PoET and a missing one while the window is open: register the missing one",
    now: schedule.registrationOpens(round).getTime(),
    rows: { ...none, registrations: [{ poet: A, roundEnd }], missingPoets: [B] },
    want: { step: "register", poets: [B], at: schedule.registrationDeadline(round) },
  },
  {
    name: "a stored choice before the cut-off looks for better proofs at every held PoET",
    now: roundEnd.getTime() + cutoffMs - 1,
    rows: {
      ...none,
      registrations: [{ poet: A, roundEnd }],
      submitIntents: [{ poet: B }],
      missingPoets: [],
      proofChosen: true,
    },
    want: {
      step: "fetch-proofs",
      poets: [A, B],
      lateStart: false,
      at: new Date(roundEnd.getTime() + cutoffMs),
    },
  },
  {
    name: "a stored choice with no PoET left to ask goes to PoST at once",
    now: roundEnd.getTime() + 1,
    rows: { ...none, missingPoets: [], proofChosen: true },
    want: { step: "post", at: schedule.publishEpochEnd(round) },
  },
  {
    name: "a stored choice after the cut-off, unanswered PoETs not read yet, goes to PoST",
    now: roundEnd.getTime() + cutoffMs,
    rows: { ...none, registrations: [{ poet: A, roundEnd }], missingPoets: [], proofChosen: true },
    want: { step: "post" },
  },
  {
    name: "no choice after the cut-off but before the proof deadline: a late start fetches",
    now: roundEnd.getTime() + cutoffMs,
    rows: { ...none, registrations: [{ poet: A, roundEnd }], missingPoets: [] },
    want: {
      step: "fetch-proofs",
      poets: [A],
      lateStart: true,
      at: schedule.proofDeadline(round),
    },
  },
  {
    name: "only an unconfirmed intent after the round start is asked for its proof",
    now: roundEnd.getTime() + 1,
    rows: { ...none, submitIntents: [{ poet: B }], missingPoets: [A, B] },
    want: { step: "fetch-proofs", poets: [B] },
  },
];

describe("planNextStep", () => {
  for (const c of cases) {
    it(c.name, () => {
      const next = planNextStep(schedule, c.now, c.rows, cutoffMs) as unknown as Record<
        string,
        unknown
      >;
      for (const [key, value] of Object.entries(c.want)) assert.deepEqual(next[key], value, key);
    });
  }
});

describe("proofCutoff", () => {
  const rows: { name: string; lastEnd: number; want: number }[] = [
    { name: "the cut-off after the last round end", lastEnd: 1_000, want: 1_000 + cutoffMs },
    { name: "never past the proof deadline", lastEnd: 9_500, want: 10_000 },
  ];
  for (const r of rows) {
    it(r.name, () => assert.equal(proofCutoff(10_000, r.lastEnd, cutoffMs), r.want));
  }
});
