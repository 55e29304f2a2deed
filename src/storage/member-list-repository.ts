/**
 * @module storage/member-list-repository
 *
 * Downloaded member lists, one per PoET and round, in our own `poet_client_members` table.
 * go-spacemesh keeps them only in memory, so after a restart its first identity downloads the
 * whole proof again just to rebuild its membership proof (docs/node-client.md §1.11, §8). Keeping
 * the list (about 32 bytes per registrant) lets every identity of the node build its membership
 * proof after a restart without a download. It is a cache: a list that does not decode, or whose
 * root matches no verified proof of its round, is dropped by the proof fetcher and downloaded
 * again, and `NodeState.check()` reports rows that do not decode.
 */

import type { AbortOptions } from "../abort-options.js";
import { ConfigError, StorageError } from "../errors.js";
import {
  type ColumnPlace,
  corrupt,
  readBytes,
  readOptionalBytes,
  readText,
  readU64,
  readUnixMillis,
  textParam,
  unixMillisParam,
} from "./columns.js";
import { decodeMemberList, encodeMemberList } from "./member-list-codec.js";
import type { StoreConnection } from "./store-connection.js";

/** The members of one PoET round, as downloaded with its proof. */
export interface MemberList {
  /** The PoET's normalised base URL. */
  address: string;
  roundId: string;
  /** The registered challenges, in the PoET's order (node id ascending). */
  members: Uint8Array[];
  /** The membership root computed from `members`, when known. */
  statement?: Uint8Array | undefined;
  /** When the list was downloaded. */
  fetchedAt: Date;
}

const TABLE = "poet_client_members";

/** A raw row. */
export interface MembersRow {
  address: unknown;
  round_id: unknown;
  member_count: unknown;
  members: unknown;
  statement: unknown;
  fetched_at: unknown;
}

/** Checks and decodes a raw row (the blob must hold `member_count` members). */
export function decodeMemberListRow(row: MembersRow): MemberList {
  const at = (column: string): ColumnPlace => ({ table: TABLE, column });
  const count = readU64(row.member_count, at("member_count"));
  let members: Uint8Array[];
  try {
    members = decodeMemberList(readBytes(row.members, at("members")), Number(count));
  } catch (err) {
    if (!(err instanceof Error) || err instanceof StorageError) throw err;
    throw corrupt(at("members"), err.message, err);
  }
  const list: MemberList = {
    address: readText(row.address, at("address")),
    roundId: readText(row.round_id, at("round_id")),
    members,
    fetchedAt: readUnixMillis(row.fetched_at, at("fetched_at")),
  };
  const statement = readOptionalBytes(row.statement, at("statement"));
  if (statement !== undefined) list.statement = statement;
  return list;
}

/**
 * Member lists per PoET and round.
 *
 * @example
 * ```ts
 * let list = await state.members.get(poet.address, roundId);
 * if (!list) {
 *   const { members } = await client.proof(roundId, { signal });
 *   await state.members.put({ address: poet.address, roundId, members, fetchedAt: new Date(clock.now()) });
 * }
 * ```
 */
export class MemberListRepository {
  readonly #conn: StoreConnection;

  constructor(conn: StoreConnection) {
    this.#conn = conn;
  }

  /** Stores (or replaces) the member list of a PoET round. */
  async put(list: MemberList, options: AbortOptions = {}): Promise<void> {
    if (!Array.isArray(list.members) || list.members.some((m) => !(m instanceof Uint8Array))) {
      throw new ConfigError("members", "must be an array of Uint8Array");
    }
    if (list.statement !== undefined && !(list.statement instanceof Uint8Array)) {
      throw new ConfigError("statement", "must be a Uint8Array");
    }
    const row = {
      address: textParam(list.address, "address"),
      round_id: textParam(list.roundId, "roundId"),
      member_count: BigInt(list.members.length),
      members: encodeMemberList(list.members),
      statement: list.statement ?? null,
      fetched_at: unixMillisParam(list.fetchedAt, "fetchedAt"),
    };
    await this.#conn.write(options.signal, { table: TABLE }, async (db) => {
      // An upsert rather than SQLite's REPLACE: the same statement on PostgreSQL.
      const { address: _a, round_id: _r, ...columns } = row;
      await db
        .insertInto(TABLE)
        .values(row)
        .onConflict((oc) => oc.columns(["address", "round_id"]).doUpdateSet(columns))
        .execute();
    });
  }

  /** The member list of a PoET round, or `undefined`. */
  async get(
    address: string,
    roundId: string,
    options: AbortOptions = {},
  ): Promise<MemberList | undefined> {
    return this.#conn.read(options.signal, { table: TABLE }, async (db) => {
      if (!this.#conn.hasOwnTable(TABLE)) return undefined;
      const row = await db
        .selectFrom(TABLE)
        .selectAll()
        .where("address", "=", address)
        .where("round_id", "=", roundId)
        .executeTakeFirst();
      return row === undefined ? undefined : decodeMemberListRow(row);
    });
  }

  /** Deletes the member list of a PoET round. Returns whether it existed. */
  async delete(address: string, roundId: string, options: AbortOptions = {}): Promise<boolean> {
    return this.#conn.write(options.signal, { table: TABLE }, async (db) => {
      const result = await db
        .deleteFrom(TABLE)
        .where("address", "=", address)
        .where("round_id", "=", roundId)
        .executeTakeFirst();
      return result.numDeletedRows > 0n;
    });
  }

  /** Deletes lists downloaded before `before`. Returns how many were deleted. */
  async pruneFetchedBefore(before: Date, options: AbortOptions = {}): Promise<number> {
    const limit = unixMillisParam(before, "before");
    return this.#conn.write(options.signal, { table: TABLE }, async (db) => {
      const result = await db.deleteFrom(TABLE).where("fetched_at", "<", limit).executeTakeFirst();
      return Number(result.numDeletedRows);
    });
  }

  /** The PoET rounds that have a member list, ordered by address and round (read each with {@link get}). */
  async rounds(options: AbortOptions = {}): Promise<Array<{ address: string; roundId: string }>> {
    return this.#conn.read(options.signal, { table: TABLE }, async (db) => {
      if (!this.#conn.hasOwnTable(TABLE)) return [];
      const rows = await db
        .selectFrom(TABLE)
        .select(["address", "round_id"])
        .orderBy("address")
        .orderBy("round_id")
        .execute();
      return rows.map((r) => ({
        address: readText(r.address, { table: TABLE, column: "address" }),
        roundId: readText(r.round_id, { table: TABLE, column: "round_id" }),
      }));
    });
  }
}
