/**
 * @module storage/sqlite-lease-repository
 *
 * The {@link LeaseRepository} of the SQLite node state: the `poet_client_lease` table in the
 * companion file (docs/operator-guide.md, "One worker per identity"). Each operation is one
 * `BEGIN IMMEDIATE` transaction, so two processes on one file see each other's leases in order:
 * SQLite's write lock serialises the acquisitions.
 *
 * A granted lease registers a fence on the connection (`store-connection.ts`): before each write
 * for the identity, in that write's transaction, the row is read by its key and must still name
 * this holder and token and not be released. Reading one row by primary key costs a few µs.
 *
 * Instants are unix milliseconds from the caller's clock; the store never reads the wall clock.
 */

import { CompiledQuery, type Kysely, sql } from "kysely";
import type { AbortOptions } from "../abort-options.js";
import { nodeKey, toHex } from "../bytes.js";
import { ConfigError, LeaseLostError, type LeaseLostReason } from "../errors.js";
import {
  hashParam,
  readHash,
  readText,
  readU64,
  readUnixMillis,
  textParam,
  u64Param,
  unixMillisParam,
} from "./columns.js";
import {
  type Lease,
  type LeaseAcquireOptions,
  type LeaseAcquireResult,
  type LeaseRenewManyResult,
  type LeaseRenewOptions,
  type LeaseRepository,
  MAX_LEASE_HOLDER_LENGTH,
} from "./lease-repository.js";
import type { NodeStateTables } from "./schema.js";
import type { StoreConnection } from "./store-connection.js";

const TABLE = "poet_client_lease";

/** An acquisition's transaction found no lease row for the identity (see `acquire`). */
const NO_ROW = Symbol("no lease row");

/**
 * Leases per statement of {@link SqliteLeaseRepository.renewMany}: two parameters each, far below
 * SQLite's 32,766, and a statement of a few ms, so that a group commit's turn stays short.
 */
const RENEW_CHUNK = 256;

/** Identities per statement of {@link SqliteLeaseRepository.getMany}: one parameter each. */
const GET_CHUNK = 500;

/** A raw lease row. */
export interface LeaseRow {
  id: unknown;
  holder: unknown;
  token: unknown;
  acquired_at: unknown;
  renewed_at: unknown;
  expires_at: unknown;
  released: unknown;
}

/** Checks and decodes a raw lease row. */
export function decodeLeaseRow(row: LeaseRow): Lease {
  const nodeId = readHash(row.id, { table: TABLE, column: "id", nodeId: row.id });
  const at = (column: string) => ({ table: TABLE, column, nodeId });
  return {
    nodeId,
    holder: readText(row.holder, at("holder")),
    token: readU64(row.token, at("token")),
    acquiredAt: readUnixMillis(row.acquired_at, at("acquired_at")),
    renewedAt: readUnixMillis(row.renewed_at, at("renewed_at")),
    expiresAt: readUnixMillis(row.expires_at, at("expires_at")),
    released: readU64(row.released, at("released")) !== 0n,
  };
}

function holderParam(holder: string): string {
  textParam(holder, "lease.holder");
  if (holder.length > MAX_LEASE_HOLDER_LENGTH) {
    throw new ConfigError(
      "lease.holder",
      `must be at most ${MAX_LEASE_HOLDER_LENGTH} characters, got ${holder.length}`,
    );
  }
  return holder;
}

function ttlParam(ttlMs: number): number {
  if (!Number.isSafeInteger(ttlMs) || ttlMs <= 0) {
    throw new ConfigError("lease.ttlMs", `must be a positive integer number of ms, got ${ttlMs}`);
  }
  return ttlMs;
}

function expiryOf(at: Date, ttlMs: number): Date {
  const expires = new Date(at.getTime() + ttlMs);
  if (Number.isNaN(expires.getTime())) throw new ConfigError("lease.at", "must be a valid Date");
  return expires;
}

/** What the repository knows of a lease it granted on this connection. */
interface Held {
  lease: Lease;
  onLost: ((error: LeaseLostError) => void) | undefined;
  lost: LeaseLostError | undefined;
}

