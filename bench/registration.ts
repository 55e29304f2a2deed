/**
 * Registration throughput: many identities × mock PoETs on loopback (default 10,000 × 5),
 * through the whole cycle (register → round end → one proof download and verification per PoET →
 * best proof and membership proof per identity → PoST stand-in → NiPoST row), on a real SQLite
 * file.
 *
 * Time comes from a `ManualClock` that only moves when the system is quiet, so the figures are
 * the real cost of the work, not of waiting. The mock PoETs run in a child process of their own
 * (`bench/registration-poets.ts`, driven over IPC with the same clock), so that what is measured is
 * the client; `--mocks inline` runs them in the bench's process as before. That process runs at
 * the lowest priority (`--mocks-priority normal`: the client's): on two cores the mocks would
 * otherwise keep the client's event loop waiting for a core, a wait no remote PoET causes.
 * Prints figures; asserts nothing.
 *
 * Each run is a fresh process (so that peak RSS is that run's); with `--runs N` the figures of
 * every run and their medians are printed. `--one` does one run in this process (for
 * `node --cpu-prof`).
 *
 * `--postgres <url>` keeps the node state in PostgreSQL (a fresh schema of that database).
 *
 * `--built` measures the compiled package (`dist/`; `npm run build` first) instead of the sources
 * through `tsx`; the figures say which.
 *
 * Node's own options reach every run: `node --max-old-space-size=384 --import tsx
 * bench/registration.ts …` measures a heap capped as an operator with a memory budget caps it
 * (the first line of each run gives the V8 heap limit it had).
 *
 *   node --import tsx bench/registration.ts [identities] [poets] [--runs N] [--mocks process|inline] [--mocks-priority low|normal] [--one] [--built] [--postgres <url>]
 */
import { type ChildProcess, fork } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import {
  constants,
  monitorEventLoopDelay,
  PerformanceObserver,
  performance,
} from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import v8 from "node:v8";
import type { RegistrationEvent, RegistrationPoetClient } from "../src/registration/index.js";
import { median } from "./common.js";
import { loadLibrary } from "./library.js";
import { benchManagerSettings } from "./manager-settings.js";

const args = process.argv.slice(2);
const flag = (name: string): string | undefined => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const positional = args.filter(
  (a, i) =>
    !a.startsWith("--") &&
    !["--runs", "--mocks", "--mocks-priority", "--tmp", "--postgres"].includes(args[i - 1] ?? ""),
);
const IDENTITIES = Number(positional[0] ?? 10_000);
const POETS = Number(positional[1] ?? 5);
const RUNS = Number(flag("--runs") ?? 1);
const MOCKS = flag("--mocks") ?? "process";
/** `--mocks-priority normal`: the mocks' process at the client's priority (default the lowest). */
const MOCKS_LOW_PRIORITY = flag("--mocks-priority") !== "normal";
const ONE = args.includes("--one");
/**
 * `--built`: measures the compiled package (`dist/`, `npm run build` first), as an operator runs
 * it, instead of the sources through `tsx` (bench/library.ts).
 */
const BUILT = args.includes("--built");
const lib = await loadLibrary(BUILT);
const { createEd25519Signer } = lib.auth;
const { ManualClock } = lib.clock;
const { RegistrationManager } = lib.registration;
const { proofPacing, RoundSchedule } = lib.schedule;
const { openNodeState, openPostgresState } = lib.storage;
const { startMockPoet } = lib.testing;
/** Times every SQLite statement by its SQL text and prints the costliest (diagnostics). */
const SQL_STATS = args.includes("--sql-stats");
/**
 * Writes a heap snapshot halfway through the submits, after the registrations and after the
 * NiPoSTs (diagnostics).
 */
const HEAP_SNAPSHOT = args.includes("--heap-snapshot");
/** Where the node state file goes (default the OS temp folder; `/dev/shm` takes fsync out). */
const TMP = flag("--tmp") ?? os.tmpdir();

