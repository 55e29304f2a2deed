/**
 * @module storage/registration-repository
 *
 * The `poet_registration` table: one row per identity and PoET that accepted its challenge, written
 * the moment the PoET answers (docs/node-client.md §1.3, §1.4). The key is `(id, address)`, where
 * `address` is the PoET's normalised base URL; a second row for the same pair is refused with a
 * `"duplicate"` {@link StorageError}, as go-spacemesh refuses it with `ErrObjectExists`.
 *
 * `round_end` is an absolute instant computed on the client and stored in unix seconds (the
 * sub-second part is dropped, as Go's `Time.Unix()` does); it reads back as a `Date`.
 */
import type { Kysely } from "kysely";
import type { AbortOptions } from "../abort-options.js";
import { equalBytes, toHex } from "../bytes.js";
import { StorageError } from "../errors.js";
import {
  type ColumnPlace,
  hashParam,
  readHash,
  readText,
  readUnixSeconds,
  textParam,
  unixSecondsParam,
} from "./columns.js";
import { CompiledStatements } from "./compiled-statements.js";
import type { NodeStateTables } from "./schema.js";
import { isUniqueViolation, type StoreConnection, toStorageError } from "./store-connection.js";

/** An accepted registration of one identity's challenge with one PoET. */
export interface PoetRegistration {
  /** The identity (ed25519 public key, 32 bytes). */
  nodeId: Uint8Array;
  /** The challenge hash that was submitted (32 bytes). */
  hash: Uint8Array;
  /** The PoET's normalised base URL. */
  address: string;
  /** The PoET's round id from the submit response (decimal string). */
  roundId: string;
  /** When the round ends, to the second. */
  roundEnd: Date;
}

const TABLE = "poet_registration";

/** A raw row. */
export interface RegistrationRow {
  id: unknown;
  hash: unknown;
  address: unknown;
  round_id: unknown;
  round_end: unknown;
}

/** Checks and decodes a raw row. */
export function decodeRegistrationRow(row: RegistrationRow): PoetRegistration {
  const nodeId = readHash(row.id, { table: TABLE, column: "id", nodeId: row.id });
  const at = (column: string): ColumnPlace => ({ table: TABLE, column, nodeId });
  return {
    nodeId,
    hash: readHash(row.hash, at("hash")),
    address: readText(row.address, at("address")),
    roundId: readText(row.round_id, at("round_id")),
    roundEnd: readUnixSeconds(row.round_end, at("round_end")),
  };
}

/** Inserts `row` unless its `(id, address)` is there; whether it was written. */
async function insertIfAbsent(
  db: Kysely<NodeStateTables>,
  shapes: CompiledStatements,
  row: ReturnType<typeof encodeRow>,
): Promise<boolean> {
  const result = await shapes.run(
    db,
    "insertIfAbsent",
    [row.id, row.hash, row.address, row.round_id, row.round_end],
    (db) =>
      db
        .insertInto(TABLE)
        .values(row)
        .onConflict((oc) => oc.columns(["id", "address"]).doNothing()),
  );
  return (result.numAffectedRows ?? 0n) > 0n;
}

function encodeRow(r: PoetRegistration) {
  return {
    id: hashParam(r.nodeId, "registration.nodeId"),
    hash: hashParam(r.hash, "registration.hash"),
    address: textParam(r.address, "registration.address"),
    round_id: textParam(r.roundId, "registration.roundId"),
    round_end: unixSecondsParam(r.roundEnd, "registration.roundEnd"),
  };
}

/**
 * Registrations per identity and PoET.
 *
 * @example
 * ```ts
 * const existing = await state.registrations.listFor(nodeId);
 * const missing = poets.filter((p) => !existing.some((r) => r.address === p.address));
 * // … submit to the missing PoETs, then, for each acceptance:
 * await state.registrations.add({ nodeId, hash, address, roundId: "30", roundEnd });
 * ```
 */
export class RegistrationRepository {
  readonly #conn: StoreConnection;
  readonly #shapes = new CompiledStatements();

  constructor(conn: StoreConnection) {
    this.#conn = conn;
  }

  /** Inserts a registration; an existing `(nodeId, address)` is a `"duplicate"` error. */
  async add(registration: PoetRegistration, options: AbortOptions = {}): Promise<void> {
    await this.addMany([registration], options);
  }

