/**
 * A mainnet-size round, end to end: N members (3,000,000 by default) served by loopback PoETs in
 * the real `/v1/proofs/{round}` JSON shape (a real proof over their membership root), and one
 * identity's registration manager going from the round end to its NiPoST: download, parse,
 * membership root, verification, index lookup and membership proof, PoST stand-in, rows.
 *
 * The PoETs run in one child process and every trial in another, so that the peak RSS printed is
 * the client's alone. Each trial prints the time from the round end to the NiPoST, the peak RSS
 * of its process, its CPU time (all threads; on a busy machine the wall-clock figures grow with
 * the load, the CPU time much less) and the longest event-loop block (`monitorEventLoopDelay`,
 * 10 ms resolution);
 * the summary gives medians over the trials. Time comes from a `ManualClock` moved by the bench,
 * so the figures are the cost of the work, not of waiting. Prints figures; asserts nothing.
 *
 * Where the blocks come from: a 1 ms timer records every gap between two turns longer than
 * 10 ms with the stages that were running, the main thread's own CPU time inside it (Linux
 * `schedstat`, to a scheduler tick: on a busy machine the wall-clock gap also counts the time the
 * process waited for a core or the disk, this does not) and the GC pauses that overlapped it; the
 * GC pauses are also summed by stage. The stage is followed per PoET, since with several PoETs
 * one round's download overlaps another's verification: `download` (the PoET client's `proof`
 * call, parse included), `tree+verify` (the member tree and the verification, until the member
 * list is stored), `store` (`state.members.put`, the list's chunks written to the node state),
 * and, once every PoET's proof is in, `nipost` (membership proof, PoST stand-in, rows). A block
 * is labelled with the stages running when it began and, when they changed, when it ended
 * (`download×2+store×3 → store×4`).
 *
 *   node --import tsx bench/mainnet-round.ts [members=3000000] [poets=1] [trials=3] [--raise-cap]
 *     [--cpu-prof] [--trace-gc] [--alloc-profile]
 *
 * `--raise-cap` builds the PoET clients with a 1 GiB response cap (what the code before the
 * mainnet-size defaults needed to accept such a round at all). `--cpu-prof` runs each trial under
 * node's CPU profiler (a `.cpuprofile` in the OS temp folder, with the trial's blocks next to it:
 * `node --import tsx bench/mainnet-round-blocks.ts <file>` names the functions inside each block);
 * `--trace-gc` passes node's GC trace through.
 */
import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs";
import inspector from "node:inspector";
import os from "node:os";
import path from "node:path";
import { monitorEventLoopDelay, PerformanceObserver, performance } from "node:perf_hooks";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { createEd25519Signer } from "../src/auth/index.js";
import { createPoetClient, type PoetClient } from "../src/client/index.js";
import { ManualClock } from "../src/clock.js";
import { type NiPostOutcome, RegistrationManager } from "../src/registration/index.js";
import { proofPacing } from "../src/schedule/index.js";
import { openNodeState } from "../src/storage/index.js";
import { mainThreadCpuMs, mainThreadStat, median } from "./common.js";
import { challengeIndex, memberAt, SERVICE_KEY, schedule, T0 } from "./mainnet-round-data.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const flags = process.argv.slice(2).filter((a) => a.startsWith("--"));
const args = process.argv.slice(2).filter((a) => !a.startsWith("--"));

