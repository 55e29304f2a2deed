/**
 * The longest synchronous stretches of a CPU profile: where the main thread blocked its event
 * loop, and in what. Reads a `.cpuprofile` (from `bench/mainnet-round.ts --cpu-prof`, or any
 * `node --cpu-prof` run), finds the runs of consecutive samples that are not `(idle)` (the thread
 * waiting for I/O or timers), and prints the longest of them with the functions that took their
 * time (self time, and the deepest frames of this project on the stack).
 *
 *   node --import tsx bench/mainnet-round-blocks.ts <file.cpuprofile> [top=8]
 *
 * A stretch of busy samples is one block of the event loop only as far as the sampling shows it
 * (1 ms by default); `(garbage collector)` samples are GC pauses on this thread.
 */
import fs from "node:fs";
import path from "node:path";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

const [file, topArg] = process.argv.slice(2);
if (file === undefined) {
  console.error("usage: mainnet-round-blocks.ts <file.cpuprofile> [top]");
  process.exit(2);
}
const top = Number(topArg ?? 8);
const profile = JSON.parse(fs.readFileSync(file, "utf8")) as Profile;
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

const label = (n: ProfileNode) => {
  const { functionName, url, lineNumber } = n.callFrame;
  const where =
    url === "" ? "" : ` ${url.replace(/^.*\/(src|bench|node_modules)\//, "$1/")}:${lineNumber + 1}`;
  return `${functionName || "(anonymous)"}${where}`;
};
/** The innermost frame of this project's own code on the stack of a sample. */
const ownFrame = (id: number): string => {
  for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
    const n = byId.get(at) as ProfileNode;
    if (/\/(src|bench)\//.test(n.callFrame.url)) return label(n);
  }
  return label(byId.get(id) as ProfileNode);
};

interface Stretch {
  startUs: number;
  us: number;
  self: Map<string, number>;
  own: Map<string, number>;
  label?: string;
}
/**
 * The event-loop blocks the bench saw in this process (`mainnet-round-<pid>.blocks.json` next to
 * the profile), when there: each is analysed as one stretch. Busy samples alone cannot tell two
 * slices apart that follow each other without a wait (a yield by `setImmediate` leaves no idle
 * sample), so without that file a stretch may be many short blocks.
 */
const pid = /\.(\d+)\.0\.\d+\.cpuprofile$/.exec(file)?.[1];
const blocksFile = path.join(path.dirname(file), `mainnet-round-${pid}.blocks.json`);
const windows = fs.existsSync(blocksFile)
  ? (JSON.parse(fs.readFileSync(blocksFile, "utf8")) as Array<{
      fromUs: number;
      toUs: number;
      ms: number;
      stage: string;
    }>)
  : undefined;
const stretches: Stretch[] = [];
let current: Stretch | undefined;
let t = profile.startTime;
for (let i = 0; i < profile.samples.length; i++) {
  t += profile.timeDeltas[i] ?? 0;
  // A sample stands for the time until the next one.
  const us = profile.timeDeltas[i + 1] ?? 0;
  const node = byId.get(profile.samples[i] as number) as ProfileNode;
  if (windows !== undefined) {
    const w = windows.find((b) => t >= b.fromUs && t < b.toUs);
    if (w === undefined) {
      current = undefined;
      continue;
    }
    if (current === undefined || current.startUs !== w.fromUs) {
      current = {
        startUs: w.fromUs,
        us: 0,
        self: new Map(),
        own: new Map(),
        label: `${w.stage}, ${w.ms.toFixed(0)} ms wall`,
      };
      stretches.push(current);
    }
  } else if (node.callFrame.functionName === "(idle)") {
    current = undefined;
    continue;
  }
  if (current === undefined) {
    current = { startUs: t, us: 0, self: new Map(), own: new Map() };
    stretches.push(current);
  }
  current.us += us;
  const self = label(node);
  current.self.set(self, (current.self.get(self) ?? 0) + us);
  const own = ownFrame(node.id);
  current.own.set(own, (current.own.get(own) ?? 0) + us);
}

const fmt = (m: Map<string, number>, n: number) =>
  [...m]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([k, v]) => `${(v / 1000).toFixed(1)} ms ${k}`)
    .join("\n      ");
stretches.sort((a, b) => b.us - a.us);
console.log(
  `${file}: ${stretches.length} ${windows === undefined ? "busy stretches" : `of the bench's blocks (${blocksFile})`}; the ${top} longest:`,
);
for (const s of stretches.slice(0, top)) {
  console.log(
    `  ${(s.us / 1000).toFixed(1)} ms sampled at ${((s.startUs - profile.startTime) / 1e6).toFixed(3)} s${s.label === undefined ? "" : ` (block: ${s.label})`}`,
  );
  console.log(`    self:\n      ${fmt(s.self, 4)}`);
  console.log(`    own code:\n      ${fmt(s.own, 4)}`);
}
