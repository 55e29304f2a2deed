/**
 * @module storage/postgres/postgres-pool
 *
 * The part of a node-postgres (`pg`) pool that {@link openPostgresState} uses, written out as our
 * own types so that the library's declarations do not depend on `@types/pg`, and the view of it
 * that kysely's Postgres dialect is given.
 *
 * The view reads `int8` (`bigint`) columns as JavaScript `bigint`s, per query, so that u64 values
 * keep every bit (node-postgres reads them as strings by default) without changing the type
 * parsers of the caller's pool or of the `pg` module for anyone else.
 */
import type { PostgresPool, PostgresPoolClient } from "kysely";

/** A `pg` query config: the fields we pass. */
export interface PgQueryConfig {
  text: string;
  values?: unknown[];
  types?: { getTypeParser: (oid: number, format?: string) => (value: string) => unknown };
}

/** A connection checked out of a `pg.Pool`, as we use it. */
export interface PgPoolClient {
  // biome-ignore lint/suspicious/noExplicitAny: node-postgres's result rows are untyped.
  query(config: PgQueryConfig): Promise<{ rows: any[]; rowCount: number | null; command: string }>;
  release(err?: Error | boolean): void;
  /** node-postgres clients are event emitters: a broken connection emits `'error'`. */
  on?(event: "error", listener: (err: Error) => void): unknown;
  off?(event: "error", listener: (err: Error) => void): unknown;
}

/**
 * A node-postgres `pg.Pool`, as {@link openPostgresState} uses it. A `pg.Pool` is one.
 *
 * @example
 * ```ts
 * import pg from "pg";
 * const pool: PgPool = new pg.Pool({ connectionString: "postgres://poet@db/fleet", max: 20 });
 * await using state = await openPostgresState({ connection: pool, schema: "poet_client" });
 * ```
 */
export interface PgPool {
  connect(): Promise<PgPoolClient>;
  /**
   * node-postgres pools are event emitters: an idle connection that breaks (a server restart, a
   * terminated backend) emits `'error'` on the pool, which crashes the process when nobody
   * listens. The state listens for as long as it is open.
   */
  on?(event: "error", listener: (err: Error) => void): unknown;
  off?(event: "error", listener: (err: Error) => void): unknown;
}

/** The type parsers of a `pg` module: `getTypeParser(oid, format)`. */
export interface PgTypeParsers {
  getTypeParser: (oid: number, format?: string) => (value: string) => unknown;
}

/** PostgreSQL's `int8` type. */
const INT8_OID = 20;

/** `defaults` with `int8` read as `bigint`. */
export function bigintTypes(defaults: PgTypeParsers): PgTypeParsers {
  return {
    getTypeParser: (oid, format) =>
      oid === INT8_OID && format !== "binary"
        ? (value: string) => BigInt(value)
        : defaults.getTypeParser(oid, format),
  };
}

/**
 * At most `size` connections checked out at once; the others wait here, in order. Ten thousand
 * identities reading at once then queue in this process, instead of in node-postgres's pool, whose
 * connection timeout would fail the ones that waited longest.
 */
class Slots {
  #free: number;
  readonly #waiting: Array<() => void> = [];

  constructor(size: number) {
    this.#free = size;
  }

  take(): Promise<void> {
    if (this.#free > 0) {
      this.#free--;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.#waiting.push(resolve));
  }

  give(): void {
    const next = this.#waiting.shift();
    if (next !== undefined) next();
    else this.#free++;
  }
}

/**
 * The pool as kysely's `PostgresDialect` wants it, with `int8` read as `bigint`, at most
 * `maxConnections` connections checked out at once. `end` ends the pool only when `owned`.
 *
 * A connection that breaks while it is checked out but between two queries (the server restarted,
 * the network was cut) emits `'error'` with no query to reject: that event goes to `onError`
 * instead of crashing the process, and the connection is handed back as broken so the pool drops
 * it; the next statement on it fails and the write is retried or reported as usual.
 */
export function kyselyPool(
  pool: PgPool & { end?: () => Promise<void> },
  types: PgTypeParsers,
  owned: boolean,
  onError: (err: Error) => void,
  maxConnections: number,
): PostgresPool {
  const slots = new Slots(maxConnections);
  return {
    async connect(): Promise<PostgresPoolClient> {
      await slots.take();
      let client: PgPoolClient;
      try {
        client = await pool.connect();
      } catch (err) {
        slots.give();
        throw err;
      }
      let broken: Error | undefined;
      const listener = (err: Error) => {
        broken = err;
        onError(err);
      };
      client.on?.("error", listener);
      return {
        query: ((text: string, values: readonly unknown[]) =>
          client.query({ text, values: [...values], types })) as PostgresPoolClient["query"],
        release: () => {
          client.off?.("error", listener);
          client.release(broken ?? false);
          slots.give();
        },
      };
    },
    async end(): Promise<void> {
      if (owned && pool.end !== undefined) await pool.end();
    },
  };
}