interface TrialResult {
  outcome: string;
  roundEndToNiPostMs: number;
  downloadMs: number;
  peakRssMiB: number;
  maxBlockMs: number;
  /** 99th percentile of the event-loop delay. */
  p99BlockMs: number;
  /**
   * The most CPU time the process spent (all threads) inside one gap between two turns of a
   * 5 ms timer: an upper bound on the main thread's longest block that a busy machine does not
   * inflate, where the wall-clock figures count the time the process was not even scheduled.
   */
  maxBlockCpuMs: number;
  /** CPU time (user + system, every thread) of the client from the round end to the NiPoST. */
  cpuMs: number;
  /**
   * The most CPU time the main thread spent between two turns of a 1 ms timer: the longest block
   * as the work made it, without the time a busy machine kept the process waiting for a core.
   */
  maxBlockMainCpuMs: number;
  /** What was running then. */
  maxBlockMainCpuStage: Stage;
  /** The longest blocks seen by a 1 ms timer, longest first, with what was running. */
  blocks: Block[];
  /** Garbage-collector pauses of the main thread: count, total and longest (ms), and by stage. */
  gc: {
    count: number;
    totalMs: number;
    maxMs: number;
    maxKind: string;
    byStage: Record<string, { count: number; ms: number }>;
  };
}

/**
 * What the client was doing, told apart from outside, per PoET (see the module notes): the
 * phases running, with how many PoETs are in each (`download×2+store×3`), or `before` / `nipost`.
 */
type Stage = string;

/** One PoET's round as the bench sees it from outside the client. */
type Phase = "download" | "tree+verify" | "store" | "done";

/** The label of the phases under way: `download×2+store`, `nipost` once all are done. */
function stageOf(phases: ReadonlyMap<string, Phase>, started: boolean): Stage {
  if (!started) return "before";
  const counts = new Map<Phase, number>();
  for (const p of phases.values()) counts.set(p, (counts.get(p) ?? 0) + 1);
  const running = (["download", "tree+verify", "store"] as const).flatMap((p) => {
    const n = counts.get(p) ?? 0;
    return n === 0 ? [] : [n === 1 ? p : `${p}×${n}`];
  });
  return running.length === 0 ? "nipost" : running.join("+");
}

/** One event-loop block: when (ms from the round end), how long, and what ran. */
interface Block {
  atMs: number;
  ms: number;
  stage: Stage;
  /** Main-thread GC pauses that overlapped the block (ms, summed). */
  gcMs: number;
  /** CPU time of the main thread inside the block (NaN where `/proc` does not tell). */
  cpuMs: number;
  /** Of it, system time (to 10 ms), and the page faults the main thread took in the block. */
  sysMs: number;
  faults: number;
  /** Start and end on the monotonic clock (µs), the time base of a `.cpuprofile`. */
  fromUs: number;
  toUs: number;
}

/** Most blocks kept per trial (the longest, then the heaviest in CPU), and the shortest worth keeping. */
const KEPT_BLOCKS = 5;
const KEPT_HEAVIEST = 3;
const MIN_BLOCK_MS = 10;

/**
 * Watches the event loop with a 1 ms timer: every gap longer than {@link MIN_BLOCK_MS} between two
 * turns is a block, labelled with the stage that was running and the GC pauses inside it.
 */