/** Calls and time of each SQL statement run, when `--sql-stats`. */
const sqlStats = new Map<string, { calls: number; ms: number }>();
if (SQL_STATS) {
  const { default: Database } = await import("better-sqlite3");
  const probe = new Database(":memory:");
  const proto = Object.getPrototypeOf(probe.prepare("SELECT 1")) as Record<string, unknown>;
  probe.close();
  for (const name of ["run", "get", "all", "iterate"]) {
    const original = proto[name] as (...a: unknown[]) => unknown;
    proto[name] = function (this: { source: string }, ...a: unknown[]) {
      const start = performance.now();
      try {
        return original.apply(this, a);
      } finally {
        const entry = sqlStats.get(this.source) ?? { calls: 0, ms: 0 };
        entry.calls++;
        entry.ms += performance.now() - start;
        sqlStats.set(this.source, entry);
      }
    };
  }
}
/** `--postgres <url>`: the node state in a fresh schema of that database instead of a file. */
const POSTGRES = flag("--postgres");

/** The ticker's figures of one phase of a run. */
interface PhaseFigures {
  /** The client's CPU time in the phase (every thread). */
  cpuMs: number;
  driftMs: number;
  blockCpuMs: number;
  /** The most CPU time of the main thread alone between two ticks (0 where not measured). */
  blockMainCpuMs: number;
  rssMiB: number;
}

/** What one run measured. */
interface RunFigures {
  /** The library measured: `src` (through tsx) or `dist` (the compiled package, `--built`). */
  library: "src" | "dist";
  /**
   * The V8 heap limit of the run (`node --max-old-space-size=…` sets it; Node's default follows
   * the machine's memory): V8 lets the heap grow towards it before collecting, so the peak RSS
   * depends on it (docs/embedding.md, Memory).
   */
  heapLimitMiB: number;
  identities: number;
  poets: number;
  mocks: string;
  ready: number;
  /** How long the loop of `buildNiPost` calls took (synchronous: a block of its own). */
  callsMs: number;
  registeredMs: number;
  registrationsPerSecond: number;
  roundEndToLastNiPostMs: number;
  /** How long the mocks (in their own process) took to prove the round, before the clock moved. */
  mocksProvingMs: number;
  wholeCycleMs: number;
  peakRssMiB: number;
  /** `process.memoryUsage()` at the highest RSS sampled (every 0.5 s). */
  memoryAtPeak: { rssMiB: number; heapTotalMiB: number; heapUsedMiB: number; externalMiB: number };
  /** Longest event-loop block (monitorEventLoopDelay max), whole cycle and per phase. */
  blockMs: number;
  blockRegistrationMs: number;
  blockProofsMs: number;
  /** Longest gap between the ticks of a 10 ms interval, minus the 10 ms. */
  driftMs: number;
  /** The ticker's drift and the highest RSS sample of each phase (registration, proofs). */
  phases: { registration: PhaseFigures; proofs: PhaseFigures };
  /** The most CPU time (every thread) spent between two ticks of the 10 ms interval. */
  blockCpuMs: number;
  /** The same, of the main thread alone (Linux; 0 elsewhere). */
  blockMainCpuMs: number;
  /** The longest GC pause (wall time) and its kind, and how many took over 50 ms. */
  gc: { longestMs: number; kind: string; over50: number };
  clientCpuMs: number;
  /** The client's CPU time from the first submit to the last, per registration. */
  clientCpuPerRegistrationMs: number;
  /** The mocks' CPU time (their process) over the same span, per registration. */
  mocksCpuPerRegistrationMs: number | undefined;
  mocksCpuMs: number | undefined;
  mocksPeakRssMiB: number | undefined;
  calls: { info: number; submit: number; proof: number };
  events: Record<string, number>;
  /** Times the clock was moved to a retry's wake-up because nothing happened for 250 ms. */
  clockJumps: number;
  /** Of those, times a PoET call was still under way after 5 s of quiet. */
  stuckJumps: number;
  /** Failure messages seen in events, with how often. */
  failures: Record<string, number>;
}

const T0 = Date.parse("2024-01-01T00:00:00Z");
const scheduleSettings = {
  genesis: T0,
  epochDurationMs: 3_600_000,
  phaseShiftMs: 1_200_000,
  cycleGapMs: 600_000,
};