  /** Inserts several registrations in one transaction: all or none. */
  async addMany(
    registrations: readonly PoetRegistration[],
    options: AbortOptions = {},
  ): Promise<void> {
    const rows = registrations.map(encodeRow);
    if (rows.length === 0) return;
    await this.#conn.write(
      options.signal,
      { table: TABLE },
      async (db) => {
        for (const row of rows) {
          const identity = toHex(row.id);
          // The place names no identity (the rows may be of several): each row's lease, if held.
          await this.#conn.checkFence(db, identity);
          try {
            await db.insertInto(TABLE).values(row).execute();
          } catch (err) {
            if (isUniqueViolation(err)) {
              throw new StorageError(`already registered with ${row.address}`, {
                kind: "duplicate",
                table: TABLE,
                identity,
                cause: err,
              });
            }
            throw err;
          }
        }
      },
      { plain: true },
    );
  }

  /**
   * Inserts a registration unless one for its `(nodeId, address)` exists (which is kept as it
   * is). Returns whether the row was written. One statement where a read and an insert were two.
   */
  async addIfAbsent(registration: PoetRegistration, options: AbortOptions = {}): Promise<boolean> {
    const row = encodeRow(registration);
    const identity = toHex(row.id);
    return this.#conn.write(
      options.signal,
      { table: TABLE, identity },
      (db) => insertIfAbsent(db, this.#shapes, row),
      { plain: true },
    );
  }

  /**
   * {@link addIfAbsent} on `db`, the transaction of a write that already holds the identity's
   * fence (a submit intent's confirmation): no scope to find, no fence to run again.
   */
  async addIfAbsentOn(
    db: Kysely<NodeStateTables>,
    registration: PoetRegistration,
  ): Promise<boolean> {
    const row = encodeRow(registration);
    try {
      return await insertIfAbsent(db, this.#shapes, row);
    } catch (err) {
      throw toStorageError(err, { table: TABLE, identity: toHex(row.id) });
    }
  }

  /**
   * Updates the round of an existing registration with the same challenge hash, like
   * go-spacemesh's `UpdatePoetRegistration`. Returns whether a row matched.
   */
  async update(registration: PoetRegistration, options: AbortOptions = {}): Promise<boolean> {
    const row = encodeRow(registration);
    return this.#conn.write(
      options.signal,
      { table: TABLE, identity: toHex(row.id) },
      async (db) => {
        const result = await db
          .updateTable(TABLE)
          .set({ round_id: row.round_id, round_end: row.round_end })
          .where("id", "=", row.id)
          .where("address", "=", row.address)
          .where("hash", "=", row.hash)
          .executeTakeFirst();
        return result.numUpdatedRows > 0n;
      },
      { plain: true },
    );
  }

  /** The identity's registration with one PoET, or `undefined`. */
  async get(
    nodeId: Uint8Array,
    address: string,
    options: AbortOptions = {},
  ): Promise<PoetRegistration | undefined> {
    hashParam(nodeId, "nodeId");
    return this.#conn.read(
      options.signal,
      { table: TABLE, identity: toHex(nodeId) },
      async (db) => {
        const row = await db
          .selectFrom(TABLE)
          .selectAll()
          .where("id", "=", nodeId)
          .where("address", "=", address)
          .executeTakeFirst();
        return row === undefined ? undefined : decodeRegistrationRow(row);
      },
    );
  }

  /** The identity's registrations, ordered by address. */
  async listFor(nodeId: Uint8Array, options: AbortOptions = {}): Promise<PoetRegistration[]> {
    hashParam(nodeId, "nodeId");
    return this.#conn.read(
      options.signal,
      { table: TABLE, identity: toHex(nodeId) },
      async (db) => {
        const { rows } = await this.#shapes.run<RegistrationRow>(db, "listFor", [nodeId], (db) =>
          db.selectFrom(TABLE).selectAll().where("id", "=", nodeId).orderBy("address"),
        );
        return rows.map(decodeRegistrationRow);
      },
    );
  }

  /** Every registration, ordered by identity and address. */
  async list(options: AbortOptions = {}): Promise<PoetRegistration[]> {
    return this.#conn.read(options.signal, { table: TABLE }, async (db) => {
      const rows = await db
        .selectFrom(TABLE)
        .selectAll()
        .orderBy("id")
        .orderBy("address")
        .execute();
      return rows.map(decodeRegistrationRow);
    });
  }

  /** Deletes the identity's registration with one PoET. Returns whether it existed. */
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

  /** Deletes all of the identity's registrations (go-spacemesh's `ClearPoetRegistrations`). */
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

  /**
   * Deletes the identity's registrations made for another challenge than `currentHash`, in one
   * transaction, and returns them ordered by address.
   */
  async deleteStale(
    nodeId: Uint8Array,
    currentHash: Uint8Array,
    options: AbortOptions = {},
  ): Promise<PoetRegistration[]> {
    hashParam(nodeId, "nodeId");
    hashParam(currentHash, "currentHash");
    return this.#conn.write(
      options.signal,
      { table: TABLE, identity: toHex(nodeId) },
      async (db) => {
        const rows = await db
          .selectFrom(TABLE)
          .selectAll()
          .where("id", "=", nodeId)
          .orderBy("address")
          .execute();
        const stale = rows
          .map(decodeRegistrationRow)
          .filter((r) => !equalBytes(r.hash, currentHash));
        for (const r of stale) {
          await db
            .deleteFrom(TABLE)
            .where("id", "=", nodeId)
            .where("address", "=", r.address)
            .execute();
        }
        return stale;
      },
      { plain: true },
    );
  }
}
