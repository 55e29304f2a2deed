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
 *   node --import tsx bench/mainnet-round.ts [members=3000000] [poets=1] [trials=3] [--raise-cap]
 *
 * `--raise-cap` builds the PoET clients with a 1 GiB response cap (what the code before the
 * mainnet-size defaults needed to accept such a round at all).
 */
import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs";
import inspector from "node:inspector";
import os from "node:os";
import path from "node:path";
import { monitorEventLoopDelay, performance } from "node:perf_hooks";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { createEd25519Signer } from "../src/auth/index.js";
import { createPoetClient } from "../src/client/index.js";
import { ManualClock } from "../src/clock.js";
import { type NiPostOutcome, RegistrationManager } from "../src/registration/index.js";
import { proofPacing } from "../src/schedule/index.js";
import { openNodeState } from "../src/storage/index.js";
import { median } from "./common.js";
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
}

async function trial(ports: number[], n: number, raiseCap: boolean): Promise<TrialResult> {
  const loop = monitorEventLoopDelay({ resolution: 10 });
  const clock = new ManualClock(T0);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mainnet-round-bench-"));
  const state = await openNodeState(path.join(dir, "local.sql"), { create: true });
  const signer = createEd25519Signer(new Uint8Array(32).fill(9));
  let downloadedAt = Number.NaN;
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
    ...(raiseCap
      ? {
          createClient: (poet: { address: string; pubkey?: Uint8Array | undefined }) =>
            createPoetClient({
              url: poet.address,
              clock,
              servicePubkey: poet.pubkey,
              maxResponseBytes: 2 ** 30,
            }),
        }
      : {}),
    post: async () => ({
      post: { nonce: 1, indices: Uint8Array.of(1, 2, 3), pow: 2n },
      numUnits: 4,
      vrfNonce: 5n,
      labelsPerUnit: 1024n,
    }),
    onEvent: (e) => {
      if (e.type === "proof-downloaded") downloadedAt = performance.now();
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
  // The first proof query waits the grace after the round end, plus the jitter.
  const pacing = proofPacing(schedule);
  await clock.set(schedule.roundEnd(0).getTime() + pacing.graceMs + pacing.jitter.maxMs + 1);
  const result = await outcome;
  const end = performance.now();
  const cpu = process.cpuUsage(cpuBefore);
  probing = false;
  await probe;
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
  };
}

function runChild(
  script: string,
  childArgs: string[],
): { child: ChildProcess; line: Promise<string> } {
  const child = spawn(process.execPath, ["--import", "tsx", script, ...childArgs], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const lines = createInterface({ input: child.stdout! });
  const line = new Promise<string>((resolve, reject) => {
    lines.once("line", resolve);
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
  process.stdout.write(`${JSON.stringify(result)}\n`);
  process.exit(0);
} else {
  const n = Number(args[0] ?? 3_000_000);
  const poets = Number(args[1] ?? 1);
  const trials = Number(args[2] ?? 3);
  const raiseCap = flags.includes("--raise-cap");
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
      const t = runChild(path.join(here, "mainnet-round.ts"), [
        "--trial",
        ports.join(","),
        String(n),
        ...(raiseCap ? ["--raise-cap"] : []),
      ]);
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
          `most CPU in one block ${r.maxBlockCpuMs.toFixed(0)} ms)`,
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
      `most CPU in one block ${med((r) => r.maxBlockCpuMs).toFixed(0)} ms (max ${Math.max(...results.map((r) => r.maxBlockCpuMs)).toFixed(0)})`,
  );
}
