/**
 * Running a module of this repository in a child `node`: through tsx when the tests run from the
 * TypeScript sources, directly when `npm test` runs them transpiled (scripts/test.mjs), which
 * spares the child a second of loading.
 */
import { fileURLToPath } from "node:url";

/**
 * The `node` arguments that run (or, with `--eval`, can import) the module at `path`, a `.ts` path
 * relative to `from` (the caller's `import.meta.url`).
 *
 * @example
 * ```ts
 * const { loader, file } = nodeModule("./helpers/storage-writer.ts", import.meta.url);
 * spawn(process.execPath, [...loader, file, db]);
 * ```
 */
export function nodeModule(path: string, from: string): { loader: string[]; file: string } {
  const fromTs = new URL(from).pathname.endsWith(".ts");
  const target = new URL(fromTs ? path : path.replace(/\.ts$/, ".js"), from);
  return { loader: fromTs ? ["--import", "tsx"] : [], file: fileURLToPath(target) };
}
