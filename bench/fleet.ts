/**
 * Fleet throughput: many identities × mock PoETs (default 10,000 × 5) through one registration
 * cycle, run by several worker processes on one PostgreSQL node state (default 3), against one
 * worker process on SQLite. Each worker is a process of its own with its own
 * `RegistrationManager`, pool and lease holder, and runs its share of the identities (identity i
 * goes to worker i mod N); the mock PoETs run in a child process of their own
 * (`bench/registration-poets.ts`).
 *
 * Time: every process has a `ManualClock`; this process moves them all (the mocks first) to the
 * same instant, only when every worker has been quiet for a quarter of a second with no PoET call
 * under way — so the figures are the cost of the work, not of waiting, as in
 * `bench/registration.ts`.
 *
 * Measured per scenario: registrations per second (all identities × PoETs over the time until the
 * last is accepted), round end → last NiPoST, peak RSS of each worker, and the proof downloads:
 * how many proofs the workers got from the PoETs (`proof-downloaded` events not from the store; the
 * goal is one per PoET and round for the whole fleet) and how many proof requests they sent.
 *
 * PostgreSQL: started by the bench (the embedded server of the tests, on loopback, fsync off) unless
 * `--postgres <url>` names one. Prints figures; asserts nothing.
 *
 * `--sql-stats` counts each PostgreSQL statement the workers run after the round end (calls and
 * time, by text), to see where the proof step's time goes.
 *
 *   node --import tsx bench/fleet.ts [identities] [poets] [--workers N] [--only sqlite|postgres] [--postgres <url>] [--verbose] [--sql-stats]
 *   node --import tsx bench/fleet.ts --help
 */
import { type ChildProcess, fork } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { createEd25519Signer } from "../src/auth/index.js";
import { ManualClock } from "../src/clock.js";
import {
  type NiPostOutcome,
  type RegistrationEvent,
  RegistrationManager,
  type RegistrationPoetClient,
} from "../src/registration/index.js";
import { proofPacing, RoundSchedule } from "../src/schedule/index.js";
import {
  type NodeState,
  openNodeState,
  openPostgresState,
  type PgPool,
} from "../src/storage/index.js";
import { startPostgresServer } from "../test/helpers/postgres-server.js";
import { benchManagerSettings } from "./manager-settings.js";

/** Connections of each worker's pool. */
const POOL_SIZE = 10;
const VERBOSE = process.argv.includes("--verbose");
/** In the workers too: they get the flag through their `argv`. */
const SQL_STATS = process.argv.includes("--sql-stats");
const T0 = Date.parse("2024-01-01T00:00:00Z");
const scheduleSettings = {
  genesis: T0,
  epochDurationMs: 3_600_000,
  phaseShiftMs: 1_200_000,
  cycleGapMs: 600_000,
};

/** What a worker is told to do. */
interface WorkerConfig {
  index: number;
  workers: number;
  identities: number;
  poets: { url: string; pubkey: string }[];
  store: { kind: "sqlite"; file: string } | { kind: "postgres"; url: string; schema: string };
  /** Seeds the identities' keys, so that every worker derives the same ones. */
  seed: string;
}

/** A worker's answer to `status`. */
interface WorkerStatus {
  registered: number;
  /** Identities whose NiPoST run has not ended yet. */
  left: number;
  quietMs: number;
  inFlight: number;
  nextWakeup: number | undefined;
}

/** A worker's figures, sent when it stops. */
interface WorkerFigures {
  index: number;
  identities: number;
  ready: number;
  peakRssMiB: number;
  cpuMs: number;
  downloads: number;
  fromStore: number;
  proofCalls: number;
  submitCalls: number;
  claimTakeovers: number;
  /** PostgreSQL statements after the round end: [text, calls, ms], most time first (--sql-stats). */
  sql: Array<[string, number, number]>;
  events: Record<string, number>;
  failures: Record<string, number>;
}

type Command =
  | { type: "start" }
  | { type: "status" }
  | { type: "set"; at: number }
  | { type: "stop" };

const bytesOf = (seed: string, label: string, i: number): Uint8Array =>
  new Uint8Array(createHash("sha256").update(`${seed}:${label}:${i}`).digest());

// ---------------------------------------------------------------- worker process

