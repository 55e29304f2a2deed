/**
 * The crash test's report figures (issue 14): trials, kills, resumes, lost, conflicting,
 * duplicate PoST calls, takeover time; and the per-trial check that every figure that must be
 * zero is.
 */
import assert from "node:assert/strict";
import type { TrialResult } from "./world.js";

/** Totals over trials. */
export interface Figures {
  trials: number;
  kills: number;
  resumes: number;
  /** Identities a PoET accepted that ended without a NiPoST row. */
  lost: number;
  /** NiPoST rows that no process returned (the one that wrote it died, the other failed). */
  unfinished: number;
  /** Identities no PoET holds that ended without a NiPoST (missed the registration window). */
  missed: number;
  /** NiPoSTs not on the best proof among the PoETs holding the challenge. */
  notBest: number;
  conflicting: number;
  postCalls: number;
  duplicatePost: number;
  redonePost: number;
  duplicateSubmits: number;
  integrityFailures: number;
  checkProblems: number;
  /** Clock ms from a holder's death to the takeover, per two-process trial that killed one. */
  takeoverMs: (number | undefined)[];
  /** Kills by where they struck. */
  killsAt: Record<string, number>;
}

export function figures(results: readonly TrialResult[]): Figures {
  const killsAt: Record<string, number> = {};
  for (const r of results) for (const k of r.kills) killsAt[k.where] = (killsAt[k.where] ?? 0) + 1;
  const sum = (f: (r: TrialResult) => number) => results.reduce((n, r) => n + f(r), 0);
  return {
    trials: results.length,
    kills: sum((r) => r.kills.length),
    resumes: sum((r) => r.resumes),
    lost: sum((r) => r.lost.length),
    unfinished: sum((r) => r.unfinished.length),
    missed: sum((r) => r.missed.length),
    notBest: sum((r) => r.notBest.length),
    conflicting: sum((r) => r.conflicting),
    postCalls: sum((r) => r.postCalls),
    duplicatePost: sum((r) => r.duplicatePost),
    redonePost: sum((r) => r.redonePost),
    duplicateSubmits: sum((r) => r.duplicateSubmits),
    integrityFailures: sum((r) => (r.integrity === "ok" ? 0 : 1)),
    checkProblems: sum((r) => r.checkProblems),
    takeoverMs: results
      .filter((r) => r.kills.some((k) => k.where.startsWith("holder")))
      .map((r) => r.takeoverMs),
    killsAt,
  };
}

/** One line of figures. */
export function formatFigures(f: Figures): string {
  const takeover =
    f.takeoverMs.length === 0
      ? ""
      : ` takeover(clock ms)=[${f.takeoverMs.map((t) => (t === undefined ? "none" : String(t))).join(",")}]`;
  return (
    `trials=${f.trials} kills=${f.kills} resumes=${f.resumes} lost=${f.lost} unfinished=${f.unfinished} missed-window=${f.missed} not-best=${f.notBest} ` +
    `conflicting=${f.conflicting} post-calls=${f.postCalls} duplicate-post=${f.duplicatePost} ` +
    `redone-post-after-kill=${f.redonePost} duplicate-submits=${f.duplicateSubmits} ` +
    `integrity-failures=${f.integrityFailures} check-problems=${f.checkProblems}${takeover} ` +
    `kills-at=${JSON.stringify(f.killsAt)}`
  );
}

/** Asserts every must-be-zero figure of one trial, with the seed and what each identity got. */
export function assertClean(r: TrialResult, what: string): void {
  const context = `${what}, seed ${r.seed}, kills ${JSON.stringify(r.kills.map((k) => k.where))}:\n  ${r.notes.join("\n  ")}`;
  assert.deepEqual(r.lost, [], `registrations a PoET accepted were lost (${context})`);
  assert.deepEqual(
    r.notBest,
    [],
    `NiPoSTs not on the best proof holding the challenge (${context})`,
  );
  assert.equal(r.conflicting, 0, `two challenges for one identity at one PoET round (${context})`);
  assert.equal(r.duplicatePost, 0, `duplicate PoST work (${context})`);
  assert.equal(r.duplicateSubmits, 0, `duplicate submits by two live processes (${context})`);
  assert.equal(r.integrity, "ok", `PRAGMA integrity_check (${context})`);
  assert.equal(r.checkProblems, 0, `state.check() found problems (${context})`);
}

/** Asserts what must hold even when the node changed its challenge: one challenge per PoET round, a sound file. */
export function assertNoConflict(r: TrialResult, what: string): void {
  const context = `${what}, seed ${r.seed}:\n  ${r.notes.join("\n  ")}`;
  assert.equal(r.conflicting, 0, `two challenges for one identity at one PoET round (${context})`);
  assert.equal(r.duplicatePost, 0, `duplicate PoST work (${context})`);
  assert.equal(r.integrity, "ok", `PRAGMA integrity_check (${context})`);
  assert.equal(r.checkProblems, 0, `state.check() found problems (${context})`);
}
