/**
 * @module storage/postgres/postgres-lease-repository
 *
 * The {@link LeaseRepository} of the PostgreSQL node state: the same rows, rules and fences as the
 * SQLite one (`sqlite-lease-repository.ts`), with PostgreSQL's row locks where SQLite relies on its
 * single writer. Several workers on several hosts run their transactions at the same time, in
 * `read committed`, so:
 *
 * - **acquiring** reads the lease row `FOR UPDATE SKIP LOCKED`: a worker never waits, inside its
 *   group commit, for another worker's transaction on the same identity; a row locked right now
 *   (another worker acquiring, renewing or writing for it) is answered "held elsewhere" with the row
 *   as last committed, and asked again later. The first row of an identity is inserted with
 *   `ON CONFLICT DO NOTHING`, so two workers that start together get one lease between them;
 * - **fencing** reads the row `FOR SHARE` in the transaction of every write for the identity: a
 *   takeover (an `UPDATE` of that row) waits for the write to commit, or the write's read waits for
 *   the takeover's commit and then sees the new holder and token, so a stale holder's write is
 *   refused in the same transaction and never lands after the takeover;
 * - **renewing** and **releasing** are `UPDATE … WHERE holder = … AND token = …`, which PostgreSQL
 *   re-checks against the newest row version.
 *
 * Expiry is judged by the callers' clocks (`lease-repository.ts`): the hosts of a fleet must keep
 * them in step (NTP), well within the lease time.
 */
import type { LeaseRepository } from "../lease-repository.js";
import { SqliteLeaseRepository } from "../sqlite-lease-repository.js";
import type { StoreConnection } from "../store-connection.js";

/**
 * Creates the lease repository of a PostgreSQL node state (`state.leases`).
 *
 * @example
 * ```ts
 * const state = await openPostgresState({ connection: url }); // state.leases is one
 * const got = await state.leases.acquire(nodeId, { holder, at: new Date(clock.now()), ttlMs: 30_000 });
 * ```
 */
export function postgresLeaseRepository(conn: StoreConnection): LeaseRepository {
  return new SqliteLeaseRepository(conn, { rowLocks: true });
}
