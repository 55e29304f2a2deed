/**
 * The project's own crash test (issue 14 point 5): child processes run a registration manager on
 * a real SQLite file against three mock PoETs on loopback, are killed with SIGKILL at seeded
 * points in every step, and are restarted on the same file until every identity has its outcome.
 * Time is the parent's `ManualClock`, which the children follow over IPC
 * (test/helpers/crash/protocol.ts): nothing here waits on the wall clock, except generous limits
 * that only fail a stuck run.
 *
 * Every trial asserts: no registration a PoET accepted is lost; the NiPoST is on the best proof
 * among the PoETs whose member list holds the challenge; never two challenges for one identity at
 * one PoET round; no duplicate PoST work (defined in test/helpers/crash/world.ts); no duplicate
 * submit by two live processes; `PRAGMA integrity_check` is ok and `state.check()` is empty.
 *
 * `npm run soak:crash` runs the same cases with many more trials (scripts/soak-crash.ts).
 */
import fs from "node:fs";
import { describe, it } from "node:test";
import {
  acceptThenOutage,
  lateRestartAfterCutoff,
  randomKills,
  randomKillsWithOutages,
} from "./helpers/crash/cases.js";
import { assertClean, figures, formatFigures } from "./helpers/crash/figures.js";
import { CHILD_POINTS } from "./helpers/crash/protocol.js";
import {
  type KillPlan,
  runTrial,
  runTwoProcesses,
  type TrialResult,
} from "./helpers/crash/world.js";
import { tempDir } from "./helpers/temp-dir.js";

const tmp = tempDir("crash-recovery-");
let trialNumber = 0;
/** A fresh folder for one trial. */
function folder(): string {
  const dir = tmp.file(`trial-${trialNumber++}`);
  fs.mkdirSync(dir);
  return dir;
}

async function trials(
  t: { diagnostic: (message: string) => void },
  what: string,
  run: (dir: string) => Promise<TrialResult>,
  count: number,
): Promise<TrialResult[]> {
  const results: TrialResult[] = [];
  for (let i = 0; i < count; i++) {
    results.push(await run(folder()));
  }
  t.diagnostic(`${what}: ${formatFigures(figures(results))}`);
  for (const r of results) assertClean(r, what);
  return results;
}

/** One kill at each point of every step, each in its own trial; the node comes back at once. */
const EVERY_POINT: KillPlan[] = [
  ...CHILD_POINTS.map((point): KillPlan => ({ where: "child", point, occurrence: 1 })),
  { where: "accept", occurrence: 1 },
  { where: "accept", occurrence: 5 },
  { where: "download", occurrence: 2 },
  { where: "clock", occurrence: 2 },
];

describe("crash recovery: SIGKILL in every step, restart on the same file", () => {
  it("loses nothing when killed once at each point of every step", async (t) => {
    let i = 0;
    const results = await trials(
      t,
      "one kill per point",
      (dir) => {
        const plan = EVERY_POINT[i++] as KillPlan;
        return runTrial(dir, {
          seed: 100 + i,
          kills: (life) => (life === 0 ? plan : undefined),
        });
      },
      EVERY_POINT.length,
    );
    // Each planned point was reached (so each step was really cut).
    const missed = results.flatMap((r, k) => (r.kills.length === 0 ? [EVERY_POINT[k]] : []));
    t.diagnostic(`points never reached: ${JSON.stringify(missed)}`);
  });

  it("loses nothing under seeded random kills, restarted at once", async (t) => {
    let seed = 1;
    await trials(t, "random kills", (dir) => runTrial(dir, randomKills(seed++)), 6);
  });

  it("keeps registrations a PoET accepted before the node wrote its row, across an outage past the round start", async (t) => {
    let k = 0;
    const ks = [1, 4];
    await trials(
      t,
      "accept, then down past the round start",
      (dir) => runTrial(dir, acceptThenOutage(200 + k, ks[k++] as number)),
      ks.length,
    );
  });

  it("ends on the best proof after a restart past the proof cut-off", async (t) => {
    let k = 0;
    const points = ["event:best-proof-selected", "post:start"] as const;
    await trials(
      t,
      "late restart after the cut-off",
      (dir) => runTrial(dir, lateRestartAfterCutoff(300 + k, points[k++])),
      points.length,
    );
  });

  it("loses nothing under seeded random kills with outages past the round start or the cut-off", async (t) => {
    let seed = 400;
    await trials(
      t,
      "random kills and outages",
      (dir) => runTrial(dir, randomKillsWithOutages(seed++)),
      4,
    );
  });

  it("two processes on one file: no duplicate submit, no duplicate PoST", async (t) => {
    await trials(t, "two processes", (dir) => runTwoProcesses(dir, { seed: 500, kill: "none" }), 1);
  });

  it("two processes on one file: the other takes over after the holder's SIGKILL", async (t) => {
    let k = 0;
    const kills = ["after-register", "during-post"] as const;
    await trials(
      t,
      "two processes, holder killed",
      (dir) => runTwoProcesses(dir, { seed: 600 + k, kill: kills[k++] as (typeof kills)[number] }),
      kills.length,
    );
  });
});