function watchBlocks(stage: () => Stage, origin: number) {
  const gcs: Array<{ start: number; end: number }> = [];
  const gc = {
    count: 0,
    totalMs: 0,
    maxMs: 0,
    maxKind: "",
    byStage: {} as Record<string, { count: number; ms: number }>,
  };
  const kinds: Record<number, string> = {
    1: "scavenge",
    2: "mark-compact",
    4: "incremental",
    8: "weak-callbacks",
    16: "minor-mark-compact",
  };
  const observer = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      gcs.push({ start: e.startTime, end: e.startTime + e.duration });
      gc.count++;
      gc.totalMs += e.duration;
      // Entries come a little after the pause: the stage then is close enough for a sum.
      const sum = gc.byStage[stage()] ?? { count: 0, ms: 0 };
      sum.count++;
      sum.ms += e.duration;
      gc.byStage[stage()] = sum;
      if (e.duration > gc.maxMs) {
        gc.maxMs = e.duration;
        const kind = (e as unknown as { detail?: { kind?: number } }).detail?.kind ?? 0;
        gc.maxKind = kinds[kind] ?? String(kind);
      }
    }
  });
  observer.observe({ entryTypes: ["gc"] });
  const blocks: Array<{
    start: number;
    end: number;
    stage: Stage;
    toUs: number;
    cpu: number;
    sys: number;
    faults: number;
  }> = [];
  const monoUs = () => Number(process.hrtime.bigint() / 1000n);
  const most = { cpuMs: 0, stage: "before" as Stage };
  let running = true;
  const done = (async () => {
    let last = performance.now();
    let lastCpu = mainThreadCpuMs();
    let lastStat = mainThreadStat();
    let lastStage = stage();
    while (running) {
      await new Promise((r) => setTimeout(r, 1));
      const now = performance.now();
      const cpu = mainThreadCpuMs();
      const stat = mainThreadStat();
      const cpuMs = cpu - lastCpu;
      if (cpuMs > most.cpuMs) {
        most.cpuMs = cpuMs;
        most.stage = lastStage;
      }
      // A 1 ms timer fires after ≥ 1 ms: the rest of the gap is the block. A block started in
      // one stage may end in the next: name both.
      if (now - last - 1 > MIN_BLOCK_MS || cpuMs > MIN_BLOCK_MS) {
        const endStage = stage();
        const label = endStage === lastStage ? lastStage : `${lastStage} → ${endStage}`;
        blocks.push({
          start: last,
          end: now,
          stage: label,
          toUs: monoUs(),
          cpu: cpuMs,
          sys: stat.sysMs - lastStat.sysMs,
          faults: stat.minorFaults - lastStat.minorFaults,
        });
      }
      last = now;
      lastCpu = cpu;
      lastStat = stat;
      lastStage = stage();
    }
  })();
  return async (): Promise<{ blocks: Block[]; gc: typeof gc; most: typeof most }> => {
    running = false;
    await done;
    // GC entries are delivered after the fact: wait a turn for the last ones.
    await new Promise((r) => setImmediate(r));
    observer.disconnect();
    const all = blocks.map((b) => ({
      atMs: b.start - origin,
      ms: b.end - b.start - 1,
      stage: b.stage,
      gcMs: gcs
        .filter((g) => g.end > b.start && g.start < b.end)
        .reduce((sum, g) => sum + Math.min(g.end, b.end) - Math.max(g.start, b.start), 0),
      fromUs: b.toUs - Math.round(1000 * (b.end - b.start)),
      toUs: b.toUs,
      cpuMs: b.cpu,
      sysMs: b.sys,
      faults: b.faults,
    }));
    // The longest, and those with the most main-thread CPU: on a busy machine the longest are
    // often the process waiting for a core, and the heaviest work would not be kept.
    const longest = [...all].sort((a, b) => b.ms - a.ms).slice(0, KEPT_BLOCKS);
    const heaviest = [...all].sort((a, b) => b.cpuMs - a.cpuMs).slice(0, KEPT_HEAVIEST);
    const result = [...longest, ...heaviest.filter((b) => !longest.includes(b))];
    return { blocks: result, gc, most };
  };
}

