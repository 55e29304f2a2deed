/**
 * `npm run lint` (after biome): the layer table of the design, enforced on every import in `src/`.
 *
 * Arrows point down only. Every folder (and every file at the top of `src/`) belongs to one layer;
 * within a layer the folders are ordered, and a folder may import the folders listed before it
 * in its own layer and any folder of a lower layer, never one after it or above. So no import
 * goes up the table, and no two folders can import each other (a cycle between folders is
 * reported as such, with its path, in case the order is ever loosened). Type-only imports count:
 * they tie the folders together all the same.
 *
 * | layer          | folders, in their order                                          |
 * |----------------|------------------------------------------------------------------|
 * | entry points   | index.ts, proto.ts (nothing in `src/` imports them)               |
 * | edges          | testing/, cli/                                                    |
 * | orchestration  | registration/                                                     |
 * | I/O            | transport/, client/, auth/, storage/                              |
 * | core           | gen/, wire/, verify/, membership/, schedule/ (pure: no clock)     |
 * | base           | errors.ts, abort-options.ts, bytes.ts, abortable.ts, logger.ts, clock.ts, |
 * |                | turn-budget.ts, cancellation.ts, retry-policy.ts                  |
 *
 * Core is pure, so it imports none of `clock.ts`, `turn-budget.ts` (which waits for event-loop
 * turns), `cancellation.ts` and `retry-policy.ts` (time limits and pauses on the clock). A folder
 * that is in no layer is an error too: a new folder gets its row first.
 *
 * Before it reads `src/`, the script checks itself on a small made-up tree that breaks each rule
 * once, and fails if any break goes unreported.
 *
 *   npm run check:layers      (node --import tsx scripts/check-layers.ts)
 */
import fs from "node:fs";
import path from "node:path";
import ts from "typescript";

/** Lowest first. Within a layer, a unit may import the units before it. */
const LAYERS: readonly { name: string; units: readonly string[] }[] = [
  {
    name: "base",
    units: [
      "errors.ts",
      "abort-options.ts",
      "bytes.ts",
      "abortable.ts",
      "logger.ts",
      "clock.ts",
      "turn-budget.ts",
      "cancellation.ts",
      "retry-policy.ts",
    ],
  },
  { name: "core", units: ["gen", "wire", "verify", "membership", "schedule"] },
  { name: "I/O", units: ["transport", "client", "auth", "storage"] },
  { name: "orchestration", units: ["registration"] },
  { name: "edges", units: ["testing", "cli"] },
  { name: "entry points", units: ["index.ts", "proto.ts"] },
];
/** Imports a layer may not make even though they point down. */
const FORBIDDEN: Readonly<Record<string, readonly string[]>> = {
  core: ["clock.ts", "turn-budget.ts", "cancellation.ts", "retry-policy.ts"],
};

interface Placement {
  layer: number;
  order: number;
}

const PLACES = new Map<string, Placement>();
for (const [l, layer] of LAYERS.entries()) {
  for (const [order, unit] of layer.units.entries()) PLACES.set(unit, { layer: l, order });
}

/** The unit of a path relative to `src/`: its first folder, or the file itself at the top. */
function unitOf(relative: string): string {
  const parts = relative.split("/");
  return parts.length > 1 ? (parts[0] as string) : relative.replace(/\.js$/, ".ts");
}

/** Relative module specifiers a source imports or re-exports (static, dynamic and type-only). */
function importsOf(source: string): string[] {
  const info = ts.preProcessFile(source, true, true);
  return info.importedFiles.map((f) => f.fileName).filter((name) => name.startsWith("."));
}

/**
 * The breaks of the layer table in a tree of sources (paths relative to `src/`, `/`-separated).
 * Empty when every import follows it.
 */
export function checkLayers(files: ReadonlyMap<string, string>): string[] {
  const problems: string[] = [];
  const graph = new Map<string, Map<string, string>>();
  const unplaced = new Set<string>();
  for (const [file, source] of files) {
    const from = unitOf(file);
    const fromPlace = PLACES.get(from);
    if (fromPlace === undefined) {
      if (!unplaced.has(from)) problems.push(`src/${from} is in no layer of the table`);
      unplaced.add(from);
      continue;
    }
    for (const specifier of importsOf(source)) {
      const target = path.posix.normalize(path.posix.join(path.posix.dirname(file), specifier));
      if (target.startsWith("..")) continue; // outside src/ (package.json and the like)
      const to = unitOf(target);
      if (to === from) continue;
      const toPlace = PLACES.get(to);
      const where = `src/${file} imports ${specifier}`;
      if (toPlace === undefined) {
        problems.push(`${where}: src/${to} is in no layer of the table`);
        continue;
      }
      const edges = graph.get(from) ?? new Map<string, string>();
      graph.set(from, edges);
      if (!edges.has(to)) edges.set(to, file);
      const fromLayer = LAYERS[fromPlace.layer]!.name;
      const toLayer = LAYERS[toPlace.layer]!.name;
      if (FORBIDDEN[fromLayer]?.includes(to)) {
        problems.push(`${where}: ${fromLayer} (${from}) may not import ${to}`);
      } else if (toPlace.layer > fromPlace.layer) {
        problems.push(`${where}: ${fromLayer} (${from}) may not import ${toLayer} (${to})`);
      } else if (toPlace.layer === fromPlace.layer && toPlace.order > fromPlace.order) {
        problems.push(
          `${where}: in ${fromLayer}, ${from} may import only the folders before it ` +
            `(${LAYERS[fromPlace.layer]!.units.slice(0, fromPlace.order).join(", ") || "none"}), not ${to}`,
        );
      }
    }
  }
  for (const cycle of cyclesOf(graph)) {
    const steps = cycle.map((unit, i) => {
      const next = cycle[(i + 1) % cycle.length]!;
      return `${unit} → ${next} (src/${graph.get(unit)!.get(next)})`;
    });
    problems.push(`import cycle between folders: ${steps.join(", ")}`);
  }
  return problems;
}

