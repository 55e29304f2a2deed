/**
 * @module cli/node-state-file
 *
 * Opening the node state named by `--db <file>` or `--data-dir <dir>` (go-spacemesh's data
 * directory, where `local.sql`, or before v1.4 `node_state.sql`, is looked for). A missing file is
 * an operator mistake, not a new database: `status` and `switch-phase` refuse it instead of
 * creating an empty one (docs/node-client.md §1.4). Commands that only read (`status`) open it
 * read-only, so that looking at a go-spacemesh node's file changes nothing; `switch-phase` without
 * `--dry-run` opens it writable.
 *
 * `--db` may also be a PostgreSQL URL (`postgres://user@host/database?schema=poet_client`): the
 * fleet's shared state (`openPostgresState`), read-only for `status`, in the schema named by the
 * URL's `schema` parameter (default `poet_client`), which is not passed on to the server.
 */
import { existsSync, statSync } from "node:fs";
import { ConfigError, StorageError } from "../errors.js";
import {
  DEFAULT_POSTGRES_SCHEMA,
  type NodeState,
  openNodeState,
  openPostgresState,
} from "../storage/index.js";
import { FileAccessError } from "./file-error.js";

/**
 * The node state the command works on: `--db` or `--data-dir`, exactly one of them.
 */
export function nodeStateTarget(db: string | undefined, dataDir: string | undefined): string {
  if (db !== undefined && dataDir !== undefined) {
    throw new ConfigError("--data-dir", "give either --db or --data-dir, not both");
  }
  if (db !== undefined && !isPostgresUrl(db) && existsSync(db) && statSync(db).isDirectory()) {
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

/** Whether `target` names a PostgreSQL database rather than a file. */
export function isPostgresUrl(target: string): boolean {
  return /^postgres(ql)?:\/\//i.test(target);
}

/** The connection string and the schema a `postgres://…?schema=name` URL names. */
export function postgresTarget(url: string): { connection: string; schema: string } {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ConfigError("--db", "is not a valid postgres:// URL");
  }
  const schema = parsed.searchParams.get("schema") ?? DEFAULT_POSTGRES_SCHEMA;
  parsed.searchParams.delete("schema");
  return { connection: parsed.toString(), schema };
}

/** The target as it may be shown: a PostgreSQL URL without its password. */
export function displayTarget(target: string): string {
  if (!isPostgresUrl(target)) return target;
  try {
    const url = new URL(target);
    if (url.password !== "") url.password = "***";
    return url.toString();
  } catch {
    return "postgres://…";
  }
}

/**
 * Opens an existing node state (a file, a data directory holding one, or a PostgreSQL URL). With
 * `readonly`, the state is left exactly as it is: for commands that only read.
 */
export async function openExistingNodeState(
  path: string,
  signal: AbortSignal | undefined,
  options: { readonly?: boolean } = {},
): Promise<NodeState> {
  if (isPostgresUrl(path)) {
    const { connection, schema } = postgresTarget(path);
    return openPostgresState({
      connection,
      schema,
      readonly: options.readonly === true,
      maxConnections: 2,
      ...(signal === undefined ? {} : { signal }),
    });
  }
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
