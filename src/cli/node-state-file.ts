/**
 * @module cli/node-state-file
 *
 * Opening the node-state database named by `--db`. A missing file is an operator mistake, not a
 * new database: `status` and `switch-phase` refuse it instead of creating an empty one
 * (docs/node-client.md §1.4). Commands that only read (`status`) open it read-only, so that looking
 * at a go-spacemesh node's file never adds our tables to it.
 */
import { existsSync, statSync } from "node:fs";
import { StorageError } from "../errors.js";
import { type NodeState, openNodeState } from "../storage/index.js";
import { FileAccessError } from "./file-error.js";

/**
 * Opens an existing node-state file. With `readonly`, the file is left exactly as it is (no
 * migration, no tables of ours added to a go-spacemesh file): for commands that only read.
 */
export async function openExistingNodeState(
  path: string,
  signal: AbortSignal | undefined,
  options: { readonly?: boolean } = {},
): Promise<NodeState> {
  if (!existsSync(path)) {
    throw new FileAccessError(path, "read", new Error("no such file"));
  }
  if (statSync(path).isDirectory()) {
    throw new FileAccessError(path, "read", new Error("is a directory, not a node-state file"));
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
