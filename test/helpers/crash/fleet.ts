/**
 * The failover trial (issue 18 point 4): a fleet of worker processes (./child.ts, each a
 * `RegistrationManager` with its own lease holder) on one PostgreSQL node state, against the three
 * mock PoETs of ./world.ts, all driven by the parent's `ManualClock`. Every worker is given every
 * identity and runs those whose lease it gets; it waits (`whenHeldElsewhere: "wait"`) for the
 * others, so each is a hot standby for the identities the others hold.
 *
 * The workers are killed with SIGKILL one after another, at seeded instants of the cycle: in the
 * registration window, between the round start and its end, and while proofs are fetched and PoST
 * runs. A kill strikes either at once (the victim quiet, waiting on its clock) or in the middle of
 * the victim's next actions (it is armed to die at its 1st–3rd next point of
 * ./protocol.ts `CHILD_POINTS` or event: a submit on its way, a PoST started, a row half-way; in
 * the registration window, the first worker starts alone, armed to die at its 1st–200th point
 * while it takes the leases of all identities and submits them, and the others start at that
 * clock instant after its death). A victim that reaches no such point within 2 s of clock is
 * killed by the parent (`…-late`).
 * The victim is a seeded pick among the live workers that hold an identity not built yet; a killed
 * worker is restarted (a new process, a new holder, given every identity) after a seeded outage.
 * Once every identity is built, the parent closes the workers.
 *
 * **Takeover time**, per identity the victim held and had not built: the clock time from its death
 * to another worker's first write for that identity — the `lease-taken-over` acquisition, which
 * writes the lease row with a new fencing token before anything else is written for the identity.
 * The real time between the two, as the parent heard them, is kept too: it only measures how fast
 * this harness steps its clock (which jumps from one wake-up to the next), not a latency.
 */
import pg from "pg";
import { toHex } from "../../../src/bytes.js";
import type { CrashChild } from "./child-process.js";
import type { CrashIdentity, OutcomeSummary } from "./protocol.js";
import { appendDead, ROUND, START_MS, schedule, Trial, type TrialResult } from "./world.js";

/**
 * The workers' lease time (clock ms). Short beside the 19 s registration window, so that a worker
 * killed in it (at most 11 s in) is taken over before the round starts; longer than the crash
 * test's 3 s, because each standby worker asks again for every identity it waits for about every
 * two thirds of it and each holder renews every third (a PostgreSQL transaction and a clock step
 * each): 9 s takes a fifth fewer clock steps than 6 s did (54 against 69), for about 5% less CPU.
 */
export const FLEET_LEASE_MS = 9_000;

/** Where in the cycle a kill is planned. */
export type FleetKillWindow = "registration" | "round" | "proof-and-post";

/** One planned kill. */
interface PlannedKill {
  window: FleetKillWindow;
  /** The clock instant (unix ms). */
  at: number;
  /** 0: at once; n: at the victim's n-th next point. */
  points: number;
  /** Clock ms the victim stays down before its restart. */
  outageMs: number;
}

/** A kill that struck. */
export interface FleetKill {
  window: FleetKillWindow;
  /** The victim (child number). */
  child: number;
  /** How: `at-once`, or `next-action-<n>`. */
  how: string;
  /** Clock ms of the death (unix ms). */
  at: number;
  /** Identities the victim held and had not built. */
  orphans: number;
}

/** One identity taken over after its holder's death. */
export interface Takeover {
  nodeId: string;
  victim: number;
  /** The worker that took it over, or `undefined` if none did. */
  by: number | undefined;
  /** Clock ms from the death to the `lease-taken-over` write. */
  clockMs: number | undefined;
  /** Real ms between the parent seeing the death and hearing of the takeover (harness speed). */
  wallMs: number | undefined;
}

/** Options of {@link runFleet}. */
export interface FleetOptions {
  seed: number;
  /** The PostgreSQL database's connection string. */
  url: string;
  schema?: string | undefined;
  workers?: number | undefined;
  identities?: number | undefined;
  /** Default {@link FLEET_LEASE_MS}. */
  leaseTimeMs?: number | undefined;
}

/** What a failover trial found: the crash test's figures, the kills and the takeovers. */
export interface FleetResult extends TrialResult {
  fleetKills: FleetKill[];
  takeovers: Takeover[];
  /** Workers started in all (the first ones and the restarts). */
  workersStarted: number;
  /** Lease acquisitions (first ones and takeovers) per worker, by child number. */
  leasesBy: Record<number, number>;
  /** Deadlocks PostgreSQL detected in the database (`pg_stat_database`). */
  deadlocks: number;
}

