/**
 * Storing and reading a mainnet round's member list in the node state
 * (`storage/member-list-repository.ts`): N packed 32-byte members (default 3,000,000, 96 MB) put
 * into and read back from SQLite (a temp file) and PostgreSQL (the embedded server of the tests,
 * on loopback, unless `--postgres <url>` names one), then pruned. Per store and step: wall time,
 * CPU time of this process (all threads), the longest event-loop block (the longest gap between two
 * runs of a 1 ms timer, in wall time, and the main thread's CPU time within that gap, which a
 * busy machine does not inflate) and the peak RSS. Prints figures; asserts nothing.
 *
 *   node --import tsx bench/member-store.ts [members=3000000] [repeats=3] [--only sqlite|postgres] [--postgres <url>]
 *   node --import tsx bench/member-store.ts --help
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { type NodeState, openNodeState, openPostgresState } from "../src/storage/index.js";
import { PackedMembers } from "../src/wire/index.js";
import { startPostgresServer } from "../test/helpers/postgres-server.js";
import { mainThreadCpuMs } from "./common.js";

const args = process.argv.slice(2);
const USAGE = `Usage: node --import tsx bench/member-store.ts [members=3000000] [repeats=3] [--only sqlite|postgres] [--postgres <url>]

Puts N packed 32-byte members (a mainnet round's member list) into the node state and reads them
back, on SQLite (a temp file) and PostgreSQL (the tests' embedded server, unless --postgres names
one), then prunes them. Prints per store and step the wall time, CPU time, longest event-loop
block and peak RSS; asserts nothing.

  members          how many members (default 3000000: 91.6 MiB packed)
  repeats          runs per step; the median is printed (default 3)
  --only <store>   sqlite or postgres only
  --postgres <url> a PostgreSQL server of yours instead of the embedded one
  --help, -h       this text`;
if (args.includes("--help") || args.includes("-h")) {
  console.log(USAGE);
  process.exit(0);
}
const flag = (name: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const positional = args.filter(
  (a, i) => !a.startsWith("--") && !["--only", "--postgres"].includes(args[i - 1] ?? ""),
);
const COUNT = Number(positional[0] ?? 3_000_000);
const REPEATS = Number(positional[1] ?? 3);
const ONLY = flag("--only");

interface Step {
  wallMs: number;
  cpuMs: number;
  /** The longest gap between two turns, wall time (includes being preempted on a busy machine). */
  blockMs: number;
  /** The most CPU time of the main thread between two turns (the block's own cost). */
  blockCpuMs: number;
}

/**
 * Runs `work` while a 1 ms timer measures the longest gap between its runs, in wall time and in
 * the main thread's CPU time (what the block cost, without the time other processes took).
 */
async function measure<T>(work: () => Promise<T>): Promise<{ value: T; step: Step }> {
  let last = performance.now();
  let lastCpu = mainThreadCpuMs();
  let longest = 0;
  let longestCpu = 0;
  let running = true;
  const tick = () => {
    // Not after the work: the next gap would be the caller's.
    if (!running) return;
    const now = performance.now();
    const cpu = mainThreadCpuMs();
    longest = Math.max(longest, now - last);
    longestCpu = Math.max(longestCpu, cpu - lastCpu);
    last = now;
    lastCpu = cpu;
    setTimeout(tick, 1);
  };
  setTimeout(tick, 1);
  const cpu = process.cpuUsage();
  const start = performance.now();
  const value = await work();
  const wallMs = performance.now() - start;
  const used = process.cpuUsage(cpu);
  running = false;
  return {
    value,
    step: {
      wallMs,
      cpuMs: (used.user + used.system) / 1000,
      blockMs: longest,
      blockCpuMs: longestCpu,
    },
  };
}

function members(count: number): PackedMembers {
  const words = new Uint32Array(count * 8);
  let x = 0x9e3779b9;
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    words[i] = x >>> 0;
  }
  return new PackedMembers(new Uint8Array(words.buffer));
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
};

async function run(name: string, state: NodeState, list: PackedMembers): Promise<void> {
  const steps: Record<string, Step[]> = { put: [], read: [], prune: [] };
  let peak = process.memoryUsage().rss;
  for (let r = 0; r < REPEATS; r++) {
    const put = await measure(() =>
      state.members.put({
        address: "https://poet.example",
        roundId: String(r),
        members: list,
        fetchedAt: new Date(1000 + r),
      }),
    );
    steps.put?.push(put.step);
    peak = Math.max(peak, process.memoryUsage().rss);
    const read = await measure(() => state.members.read("https://poet.example", String(r)));
    const got = read.value?.members;
    if (!(got instanceof PackedMembers) || !Buffer.from(got.bytes).equals(list.bytes)) {
      throw new Error(`${name}: the list read back differs`);
    }
    steps.read?.push(read.step);
    peak = Math.max(peak, process.memoryUsage().rss);
    const prune = await measure(() => state.members.pruneFetchedBefore(new Date(1000 + r + 1)));
    steps.prune?.push(prune.step);
  }
  for (const [step, xs] of Object.entries(steps)) {
    console.log(
      `${name} ${step}: wall ${median(xs.map((s) => s.wallMs)).toFixed(0)} ms, CPU ${median(xs.map((s) => s.cpuMs)).toFixed(0)} ms, longest block ${median(xs.map((s) => s.blockMs)).toFixed(1)} ms wall / ${median(xs.map((s) => s.blockCpuMs)).toFixed(1)} ms CPU (max ${Math.max(...xs.map((s) => s.blockMs)).toFixed(1)} / ${Math.max(...xs.map((s) => s.blockCpuMs)).toFixed(1)}) — median of ${xs.length}`,
    );
  }
  console.log(`${name} peak RSS ${(peak / 2 ** 20).toFixed(0)} MiB`);
}

async function main(): Promise<void> {
  const list = members(COUNT);
  console.log(
    `${COUNT.toLocaleString("en")} members, ${(list.bytes.length / 2 ** 20).toFixed(1)} MiB packed`,
  );
  if (ONLY === undefined || ONLY === "sqlite") {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "member-store-"));
    try {
      const state = await openNodeState(path.join(dir, "local.sql"), { create: true });
      try {
        await run("SQLite", state, list);
      } finally {
        await state.close();
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
  if (ONLY === undefined || ONLY === "postgres") {
    const given = flag("--postgres");
    const server = given === undefined ? await startPostgresServer() : undefined;
    try {
      const state = await openPostgresState({
        connection: given ?? (server?.url as string),
        schema: `member_bench_${process.pid}`,
      });
      try {
        await run("PostgreSQL", state, list);
      } finally {
        await state.close();
      }
    } finally {
      await server?.stop();
    }
  }
}

await main();
