/**
 * @module storage/node-state-file
 *
 * Which file a node state is, given a path or a node's data directory (docs/node-client.md §1.4).
 * go-spacemesh keeps this state in `local.sql` in its data directory (`node/node.go`,
 * `localDbFile`); `node_state.sql` is the name before v1.4, which v1.4 migrated away and v1.5 and
 * later no longer read. So a data directory is searched for `local.sql` first, then
 * `node_state.sql`.
 *
 * A path that does not exist is a mistake (a typo, the wrong data directory) far more often than a
 * wish for a new node: it is refused with a {@link StorageError} of kind `"missing"` that names the
 * file and the names looked for, unless the caller asked for a new file with `create: true`.
 */
import { existsSync, statSync } from "node:fs";
import { join } from "node:path";
import { StorageError } from "../errors.js";

/** The node-state file names go-spacemesh has used, newest first. */
export const NODE_STATE_FILE_NAMES = ["local.sql", "node_state.sql"] as const;

/** Whether `path` names an in-memory database rather than a file. */
export function isInMemory(path: string): boolean {
  return path === ":memory:" || path === "";
}

/**
 * The node-state file for `path`: the file itself, or the node-state file in the data directory
 * `path` (`local.sql`, else `node_state.sql`; `local.sql` when creating).
 *
 * @throws {StorageError} kind `"missing"` when there is no such file (or no node-state file in the
 *   directory) and `create` is not set.
 * @example
 * ```ts
 * resolveNodeStateFile("/var/lib/spacemesh/data"); // "/var/lib/spacemesh/data/local.sql"
 * resolveNodeStateFile("./new-node/local.sql", { create: true }); // created on open
 * ```
 */
export function resolveNodeStateFile(path: string, options: { create?: boolean } = {}): string {
  if (isInMemory(path)) return path;
  const create = options.create === true;
  if (existsSync(path) && statSync(path).isDirectory()) {
    for (const name of NODE_STATE_FILE_NAMES) {
      const file = join(path, name);
      if (existsSync(file)) return file;
    }
    if (create) return join(path, NODE_STATE_FILE_NAMES[0]);
    throw new StorageError(
      `no node state in the data directory ${path}: looked for ${NODE_STATE_FILE_NAMES.join(" and ")} (pass create: true to start a new one)`,
      { kind: "missing" },
    );
  }
  if (existsSync(path) || create) return path;
  throw new StorageError(
    `no such node-state file: ${path} (go-spacemesh names it ${NODE_STATE_FILE_NAMES.join(", or before v1.4 ")}; pass create: true to start a new one)`,
    { kind: "missing" },
  );
}
