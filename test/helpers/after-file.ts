/**
 * Clean-up at the end of the current test file's tests, also when `npm test` runs the file in a
 * group (scripts/test.mjs: one process, each member file in a suite of its own).
 *
 * `after()` called at a file's top level (while it is imported) belongs to that file's tests in
 * either case. A helper shared by several files of a group is imported once, though, by the first
 * of them; what it creates later, from inside a test (a database, a folder), must be cleaned up
 * when the file that asked for it ends, not when the first one did. The group's generated file
 * hands each member a registry for that ({@link AFTER_FILE}); run on its own, a file has none, and
 * the helper's own top-level `after()` does the work at the end of the process's tests.
 */
import { after } from "node:test";

/** The global under which a group registers its running member's clean-ups. */
export const AFTER_FILE = Symbol.for("spacemesh-poet-client.after-file");

type Registry = (fn: () => unknown) => void;

/** The global under which a group names the member file whose tests run now (scripts/test.mjs). */
const TEST_FILE = Symbol.for("spacemesh-poet-client.test-file");

/** The member file whose tests run now in a group, `undefined` in a file's own process. */
export function runningTestFile(): unknown {
  return (globalThis as Record<symbol, unknown>)[TEST_FILE];
}

/** Whether this process runs a group of test files (scripts/test.mjs). */
export function inGroup(): boolean {
  return typeof (globalThis as Record<symbol, unknown>)[AFTER_FILE] === "function";
}

/**
 * Runs `fn` once the running test file's tests end: in a group, at the end of the member whose test
 * calls it (the same `fn` once per member); else at the end of the process's tests — call it then at
 * the top level of a module, as `after()`.
 */
export function afterFile(fn: () => unknown): void {
  const registry = (globalThis as Record<symbol, unknown>)[AFTER_FILE] as Registry | undefined;
  if (registry === undefined) after(fn);
  else registry(fn);
}