/**
 * The SQLite implementation of {@link LeaseRepository}; `state.leases` of an SQLite node state.
 *
 * @example
 * ```ts
 * const got = await state.leases.acquire(nodeId, { holder, at: new Date(clock.now()), ttlMs: 30_000 });
 * if (got.held) await state.challenges.add(nodeId, challenge, { hash }); // fenced by the lease
 * ```
 */
export class SqliteLeaseRepository implements LeaseRepository {
  readonly #conn: StoreConnection;
  /** The leases granted through this repository, by hex node id. */
  readonly #held = new Map<string, Held>();

  readonly #rowLocks: boolean;
  /** The fence's query, compiled (see `#verify`). */
  #verifySql: string | undefined;

  /**
   * `rowLocks` (the PostgreSQL state): lock the lease row in the transaction that reads it —
   * `FOR UPDATE SKIP LOCKED` to acquire, `FOR SHARE` to fence — since PostgreSQL, unlike SQLite,
   * runs the transactions of several processes at the same time, and renew many leases with
   * PostgreSQL's row-value `IN` list. See `postgres-lease-repository.ts`.
   */
  constructor(conn: StoreConnection, options: { rowLocks?: boolean | undefined } = {}) {
    this.#conn = conn;
    this.#rowLocks = options.rowLocks === true;
  }

  async acquire(nodeId: Uint8Array, options: LeaseAcquireOptions): Promise<LeaseAcquireResult> {
    hashParam(nodeId, "nodeId");
    const holder = holderParam(options.holder);
    const ttlMs = ttlParam(options.ttlMs);
    const at = options.at;
    const expiresAt = expiryOf(at, ttlMs);
    const atMs = unixMillisParam(at, "lease.at");
    const expiresMs = unixMillisParam(expiresAt, "lease.at");
    // The row's copy; the lease granted keeps the caller's array (each identity's lease lives as
    // long as its cycle: a copy of the node id and of its key each, ten thousand identities).
    const id = new Uint8Array(nodeId);
    const firstRow = {
      id,
      holder,
      token: u64Param(1n, "lease.token"),
      acquired_at: atMs,
      renewed_at: atMs,
      expires_at: expiresMs,
      released: 0n,
    };
    const result = await this.#conn.write(
      options.signal,
      { table: TABLE },
      async (db) => {
        if (this.#rowLocks) {
          // A live lease of another holder is answered without locking its row: a lock would last
          // until this group commit ends and hold up that holder's renewals and fenced writes,
          // while this transaction may wait for one of that holder's rows (a deadlock).
          const seen = await db
            .selectFrom(TABLE)
            .selectAll()
            .where("id", "=", id)
            .executeTakeFirst();
          const last = seen === undefined ? undefined : decodeLeaseRow(seen);
          if (last === undefined) return NO_ROW;
          if (last.holder !== holder && !last.released && last.expiresAt.getTime() > at.getTime()) {
            return { held: false, current: last } as const;
          }
        }
        const row = await db
          .selectFrom(TABLE)
          .selectAll()
          .where("id", "=", id)
          .$if(this.#rowLocks, (q) => q.forUpdate().skipLocked())
          .executeTakeFirst();
        if (row === undefined && this.#rowLocks) {
          // Locked: another process is acquiring or renewing it right now. Answer with the row as
          // it was last committed instead of waiting in the middle of a group commit.
          const busy = await db
            .selectFrom(TABLE)
            .selectAll()
            .where("id", "=", id)
            .executeTakeFirst();
          if (busy !== undefined) return { held: false, current: decodeLeaseRow(busy) } as const;
        }
        const current = row === undefined ? undefined : decodeLeaseRow(row);
        if (current === undefined) {
          const lease: Lease = {
            nodeId,
            holder,
            token: 1n,
            acquiredAt: at,
            renewedAt: at,
            expiresAt,
            released: false,
          };
          const inserted = await db
            .insertInto(TABLE)
            .values(firstRow)
            .$if(this.#rowLocks, (q) => q.onConflict((oc) => oc.column("id").doNothing()))
            .executeTakeFirst();
          if (inserted.numInsertedOrUpdatedRows === 0n) {
            // Another process inserted the first row of this identity just before us.
            const first = await db
              .selectFrom(TABLE)
              .selectAll()
              .where("id", "=", id)
              .executeTakeFirstOrThrow();
            return { held: false, current: decodeLeaseRow(first) } as const;
          }
          return { held: true, lease, tookOver: undefined } as const;
        }
        if (current.holder === holder && !current.released) {
          // Ours already (a second acquire, or ours expired and nobody took it): same token.
          await db
            .updateTable(TABLE)
            .set({ renewed_at: atMs, expires_at: expiresMs })
            .where("id", "=", id)
            .execute();
          const lease = { ...current, renewedAt: at, expiresAt };
          return { held: true, lease, tookOver: undefined } as const;
        }
        if (!current.released && current.expiresAt.getTime() > at.getTime()) {
          return { held: false, current } as const;
        }
        const token = current.token + 1n;
        await db
          .updateTable(TABLE)
          .set({
            holder,
            token: u64Param(token, "lease.token"),
            acquired_at: atMs,
            renewed_at: atMs,
            expires_at: expiresMs,
            released: 0n,
          })
          .where("id", "=", id)
          .execute();
        const lease: Lease = {
          nodeId,
          holder,
          token,
          acquiredAt: at,
          renewedAt: at,
          expiresAt,
          released: false,
        };
        const tookOver = current.released || current.holder === holder ? undefined : current;
        return { held: true, lease, tookOver } as const;
      },
      { plain: true },
    );
    if (result === NO_ROW) {
      // The identity's first lease row (PostgreSQL): inserted in a statement of its own, committed
      // at once. Inserted in the group commit, a row that another worker inserts at the same time
      // makes each transaction wait for the other's commit — workers given the identities in
      // different orders then deadlock. Then acquired as above: ours (same token) or another's.
      await this.#conn.read(options.signal, { table: TABLE }, (db) =>
        db
          .insertInto(TABLE)
          .values(firstRow)
          .onConflict((oc) => oc.column("id").doNothing())
          .execute(),
      );
      return this.acquire(nodeId, options);
    }
    if (result.held) this.#fence(result.lease, options.onLost);
    return result;
  }