/** The mock PoETs in a child process, driven with the same time as the bench's clock. */
async function startPoetProcess(): Promise<{
  poets: { url: string; pubkey: Uint8Array }[];
  /** The CPU time the mocks' process had used when it was ready (start-up). */
  readyCpuMs: number;
  /**
   * Moves the mocks' clock; resolves with the ms they took to close and prove rounds, and the CPU
   * time their process has used so far.
   */
  set: (at: number) => Promise<{ syncMs: number; cpuMs: number }>;
  stop: () => Promise<{ cpuMs: number; maxRssKiB: number }>;
}> {
  const child: ChildProcess = fork(
    fileURLToPath(new URL("./registration-poets.ts", import.meta.url)),
    [JSON.stringify({ poets: POETS, ...scheduleSettings })],
    {
      // A profiled bench (`node --cpu-prof …`) profiles the mocks too, into the same folder.
      execArgv: ["--import", "tsx", ...profilerArgs(process.execArgv)],
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    },
  );
  // The mocks stand for PoET servers on other machines: at the lowest priority, they take the
  // cores only when the client does not want them, so the client's event loop is not kept waiting
  // for a core while the mocks answer (`--mocks-priority normal`: as before, the same priority).
  if (MOCKS_LOW_PRIORITY && child.pid !== undefined) {
    try {
      os.setPriority(child.pid, os.constants.priority.PRIORITY_LOW);
    } catch {
      // not permitted here: the same priority then
    }
  }
  const replies: Array<(m: { type: string } & Record<string, unknown>) => void> = [];
  child.on("message", (m: { type: string } & Record<string, unknown>) => replies.shift()?.(m));
  const next = () =>
    new Promise<{ type: string } & Record<string, unknown>>((resolve) => replies.push(resolve));
  const ready = (await next()) as unknown as {
    poets: { url: string; pubkey: string }[];
    cpuMs: number;
  };
  return {
    poets: ready.poets.map((p) => ({ url: p.url, pubkey: Buffer.from(p.pubkey, "hex") })),
    readyCpuMs: ready.cpuMs,
    set: async (at) => {
      const reply = next();
      child.send({ type: "set", at });
      const answer = await reply;
      return { syncMs: Number(answer.syncMs ?? 0), cpuMs: Number(answer.cpuMs ?? 0) };
    },
    stop: async () => {
      const reply = next();
      child.send({ type: "stop" });
      return (await reply) as unknown as { cpuMs: number; maxRssKiB: number };
    },
  };
}

/** A heap snapshot in the OS temp folder (`--heap-snapshot`). */
function heapSnapshot(): void {
  const file = path.join(os.tmpdir(), `registration-${process.pid}-${Date.now()}.heapsnapshot`);
  console.log(`heap snapshot: ${v8.writeHeapSnapshot(file)}`);
}