const WINDOWS: FleetKillWindow[] = ["registration", "round", "proof-and-post"];
/** Clock ms an armed victim has to reach its point before the parent kills it itself. */
const ARMED_MS = 2_000;
const TAKEN = new Set(["lease-acquired", "lease-taken-over"]);

/** A seeded kill instant in `window`. */
function plan(window: FleetKillWindow, random: () => number, leaseMs: number): PlannedKill {
  const deadline = schedule.registrationDeadline(ROUND).getTime();
  const end = schedule.roundEnd(ROUND).getTime();
  // Registration: late enough for the first submits, early enough that a takeover (at most the
  // lease time later) still registers before the round starts.
  const [from, to] =
    window === "registration"
      ? [START_MS + 500, deadline - leaseMs - 2_000]
      : window === "round"
        ? [deadline, end]
        : [end, end + 4_000];
  const at = from + Math.floor(random() * (to - from));
  // In the registration window a worker does all its work in its first step: a worker armed
  // before it starts dies at its 1st–200th point there (a lease taken, a submit on its way, a row;
  // a worker alone with 30 identities passes about 300).
  const points =
    random() < 0.5 ? 0 : 1 + Math.floor(random() * (window === "registration" ? 200 : 3));
  return { window, at, points, outageMs: Math.floor(random() * 5_000) };
}

/** The identities in a seeded order: each worker is given them in an order of its own. */
function shuffled(ids: readonly CrashIdentity[], random: () => number): CrashIdentity[] {
  const out = [...ids];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j] as CrashIdentity, out[i] as CrashIdentity];
  }
  return out;
}

/** Deadlocks PostgreSQL counted in the database of `url`. */
async function deadlocks(url: string): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ deadlocks: string }>(
      "select deadlocks::text from pg_stat_database where datname = current_database()",
    );
    return Number(rows[0]?.deadlocks ?? 0);
  } finally {
    await client.end();
  }
}

/** Identities `child` holds the lease of now (as its events say). */
function held(child: CrashChild): Set<string> {
  const ids = new Set<string>();
  for (const e of child.events) {
    if (e.nodeId === undefined) continue;
    if (TAKEN.has(e.event)) ids.add(toHex(e.nodeId));
    else if (e.event === "lease-lost") ids.delete(toHex(e.nodeId));
  }
  return ids;
}

/**
 * Runs one failover trial: `workers` processes on one PostgreSQL schema, `identities` identities,
 * one kill per window of the cycle (see the module header).
 */