  async renew(lease: Lease, options: LeaseRenewOptions): Promise<Lease> {
    const ttlMs = ttlParam(options.ttlMs);
    const expiresAt = expiryOf(options.at, ttlMs);
    const atMs = unixMillisParam(options.at, "lease.at");
    const expiresMs = unixMillisParam(expiresAt, "lease.at");
    const renewed = await this.#conn.write(
      options.signal,
      { table: TABLE },
      async (db) => {
        const result = await db
          .updateTable(TABLE)
          .set({ renewed_at: atMs, expires_at: expiresMs })
          .where("id", "=", lease.nodeId)
          .where("holder", "=", lease.holder)
          .where("token", "=", u64Param(lease.token, "lease.token"))
          .where("released", "=", 0n)
          .executeTakeFirst();
        if (result.numUpdatedRows > 0n) return { ...lease, renewedAt: options.at, expiresAt };
        return this.#lostError(db, lease);
      },
      { plain: true },
    );
    if (renewed instanceof LeaseLostError) {
      this.#markLost(lease, renewed);
      throw renewed;
    }
    const held = this.#held.get(toHex(lease.nodeId));
    if (held !== undefined && held.lease.token === lease.token && held.lost === undefined) {
      held.lease = renewed;
    }
    return renewed;
  }

  async renewMany(
    leases: readonly Lease[],
    options: LeaseRenewOptions,
  ): Promise<LeaseRenewManyResult> {
    const ttlMs = ttlParam(options.ttlMs);
    const expiresAt = expiryOf(options.at, ttlMs);
    const atMs = unixMillisParam(options.at, "lease.at");
    const expiresMs = unixMillisParam(expiresAt, "lease.at");
    const chunks: Lease[][] = [];
    for (const lease of leases) {
      const last = chunks.at(-1);
      if (last !== undefined && last.length < RENEW_CHUNK && last[0]?.holder === lease.holder) {
        last.push(lease);
      } else {
        chunks.push([lease]);
      }
    }
    // Each chunk is a write of its own: the group commit runs them in one transaction (or a few),
    // with a turn of the event loop between them.
    const answers = await Promise.all(
      chunks.map((chunk) =>
        this.#conn.write(options.signal, { table: TABLE }, async (db) => {
          const holder = (chunk[0] as Lease).holder;
          let rows: Array<{ id: unknown }>;
          if (this.#rowLocks) {
            // PostgreSQL: a row-value IN list, whose parameter types come from the columns (and
            // the table from the state's schema).
            rows = await db
              .updateTable(TABLE)
              .set({ renewed_at: atMs, expires_at: expiresMs })
              .where("holder", "=", holder)
              .where("released", "=", 0n)
              .where((eb) =>
                eb(
                  eb.refTuple("id", "token"),
                  "in",
                  chunk.map((l) => eb.tuple(l.nodeId, u64Param(l.token, "lease.token"))),
                ),
              )
              .returning("id")
              .execute();
          } else {
            const pairs = chunk.map((l) => sql`(${l.nodeId}, ${u64Param(l.token, "lease.token")})`);
            ({ rows } = await sql<{ id: unknown }>`
              update ${sql.table(TABLE)} set renewed_at = ${atMs}, expires_at = ${expiresMs}
              where holder = ${holder} and released = 0
                and (id, token) in (values ${sql.join(pairs)})
              returning id`.execute(db));
          }
          const done = new Set(rows.map((r) => (r.id instanceof Uint8Array ? toHex(r.id) : "")));
          const lost: LeaseLostError[] = [];
          for (const lease of chunk) {
            if (!done.has(toHex(lease.nodeId))) lost.push(await this.#lostError(db, lease));
          }
          return { done, lost };
        }),
      ),
    );
    const renewed: Lease[] = [];
    const lost: LeaseLostError[] = [];
    for (const [i, chunk] of chunks.entries()) {
      const answer = answers[i] as (typeof answers)[number];
      for (const lease of chunk) {
        if (!answer.done.has(toHex(lease.nodeId))) continue;
        const fresh = { ...lease, renewedAt: options.at, expiresAt };
        const held = this.#held.get(toHex(lease.nodeId));
        if (held !== undefined && held.lease.token === lease.token && held.lost === undefined) {
          held.lease = fresh;
        }
        renewed.push(fresh);
      }
      lost.push(...answer.lost);
    }
    for (const error of lost) this.#markLost(error, error);
    return { renewed, lost };
  }

  async release(lease: Lease, options: AbortOptions = {}): Promise<boolean> {
    const key = toHex(lease.nodeId);
    const held = this.#held.get(key);
    if (held !== undefined && held.lease.token === lease.token) {
      this.#held.delete(key);
      this.#conn.setFence(key, undefined);
    }
    return this.#conn.write(
      options.signal,
      { table: TABLE },
      async (db) => {
        const result = await db
          .updateTable(TABLE)
          .set({ released: 1n })
          .where("id", "=", lease.nodeId)
          .where("holder", "=", lease.holder)
          .where("token", "=", u64Param(lease.token, "lease.token"))
          .where("released", "=", 0n)
          .executeTakeFirst();
        return result.numUpdatedRows > 0n;
      },
      { plain: true },
    );
  }

  async check(lease: Lease, options: AbortOptions = {}): Promise<void> {
    const lost = await this.#conn.read(options.signal, { table: TABLE }, (db) =>
      this.#verify(db, lease),
    );
    if (lost !== undefined) {
      this.#markLost(lease, lost);
      throw lost;
    }
  }

  async get(nodeId: Uint8Array, options: AbortOptions = {}): Promise<Lease | undefined> {
    hashParam(nodeId, "nodeId");
    return this.#conn.read(
      options.signal,
      { table: TABLE, identity: toHex(nodeId) },
      async (db) => {
        if (!this.#conn.hasOwnTable(TABLE)) return undefined;
        const row = await db
          .selectFrom(TABLE)
          .selectAll()
          .where("id", "=", nodeId)
          .executeTakeFirst();
        return row === undefined ? undefined : decodeLeaseRow(row);
      },
    );
  }

  async getMany(nodeIds: readonly Uint8Array[], options: AbortOptions = {}): Promise<Lease[]> {
    for (const nodeId of nodeIds) hashParam(nodeId, "nodeId");
    const out: Lease[] = [];
    for (let i = 0; i < nodeIds.length; i += GET_CHUNK) {
      const chunk = nodeIds.slice(i, i + GET_CHUNK).map((id) => new Uint8Array(id));
      const rows = await this.#conn.read(options.signal, { table: TABLE }, async (db) => {
        if (!this.#conn.hasOwnTable(TABLE)) return [];
        return db.selectFrom(TABLE).selectAll().where("id", "in", chunk).execute();
      });
      for (const row of rows) out.push(decodeLeaseRow(row));
    }
    return out;
  }

  async list(options: AbortOptions = {}): Promise<Lease[]> {
    return this.#conn.read(options.signal, { table: TABLE }, async (db) => {
      if (!this.#conn.hasOwnTable(TABLE)) return [];
      const rows = await db.selectFrom(TABLE).selectAll().orderBy("id").execute();
      return rows.map(decodeLeaseRow);
    });
  }

  /** Registers the fence of a granted lease on the connection. */
  #fence(lease: Lease, onLost: Held["onLost"]): void {
    const key = nodeKey(lease.nodeId);
    const held: Held = { lease, onLost, lost: undefined };
    this.#held.set(key, held);
    this.#conn.setFence(key, async (db) => {
      if (held.lost !== undefined) throw held.lost;
      const lost = await this.#verify(db, held.lease);
      if (lost === undefined) return;
      this.#markLost(held.lease, lost);
      throw lost;
    });
  }

  /** `undefined` when the row still names the lease's holder and token, else the error. */
  async #verify(db: Kysely<NodeStateTables>, lease: Lease): Promise<LeaseLostError | undefined> {
    // The fence runs before every write for a leased identity (nine per identity and cycle):
    // its query is built and compiled once, then run with the identity as its one parameter.
    this.#verifySql ??= db
      .selectFrom(TABLE)
      .select(["holder", "token", "released"])
      .where("id", "=", lease.nodeId)
      // A takeover in another process waits for this write's commit, or this read for the
      // takeover's, which it then sees.
      .$if(this.#rowLocks, (q) => q.forShare())
      .compile().sql;
    const { rows } = await db.executeQuery<{ holder: string; token: unknown; released: unknown }>(
      CompiledQuery.raw(this.#verifySql, [lease.nodeId]),
    );
    const row = rows[0];
    if (
      row !== undefined &&
      row.holder === lease.holder &&
      readU64(row.token, { table: TABLE, column: "token", nodeId: lease.nodeId }) === lease.token &&
      readU64(row.released, { table: TABLE, column: "released", nodeId: lease.nodeId }) === 0n
    ) {
      return undefined;
    }
    return this.#lostError(db, lease);
  }

  /** The {@link LeaseLostError} for a lease the row no longer matches, naming who has it now. */
  async #lostError(db: Kysely<NodeStateTables>, lease: Lease): Promise<LeaseLostError> {
    const row = await db
      .selectFrom(TABLE)
      .selectAll()
      .where("id", "=", lease.nodeId)
      .executeTakeFirst();
    const current = row === undefined ? undefined : decodeLeaseRow(row);
    let reason: LeaseLostReason = "released";
    if (current !== undefined && !current.released) {
      reason =
        current.holder === lease.holder && current.token === lease.token
          ? "released"
          : "taken-over";
    }
    return new LeaseLostError({
      nodeId: lease.nodeId,
      holder: lease.holder,
      token: lease.token,
      reason,
      current:
        current === undefined || current.released
          ? undefined
          : { holder: current.holder, token: current.token, expiresAt: current.expiresAt },
    });
  }

  /**
   * Marks a granted lease lost: every later write for the identity through this connection is
   * refused at once, and `onLost` runs once (after the current transaction step).
   */
  #markLost(lease: Pick<Lease, "nodeId" | "token">, error: LeaseLostError): void {
    const held = this.#held.get(toHex(lease.nodeId));
    if (held === undefined || held.lease.token !== lease.token || held.lost !== undefined) return;
    held.lost = error;
    const onLost = held.onLost;
    if (onLost === undefined) return;
    queueMicrotask(() => {
      try {
        onLost(error);
      } catch {
        // A listener must not throw; the lease stays lost either way.
      }
    });
  }
}
