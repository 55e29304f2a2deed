/**
 * The crash test's cases, shared by the CI test (test/crash-recovery.test.ts) and the soak
 * script (scripts/soak-crash.ts), which runs the same cases with more trials.
 */
import { type KillPlan, type Outage, randomKill, type TrialOptions } from "./world.js";

/** Random kills in every step; the node comes back at once. */
export function randomKills(seed: number): TrialOptions {
  return {
    seed,
    kills: (_life, random) => randomKill(random),
    maxKills: 4,
  };
}

/** Random kills in every step; after each, the node may stay down past the round start or cut-off. */
export function randomKillsWithOutages(seed: number): TrialOptions {
  const outages: Outage[] = ["none", "past-round-start", "past-cutoff"];
  return {
    seed,
    kills: (_life, random) => randomKill(random),
    outage: (_life, random) => outages[Math.floor(random() * outages.length)] as Outage,
    maxKills: 4,
  };
}

/**
 * Issue 14 situation 1: killed right after a PoET accepted the `k`-th submit and before it
 * answered, so the PoET holds the challenge and the node has no row; the node stays down past
 * the round start.
 */
export function acceptThenOutage(seed: number, k: number): TrialOptions {
  const plan: KillPlan = { where: "accept", occurrence: k };
  return {
    seed,
    kills: (life) => (life === 0 ? plan : undefined),
    outage: () => "past-round-start",
  };
}

/**
 * Issue 14 situation 2: the best PoET publishes late, the node picks a worse proof, is killed
 * after that choice (`point`), and comes back after the proof cut-off.
 */
export function lateRestartAfterCutoff(
  seed: number,
  point: "event:best-proof-selected" | "post:start" = "event:best-proof-selected",
): TrialOptions {
  return {
    seed,
    bestProofLate: true,
    kills: (life) => (life === 0 ? { where: "child", point, occurrence: 1 } : undefined),
    outage: () => "past-cutoff",
  };
}

/**
 * Killed right after a PoET accepted the `k`-th submit; the node comes back with another challenge
 * for the same publish epoch. The PoETs that hold the first must never be sent the second.
 */
export function acceptThenNewChallenge(seed: number, k: number): TrialOptions {
  const plan: KillPlan = { where: "accept", occurrence: k };
  return { seed, changeChallenge: true, kills: (life) => (life === 0 ? plan : undefined) };
}
