/**
 * Temporary folders of the tests that write files: one per test file, deleted after its tests.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after } from "node:test";

/** A temporary folder and the paths of files in it. */
export interface TempDir {
  dir: string;
  /** The path of `name` in the folder; without a name, a new `state-<n>.sql` each call. */
  file: (name?: string) => string;
}

/**
 * Makes a folder named `<prefix><random>` in the system's temp folder, deleted after the tests:
 * `cleanUp` registers the deletion (`after`, or `afterFile` for a helper shared by a group's files).
 */
export function tempDir(prefix: string, cleanUp: (fn: () => void) => void = after): TempDir {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  cleanUp(() => fs.rmSync(dir, { recursive: true, force: true }));
  let n = 0;
  return { dir, file: (name = `state-${n++}.sql`) => path.join(dir, name) };
}