async function runWorker(config: WorkerConfig): Promise<void> {
  const send = (message: unknown) => process.send?.(message);
  const schedule = new RoundSchedule({ ...scheduleSettings, genesis: new Date(T0) });
  const clock = new ManualClock(T0);
  let inFlight = 0;
  let lastEventAt = performance.now();
  const tracked = <T>(call: Promise<T>): Promise<T> => {
    inFlight++;
    return call.finally(() => {
      inFlight--;
      lastEventAt = performance.now();
    });
  };
  // PostgreSQL queries count as work under way too: the clock never moves while one runs.
  const sqlStats = new Map<string, { calls: number; ms: number }>();
  let pool: pg.Pool | undefined;
  const trackedPool = (url: string): PgPool => {
    pool = new pg.Pool({ connectionString: url, max: POOL_SIZE });
    pool.on("error", () => {});
    const own = pool;
    return {
      async connect() {
        const client = await tracked(own.connect());
        return {
          query: (query) => {
            if (!SQL_STATS || clock.now() < schedule.roundEnd(0).getTime()) {
              return tracked(client.query(query as pg.QueryConfig));
            }
            const started = performance.now();
            return tracked(client.query(query as pg.QueryConfig)).finally(() => {
              const text = query.text.replace(/\s+/g, " ").replace(/\$\d+(, \$\d+)*/g, "$…");
              const entry = sqlStats.get(text) ?? { calls: 0, ms: 0 };
              entry.calls++;
              entry.ms += performance.now() - started;
              sqlStats.set(text, entry);
            });
          },
          release: (err) => client.release(err),
          on: (event, listener) => client.on(event, listener),
          off: (event, listener) => client.off(event, listener),
        };
      },
    };
  };
  const state: NodeState =
    config.store.kind === "sqlite"
      ? await openNodeState(config.store.file, { create: true })
      : await openPostgresState({
          connection: trackedPool(config.store.url),
          schema: config.store.schema,
          maxConnections: POOL_SIZE,
        });
  const calls = { submit: 0, proof: 0 };
  const counted = (client: RegistrationPoetClient): RegistrationPoetClient => ({
    info: (o) => tracked(client.info(o)),
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
  const counts = new Map<string, number>();
  const failures = new Map<string, number>();
  let downloads = 0;
  let fromStore = 0;
  const manager = new RegistrationManager({
    schedule,
    poets: config.poets.map((p) => ({ url: p.url, pubkey: Buffer.from(p.pubkey, "hex") })),
    state,
    genesisId: new Uint8Array(20).fill(1),
    clock,
    ...benchManagerSettings(clock, counted),
    leaseHolder: `fleet-${config.index}`,
    onEvent: (e: RegistrationEvent) => {
      lastEventAt = performance.now();
      counts.set(e.type, (counts.get(e.type) ?? 0) + 1);
      if (e.type === "proof-downloaded") {
        if (e.fromCache) fromStore++;
        else downloads++;
      }
      if ("error" in e && e.error !== undefined) {
        const why = `${e.type}: ${e.error.message}`.slice(0, 160);
        failures.set(why, (failures.get(why) ?? 0) + 1);
      }
    },
  });

  const mine: number[] = [];
  for (let i = config.index; i < config.identities; i += config.workers) mine.push(i);
  const identities = mine.map((i) => {
    const signer = createEd25519Signer(bytesOf(config.seed, "key", i));
    manager.addIdentity(signer);
    return {
      signer,
      challenge: {
        publishEpoch: 1,
        sequence: 0n,
        prevAtx: new Uint8Array(32),
        positioningAtx: bytesOf(config.seed, "pos", i),
      },
      hash: bytesOf(config.seed, "hash", i),
    };
  });
  // A blocked event loop (a long synchronous SQLite commit, a verification slice) is work, not
  // quiet: a 10 ms ticker that fires late marks it as activity.
  let lastTick = performance.now();
  const ticker = setInterval(() => {
    const now = performance.now();
    if (now - lastTick > 50) lastEventAt = now;
    lastTick = now;
  }, 10);
  let settled = 0;
  let outcomes: Promise<NiPostOutcome[]> | undefined;
  const cpuBefore = process.cpuUsage();

  process.on("message", (command: Command) => {
    if (command.type === "start") {
      // Quiet is counted from the start, not from the set-up (deriving thousands of keys).
      lastEventAt = performance.now();
      outcomes = Promise.all(
        identities.map((id) => {
          const run = manager.buildNiPost({
            nodeId: id.signer.nodeId,
            challenge: { challenge: id.challenge, hash: id.hash },
          });
          run.then(
            () => settled++,
            () => settled++,
          );
          return run;
        }),
      );
      outcomes.catch(() => {});
      send({ type: "started" });
    } else if (command.type === "status") {
      const status: WorkerStatus = {
        registered: counts.get("registered") ?? 0,
        left: identities.length - settled,
        // An identity whose cycle has not taken its first step yet is still reading and writing its
        // rows (no event, no PoET call): that is work under way, not quiet.
        quietMs: manager.status().some((s) => s.running && s.next === undefined)
          ? 0
          : performance.now() - lastEventAt,
        inFlight,
        nextWakeup: clock.nextWakeup(),
      };
      send({ type: "status", ...status });
    } else if (command.type === "set") {
      clock.set(command.at).then(() => send({ type: "set", at: command.at }));
    } else if (command.type === "stop") {
      void (async () => {
        const results = outcomes === undefined ? [] : await outcomes.catch(() => []);
        const cpu = process.cpuUsage(cpuBefore);
        clearInterval(ticker);
        await manager.close();
        await state.close();
        await pool?.end();
        const figures: WorkerFigures = {
          index: config.index,
          identities: identities.length,
          ready: results.filter((o) => o.kind === "ready").length,
          peakRssMiB: process.resourceUsage().maxRSS / 1024,
          cpuMs: (cpu.user + cpu.system) / 1000,
          downloads,
          fromStore,
          proofCalls: calls.proof,
          submitCalls: calls.submit,
          claimTakeovers: counts.get("proof-claim-taken-over") ?? 0,
          sql: [...sqlStats]
            .map(([text, e]): [string, number, number] => [text, e.calls, e.ms])
            .sort((a, b) => b[2] - a[2]),
          events: Object.fromEntries(counts),
          failures: Object.fromEntries(failures),
        };
        send({ type: "stopped", figures });
        process.disconnect();
      })();
    }
  });
  send({ type: "ready" });
}

// ---------------------------------------------------------------- the bench's process

/** A child process answering one request at a time over IPC. */
function ipcChild(child: ChildProcess) {
  const replies: Array<(m: { type: string } & Record<string, unknown>) => void> = [];
  child.on("message", (m: { type: string } & Record<string, unknown>) => replies.shift()?.(m));
  const next = () =>
    new Promise<{ type: string } & Record<string, unknown>>((resolve) => replies.push(resolve));
  return {
    next,
    async ask(message: unknown) {
      const reply = next();
      child.send(message as object);
      return reply;
    },
  };
}

interface Scenario {
  name: string;
  workers: number;
  store: (index: number) => WorkerConfig["store"];
}

interface ScenarioFigures {
  name: string;
  identities: number;
  poets: number;
  workers: WorkerFigures[];
  registeredMs: number;
  registrationsPerSecond: number;
  roundEndToLastNiPostMs: number;
  clockJumps: number;
  /** Of {@link clockJumps}, after the round end (each waits for 3 s of quiet). */
  clockJumpsAfterRoundEnd: number;
}

async function runScenario(
  scenario: Scenario,
  identities: number,
  poetCount: number,
): Promise<ScenarioFigures> {
  const schedule = new RoundSchedule({ ...scheduleSettings, genesis: new Date(T0) });
  const here = (file: string) => fileURLToPath(new URL(file, import.meta.url));
  const mocksChild = fork(
    here("./registration-poets.ts"),
    [JSON.stringify({ poets: poetCount, ...scheduleSettings })],
    { execArgv: ["--import", "tsx"], stdio: ["ignore", "inherit", "inherit", "ipc"] },
  );
  const mocks = ipcChild(mocksChild);
  const ready = (await mocks.next()) as unknown as { poets: { url: string; pubkey: string }[] };
  const seed = `fleet-${process.pid}-${scenario.name}`;
  const children: ChildProcess[] = [mocksChild];
  const workers = await Promise.all(
    Array.from({ length: scenario.workers }, async (_, index) => {
      const config: WorkerConfig = {
        index,
        workers: scenario.workers,
        identities,
        poets: ready.poets,
        store: scenario.store(index),
        seed,
      };
      const child = fork(
        here("./fleet.ts"),
        ["--worker", JSON.stringify(config), ...(SQL_STATS ? ["--sql-stats"] : [])],
        { execArgv: ["--import", "tsx"], stdio: ["ignore", "inherit", "inherit", "ipc"] },
      );
      children.push(child);
      const ipc = ipcChild(child);
      await ipc.next();
      return ipc;
    }),
  );
  let now = T0;
  const setClock = async (at: number) => {
    await mocks.ask({ type: "set", at });
    await Promise.all(workers.map((w) => w.ask({ type: "set", at })));
    now = at;
  };
  const statuses = async () =>
    (await Promise.all(workers.map((w) => w.ask({ type: "status" })))) as unknown as WorkerStatus[];
  let jumps = 0;
  let lastReport = performance.now();
  /** Waits until `until`, moving every clock to the next wake-up when all workers are quiet. */
  /**
   * `quietMs`: how long every worker must be quiet before the clock moves. After the round end,
   * thousands of identities check the members and store their choices between events for longer
   * than the registrations' quarter second, so that step waits longer before it calls it quiet.
   */
  async function settle(
    until: (s: WorkerStatus[]) => boolean,
    limit: number,
    quietMs = 250,
  ): Promise<void> {
    for (;;) {
      const s = await statuses();
      if (until(s)) return;
      if (VERBOSE && performance.now() - lastReport > 5_000) {
        lastReport = performance.now();
        console.error(`  … clock +${now - T0} ms: ${JSON.stringify(s)}`);
      }
      if (s.every((w) => w.left === 0)) return;
      await new Promise((r) => setTimeout(r, 20));
      const quiet = Math.min(...s.map((w) => w.quietMs));
      const inFlight = s.reduce((n, w) => n + w.inFlight, 0);
      if ((quiet > quietMs && inFlight === 0) || quiet > 5_000) {
        const wakeups = s.map((w) => w.nextWakeup).filter((w): w is number => w !== undefined);
        const next = wakeups.length > 0 ? Math.min(...wakeups) : now + 1_000;
        if (next > limit && now >= limit) {
          throw new Error(
            `stuck at clock +${now - T0} ms: nothing to wake before the limit; ${JSON.stringify(s)}`,
          );
        }
        // A sleeper due now (not after) is woken by setting the clock to now again.
        const to = Math.max(now, Math.min(limit, next));
        jumps++;
        await setClock(to);
      }
    }
  }

  let figures: WorkerFigures[];
  let registeredMs: number;
  let roundEndToLastNiPostMs: number;
  let jumpsAfterRoundEnd = 0;
  try {
    const start = performance.now();
    await Promise.all(workers.map((w) => w.ask({ type: "start" })));
    await settle(
      (s) => s.reduce((n, w) => n + w.registered, 0) >= identities * poetCount,
      schedule.roundStart(0).getTime() - 1,
    );
    registeredMs = performance.now() - start;
    await setClock(schedule.roundStart(0).getTime());
    const roundEnd = performance.now();
    const jumpsBeforeRoundEnd = jumps;
    const pacing = proofPacing(schedule);
    await setClock(schedule.roundEnd(0).getTime() + pacing.graceMs + pacing.jitter.maxMs + 1);
    await settle(
      (s) => s.every((w) => w.left === 0),
      schedule.roundEnd(0).getTime() + 600_000 - 1,
      3_000,
    );
    roundEndToLastNiPostMs = performance.now() - roundEnd;
    jumpsAfterRoundEnd = jumps - jumpsBeforeRoundEnd;
    figures = (await Promise.all(workers.map((w) => w.ask({ type: "stop" })))).map(
      (m) => (m as unknown as { figures: WorkerFigures }).figures,
    );
  } catch (err) {
    // Stopped before the store goes away, so that no worker sees its server vanish.
    for (const child of children) child.kill();
    throw err;
  }
  await mocks.ask({ type: "stop" });
  return {
    name: scenario.name,
    identities,
    poets: poetCount,
    workers: figures,
    registeredMs,
    registrationsPerSecond: ((identities * poetCount) / registeredMs) * 1000,
    roundEndToLastNiPostMs,
    clockJumps: jumps,
    clockJumpsAfterRoundEnd: jumpsAfterRoundEnd,
  };
}

function print(f: ScenarioFigures): void {
  const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
  const sum = (pick: (w: WorkerFigures) => number) => f.workers.reduce((n, w) => n + pick(w), 0);
  console.log(
    `${f.name}: ${f.identities} identities × ${f.poets} mock PoETs, ${f.workers.length} worker process(es)`,
  );
  console.log(`  NiPoSTs ready            ${sum((w) => w.ready)}/${f.identities}`);
  console.log(`  all registered after     ${s(f.registeredMs)}`);
  console.log(`  submit throughput        ${f.registrationsPerSecond.toFixed(0)} registrations/s`);
  console.log(`  round end → last NiPoST  ${s(f.roundEndToLastNiPostMs)}`);
  console.log(
    `  peak RSS per worker      ${f.workers.map((w) => `${w.peakRssMiB.toFixed(0)} MiB`).join(", ")}`,
  );
  console.log(`  CPU per worker           ${f.workers.map((w) => s(w.cpuMs)).join(", ")}`);
  console.log(
    `  proof downloads          ${sum((w) => w.downloads)} (per worker ${f.workers.map((w) => w.downloads).join(", ")}; goal ${f.poets}: one per PoET and round); read from the store ${sum((w) => w.fromStore)}`,
  );
  console.log(
    `  proof requests sent      ${sum((w) => w.proofCalls)}; submits ${sum((w) => w.submitCalls)}; claim takeovers ${sum((w) => w.claimTakeovers)}`,
  );
  console.log(
    `  clock moved              ${f.clockJumps} times (${f.clockJumpsAfterRoundEnd} after the round end)`,
  );
  console.log(`  CPU (all workers)        ${s(sum((w) => w.cpuMs))}`);
  if (SQL_STATS) {
    const sql = new Map<string, [number, number]>();
    for (const w of f.workers) {
      for (const [text, calls, ms] of w.sql) {
        const e = sql.get(text) ?? [0, 0];
        sql.set(text, [e[0] + calls, e[1] + ms]);
      }
    }
    const total = [...sql.values()].reduce((n, e) => n + e[0], 0);
    console.log(
      `  SQL after the round end  ${total} statements (calls, ms summed over workers, text):`,
    );
    for (const [text, [calls, ms]] of [...sql].sort((a, b) => b[1][1] - a[1][1]).slice(0, 15)) {
      console.log(
        `  ${String(calls).padStart(8)} ${ms.toFixed(0).padStart(8)} ms  ${text.slice(0, 150)}`,
      );
    }
  }
  const failures = new Map<string, number>();
  for (const w of f.workers) {
    for (const [why, n] of Object.entries(w.failures)) {
      failures.set(why, (failures.get(why) ?? 0) + n);
    }
  }
  for (const [why, n] of failures) console.log(`  ${String(n).padStart(5)} × ${why}`);
}

const args = process.argv.slice(2);
const flag = (name: string): string | undefined => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const USAGE = `Usage: node --import tsx bench/fleet.ts [identities] [poets] [options]

Runs [identities] (default 10000) identities against [poets] (default 5) mock PoETs through one
registration cycle: on one SQLite worker, then on N worker processes sharing one PostgreSQL node
state. Prints, per scenario: registrations per second, round end → last NiPoST, peak RSS and CPU
per worker, proof downloads (goal: one per PoET and round for the whole fleet) and the clock
jumps; then a RESULT line of JSON. Asserts nothing.

Options:
  --workers N          PostgreSQL worker processes (default 3)
  --only sqlite|postgres
                       run one scenario only
  --postgres <url>     use this PostgreSQL server (a schema fleet_bench_<pid> in it) instead of
                       starting the tests' embedded one on loopback
  --verbose            report the workers' status every 5 s while waiting
  --sql-stats          count the PostgreSQL statements after the round end, by text
  --help, -h           print this text`;

const workerConfig = flag("--worker");
if (args.includes("--help") || args.includes("-h")) {
  console.log(USAGE);
} else if (workerConfig !== undefined) {
  await runWorker(JSON.parse(workerConfig) as WorkerConfig);
} else {
  const positional = args.filter(
    (a, i) =>
      !a.startsWith("--") && !["--workers", "--only", "--postgres"].includes(args[i - 1] ?? ""),
  );
  const IDENTITIES = Number(positional[0] ?? 10_000);
  const POETS = Number(positional[1] ?? 5);
  const WORKERS = Number(flag("--workers") ?? 3);
  const ONLY = flag("--only");
  if (
    !Number.isInteger(IDENTITIES) ||
    IDENTITIES <= 0 ||
    !Number.isInteger(POETS) ||
    POETS <= 0 ||
    !Number.isInteger(WORKERS) ||
    WORKERS <= 0 ||
    (ONLY !== undefined && ONLY !== "sqlite" && ONLY !== "postgres")
  ) {
    console.error(USAGE);
    process.exit(2);
  }
  const results: ScenarioFigures[] = [];
  if (ONLY === undefined || ONLY === "sqlite") {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fleet-bench-"));
    try {
      const figures = await runScenario(
        {
          name: "SQLite, 1 worker",
          workers: 1,
          store: () => ({ kind: "sqlite", file: path.join(dir, "local.sql") }),
        },
        IDENTITIES,
        POETS,
      );
      print(figures);
      results.push(figures);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
  if (ONLY === undefined || ONLY === "postgres") {
    const given = flag("--postgres");
    const server = given === undefined ? await startPostgresServer() : undefined;
    const url = given ?? (server?.url as string);
    try {
      const figures = await runScenario(
        {
          name: `PostgreSQL, ${WORKERS} workers`,
          workers: WORKERS,
          store: () => ({ kind: "postgres", url, schema: `fleet_bench_${process.pid}` }),
        },
        IDENTITIES,
        POETS,
      );
      print(figures);
      results.push(figures);
    } finally {
      await server?.stop();
    }
  }
  console.log(`RESULT ${JSON.stringify(results)}`);
}