async function runOnce(): Promise<RunFigures> {
  const schedule = new RoundSchedule({ ...scheduleSettings, genesis: new Date(T0) });
  const clock = new ManualClock(T0);
  const dir = fs.mkdtempSync(path.join(TMP, "registration-bench-"));
  const state =
    POSTGRES === undefined
      ? await openNodeState(path.join(dir, "local.sql"), { create: true })
      : await openPostgresState({ connection: POSTGRES, schema: `bench_${process.pid}` });

  let poets: { url: string; pubkey: Uint8Array }[];
  let setMocks: (at: number) => Promise<{ syncMs: number; cpuMs: number } | undefined> = async () =>
    undefined;
  let mocksReadyCpuMs: number | undefined;
  let stopMocks: () => Promise<{ cpuMs: number; maxRssKiB: number } | undefined>;
  if (MOCKS === "inline") {
    const mocks = await Promise.all(
      Array.from({ length: POETS }, (_, i) =>
        startMockPoet({
          clock,
          genesis: new Date(T0),
          epochDurationMs: schedule.epochDurationMs,
          phaseShiftMs: schedule.phaseShiftMs,
          cycleGapMs: schedule.cycleGapMs,
          leavesPerRound: BigInt(1000 + 500 * i),
        }),
      ),
    );
    poets = mocks.map((m) => ({ url: m.url, pubkey: m.info.servicePubkey }));
    stopMocks = async () => {
      await Promise.all(mocks.map((m) => m.stop()));
      return undefined;
    };
  } else {
    const child = await startPoetProcess();
    poets = child.poets;
    mocksReadyCpuMs = child.readyCpuMs;
    setMocks = child.set;
    stopMocks = child.stop;
  }
  /** Moves the mocks' clock first, so the PoETs know a round ended before the client asks. */
  const setClock = async (at: number) => {
    await setMocks(at);
    await clock.set(at);
  };

  const calls = { info: 0, submit: 0, proof: 0 };
  /** PoET calls under way: the clock is never moved while one runs (it could time it out). */
  let inFlight = 0;
  const tracked = <T>(call: Promise<T>): Promise<T> => {
    inFlight++;
    return call.finally(() => {
      inFlight--;
    });
  };
  const counted = (client: RegistrationPoetClient): RegistrationPoetClient => ({
    info: (o) => {
      calls.info++;
      return tracked(client.info(o));
    },
    register: (r, o) => {
      calls.submit++;
      return tracked(client.register(r, o));
    },
    proof: (id, o) => {
      calls.proof++;
      return tracked(client.proof(id, o));
    },
    close: () => client.close?.(),
  });

  let lastEventAt = performance.now();
  const counts = new Map<string, number>();
  const failures = new Map<string, number>();
  const manager = new RegistrationManager({
    schedule,
    poets: poets.map((p) => ({ url: p.url, pubkey: p.pubkey })),
    state,
    genesisId: new Uint8Array(20).fill(1),
    clock,
    ...benchManagerSettings(clock, counted, {
      createPoetClient: lib.client.createPoetClient,
      adaptPoetClient: lib.registration.adaptPoetClient,
    }),
    onEvent: (e: RegistrationEvent) => {
      lastEventAt = performance.now();
      counts.set(e.type, (counts.get(e.type) ?? 0) + 1);
      if (e.type === "best-proof-selected") {
        // Every selection must improve on the one it replaces (more leaves); a tally of
        // first choices, real upgrades and any non-improving store.
        const kind =
          e.replaces === undefined
            ? "best-proof: first"
            : e.leaves > e.replaces.leaves
              ? "best-proof: upgrade (more leaves)"
              : "best-proof: NOT an improvement";
        failures.set(kind, (failures.get(kind) ?? 0) + 1);
      }
      if ("error" in e && e.error !== undefined) {
        const why = `${e.type}: ${e.error.message}`.slice(0, 160);
        failures.set(why, (failures.get(why) ?? 0) + 1);
      }
    },
  });

  const identities = Array.from({ length: IDENTITIES }, () => {
    const signer = createEd25519Signer(new Uint8Array(randomBytes(32)));
    manager.addIdentity(signer);
    return {
      signer,
      challenge: {
        publishEpoch: 1,
        sequence: 0n,
        prevAtx: new Uint8Array(32),
        positioningAtx: new Uint8Array(randomBytes(32)),
      },
      hash: new Uint8Array(randomBytes(32)),
    };
  });

  // Event-loop blocks: the delay histogram, and a 10 ms interval's longest gap.
  const delay = monitorEventLoopDelay({ resolution: 10 });
  let lastTick = performance.now();
  let drift = 0;
  // The most CPU time the process spent between two ticks: a bound on the longest block that a
  // busy machine does not inflate (wall-clock figures count the time the process was not even
  // scheduled; this counts only what it ran, on every thread).
  let cpuAtTick = process.cpuUsage();
  let blockCpu = 0;
  // The same for the main thread alone (Linux: its run time in /proc, in ns): what one stretch
  // of the event loop ran, without the worker threads, the GC's helpers or the time the machine
  // gave to other processes.
  let mainAtTick = mainThreadCpuMs();
  let blockMainCpu = 0;
  // Memory, every 50th tick: what the RSS is made of when it is highest.
  let ticks = 0;
  let memoryAtPeak = process.memoryUsage();
  // The same, per phase (reset when the registrations are done).
  let phase: PhaseFigures = { cpuMs: 0, driftMs: 0, blockCpuMs: 0, blockMainCpuMs: 0, rssMiB: 0 };
  const ticker = setInterval(() => {
    const now = performance.now();
    drift = Math.max(drift, now - lastTick - 10);
    phase.driftMs = Math.max(phase.driftMs, now - lastTick - 10);
    lastTick = now;
    const used = process.cpuUsage(cpuAtTick);
    cpuAtTick = process.cpuUsage();
    blockCpu = Math.max(blockCpu, (used.user + used.system) / 1000);
    phase.blockCpuMs = Math.max(phase.blockCpuMs, (used.user + used.system) / 1000);
    const main = mainThreadCpuMs();
    if (main !== undefined && mainAtTick !== undefined) {
      blockMainCpu = Math.max(blockMainCpu, main - mainAtTick);
      phase.blockMainCpuMs = Math.max(phase.blockMainCpuMs, main - mainAtTick);
    }
    mainAtTick = main;
    if (++ticks % 50 === 0) {
      const memory = process.memoryUsage();
      if (memory.rss > memoryAtPeak.rss) memoryAtPeak = memory;
      phase.rssMiB = Math.max(phase.rssMiB, memory.rss / 2 ** 20);
    }
  }, 10);
  // GC pauses, to tell a long block that is the collector from one that is our code.
  const gc = { longestMs: 0, kind: "", over50: 0 };
  const gcObserver = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      if (entry.duration > 50) gc.over50++;
      if (entry.duration > gc.longestMs) {
        gc.longestMs = entry.duration;
        const kind = (entry as { detail?: { kind?: number } }).detail?.kind;
        gc.kind =
          kind === constants.NODE_PERFORMANCE_GC_MAJOR
            ? "mark-compact"
            : kind === constants.NODE_PERFORMANCE_GC_MINOR
              ? "scavenge"
              : String(kind);
      }
    }
  });
  gcObserver.observe({ entryTypes: ["gc"] });
  const cpuBefore = process.cpuUsage();
  delay.enable();

  const start = performance.now();
  const all = Promise.all(
    identities.map((id) =>
      manager.buildNiPost({
        nodeId: id.signer.nodeId,
        challenge: { challenge: id.challenge, hash: id.hash },
      }),
    ),
  );
  // The calls themselves: one synchronous loop, an event-loop block of its own.
  const callsMs = performance.now() - start;
  let finished = false;
  all.then(
    () => {
      finished = true;
    },
    () => {
      finished = true;
    },
  );

  // Registration needs no time to pass: wait for every submit, then move the clock to the round
  // start and to just after the round end, and wait for the NiPoSTs. A failed request waits for
  // its retry on the clock: when nothing happened for a quarter of a second and no PoET call is
  // under way, move the clock to the next sleeper's wake-up (never past `limit`), and count it.
  let jumps = 0;
  let stuckJumps = 0;
  let halfwaySnapshot = !HEAP_SNAPSHOT;
  async function settle(until: () => boolean, limit: number): Promise<void> {
    while (!until() && !finished) {
      await new Promise((r) => setTimeout(r, 20));
      if (!halfwaySnapshot && (counts.get("registered") ?? 0) >= (IDENTITIES * POETS) / 2) {
        // Half the submits done: the live set while the registrations are under way.
        halfwaySnapshot = true;
        heapSnapshot();
      }
      const quiet = performance.now() - lastEventAt;
      // A call that never ends (a dead keep-alive socket) only times out on the clock: after 5 s
      // of quiet, move it even then.
      if ((quiet > 250 && inFlight === 0) || quiet > 5_000) {
        if (inFlight > 0) stuckJumps++;
        const next = clock.nextWakeup();
        const to = Math.min(limit, next ?? clock.now() + 1_000);
        if (to > clock.now()) {
          jumps++;
          await setClock(to);
        }
        lastEventAt = performance.now();
      }
    }
  }
  await settle(
    () => (counts.get("registered") ?? 0) >= IDENTITIES * POETS,
    schedule.roundStart(0).getTime() - 1,
  );
  const registeredMs = performance.now() - start;
  const blockRegistrationMs = delay.max / 1e6;
  const registrationPhase = phase;
  const cpuAtRegistered = process.cpuUsage();
  registrationPhase.cpuMs = cpuMs(process.cpuUsage(cpuBefore));
  phase = { cpuMs: 0, driftMs: 0, blockCpuMs: 0, blockMainCpuMs: 0, rssMiB: 0 };
  if (HEAP_SNAPSHOT) heapSnapshot();
  delay.reset();
  const clientRegistrationCpu = process.cpuUsage(cpuBefore);
  // The mocks' CPU until the round start: their share of the submits (closing the round is small).
  const atRoundStart = await setMocks(schedule.roundStart(0).getTime());
  await clock.set(schedule.roundStart(0).getTime());
  // The first proof query waits the grace after the round end, plus the jitter.
  const pacing = proofPacing(schedule);
  const proofsFrom = schedule.roundEnd(0).getTime() + pacing.graceMs + pacing.jitter.maxMs + 1;
  // The mocks in their own process prove the round before the client's clock moves: the time is
  // counted from when the proofs are there to fetch (a real PoET publishes its proof some time
  // after the round end), so it is the client's. Inline mocks prove inside the first request.
  const mocksProvingMs = (await setMocks(proofsFrom))?.syncMs ?? 0;
  const roundEnd = performance.now();
  await clock.set(proofsFrom);
  await settle(() => finished, schedule.roundEnd(0).getTime() + 60_000 - 1);
  const end = performance.now();
  const blockProofsMs = delay.max / 1e6;
  delay.disable();
  gcObserver.disconnect();
  if (HEAP_SNAPSHOT) heapSnapshot();
  clearInterval(ticker);
  const cpu = process.cpuUsage(cpuBefore);
  phase.cpuMs = cpuMs(process.cpuUsage(cpuAtRegistered));
  const outcomes = await all;

  await manager.close();
  const mocksUsage = await stopMocks();
  await state.close();
  fs.rmSync(dir, { recursive: true, force: true });
  return {
    library: lib.kind,
    heapLimitMiB: v8.getHeapStatistics().heap_size_limit / 1024 / 1024,
    identities: IDENTITIES,
    poets: POETS,
    mocks: MOCKS === "inline" ? "inline" : MOCKS_LOW_PRIORITY ? "process, low priority" : "process",
    ready: outcomes.filter((o) => o.kind === "ready").length,
    callsMs,
    registeredMs,
    registrationsPerSecond: ((IDENTITIES * POETS) / registeredMs) * 1000,
    roundEndToLastNiPostMs: end - roundEnd,
    mocksProvingMs,
    wholeCycleMs: end - start,
    peakRssMiB: process.resourceUsage().maxRSS / 1024,
    memoryAtPeak: {
      rssMiB: memoryAtPeak.rss / 2 ** 20,
      heapTotalMiB: memoryAtPeak.heapTotal / 2 ** 20,
      heapUsedMiB: memoryAtPeak.heapUsed / 2 ** 20,
      externalMiB: memoryAtPeak.external / 2 ** 20,
    },
    blockMs: Math.max(blockRegistrationMs, blockProofsMs),
    blockRegistrationMs,
    blockProofsMs,
    driftMs: drift,
    phases: { registration: registrationPhase, proofs: phase },
    blockCpuMs: blockCpu,
    blockMainCpuMs: blockMainCpu,
    gc,
    clientCpuMs: (cpu.user + cpu.system) / 1000,
    clientCpuPerRegistrationMs:
      (clientRegistrationCpu.user + clientRegistrationCpu.system) / 1000 / (IDENTITIES * POETS),
    mocksCpuPerRegistrationMs:
      atRoundStart === undefined || mocksReadyCpuMs === undefined
        ? undefined
        : (atRoundStart.cpuMs - mocksReadyCpuMs) / (IDENTITIES * POETS),
    mocksCpuMs: mocksUsage?.cpuMs,
    mocksPeakRssMiB: mocksUsage === undefined ? undefined : mocksUsage.maxRssKiB / 1024,
    calls,
    events: Object.fromEntries(counts),
    clockJumps: jumps,
    stuckJumps,
    failures: Object.fromEntries(failures),
  };
}