async function trial(ports: number[], n: number, raiseCap: boolean): Promise<TrialResult> {
  const loop = monitorEventLoopDelay({ resolution: 10 });
  const clock = new ManualClock(T0);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mainnet-round-bench-"));
  const state = await openNodeState(path.join(dir, "local.sql"), { create: true });
  const signer = createEd25519Signer(new Uint8Array(32).fill(9));
  let downloadedAt = Number.NaN;
  // Each PoET's phase (keyed by host), watched from outside: its client's proof call, then the
  // node state's `members.put` of its round, then its `proof-downloaded` event.
  const phases = new Map<string, Phase>();
  let started = false;
  const stage = () => stageOf(phases, started);
  const hostOf = (address: string) => new URL(address).host;
  const put = state.members.put.bind(state.members);
  state.members.put = async (...a: Parameters<typeof put>) => {
    phases.set(hostOf(a[0].address), "store");
    try {
      return await put(...a);
    } finally {
      phases.set(hostOf(a[0].address), "done");
    }
  };
  // The PoET clients the manager would build, with their proof call watched for the stage.
  const createClient = (poet: { address: string; pubkey?: Uint8Array | undefined }) => {
    const client = createPoetClient({
      url: poet.address,
      clock,
      servicePubkey: poet.pubkey,
      ...(raiseCap ? { maxResponseBytes: 2 ** 30 } : {}),
    });
    const proof = client.proof.bind(client);
    return Object.assign(client, {
      proof: async (...a: Parameters<PoetClient["proof"]>) => {
        started = true;
        phases.set(hostOf(poet.address), "download");
        const result = await proof(...a);
        phases.set(hostOf(poet.address), "tree+verify");
        return result;
      },
    });
  };
  const manager = new RegistrationManager({
    schedule,
    poets: ports.map((port) => ({ url: `http://127.0.0.1:${port}`, pubkey: SERVICE_KEY })),
    state,
    genesisId: new Uint8Array(20).fill(1),
    clock,
    tickSize: 100n,
    // The clock jumps to the round end in one step: a lease shorter than the jump would expire
    // unrenewed and stop the identity, as it should in a process stalled that long.
    leaseTimeMs: 24 * 3_600_000,
    signers: [signer],
    createClient,
    post: async () => ({
      post: { nonce: 1, indices: Uint8Array.of(1, 2, 3), pow: 2n },
      numUnits: 4,
      vrfNonce: 5n,
      labelsPerUnit: 1024n,
    }),
    onEvent: (e) => {
      if (e.type === "proof-downloaded") {
        downloadedAt = performance.now();
        // Also a round read back from the node state, which no `put` marked.
        phases.set(hostOf(e.poet), "done");
      }
    },
  });
  let registered = 0;
  manager.onEvent((e) => {
    if (e.type === "registered") registered++;
  });
  const outcome: Promise<NiPostOutcome> = manager.buildNiPost({
    nodeId: signer.nodeId,
    challenge: {
      challenge: {
        publishEpoch: 1,
        sequence: 0n,
        prevAtx: new Uint8Array(32),
        positioningAtx: new Uint8Array(32).fill(3),
      },
      hash: memberAt(challengeIndex(n)),
    },
  });
  while (registered < ports.length) await new Promise((r) => setTimeout(r, 5));
  await clock.set(schedule.roundStart(0));
  loop.enable();
  let probing = true;
  let maxBlockCpuMs = 0;
  const probe = (async () => {
    let cpu = process.cpuUsage();
    while (probing) {
      await new Promise((r) => setTimeout(r, 5));
      const used = process.cpuUsage(cpu);
      cpu = process.cpuUsage();
      maxBlockCpuMs = Math.max(maxBlockCpuMs, (used.user + used.system) / 1000);
    }
  })();
  const cpuBefore = process.cpuUsage();
  const start = performance.now();
  const stopWatching = watchBlocks(stage, start);
  // The first proof query waits the grace after the round end, plus the jitter.
  const pacing = proofPacing(schedule);
  await clock.set(schedule.roundEnd(0).getTime() + pacing.graceMs + pacing.jitter.maxMs + 1);
  const result = await outcome;
  const end = performance.now();
  const cpu = process.cpuUsage(cpuBefore);
  probing = false;
  await probe;
  const watched = await stopWatching();
  loop.disable();
  await manager.close();
  await state.close();
  fs.rmSync(dir, { recursive: true, force: true });
  return {
    outcome:
      result.kind === "ready"
        ? "ready"
        : `${result.kind}: ${"error" in result ? result.error.message : ""}`,
    roundEndToNiPostMs: end - start,
    downloadMs: downloadedAt - start,
    peakRssMiB: process.resourceUsage().maxRSS / 1024,
    maxBlockMs: loop.max / 1e6,
    p99BlockMs: loop.percentile(99) / 1e6,
    maxBlockCpuMs,
    cpuMs: (cpu.user + cpu.system) / 1000,
    maxBlockMainCpuMs: watched.most.cpuMs,
    maxBlockMainCpuStage: watched.most.stage,
    blocks: watched.blocks,
    gc: watched.gc,
  };
}