/** One cycle through each strongly connected group of units (Tarjan), as a list of units. */
function cyclesOf(graph: ReadonlyMap<string, ReadonlyMap<string, string>>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const groups: string[][] = [];
  const visit = (unit: string): void => {
    index.set(unit, index.size);
    low.set(unit, index.get(unit)!);
    stack.push(unit);
    onStack.add(unit);
    for (const next of graph.get(unit)?.keys() ?? []) {
      if (!index.has(next)) {
        visit(next);
        low.set(unit, Math.min(low.get(unit)!, low.get(next)!));
      } else if (onStack.has(next)) {
        low.set(unit, Math.min(low.get(unit)!, index.get(next)!));
      }
    }
    if (low.get(unit) === index.get(unit)) {
      const group: string[] = [];
      let member: string;
      do {
        member = stack.pop()!;
        onStack.delete(member);
        group.push(member);
      } while (member !== unit);
      if (group.length > 1) groups.push(group);
    }
  };
  for (const unit of graph.keys()) if (!index.has(unit)) visit(unit);
  // A path through the group: breadth-first from its first unit back to itself.
  return groups.map((group) => {
    const inGroup = new Set(group);
    const start = group[0]!;
    const previous = new Map<string, string>();
    const queue = [start];
    while (queue.length > 0) {
      const unit = queue.shift()!;
      for (const next of graph.get(unit)?.keys() ?? []) {
        if (!inGroup.has(next) || previous.has(next)) continue;
        previous.set(next, unit);
        if (next === start) queue.length = 0;
        else queue.push(next);
      }
    }
    const cycle = [start];
    for (let unit = previous.get(start)!; unit !== start; unit = previous.get(unit)!) {
      cycle.unshift(unit);
    }
    return cycle;
  });
}

/** The rules, each broken once on a made-up tree: every break must be reported. */
function selfCheck(): string[] {
  const tree = new Map<string, string>([
    ["errors.ts", ""],
    ["wire/scale.ts", `import { WireFormatError } from "../errors.js";`],
    // up the table: core imports I/O
    ["verify/bad.ts", `import type { PoetClient } from "../client/index.js";`],
    // within a layer, a folder listed later: wire imports membership
    ["wire/later.ts", `export { membershipRoot } from "../membership/index.js";`],
    // core imports the clock
    ["schedule/clocked.ts", `import { systemClock } from "../clock.js";`],
    // a folder in no layer
    ["stray/x.ts", `export const x = 1;`],
    ["client/uses-stray.ts", `const m = await import("../stray/x.js");`],
    // a cycle (also two order breaks): membership ↔ verify
    ["membership/tree.ts", `import { hasher } from "../verify/hasher.js";`],
    ["verify/hasher.ts", `import { root } from "../membership/tree.js";`],
    // allowed: down the table, and to an earlier folder of the same layer
    ["registration/ok.ts", `import { x } from "../storage/index.js";\nimport "../wire/scale.js";`],
    ["auth/ok.ts", `import type { Certificate } from "../client/index.js";`],
  ]);
  const found = checkLayers(tree);
  const expected = [
    /src\/verify\/bad\.ts .*core \(verify\) may not import I\/O \(client\)/,
    /src\/wire\/later\.ts .*wire may import only .*not membership/,
    /src\/schedule\/clocked\.ts .*core \(schedule\) may not import clock\.ts/,
    /^src\/stray is in no layer/,
    /src\/client\/uses-stray\.ts .*src\/stray is in no layer/,
    /src\/verify\/hasher\.ts .*verify may import only .*not membership/,
    /^import cycle between folders: (membership → verify .*verify → membership|verify → membership .*membership → verify)/,
  ];
  const missed = expected.filter((pattern) => !found.some((problem) => pattern.test(problem)));
  const unexpected = found.filter((problem) => !expected.some((pattern) => pattern.test(problem)));
  return [
    ...missed.map((pattern) => `self-check: no report matches ${pattern}`),
    ...unexpected.map((problem) => `self-check: unexpected report: ${problem}`),
  ];
}

function readSources(dir: string, base = dir, files = new Map<string, string>()) {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) readSources(full, base, files);
    else if (/\.ts$/.test(entry.name) && !entry.name.endsWith(".d.ts")) {
      files.set(path.relative(base, full).split(path.sep).join("/"), fs.readFileSync(full, "utf8"));
    }
  }
  return files;
}

if (process.argv[1] !== undefined && import.meta.filename === path.resolve(process.argv[1])) {
  const broken = selfCheck();
  if (broken.length > 0) {
    for (const problem of broken) console.error(problem);
    console.error("check-layers: the checker itself misses a rule");
    process.exit(2);
  }
  const src = path.resolve(import.meta.dirname, "..", "src");
  const files = readSources(src);
  const problems = checkLayers(files);
  for (const problem of problems) console.error(problem);
  if (problems.length > 0) {
    console.error(`check-layers: ${problems.length} break(s) of the layer table`);
    process.exit(1);
  }
  console.log(`check-layers: ${files.size} files in src/ follow the layer table`);
}
