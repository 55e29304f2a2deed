/**
 * `npm run soak:crash`: the crash test (test/crash-recovery.test.ts) with many more trials, for a
 * long run before a release or after a change to the registration code. Same harness, same
 * cases, same assertions; it prints each case's figures and the totals (issue 14: trials, kills,
 * resumes, lost, conflicting, duplicate PoST calls, takeover time) and exits 1 when any trial
 * failed, naming its case and seed.
 *
 *   npm run soak:crash                       200 random-kill trials and the rest to scale
 *   npm run soak:crash -- --trials 50 --seed 7
 *   npm run soak:crash -- --only random      one case: points, random, outages, accept,
 *                                            newchallenge, late, two, takeover
 *
 * Replay one failing trial with the case and seed it names (e.g. `--only outages --seed 412
 * --trials 1`); `CRASH_DEBUG=1` traces every clock step.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import {
  acceptThenNewChallenge,
  acceptThenOutage,
  lateRestartAfterCutoff,
  randomKills,
  randomKillsWithOutages,
} from "../test/helpers/crash/cases.js";
import {
  assertClean,
  assertNoConflict,
  type Figures,
  figures,
  formatFigures,
} from "../test/helpers/crash/figures.js";
import { CHILD_POINTS } from "../test/helpers/crash/protocol.js";
import {
  type HolderKill,
  type KillPlan,
  runTrial,
  runTwoProcesses,
  type TrialResult,
} from "../test/helpers/crash/world.js";

const { values } = parseArgs({
  options: {
    trials: { type: "string", default: "200" },
    seed: { type: "string", default: "1" },
    only: { type: "string" },
  },
});
const trials = Number(values.trials);
const seed0 = Number(values.seed);
if (!Number.isSafeInteger(trials) || trials < 1 || !Number.isSafeInteger(seed0)) {
  console.error("--trials must be a positive integer and --seed an integer");
  process.exit(2);
}

const root = fs.mkdtempSync(path.join(os.tmpdir(), "crash-soak-"));
let n = 0;
const folder = () => {
  const dir = path.join(root, `trial-${n++}`);
  fs.mkdirSync(dir);
  return dir;
};

const all: TrialResult[] = [];
const failures: string[] = [];
const started = performance.now();

async function runCase(
  name: string,
  count: number,
  run: (i: number, dir: string) => Promise<TrialResult>,
  check: (r: TrialResult, what: string) => void = assertClean,
): Promise<void> {
  if (values.only !== undefined && values.only !== name) return;
  const results: TrialResult[] = [];
  const t = performance.now();
  for (let i = 0; i < count; i++) {
    const dir = folder();
    try {
      const result = await run(i, dir);
      results.push(result);
      let verdict = "ok";
      try {
        check(result, name);
      } catch (err) {
        verdict = "FAILED";
        failures.push(`${name} seed ${result.seed}: ${(err as Error).message}`);
      }
      const kills = result.kills.map((k) => k.where).join(",");
      console.log(`  ${name} seed ${result.seed}: ${verdict} (kills: ${kills || "none"})`);
    } catch (err) {
      failures.push(`${name} trial ${i}: ${(err as Error).stack ?? String(err)}`);
      console.log(`  ${name} trial ${i}: ERROR ${(err as Error).message.split("\n")[0]}`);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
  all.push(...results);
  const seconds = ((performance.now() - t) / 1000).toFixed(1);
  console.log(`${name} (${seconds} s): ${formatFigures(figures(results))}`);
}

const points: KillPlan[] = [
  ...CHILD_POINTS.flatMap((point) =>
    [1, 2, 3].map((occurrence): KillPlan => ({ where: "child", point, occurrence })),
  ),
  ...[1, 2, 3, 5, 8].map((occurrence): KillPlan => ({ where: "accept", occurrence })),
  ...[1, 2, 3].map((occurrence): KillPlan => ({ where: "download", occurrence })),
  ...[1, 2, 3, 4].map((occurrence): KillPlan => ({ where: "clock", occurrence })),
];
const holderKills: HolderKill[] = ["after-register", "during-post"];

try {
  await runCase("points", points.length, (i, dir) => {
    const plan = points[i] as KillPlan;
    return runTrial(dir, { seed: seed0 + i, kills: (life) => (life === 0 ? plan : undefined) });
  });
  await runCase("random", trials, (i, dir) => runTrial(dir, randomKills(seed0 + i)));
  await runCase("outages", Math.ceil(trials / 2), (i, dir) =>
    runTrial(dir, randomKillsWithOutages(seed0 + 10_000 + i)),
  );
  await runCase("accept", 8, (i, dir) => runTrial(dir, acceptThenOutage(seed0 + i, 1 + i)));
  await runCase(
    "newchallenge",
    4,
    (i, dir) => runTrial(dir, acceptThenNewChallenge(seed0 + i, 1 + i)),
    assertNoConflict,
  );
  await runCase("late", 4, (i, dir) =>
    runTrial(
      dir,
      lateRestartAfterCutoff(seed0 + i, i % 2 === 0 ? "event:best-proof-selected" : "post:start"),
    ),
  );
  await runCase("two", Math.max(2, Math.ceil(trials / 20)), (i, dir) =>
    runTwoProcesses(dir, { seed: seed0 + i, kill: "none" }),
  );
  await runCase("takeover", Math.max(4, Math.ceil(trials / 10)), (i, dir) =>
    runTwoProcesses(dir, { seed: seed0 + i, kill: holderKills[i % 2] as HolderKill }),
  );
} finally {
  fs.rmSync(root, { recursive: true, force: true });
}

const total: Figures = figures(all);
const seconds = ((performance.now() - started) / 1000).toFixed(1);
console.log(`total (${seconds} s, shared machine): ${formatFigures(total)}`);
if (failures.length > 0) {
  console.log(`\n${failures.length} failing trial(s):\n${failures.join("\n\n")}`);
  process.exitCode = 1;
}