function runChild(
  script: string,
  childArgs: string[],
  nodeFlags: string[] = [],
): { child: ChildProcess; line: Promise<string> } {
  const child = spawn(process.execPath, [...nodeFlags, "--import", "tsx", script, ...childArgs], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const lines = createInterface({ input: child.stdout! });
  const line = new Promise<string>((resolve, reject) => {
    // The first JSON line is the answer; anything else (`--trace-gc` output) is passed on.
    lines.on("line", (l) => (l.startsWith("{") ? resolve(l) : process.stderr.write(`${l}\n`)));
    child.once("exit", (code) => reject(new Error(`${script} exited with ${code}`)));
  });
  return { child, line };
}

if (flags.includes("--trial")) {
  const [portList, n] = args;
  // `--alloc-profile`: sample every allocation of the trial, also what the GC already took
  // (what churns, not only what stays), and write it as a .heapprofile in the OS temp folder.
  const session = flags.includes("--alloc-profile") ? new inspector.Session() : undefined;
  const post = (method: string, params?: object) =>
    new Promise<unknown>((resolve, reject) =>
      session?.post(method, params, (err, result) => (err ? reject(err) : resolve(result))),
    );
  if (session !== undefined) {
    session.connect();
    await post("HeapProfiler.startSampling", {
      samplingInterval: 16_384,
      includeObjectsCollectedByMajorGC: true,
      includeObjectsCollectedByMinorGC: true,
    });
  }
  const result = await trial(
    portList!.split(",").map(Number),
    Number(n),
    flags.includes("--raise-cap"),
  );
  if (session !== undefined) {
    const { profile } = (await post("HeapProfiler.stopSampling")) as { profile: unknown };
    const file = path.join(os.tmpdir(), `mainnet-round-${process.pid}.heapprofile`);
    fs.writeFileSync(file, JSON.stringify(profile));
    console.error(`allocation profile: ${file}`);
  }
  if (flags.includes("--write-blocks")) {
    // For bench/mainnet-round-blocks.ts: the blocks of this process, next to its .cpuprofile.
    const file = path.join(os.tmpdir(), `mainnet-round-${process.pid}.blocks.json`);
    fs.writeFileSync(file, JSON.stringify(result.blocks));
  }
  process.stdout.write(`${JSON.stringify(result)}\n`);
  process.exit(0);
} else {
  const n = Number(args[0] ?? 3_000_000);
  const poets = Number(args[1] ?? 1);
  const trials = Number(args[2] ?? 3);
  const raiseCap = flags.includes("--raise-cap");
  // `--cpu-prof` / `--trace-gc`: run each trial under node's CPU profiler (a .cpuprofile per
  // thread in the OS temp folder, for bench/mainnet-round-blocks.ts) or with GC tracing.
  const nodeFlags = [
    ...(flags.includes("--cpu-prof")
      ? ["--cpu-prof", "--cpu-prof-interval=250", `--cpu-prof-dir=${os.tmpdir()}`]
      : []),
    ...(flags.includes("--trace-gc") ? ["--trace-gc"] : []),
  ];
  const untilRoundEnd = schedule.roundEnd(0).getTime() - T0;
  const server = runChild(path.join(here, "mainnet-round-server.ts"), [
    String(n),
    String(poets),
    String(untilRoundEnd),
  ]);
  const { ports, bodyBytes } = JSON.parse(await server.line) as {
    ports: number[];
    bodyBytes: number;
  };
  console.log(
    `mainnet-round bench: ${n.toLocaleString("en")} members (${(bodyBytes / 2 ** 20).toFixed(0)} MiB of JSON per proof), ` +
      `${poets} PoET(s), 1 identity, ${trials} trials${raiseCap ? ", client cap raised to 1 GiB" : ", default client"}`,
  );
  const results: TrialResult[] = [];
  try {
    for (let i = 0; i < trials; i++) {
      const t = runChild(
        path.join(here, "mainnet-round.ts"),
        [
          "--trial",
          ports.join(","),
          String(n),
          ...(raiseCap ? ["--raise-cap"] : []),
          ...(flags.includes("--alloc-profile") ? ["--alloc-profile"] : []),
          ...(flags.includes("--cpu-prof") ? ["--write-blocks"] : []),
        ],
        nodeFlags,
      );
      let r: TrialResult;
      try {
        r = JSON.parse(await t.line) as TrialResult;
      } catch (err) {
        // A trial that dies (out of memory, for one) is a result too.
        console.log(`  trial ${i + 1}: crashed (${(err as Error).message})`);
        continue;
      }
      results.push(r);
      console.log(
        `  trial ${i + 1}: ${r.outcome}, round end → NiPoST ${(r.roundEndToNiPostMs / 1000).toFixed(2)} s ` +
          `(proof downloaded+verified at ${(r.downloadMs / 1000).toFixed(2)} s), CPU ${(r.cpuMs / 1000).toFixed(2)} s, peak RSS ${r.peakRssMiB.toFixed(0)} MiB, ` +
          `longest event-loop block ${r.maxBlockMs.toFixed(0)} ms (p99 ${r.p99BlockMs.toFixed(0)} ms; ` +
          `most CPU in one block ${r.maxBlockCpuMs.toFixed(0)} ms all threads, ` +
          `${r.maxBlockMainCpuMs.toFixed(0)} ms main thread, in ${r.maxBlockMainCpuStage})`,
      );
      console.log(
        `    longest blocks, then the heaviest in main-thread CPU: ${r.blocks.map((b) => `${b.ms.toFixed(0)} ms in ${b.stage} at ${(b.atMs / 1000).toFixed(2)} s (main-thread CPU ${b.cpuMs.toFixed(0)} ms, of it system ${b.sysMs.toFixed(0)} ms, ${b.faults} page faults; GC ${b.gcMs.toFixed(0)} ms)`).join(", ") || "none"}; ` +
          `GC ${r.gc.count}× ${r.gc.totalMs.toFixed(0)} ms, longest ${r.gc.maxMs.toFixed(0)} ms (${r.gc.maxKind}); ` +
          `by stage: ${Object.entries(r.gc.byStage)
            .map(([k, v]) => `${k} ${v.count}× ${v.ms.toFixed(0)} ms`)
            .join(", ")}`,
      );
    }
  } finally {
    server.child.kill();
  }
  if (results.length === 0) process.exit(0);
  const med = (f: (r: TrialResult) => number) => median(results.map(f));
  console.log(
    `  median: round end → NiPoST ${(med((r) => r.roundEndToNiPostMs) / 1000).toFixed(2)} s, ` +
      `CPU ${(med((r) => r.cpuMs) / 1000).toFixed(2)} s, ` +
      `peak RSS ${med((r) => r.peakRssMiB).toFixed(0)} MiB (max ${Math.max(...results.map((r) => r.peakRssMiB)).toFixed(0)}), ` +
      `longest event-loop block ${med((r) => r.maxBlockMs).toFixed(0)} ms (max ${Math.max(...results.map((r) => r.maxBlockMs)).toFixed(0)}), ` +
      `most CPU in one block ${med((r) => r.maxBlockCpuMs).toFixed(0)} ms all threads (max ${Math.max(...results.map((r) => r.maxBlockCpuMs)).toFixed(0)}), ` +
      `${med((r) => r.maxBlockMainCpuMs).toFixed(0)} ms main thread (max ${Math.max(...results.map((r) => r.maxBlockMainCpuMs)).toFixed(0)})`,
  );
}