/** The main thread's CPU time so far in ms (Linux: `/proc/self/task/<pid>/schedstat`). */
function mainThreadCpuMs(): number | undefined {
  try {
    const line = fs.readFileSync(`/proc/self/task/${process.pid}/schedstat`, "utf8");
    return Number(line.split(" ")[0]) / 1e6;
  } catch {
    return undefined;
  }
}

/**
 * The CPU profiler's options among `execArgv`, each with its value: `--cpu-prof-interval 500`
 * as well as `--cpu-prof-interval=500` (a flag passed on without its separate value made the
 * mocks' `node` take the script's path for it).
 */
function profilerArgs(execArgv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < execArgv.length; i++) {
    const arg = execArgv[i] as string;
    if (!arg.startsWith("--cpu-prof")) continue;
    out.push(arg);
    const takesValue = ["--cpu-prof-dir", "--cpu-prof-name", "--cpu-prof-interval"].includes(arg);
    if (takesValue && i + 1 < execArgv.length) out.push(execArgv[++i] as string);
  }
  return out;
}

const cpuMs = (u: NodeJS.CpuUsage) => (u.user + u.system) / 1000;
const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const m = (ms: number) => `${ms.toFixed(0)} ms`;
const mib = (v: number) => `${v.toFixed(0)} MiB`;

