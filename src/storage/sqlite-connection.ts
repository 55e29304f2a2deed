/**
 * @module storage/sqlite-connection
 *
 * The part of a better-sqlite3 `Database` that {@link openNodeState} uses, written out as our own
 * structural type. A caller's better-sqlite3 `Database` fits it as it is, and the package's public
 * declarations do not depend on `@types/better-sqlite3` (a development-only package), so a
 * consumer compiling with `skipLibCheck: false` needs nothing beyond this package's dependencies.
 */

/** A prepared statement of a {@link SqliteConnection}: only the switch to `bigint` integers is used. */
export interface SqliteConnectionStatement {
  /** Whether integers come back as `bigint` (better-sqlite3's `safeIntegers`). */
  safeIntegers(toggle?: boolean): unknown;
}

/**
 * An open better-sqlite3 `Database`, as {@link openNodeState} sees it.
 *
 * @example
 * ```ts
 * import Database from "better-sqlite3";
 * const database: SqliteConnection = new Database("local.sql");
 * await using state = await openNodeState(database);
 * ```
 */
export interface SqliteConnection {
  prepare(source: string): SqliteConnectionStatement;
  pragma(source: string, options?: { simple?: boolean }): unknown;
  close(): unknown;
}
