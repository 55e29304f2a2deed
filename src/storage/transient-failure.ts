/**
 * @module storage/transient-failure
 *
 * Which failures of the node state's database are worth trying again: the store was unreachable
 * or restarting, a connection broke, or the server aborted a transaction to break a deadlock or a
 * serialization conflict. {@link toStorageError} marks the {@link StorageError}s made of them
 * `retriable`; everything else (a constraint, a damaged row, a bad schema) fails the same way
 * every time.
 */

/**
 * PostgreSQL SQLSTATEs of a failure that a later call may not meet: `08…` connection exceptions;
 * `40001` serialization failure; `40P01` deadlock detected; `53300` too many connections;
 * `55P03` lock not available; `57P01` admin shutdown (a backend terminated, a server stopping);
 * `57P02` crash shutdown; `57P03` cannot connect now (a server starting).
 */
const TRANSIENT_SQLSTATES = new Set([
  "40001",
  "40P01",
  "53300",
  "55P03",
  "57P01",
  "57P02",
  "57P03",
]);

/** Node's socket error codes of a server that cannot be reached now. */
const TRANSIENT_SOCKET_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EPIPE",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EAI_AGAIN",
]);

/** SQLite: another process holds the file's lock past the busy timeout. */
const TRANSIENT_SQLITE_CODES = new Set(["SQLITE_BUSY", "SQLITE_BUSY_SNAPSHOT", "SQLITE_LOCKED"]);

/** node-postgres's own errors (no code) for a connection that broke or could not be made. */
const TRANSIENT_PG_MESSAGES = [
  /^Connection terminated/,
  /^Client has encountered a connection error and is not queryable/,
  /^timeout exceeded when trying to connect/,
];

/**
 * Whether `err` (or an error it was caused by) is a failure of the database that a later call may
 * not meet.
 *
 * @example
 * ```ts
 * try {
 *   await pool.query("select 1");
 * } catch (err) {
 *   if (isTransientStoreFailure(err)) scheduleRetry();
 * }
 * ```
 */
export function isTransientStoreFailure(err: unknown): boolean {
  let current: unknown = err;
  for (let depth = 0; depth < 4 && current !== undefined && current !== null; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === "string") {
      if (code.startsWith("08") && code.length === 5) return true;
      if (TRANSIENT_SQLSTATES.has(code)) return true;
      if (TRANSIENT_SOCKET_CODES.has(code)) return true;
      if (TRANSIENT_SQLITE_CODES.has(code)) return true;
    }
    if (current instanceof Error) {
      const { message } = current;
      if (TRANSIENT_PG_MESSAGES.some((re) => re.test(message))) return true;
    }
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}

/**
 * Whether `err` (or an error it was caused by) is the server aborting a transaction to break a
 * deadlock (`40P01`) or a serialization conflict (`40001`) with another process: the same work,
 * run again, normally succeeds.
 *
 * @example
 * ```ts
 * if (isTransactionConflict(err)) runAgain();
 * ```
 */
export function isTransactionConflict(err: unknown): boolean {
  let current: unknown = err;
  for (let depth = 0; depth < 4 && current !== undefined && current !== null; depth++) {
    const code = (current as { code?: unknown }).code;
    if (code === "40P01" || code === "40001") return true;
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}
