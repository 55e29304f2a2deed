/**
 * The crash-test child (./child.ts) as one bundled file, started with plain `node`: a child then
 * starts in a fraction of the CPU time that loading a few hundred modules (through tsx, or
 * transpiled) takes, and each trial starts many. better-sqlite3 (a native module) stays outside,
 * `pg` is loaded on first use (./lazy-pg.ts), so that children on SQLite never load it, and
 * `@connectrpc/connect-node` is left out (./no-connect-node.ts): the children speak REST only.
 *
 * `npm test` (scripts/test.mjs) builds it once for the whole run and hands its path to every test
 * process in {@link CRASH_CHILD_ENV}; a test file run on its own builds it once per process. It
 * sits in `node_modules/.cache` so that `better-sqlite3` and `pg` resolve, and is removed when the
 * process that built it exits.
 */
import fs from "node:fs";
import path from "node:path";
import { buildSync } from "esbuild";
import { nodeModule } from "../node-script.js";

/** The environment variable that carries the path of a bundle built for the whole run. */
export const CRASH_CHILD_ENV = "POET_CLIENT_TEST_CRASH_CHILD";

/**
 * Bundles the child into a new file under the repository's `node_modules/.cache/crash-test` and
 * returns its path; the file is removed when this process exits.
 *
 * @example
 * ```ts
 * process.env[CRASH_CHILD_ENV] = buildCrashChild();
 * ```
 */
export function buildCrashChild(): string {
  const source = nodeModule("./child.ts", import.meta.url).file;
  const lazyPg = nodeModule("./lazy-pg.ts", import.meta.url).file;
  const noConnectNode = nodeModule("./no-connect-node.ts", import.meta.url).file;
  let root = path.dirname(source);
  while (!fs.existsSync(path.join(root, "package.json"))) root = path.dirname(root);
  // Under `.test-build` (npm test), the repository's own node_modules.
  const modules = fs.realpathSync(path.join(root, "node_modules"));
  const dir = path.join(modules, ".cache", "crash-test");
  fs.mkdirSync(dir, { recursive: true });
  const out = path.join(dir, `child-${process.pid}.mjs`);
  buildSync({
    entryPoints: [source],
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    external: ["better-sqlite3", "pg"],
    alias: { pg: lazyPg, "@connectrpc/connect-node": noConnectNode },
    outfile: out,
    logLevel: "warning",
  });
  process.once("exit", () => fs.rmSync(out, { force: true }));
  return out;
}

let built: string | undefined;

/** The bundle to start a child with: the run's, else one built by this process. */
export function crashChildBundle(): string {
  const fromEnv = process.env[CRASH_CHILD_ENV];
  if (fromEnv !== undefined && fromEnv !== "" && fs.existsSync(fromEnv)) return fromEnv;
  built ??= buildCrashChild();
  return built;
}