function print(f: RunFigures): void {
  console.log(
    `registration bench: ${f.identities} identities × ${f.poets} mock PoETs (loopback, REST, mocks ${f.mocks === "inline" ? "in the bench's process" : `in a child process${f.mocks.includes("low") ? " at low priority" : ""}`}; library ${f.library === "dist" ? "compiled (dist/)" : "sources (src/ through tsx)"}; V8 heap limit ${mib(f.heapLimitMiB)})`,
  );
  console.log(`  NiPoSTs ready            ${f.ready}/${f.identities}`);
  console.log(
    `  buildNiPost calls        ${m(f.callsMs)} (the synchronous loop of ${f.identities} calls)`,
  );
  console.log(`  all registered after     ${s(f.registeredMs)}`);
  console.log(`  submit throughput        ${f.registrationsPerSecond.toFixed(0)} registrations/s`);
  console.log(
    `  round end → last NiPoST  ${s(f.roundEndToLastNiPostMs)}` +
      (f.mocks === "inline"
        ? " (the mocks' proving included)"
        : ` (from the proofs' publication; the mocks took ${s(f.mocksProvingMs)} to prove)`),
  );
  console.log(`  whole cycle              ${s(f.wholeCycleMs)}`);
  console.log(
    `  peak RSS (client)        ${mib(f.peakRssMiB)} (highest sample ${mib(f.memoryAtPeak.rssMiB)}: heap ${mib(f.memoryAtPeak.heapUsedMiB)} used of ${mib(f.memoryAtPeak.heapTotalMiB)}, external ${mib(f.memoryAtPeak.externalMiB)})`,
  );
  console.log(
    `  longest event-loop block ${m(f.blockMs)} (registration ${m(f.blockRegistrationMs)}, proofs ${m(f.blockProofsMs)}; 10 ms ticker drift ${m(f.driftMs)})`,
  );
  console.log(
    `  most CPU in one block    ${m(f.blockCpuMs)} (10 ms ticker; all threads), main thread ${m(f.blockMainCpuMs)}`,
  );
  for (const [name, p] of Object.entries(f.phases)) {
    console.log(
      `    ${name.padEnd(22)} CPU ${s(p.cpuMs)}, ticker drift ${m(p.driftMs)}, most CPU in one block ${m(p.blockCpuMs)} (main thread ${m(p.blockMainCpuMs)}), highest RSS sample ${mib(p.rssMiB)}`,
    );
  }
  console.log(
    `  longest GC pause         ${m(f.gc.longestMs)} (${f.gc.kind}; ${f.gc.over50} pauses over 50 ms)`,
  );
  console.log(
    `  CPU                      client ${s(f.clientCpuMs)}` +
      (f.mocksCpuMs === undefined
        ? ""
        : `, mock PoETs ${s(f.mocksCpuMs)} (peak RSS ${mib(f.mocksPeakRssMiB ?? 0)})`),
  );
  console.log(
    `  CPU per registration     client ${f.clientCpuPerRegistrationMs.toFixed(2)} ms` +
      (f.mocksCpuPerRegistrationMs === undefined
        ? ""
        : `, mock PoETs ${f.mocksCpuPerRegistrationMs.toFixed(2)} ms (submits only; 2 cores give 2 ms of CPU per registration at 1,000/s)`),
  );
  console.log(
    `  PoET calls               info ${f.calls.info}, submit ${f.calls.submit}, proof ${f.calls.proof}`,
  );
  console.log(
    `  events                   ${Object.entries(f.events)
      .map(([k, v]) => `${k} ${v}`)
      .join(", ")}`,
  );
  console.log(
    `  clock moved to a retry    ${f.clockJumps} times (quiet for 250 ms; ${f.stuckJumps} of them with a call hanging for 5 s)`,
  );
  for (const [why, n] of Object.entries(f.failures))
    console.log(`  ${String(n).padStart(5)} × ${why}`);
}

