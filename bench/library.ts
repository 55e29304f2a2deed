/**
 * @module bench/library
 *
 * The library a benchmark measures: the TypeScript sources (`src/`, run through `tsx`, the
 * default) or, with `--built`, the compiled package (`dist/`, what `npm run build` makes and an
 * operator runs). `tsx`'s transform gives every named function and closure a property of its own
 * (its `keepNames`), which the compiled package does not have: thousands of identities' closures
 * weigh measurably more through `tsx`. The benchmark prints which one it measured.
 *
 * @example
 * const lib = await loadLibrary(process.argv.includes("--built"));
 * const clock = new lib.clock.ManualClock(0);
 */
import fs from "node:fs";
import { fileURLToPath } from "node:url";

/** The modules of the library the benchmarks use, from `src/` or `dist/`. */
export interface Library {
  /** `"src"` (through tsx) or `"dist"` (the compiled package). */
  kind: "src" | "dist";
  auth: typeof import("../src/auth/index.js");
  clock: typeof import("../src/clock.js");
  client: typeof import("../src/client/index.js");
  registration: typeof import("../src/registration/index.js");
  schedule: typeof import("../src/schedule/index.js");
  storage: typeof import("../src/storage/index.js");
  testing: typeof import("../src/testing/index.js");
}

/** Loads the library from `dist/` when `built` (which must have been built), else from `src/`. */
export async function loadLibrary(built: boolean): Promise<Library> {
  const base = new URL(built ? "../dist/" : "../src/", import.meta.url);
  if (built && !fs.existsSync(fileURLToPath(new URL("index.js", base)))) {
    throw new Error("--built measures dist/: run `npm run build` first");
  }
  const load = (file: string) => import(new URL(file, base).href);
  const [auth, clock, client, registration, schedule, storage, testing] = await Promise.all([
    load("auth/index.js"),
    load("clock.js"),
    load("client/index.js"),
    load("registration/index.js"),
    load("schedule/index.js"),
    load("storage/index.js"),
    load("testing/index.js"),
  ]);
  return {
    kind: built ? "dist" : "src",
    auth,
    clock,
    client,
    registration,
    schedule,
    storage,
    testing,
  };
}