export async function runFleet(dir: string, options: FleetOptions): Promise<FleetResult> {
  const trial = new Trial(dir, options.seed, options.identities ?? 30, {
    url: options.url,
    schema: options.schema ?? "fleet",
  });
  const leaseMs = options.leaseTimeMs ?? FLEET_LEASE_MS;
  const planned = WINDOWS.map((w) => plan(w, trial.random, leaseMs));
  const fleetKills: FleetKill[] = [];
  const takeovers: Takeover[] = [];
  /** Identities some worker reported built. */
  const built = new Set<string>();
  const deaths = new Map<CrashChild, { at: number; wall: number; orphans: string[] }>();
  const restarts: number[] = [];
  let armed: { child: CrashChild; until: number; kill: PlannedKill } | undefined;
  let closing = false;
  const lease = (n: number) => ({ label: `worker-${n}`, timeMs: leaseMs });
  try {
    await trial.start();
    const n = options.workers ?? 3;
    const group: CrashChild[] = [];
    const spawn = () =>
      group.push(
        trial.spawn(undefined, shuffled(trial.ids, trial.random), lease(trial.children.length)),
      );
    const live = () => group.filter((c) => c.alive && c.finished === undefined);
    const died = (child: CrashChild, kill: PlannedKill, how: string) => {
      const at = trial.clock.now();
      const orphans = [...held(child)].filter((id) => !built.has(id));
      deaths.set(child, { at, wall: child.exitedAt ?? performance.now(), orphans });
      fleetKills.push({ window: kill.window, child: child.id, how, at, orphans: orphans.length });
      restarts.push(at + kill.outageMs);
    };
    const first = planned[0];
    if (first?.window === "registration" && first.points > 0) {
      // The first worker starts alone, armed: it takes every lease and dies in its first step, in
      // the middle of taking leases or submitting; the others start at that same clock instant.
      planned.shift();
      spawn();
      const victim = group[0] as CrashChild;
      victim.arm(first.points);
      await trial.drive([victim]);
      if (victim.alive || victim.finished !== undefined) {
        throw new Error(`trial ${options.seed}: the first worker outlived its armed kill`);
      }
      died(victim, first, `next-action-${first.points}`);
    }
    while (group.length < n) spawn();

    await trial.drive(group, {
      maxSteps: 20_000,
      wakeAt: () => {
        const times = [...restarts];
        const next = planned[0];
        if (next !== undefined && !closing) times.push(next.at);
        if (armed !== undefined) times.push(armed.until);
        return times.length === 0 ? undefined : Math.min(...times);
      },
      onQuiet: async () => {
        const now = trial.clock.now();
        for (const child of group) {
          for (const o of child.outcomes) if (o.kind === "ready") built.add(toHex(o.nodeId));
        }
        // An armed victim that died by its own hand (drive() logged its death in the PoST log).
        if (armed !== undefined && !armed.child.alive && armed.child.finished === undefined) {
          died(armed.child, armed.kill, `next-action-${armed.kill.points}`);
          armed = undefined;
        } else if (armed !== undefined && now >= armed.until) {
          await armed.child.kill();
          appendDead(trial.postLog, armed.child.id);
          died(armed.child, armed.kill, `next-action-${armed.kill.points}-late`);
          armed = undefined;
        }
        if (closing) return false;
        if (trial.ids.every((id) => built.has(toHex(id.nodeId)))) {
          closing = true;
          for (const child of live()) child.close();
          return true;
        }
        if (restarts.length > 0 && (restarts[0] as number) <= now) {
          restarts.shift();
          group.push(
            trial.spawn(undefined, shuffled(trial.ids, trial.random), lease(trial.children.length)),
          );
          return true;
        }
        const next = planned[0];
        if (next === undefined || next.at > now || armed !== undefined) return false;
        const candidates = live().filter((c) => [...held(c)].some((id) => !built.has(id)));
        // Never the last worker standing: a restart comes first.
        if (candidates.length === 0 || live().length < 2) return false;
        planned.shift();
        const victim = candidates[Math.floor(trial.random() * candidates.length)] as CrashChild;
        if (next.points > 0) {
          victim.arm(next.points);
          armed = { child: victim, until: now + ARMED_MS, kill: next };
          return false;
        }
        await victim.kill();
        appendDead(trial.postLog, victim.id);
        died(victim, next, "at-once");
        return true;
      },
    });

    // Each orphan: its first takeover by another worker after the death.
    for (const [victim, death] of deaths) {
      for (const nodeId of death.orphans) {
        let first: { child: CrashChild; at: number; heardAt: number } | undefined;
        for (const child of trial.children) {
          if (child === victim) continue;
          const e = child.events.find(
            (x) =>
              x.event === "lease-taken-over" &&
              x.at >= death.at &&
              x.nodeId !== undefined &&
              toHex(x.nodeId) === nodeId,
          );
          if (e !== undefined && (first === undefined || e.at < first.at)) {
            first = { child, at: e.at, heardAt: e.heardAt };
          }
        }
        takeovers.push({
          nodeId,
          victim: victim.id,
          by: first?.child.id,
          clockMs: first === undefined ? undefined : first.at - death.at,
          wallMs: first === undefined ? undefined : first.heardAt - death.wall,
        });
      }
    }
    for (const child of trial.children) {
      if (child.alive || deaths.has(child)) continue;
      if (child.finished === undefined || child.exit?.code !== 0) {
        throw new Error(
          `trial ${options.seed}: worker ${child.id} ended with ${JSON.stringify(child.exit)}\n${child.stderr}`,
        );
      }
    }
    const outcomes = new Map<string, OutcomeSummary>();
    for (const child of trial.children) {
      for (const o of child.outcomes) {
        const key = toHex(o.nodeId);
        if (outcomes.get(key)?.kind !== "ready") outcomes.set(key, o);
      }
    }
    const kills = fleetKills.map((k) => ({ where: `${k.window}/${k.how}`, at: k.at }));
    const result = await trial.result(
      [...outcomes.values()],
      kills,
      trial.children.length - (options.workers ?? 3),
    );
    const leasesBy: Record<number, number> = {};
    for (const child of trial.children) {
      leasesBy[child.id] = child.events.filter((e) => TAKEN.has(e.event)).length;
    }
    return {
      ...result,
      fleetKills,
      takeovers,
      workersStarted: trial.children.length,
      leasesBy,
      deadlocks: await deadlocks(options.url),
    };
  } finally {
    await trial.close();
  }
}
