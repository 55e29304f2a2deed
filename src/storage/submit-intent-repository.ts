/**
 * @module storage/submit-intent-repository
 *
 * Write-ahead submits, in our own `poet_client_submit_intent` table (docs/node-client.md §1.3,
 * §1.11, §8). Before a submit leaves, the identity, the PoET, the round the submit targets, the
 * challenge hash and the proof deadline are recorded; when the PoET accepts, the `poet_registration`
 * row is written and the intent deleted in the same transaction ({@link SubmitIntentRepository.confirm}).
 * So a crash between the PoET's "accepted" and our row leaves an intent: the challenge may be in
 * the PoET's round, and after the round the identity looks for it among the round's members
 * instead of giving the epoch up (go-spacemesh loses it).
 *
 * The key is `(id, address)` like `poet_registration`'s: one submit per identity and PoET is in
 * flight at a time, and a later intent (another challenge) replaces an earlier one.
 */
import type { AbortOptions } from "../abort-options.js";
import { toHex } from "../bytes.js";
import {
  type ColumnPlace,
  corrupt,
  hashParam,
  readHash,
  readText,
  readUnixMillis,
  textParam,
  unixMillisParam,
} from "./columns.js";
import { CompiledStatements } from "./compiled-statements.js";
import type { PoetRegistration, RegistrationRepository } from "./registration-repository.js";
import type { StoreConnection } from "./store-connection.js";

/** A submit recorded before it left, not confirmed yet. */
export interface SubmitIntent {
  /** The identity (32 bytes). */
  nodeId: Uint8Array;
  /** The PoET's normalised base URL. */
  address: string;
  /** The challenge hash submitted (32 bytes). */
  hash: Uint8Array;
  /** The round the submit targets (docs/protocol.md: round n's id is the decimal string of n). */
  roundId: string;
  /** When that round ends, by the schedule. */
  roundEnd: Date;
  /** The submit's `deadline`: after it the round's proof is of no use. */
  proofDeadline: Date;
  /** When the intent was recorded. */
  createdAt: Date;
}

const TABLE = "poet_client_submit_intent";

/** A raw row. */
export interface SubmitIntentRow {
  id: unknown;
  address: unknown;
  hash: unknown;
  round_id: unknown;
  round_end: unknown;
  proof_deadline: unknown;
  created_at: unknown;
}

/** Checks and decodes a raw row (a bad value is a `"corrupt"` `StorageError`). */
export function decodeSubmitIntentRow(row: SubmitIntentRow): SubmitIntent {
  const nodeId = readHash(row.id, { table: TABLE, column: "id", nodeId: row.id });
  const at = (column: string): ColumnPlace => ({ table: TABLE, column, nodeId });
  const roundId = readText(row.round_id, at("round_id"));
  if (!/^(0|[1-9][0-9]{0,15})$/.test(roundId)) {
    throw corrupt(at("round_id"), `"${roundId}" is not a round id (a decimal round number)`);
  }
  return {
    nodeId,
    address: readText(row.address, at("address")),
    hash: readHash(row.hash, at("hash")),
    roundId,
    roundEnd: readUnixMillis(row.round_end, at("round_end")),
    proofDeadline: readUnixMillis(row.proof_deadline, at("proof_deadline")),
    createdAt: readUnixMillis(row.created_at, at("created_at")),
  };
}

/**
 * Submits recorded before they leave, per identity and PoET.
 *
 * @example
 * ```ts
 * await state.intents.record({ nodeId, address, hash, roundId: "30", roundEnd, proofDeadline,
 *   createdAt: new Date(clock.now()) });
 * const accepted = await client.register({ … });
 * // One transaction: the Go row is written and the intent is gone.
 * await state.intents.confirm({ nodeId, hash, address, roundId: accepted.roundId, roundEnd });
 * ```
 */
export class SubmitIntentRepository {
  readonly #conn: StoreConnection;
  readonly #registrations: RegistrationRepository;
  readonly #shapes = new CompiledStatements();

  constructor(conn: StoreConnection, registrations: RegistrationRepository) {
    this.#conn = conn;
    this.#registrations = registrations;
  }

  /** Records (or replaces) the intent of one identity at one PoET; resolves once durable. */
  async record(intent: SubmitIntent, options: AbortOptions = {}): Promise<void> {
    await this.recordMany([intent], options);
  }

