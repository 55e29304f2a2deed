/**
 * @module cli/node-state-file
 *
 * Opening the node state named by `--db <file>` or `--data-dir <dir>` (go-spacemesh's data
 * directory, where `local.sql`, or before v1.4 `node_state.sql`, is looked for). A missing file is
 * an operator mistake, not a new database: `status` and `switch-phase` refuse it instead of
 * creating an empty one (docs/node-client.md §1.4). Commands that only read (`status`) open it
 * read-only, so that looking at a go-spacemesh node's file changes nothing; `switch-phase` without
 * `--dry-run` opens it writable.
 */
import { existsSync, statSync } from "node:fs";
import { ConfigError, StorageError } from "../errors.js";
import { type NodeState, openNodeState } from "../storage/index.js";
import { FileAccessError } from "./file-error.js";

/**
 * The node state the command works on: `--db` or `--data-dir`, exactly one of them.
 */
export function nodeStateTarget(db: string | undefined, dataDir: string | undefined): string {
  if (db !== undefined && dataDir !== undefined) {
    throw new ConfigError("--data-dir", "give either --db or --data-dir, not both");
  }
  if (db !== undefined && existsSync(db) && statSync(db).isDirectory()) {
    throw new FileAccessError(
      db,
      "read",
      new Error("is a directory, not a node-state file (use --data-dir for a data directory)"),
    );
  }
  const target = db ?? dataDir;
  if (target === undefined) throw new ConfigError("--db", "or --data-dir is required");
  return target;
}

/**
 * Opens an existing node state (a file, or a data directory holding one). With `readonly`, the
 * file is left exactly as it is: for commands that only read.
 */
export async function openExistingNodeState(
  path: string,
  signal: AbortSignal | undefined,
  options: { readonly?: boolean } = {},
): Promise<NodeState> {
  if (!existsSync(path)) {
    throw new FileAccessError(path, "read", new Error("no such file"));
  }
  try {
    return await openNodeState(path, {
      readonly: options.readonly === true,
      ...(signal === undefined ? {} : { signal }),
    });
  } catch (err) {
    // SQLite's own words ("file is not a database") do not say which file.
    if (err instanceof StorageError && /not a database|malformed/i.test(err.message)) {
      throw new FileAccessError(path, "read", new Error(`not a SQLite database (${err.message})`));
    }
    throw err;
  }
}
