/**
 * @module cli/demo/demo-scenario
 *
 * The world the demo runs in: three mock PoETs of one phase on loopback, with different speeds so
 * that best-proof selection has something to choose (docs/node-client.md §1.7), and a fault script
 * for the fastest one — down when registration opens, then a burst of 503s when the proofs are due —
 * so the demo shows the retries and the late upgrade to a better proof (docs/node-client.md §4,
 * §8). Every duration is a fraction of one compressed epoch, so `--epoch 5s` (the test) and the
 * default 40 s tell the same story; so are the PoETs' leaves below 40 s ({@link demoLeaves}).
 */
import type { Clock } from "../../clock.js";
import { RoundSchedule } from "../../schedule/index.js";
import { type MockPoet, startMockPoet } from "../../testing/index.js";
import { SECURITY_PARAM } from "../../verify/index.js";

/** One PoET of the demo. */
export interface DemoPoet {
  name: string;
  mock: MockPoet;
  leavesPerRound: bigint;
  /** What the fault script is doing to it now, for the live view. */
  fault: string | undefined;
}

/** The calendar and timings of a demo run, derived from one epoch length. */
export interface DemoTimings {
  schedule: RoundSchedule;
  /** How long the failing PoET stays down after the start. */
  downMs: number;
  /** The stand-in PoST's duration. */
  postMs: number;
  /** How long better proofs are awaited after the first. */
  proofCutoffMs: number;
  retryDelayMs: number;
  pollIntervalMs: number;
  maxPollIntervalMs: number;
  requestTimeoutMs: number;
}

/** The timings for a compressed epoch of `epochMs` starting at `genesisMs` (a whole second). */
export function demoTimings(epochMs: number, genesisMs: number): DemoTimings {
  const part = (f: number) => Math.max(1, Math.round(epochMs * f));
  return {
    schedule: new RoundSchedule({
      genesis: new Date(genesisMs),
      epochDurationMs: epochMs,
      phaseShiftMs: part(0.3),
      cycleGapMs: part(0.2),
    }),
    downMs: part(0.1),
    postMs: part(0.03),
    proofCutoffMs: part(0.15),
    retryDelayMs: Math.min(1000, part(1 / 40)),
    pollIntervalMs: Math.min(1000, part(1 / 40)),
    maxPollIntervalMs: Math.min(4000, part(0.1)),
    requestTimeoutMs: Math.max(2000, part(0.25)),
  };
}

/** The three PoETs and the leaves each proves per round at the default 40 s epoch. */
const POETS: readonly { name: string; leaves: bigint }[] = [
  { name: "poet-a", leaves: 1_500n },
  { name: "poet-b", leaves: 2_500n },
  { name: "poet-c", leaves: 4_000n },
];
/** The epoch {@link POETS}' leaves are given for. */
const LEAVES_EPOCH_MS = 40_000;
/** The fewest leaves a proof may have: the `T` leaves the verifier opens (docs/protocol.md §5.1). */
const MIN_LEAVES = BigInt(SECURITY_PARAM);

/**
 * The leaves a demo PoET proves per round on an epoch of `epochMs`: as a real PoET's, they grow
 * with the round's length, so a shorter epoch than the default proves proportionally fewer (never
 * under 150) and the proofs' order stays the same; a longer one keeps the default's count, so
 * that the mocks' proving stays a fraction of a second.
 */
export function demoLeaves(leavesAt40s: bigint, epochMs: number): bigint {
  if (epochMs >= LEAVES_EPOCH_MS) return leavesAt40s;
  const scaled = (leavesAt40s * BigInt(epochMs)) / BigInt(LEAVES_EPOCH_MS);
  return scaled < MIN_LEAVES ? MIN_LEAVES : scaled;
}

/** Starts the three mock PoETs on the demo's calendar. */
export async function startDemoPoets(
  timings: DemoTimings,
  clock: Clock,
  signal: AbortSignal | undefined,
): Promise<DemoPoet[]> {
  const { schedule } = timings;
  const started: DemoPoet[] = [];
  try {
    for (const p of POETS) {
      const leaves = demoLeaves(p.leaves, schedule.epochDurationMs);
      const mock = await startMockPoet({
        clock,
        genesis: schedule.genesis,
        epochDurationMs: schedule.epochDurationMs,
        phaseShiftMs: schedule.phaseShiftMs,
        cycleGapMs: schedule.cycleGapMs,
        leavesPerRound: leaves,
        ...(signal === undefined ? {} : { signal }),
      });
      started.push({ name: p.name, mock, leavesPerRound: leaves, fault: undefined });
    }
  } catch (err) {
    await Promise.allSettled(started.map((p) => p.mock.stop()));
    throw err;
  }
  return started;
}

/**
 * Runs the fault script against the last (fastest) PoET: down from the start for `downMs`, then,
 * at the round end, two 503s in a row. Resolves when the script is done or `signal` aborts.
 */
export async function runFaultScript(
  poets: readonly DemoPoet[],
  timings: DemoTimings,
  clock: Clock,
  signal: AbortSignal,
): Promise<void> {
  const victim = poets.at(-1);
  if (victim === undefined) return;
  const { schedule } = timings;
  try {
    await victim.mock.faults.down();
    victim.fault = "down";
    await clock.sleep(timings.downMs, { signal });
    await victim.mock.faults.up();
    victim.fault = undefined;
    const roundEnd = schedule.roundEnd(0).getTime();
    await clock.sleep(Math.max(0, roundEnd - clock.now()), { signal });
    victim.mock.faults.failNext(2, 503);
    victim.fault = "503 × 2";
    await clock.sleep(timings.proofCutoffMs / 2, { signal });
    victim.fault = undefined;
  } catch {
    // aborted: the demo is ending
  }
}