if (ONE) {
  const figures = await runOnce();
  print(figures);
  if (SQL_STATS) {
    console.log("  SQL statements by time (calls, ms, text):");
    for (const [text, e] of [...sqlStats].sort((a, b) => b[1].ms - a[1].ms).slice(0, 25)) {
      console.log(
        `  ${String(e.calls).padStart(7)} ${e.ms.toFixed(0).padStart(7)} ms  ${text.replace(/\s+/g, " ").slice(0, 200)}`,
      );
    }
  }
  console.log(`RESULT ${JSON.stringify(figures)}`);
} else {
  const runs: RunFigures[] = [];
  for (let i = 0; i < RUNS; i++) {
    const child = fork(fileURLToPath(import.meta.url), [...args, "--one"], {
      execArgv: process.execArgv,
      stdio: ["ignore", "pipe", "inherit", "ipc"],
    });
    let out = "";
    child.stdout?.on("data", (d: Buffer) => {
      out += d.toString();
    });
    const code = await new Promise<number | null>((r) => child.on("exit", r));
    const line = out.split("\n").find((l) => l.startsWith("RESULT "));
    if (code !== 0 || line === undefined) {
      process.stdout.write(out);
      throw new Error(`run ${i + 1} failed (exit code ${code})`);
    }
    const figures = JSON.parse(line.slice("RESULT ".length)) as RunFigures;
    console.log(`run ${i + 1}/${RUNS}`);
    print(figures);
    runs.push(figures);
  }
  if (runs.length > 1) {
    const med = (pick: (f: RunFigures) => number) => median(runs.map(pick));
    console.log(`median of ${runs.length} runs`);
    console.log(
      `  submit throughput        ${med((f) => f.registrationsPerSecond).toFixed(0)} registrations/s`,
    );
    console.log(`  round end → last NiPoST  ${s(med((f) => f.roundEndToLastNiPostMs))}`);
    console.log(`  peak RSS (client)        ${mib(med((f) => f.peakRssMiB))}`);
    console.log(
      `  longest event-loop block ${m(med((f) => f.blockMs))} (registration ${m(med((f) => f.blockRegistrationMs))}, proofs ${m(med((f) => f.blockProofsMs))})`,
    );
    console.log(`  buildNiPost calls        ${m(med((f) => f.callsMs))}`);
    console.log(
      `  most CPU in one block    ${m(med((f) => f.blockCpuMs))}, main thread ${m(med((f) => f.blockMainCpuMs))}`,
    );
    for (const name of ["registration", "proofs"] as const) {
      console.log(
        `    ${name.padEnd(22)} CPU ${s(med((f) => f.phases[name].cpuMs))}, ticker drift ${m(med((f) => f.phases[name].driftMs))}, most CPU in one block ${m(med((f) => f.phases[name].blockCpuMs))} (main thread ${m(med((f) => f.phases[name].blockMainCpuMs))}), highest RSS sample ${mib(med((f) => f.phases[name].rssMiB))}`,
      );
    }
    console.log(
      `  CPU per registration     client ${med((f) => f.clientCpuPerRegistrationMs).toFixed(2)} ms, mock PoETs ${med((f) => f.mocksCpuPerRegistrationMs ?? Number.NaN).toFixed(2)} ms`,
    );
  }
}