  /**
   * Records (or replaces) several intents in one write, all or none (an identity's submits to
   * every PoET of a round: one statement instead of one per PoET); resolves once durable.
   */
  async recordMany(intents: readonly SubmitIntent[], options: AbortOptions = {}): Promise<void> {
    const rows = intents.map((intent) => ({
      id: hashParam(intent.nodeId, "intent.nodeId"),
      address: textParam(intent.address, "intent.address"),
      hash: hashParam(intent.hash, "intent.hash"),
      round_id: textParam(intent.roundId, "intent.roundId"),
      round_end: unixMillisParam(intent.roundEnd, "intent.roundEnd"),
      proof_deadline: unixMillisParam(intent.proofDeadline, "intent.proofDeadline"),
      created_at: unixMillisParam(intent.createdAt, "intent.createdAt"),
    }));
    const first = rows[0];
    if (first === undefined) return;
    await this.#conn.write(
      options.signal,
      { table: TABLE, identity: toHex(first.id) },
      async (db) => {
        // An upsert both stores speak (SQLite and PostgreSQL; no `REPLACE INTO`); one shape
        // per number of rows.
        const parameters = rows.flatMap((r) => [
          r.id,
          r.address,
          r.hash,
          r.round_id,
          r.round_end,
          r.proof_deadline,
          r.created_at,
        ]);
        await this.#shapes.run(db, `recordMany:${rows.length}`, parameters, (db) =>
          db
            .insertInto(TABLE)
            .values(rows)
            .onConflict((oc) =>
              oc.columns(["id", "address"]).doUpdateSet((eb) => ({
                hash: eb.ref("excluded.hash"),
                round_id: eb.ref("excluded.round_id"),
                round_end: eb.ref("excluded.round_end"),
                proof_deadline: eb.ref("excluded.proof_deadline"),
                created_at: eb.ref("excluded.created_at"),
              })),
            ),
        );
      },
      // Written ahead of a submit to another party: it must outlive a power loss too.
      { durable: true, plain: true },
    );
  }

  /**
   * The PoET accepted: writes the `poet_registration` row (unless one for this identity and PoET
   * exists already, which is kept) and deletes the intent, in one transaction. Returns whether the
   * row was written.
   */
  async confirm(registration: PoetRegistration, options: AbortOptions = {}): Promise<boolean> {
    hashParam(registration.nodeId, "registration.nodeId");
    return this.#conn.write(
      options.signal,
      { table: TABLE, identity: toHex(registration.nodeId) },
      async (db) => {
        // This write holds the identity's fence: the row goes on the same transaction.
        const written = await this.#registrations.addIfAbsentOn(db, registration);
        const { nodeId, address } = registration;
        await this.#shapes.run(db, "deleteOne", [nodeId, address], (db) =>
          db.deleteFrom(TABLE).where("id", "=", nodeId).where("address", "=", address),
        );
        return written;
      },
      { plain: true },
    );
  }

  /** The identity's intents, ordered by address. */
  async listFor(nodeId: Uint8Array, options: AbortOptions = {}): Promise<SubmitIntent[]> {
    hashParam(nodeId, "nodeId");
    return this.#conn.read(
      options.signal,
      { table: TABLE, identity: toHex(nodeId) },
      async (db) => {
        if (!this.#conn.hasOwnTable(TABLE)) return [];
        const { rows } = await this.#shapes.run<SubmitIntentRow>(db, "listFor", [nodeId], (db) =>
          db.selectFrom(TABLE).selectAll().where("id", "=", nodeId).orderBy("address"),
        );
        return rows.map(decodeSubmitIntentRow);
      },
    );
  }

  /** Every intent, ordered by identity and address. */
  async list(options: AbortOptions = {}): Promise<SubmitIntent[]> {
    return this.#conn.read(options.signal, { table: TABLE }, async (db) => {
      if (!this.#conn.hasOwnTable(TABLE)) return [];
      const rows = await db
        .selectFrom(TABLE)
        .selectAll()
        .orderBy("id")
        .orderBy("address")
        .execute();
      return rows.map(decodeSubmitIntentRow);
    });
  }

  /** Deletes the identity's intent at one PoET. Returns whether it existed. */
  async delete(nodeId: Uint8Array, address: string, options: AbortOptions = {}): Promise<boolean> {
    hashParam(nodeId, "nodeId");
    return this.#conn.write(
      options.signal,
      { table: TABLE, identity: toHex(nodeId) },
      async (db) => {
        const result = await db
          .deleteFrom(TABLE)
          .where("id", "=", nodeId)
          .where("address", "=", address)
          .executeTakeFirst();
        return result.numDeletedRows > 0n;
      },
      { plain: true },
    );
  }

  /** Deletes all of the identity's intents. Returns how many. */
  async clear(nodeId: Uint8Array, options: AbortOptions = {}): Promise<number> {
    hashParam(nodeId, "nodeId");
    return this.#conn.write(
      options.signal,
      { table: TABLE, identity: toHex(nodeId) },
      async (db) => {
        const result = await db.deleteFrom(TABLE).where("id", "=", nodeId).executeTakeFirst();
        return Number(result.numDeletedRows);
      },
      { plain: true },
    );
  }

  /** Deletes the intents whose proof deadline is before `before`. Returns how many. */
  async pruneExpired(before: Date, options: AbortOptions = {}): Promise<number> {
    const limit = unixMillisParam(before, "before");
    return this.#conn.write(
      options.signal,
      { table: TABLE },
      async (db) => {
        const result = await db
          .deleteFrom(TABLE)
          .where("proof_deadline", "<", limit)
          .executeTakeFirst();
        return Number(result.numDeletedRows);
      },
      { plain: true },
    );
  }
}
