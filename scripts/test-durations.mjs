/**
 * What each test file cost in the last `npm test`, so that the next run can start the longest
 * files first and balance its groups (scripts/test.mjs). Two halves:
 *
 * - Loaded with `--import` into every test process (`node --test` passes its `--import` on): it
 *   measures the process's CPU time, its own and that of the children it waited for (a crash
 *   test's child processes, a CLI run), from start to exit, and the wall time. A group of files
 *   (one generated file, scripts/test.mjs) marks where each member begins and ends with
 *   {@link MARK}, so each member gets its own figures. At exit the figures go to a file of their
 *   own in `TEST_DURATIONS_DIR`, one per process.
 * - {@link mergeDurations} (scripts/test.mjs, after the run) folds those files into
 *   `node_modules/.cache/test-durations.json`: `{ "test/x.test.ts": { cpuMs, wallMs } }`.
 *
 * CPU time rather than wall time: the machine may be shared, and a file's CPU time barely moves
 * with the load while its wall time doubles. `TEST_DURATIONS=0` turns the recording off.
 */
import fs from "node:fs";
import path from "node:path";

/** The global under which a group marks its members: `begin(name)` and `end(name)`. */
export const MARK = Symbol.for("spacemesh-poet-client.test-durations");
/** Where the recorded figures of the last runs live, relative to the repository. */
export const DURATIONS_FILE = path.join("node_modules", ".cache", "test-durations.json");

/** CPU milliseconds of this process and its waited-for children (Linux), else its own. */
function cpuMs() {
  try {
    const stat = fs.readFileSync("/proc/self/stat", "utf8");
    // Fields after the command's closing parenthesis: utime, stime, cutime, cstime are 14–17.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const ticks = [11, 12, 13, 14].reduce((sum, i) => sum + Number(fields[i]), 0);
    // The kernel's USER_HZ is 100 on every Linux Node.js runs on.
    return ticks * 10;
  } catch {
    const { user, system } = process.cpuUsage();
    return (user + system) / 1000;
  }
}

const dir = process.env.TEST_DURATIONS_DIR;
const file = process.argv[1];
if (dir !== undefined && dir !== "" && file?.endsWith(".test.js")) {
  const figures = {};
  const open = new Map();
  const started = { cpu: cpuMs(), wall: performance.now() };
  globalThis[MARK] = {
    begin(name) {
      open.set(name, { cpu: cpuMs(), wall: performance.now() });
    },
    end(name) {
      const from = open.get(name);
      if (from === undefined) return;
      open.delete(name);
      figures[name] = { cpuMs: cpuMs() - from.cpu, wallMs: performance.now() - from.wall };
    },
  };
  process.once("exit", () => {
    // A process of one file: the whole process is that file's (its start included).
    if (!path.basename(file).startsWith("group-")) {
      const name = file.replace(/^.*[\\/]\.test-build[\\/]/, "").replace(/\.js$/, ".ts");
      figures[name.split(path.sep).join("/")] = {
        cpuMs: cpuMs() - started.cpu,
        wallMs: performance.now() - started.wall,
      };
    }
    try {
      fs.writeFileSync(path.join(dir, `${process.pid}.json`), JSON.stringify(figures));
    } catch {
      // the run is over and its folder gone: nothing to record
    }
  });
}

/**
 * Folds the figures recorded in `from` (one JSON file per process) into the durations file under
 * `root`, and removes `from`. A file not run this time keeps its earlier figures.
 */
export function mergeDurations(root, from) {
  const target = path.join(root, DURATIONS_FILE);
  let known = {};
  try {
    known = JSON.parse(fs.readFileSync(target, "utf8"));
  } catch {
    // none yet
  }
  for (const name of fs.readdirSync(from)) {
    try {
      Object.assign(known, JSON.parse(fs.readFileSync(path.join(from, name), "utf8")));
    } catch {
      // a process killed while writing: its files keep their earlier figures
    }
  }
  const sorted = Object.fromEntries(Object.entries(known).sort(([a], [b]) => a.localeCompare(b)));
  fs.mkdirSync(path.dirname(target), { recursive: true });
  fs.writeFileSync(target, `${JSON.stringify(sorted, null, 1)}\n`);
  fs.rmSync(from, { recursive: true, force: true });
}

/** The recorded figures under `root`, or `undefined` when there are none. */
export function readDurations(root) {
  try {
    return JSON.parse(fs.readFileSync(path.join(root, DURATIONS_FILE), "utf8"));
  } catch {
    return undefined;
  }
}
