/**
 * The crash-test child (./child.ts) as one bundled file, started with plain `node`: a child then
 * starts in a fraction of the CPU time that loading a few hundred modules (through tsx, or
 * transpiled) takes, and each trial starts many. better-sqlite3 (a native module) stays outside,
 * `pg` is loaded on first use (./lazy-pg.ts), so that children on SQLite never load it, and
 * `@connectrpc/connect-node` is left out (./no-connect-node.ts): the children speak REST only.
 * It is a CommonJS file, started by a small loader with a V8 code cache made once after the build
 * (the bundle's top-level code run): loading it then costs a start about 0.04 CPU-second instead of
 * 0.14 as an ES module (which takes no code cache on Node 20), on top of the 0.1 of a bare `node`.
 *
 * `npm test` (scripts/test.mjs) builds it once for the whole run and hands its path to every test
 * process in {@link CRASH_CHILD_ENV}; a test file run on its own builds it once per process. It
 * sits in `node_modules/.cache` so that `better-sqlite3` and `pg` resolve, and is removed when the
 * process that built it exits.
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { buildSync } from "esbuild";
import { nodeModule } from "../node-script.js";

/** The environment variable that carries the path of a bundle built for the whole run. */
export const CRASH_CHILD_ENV = "POET_CLIENT_TEST_CRASH_CHILD";

/**
 * What starts a child: compiles the bundle (a CommonJS file) with the V8 code cache beside it, when
 * there is one and V8 takes it, and runs it as `require` would; with `--make-cache`, writes that
 * cache after running its top-level code. Node 20's `require` takes no code cache, and an ES module
 * none at all.
 */
const LOADER = `"use strict";
const fs = require("node:fs");
const path = require("node:path");
const vm = require("node:vm");
const Module = require("node:module");
const file = process.argv[2];
const cacheFile = file + ".v8cache";
let cachedData;
try {
  cachedData = fs.readFileSync(cacheFile);
} catch {}
const script = new vm.Script(Module.wrap(fs.readFileSync(file, "utf8")), { filename: file, cachedData });
const child = new Module(file, module);
child.filename = file;
child.paths = Module._nodeModulePaths(path.dirname(file));
script.runInThisContext().call(child.exports, child.exports, Module.createRequire(file), child, file, path.dirname(file));
if (process.argv[3] === "--make-cache") {
  fs.writeFileSync(cacheFile + ".tmp", script.createCachedData());
  fs.renameSync(cacheFile + ".tmp", cacheFile);
}
`;

/**
 * Bundles the child into a new file under the repository's `node_modules/.cache/crash-test`, with
 * its loader and code cache, and returns its path; the files are removed when this process exits.
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
  const out = path.join(dir, `child-${process.pid}.cjs`);
  const files = [out, loaderOf(out), `${out}.v8cache`];
  process.once("exit", () => {
    for (const file of files) fs.rmSync(file, { force: true });
  });
  buildSync({
    entryPoints: [source],
    bundle: true,
    platform: "node",
    format: "cjs",
    target: "node20",
    external: ["better-sqlite3", "pg"],
    alias: { pg: lazyPg, "@connectrpc/connect-node": noConnectNode },
    // The few `import.meta.url`s (resolving better-sqlite3 for the WAL checkpoint thread, say)
    // mean the bundle's own URL.
    define: { "import.meta.url": "__crashChildUrl" },
    banner: { js: 'const __crashChildUrl = require("node:url").pathToFileURL(__filename).href;' },
    outfile: out,
    // Not "warning": the one `import.meta.resolve` left (tsx for the verifier's worker pool, which
    // the child never starts) would warn at every build.
    logLevel: "error",
  });
  fs.writeFileSync(loaderOf(out), LOADER);
  execFileSync(process.execPath, [loaderOf(out), out, "--make-cache"]);
  return out;
}

function loaderOf(bundle: string): string {
  return bundle.replace(/\.cjs$/, ".loader.cjs");
}

let built: string | undefined;

/** The `node` arguments that start a child: the run's bundle, else one built by this process. */
export function crashChildArgs(): string[] {
  const fromEnv = process.env[CRASH_CHILD_ENV];
  if (fromEnv !== undefined && fromEnv !== "" && fs.existsSync(fromEnv)) {
    return [loaderOf(fromEnv), fromEnv];
  }
  built ??= buildCrashChild();
  return [loaderOf(built), built];
}
