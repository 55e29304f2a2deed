/**
 * @module storage/member-list-repository
 *
 * Downloaded member lists, one per PoET and round, in our own `poet_client_members` table and its
 * chunks in `poet_client_member_chunk`. go-spacemesh keeps them only in memory, so after a restart
 * its first identity downloads the whole proof again just to rebuild its membership proof
 * (docs/node-client.md §1.11, §8). Keeping the list (32 bytes per registrant) lets every identity
 * of the node build its membership proof after a restart without a download, and lets the workers
 * of a fleet share one download per PoET and round (`registration/proof-claims.ts`).
 *
 * **Layout.** A mainnet round has millions of members (96 MB at 3,000,000), too much for one row
 * to be written or read without stopping the event loop. The list's bytes (`member-list-codec.ts`:
 * packed 32-byte members, or length-prefixed ones for any other length) are cut into chunks of at
 * most {@link MEMBER_CHUNK_BYTES}, each a row of `poet_client_member_chunk`, and the list's row in
 * `poet_client_members` says how many chunks of which `generation` it has, how many bytes and
 * members in all, and the membership root. The chunks are written each in a write of its own
 * (other writes and reads run between them), the list's row last, in the same transaction as the
 * last chunk: a list is visible only once every chunk is stored, and a process that dies halfway
 * leaves chunks that no row names, which the next `put` of the round or pruning deletes. Reading
 * goes chunk by chunk straight into the one buffer of a `PackedMembers`, with a turn of the event
 * loop between chunks. A new list of a round gets a new random generation, so a reader never mixes
 * the chunks of two downloads: when it finds a chunk missing because the list was replaced while it
 * read, it reads the new one. Rows of earlier releases keep all their members in the row's own
 * `members` column and have no chunks; they read as before.
 *
 * It is a cache: a list that does not decode (a missing or extra chunk, bytes that are not whole
 * members), or whose root matches no verified proof of its round, is dropped by the proof fetcher
 * and downloaded again, and `NodeState.check()` reports the rows that do not decode.
 */

import { randomBytes } from "node:crypto";
import { setImmediate as yieldToEventLoop } from "node:timers/promises";
import { type Kysely, sql } from "kysely";
import type { AbortOptions } from "../abort-options.js";
import { ConfigError, StorageError } from "../errors.js";
import { PackedMembers } from "../wire/index.js";
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
import {
  decodeMemberList,
  encodeMemberList,
  PACKED_MEMBER_BYTES,
  packLengthPrefixed,
} from "./member-list-codec.js";
import type { NodeStateTables } from "./schema.js";
import type { StoreConnection } from "./store-connection.js";

/** The members of one PoET round, one array per member, as downloaded with its proof. */
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

/**
 * The members of one PoET round as stored: packed in one buffer when they are all 32 bytes long
 * (every real round), one array per member otherwise.
 */
export interface StoredMemberList {
  address: string;
  roundId: string;
  members: PackedMembers | Uint8Array[];
  statement?: Uint8Array | undefined;
  fetchedAt: Date;
}

/** What `state.members.put` takes: the members packed or one array per member. */
export interface MemberListInput {
  address: string;
  roundId: string;
  members: PackedMembers | readonly Uint8Array[];
  statement?: Uint8Array | undefined;
  fetchedAt: Date;
}

/**
 * The most bytes of a member list in one chunk row: 32,768 packed members (1 MiB). Writing or
 * reading one chunk (and copying it) takes a few milliseconds, well under the 50 ms a node may
 * block; a 3,000,000-member round is 92 chunks.
 */
export const MEMBER_CHUNK_BYTES = 1 << 20;

/**
 * A chunk of a quarter megabyte or more is a heavy write: a transaction and a turn of the event
 * loop of its own, so that the lists of several PoETs' rounds stored at once are written one chunk
 * per turn (`store-connection.ts`, `WriteOptions.heavy`), and WAL checkpoints move to a thread of
 * their own (`wal-checkpointer.ts`). The lists of small rounds are written as any other row.
 */
const HEAVY_CHUNK_BYTES = MEMBER_CHUNK_BYTES / 4;

/** The write options of chunk `bytes`. */
function chunkWrite(bytes: Uint8Array): { heavy: boolean } {
  return { heavy: bytes.length >= HEAVY_CHUNK_BYTES };
}

/** Chunk rows deleted per write when a list is deleted or pruned (8 MiB). */
const CHUNKS_DELETED_PER_WRITE = 8;

/** Times a read starts over because the list was replaced while it read. */
const READ_ATTEMPTS = 3;

const TABLE = "poet_client_members";
const CHUNKS = "poet_client_member_chunk";

/** A raw row. Columns added by later migrations are absent from a file that lacks them. */
export interface MembersRow {
  address: unknown;
  round_id: unknown;
  member_count: unknown;
  members: unknown;
  statement: unknown;
  fetched_at: unknown;
  generation?: unknown;
  chunk_count?: unknown;
  byte_count?: unknown;
  member_size?: unknown;
}

/** A list's row, checked: everything but the chunks' bytes. */
export interface MemberListHeader {
  address: string;
  roundId: string;
  count: number;
  statement: Uint8Array | undefined;
  fetchedAt: Date;
  /** The members held in the row itself (all of them in rows of earlier releases). */
  inline: Uint8Array;
  /** The generation of the chunks; `undefined` when the row has none. */
  generation: bigint | undefined;
  chunkCount: number;
  /** The bytes of {@link inline} and the chunks together. */
  byteCount: number;
  /** 32: packed; `undefined`: length-prefixed. */
  memberSize: number | undefined;
}

const at = (column: string): ColumnPlace => ({ table: TABLE, column });

function readCount(value: unknown, column: string): number {
  const n = readU64(value, at(column));
  if (n > BigInt(Number.MAX_SAFE_INTEGER)) throw corrupt(at(column), `${n} is out of range`);
  return Number(n);
}

function isAbsent(value: unknown): boolean {
  return value === null || value === undefined;
}

/** Checks a raw row of `poet_client_members` (not its chunks). */
export function decodeMemberListHeader(row: MembersRow): MemberListHeader {
  const inline = readBytes(row.members, at("members"));
  const count = readCount(row.member_count, "member_count");
  const chunkCount = isAbsent(row.chunk_count) ? 0 : readCount(row.chunk_count, "chunk_count");
  const generation = isAbsent(row.generation)
    ? undefined
    : readU64(row.generation, at("generation"));
  if (chunkCount > 0 && generation === undefined) {
    throw corrupt(at("generation"), `${chunkCount} chunks but no generation`);
  }
  const byteCount = isAbsent(row.byte_count)
    ? inline.length
    : readCount(row.byte_count, "byte_count");
  const memberSize = isAbsent(row.member_size)
    ? undefined
    : readCount(row.member_size, "member_size");
  if (memberSize !== undefined && memberSize !== PACKED_MEMBER_BYTES) {
    throw corrupt(at("member_size"), `${memberSize}-byte packed members are not supported`);
  }
  if (memberSize !== undefined && byteCount !== count * memberSize) {
    throw corrupt(
      at("byte_count"),
      `${byteCount} bytes for ${count} members of ${memberSize} bytes`,
    );
  }
  if (inline.length > byteCount) {
    throw corrupt(at("members"), `holds ${inline.length} bytes, the row says ${byteCount} in all`);
  }
  if (chunkCount === 0 && inline.length !== byteCount) {
    throw corrupt(at("members"), `holds ${inline.length} bytes, the row says ${byteCount}`);
  }
  return {
    address: readText(row.address, at("address")),
    roundId: readText(row.round_id, at("round_id")),
    count,
    statement: readOptionalBytes(row.statement, at("statement")),
    fetchedAt: readUnixMillis(row.fetched_at, at("fetched_at")),
    inline,
    generation,
    chunkCount,
    byteCount,
    memberSize,
  };
}

/**
 * Gives `length` bytes (or the rest, when fewer; everything when `length` is infinite) of chunk
 * `index` from byte `offset` on, as the raw column value, or `undefined` when there is no such
 * chunk.
 */
export type ChunkReader = (index: number, offset: number, length: number) => Promise<unknown>;

/**
 * Reads the members `header` describes: its own bytes, then chunk 0, 1, …, each `sliceBytes` at a
 * time, with a turn of the event loop after each piece. Rejects with a `"corrupt"`
 * {@link StorageError} naming what is wrong.
 */
export async function assembleMemberList(
  header: MemberListHeader,
  read: ChunkReader,
  sliceBytes = Number.POSITIVE_INFINITY,
): Promise<StoredMemberList> {
  const out = new Uint8Array(header.byteCount);
  out.set(header.inline);
  let filled = header.inline.length;
  const place = { table: CHUNKS, column: "bytes" };
  for (let i = 0; i < header.chunkCount; i++) {
    for (let offset = 0; ; ) {
      const bytes = await read(i, offset, sliceBytes);
      if (bytes === undefined) {
        throw corrupt(place, `chunk ${i} of ${header.chunkCount} is missing`);
      }
      if (!(bytes instanceof Uint8Array)) throw corrupt(place, `chunk ${i} is not a BLOB`);
      if (filled + bytes.length > out.length) {
        throw corrupt(place, `the chunks hold more than the ${header.byteCount} bytes of the list`);
      }
      out.set(bytes, filled);
      filled += bytes.length;
      offset += bytes.length;
      await yieldToEventLoop();
      if (bytes.length < sliceBytes) break;
    }
  }
  if (filled !== out.length) {
    throw corrupt(place, `the chunks hold ${filled} of the list's ${header.byteCount} bytes`);
  }
  const list: StoredMemberList = {
    address: header.address,
    roundId: header.roundId,
    members: decodeMembers(out, header),
    fetchedAt: header.fetchedAt,
  };
  if (header.statement !== undefined) list.statement = header.statement;
  return list;
}

function decodeMembers(bytes: Uint8Array, header: MemberListHeader): PackedMembers | Uint8Array[] {
  try {
    if (header.memberSize !== undefined) return new PackedMembers(bytes);
    const packed = packLengthPrefixed(bytes, header.count);
    return packed === undefined ? decodeMemberList(bytes, header.count) : new PackedMembers(packed);
  } catch (err) {
    if (!(err instanceof Error) || err instanceof StorageError) throw err;
    throw corrupt(at("members"), err.message, err);
  }
}

/** A random generation for a new list's chunks (62 bits: positive in an int64 column). */
function newGeneration(): bigint {
  return BigInt.asUintN(62, randomBytes(8).readBigUInt64BE());
}

/** The stored bytes of `members` and their member size (`undefined`: length-prefixed). */
function encodeMembers(members: PackedMembers | readonly Uint8Array[]): {
  bytes: Uint8Array;
  memberSize: number | undefined;
} {
  if (members instanceof PackedMembers) {
    return { bytes: members.bytes, memberSize: PACKED_MEMBER_BYTES };
  }
  if (!Array.isArray(members) || members.some((m) => !(m instanceof Uint8Array))) {
    throw new ConfigError("members", "must be a PackedMembers or an array of Uint8Array");
  }
  if (members.every((m) => m.length === PACKED_MEMBER_BYTES)) {
    return { bytes: PackedMembers.from(members).bytes, memberSize: PACKED_MEMBER_BYTES };
  }
  return { bytes: encodeMemberList(members), memberSize: undefined };
}

type Db = Kysely<NodeStateTables>;

/**
 * Member lists per PoET and round.
 *
 * @example
 * ```ts
 * let list = await state.members.read(poet.address, roundId);
 * if (!list) {
 *   const { members } = await client.proof(roundId, { signal }); // PackedMembers
 *   await state.members.put({ address: poet.address, roundId, members, fetchedAt: new Date(clock.now()) });
 * }
 * ```
 */
export class MemberListRepository {
  readonly #conn: StoreConnection;

  constructor(conn: StoreConnection) {
    this.#conn = conn;
  }

  /**
   * Stores (or replaces) the member list of a PoET round: packed when every member is 32 bytes,
   * in chunks of at most {@link MEMBER_CHUNK_BYTES}, each chunk a write of its own; the list is
   * visible once the last is committed (see the module notes). Within a
   * {@link NodeState.transaction} every chunk joins the caller's transaction.
   */
  async put(list: MemberListInput, options: AbortOptions = {}): Promise<void> {
    const { signal } = options;
    if (list.statement !== undefined && !(list.statement instanceof Uint8Array)) {
      throw new ConfigError("statement", "must be a Uint8Array");
    }
    const { bytes, memberSize } = encodeMembers(list.members);
    const address = textParam(list.address, "address");
    const roundId = textParam(list.roundId, "roundId");
    const fetchedAt = unixMillisParam(list.fetchedAt, "fetchedAt");
    const generation = newGeneration();
    const chunkCount = Math.ceil(bytes.length / MEMBER_CHUNK_BYTES);
    const chunkAt = (i: number) =>
      bytes.subarray(i * MEMBER_CHUNK_BYTES, Math.min(bytes.length, (i + 1) * MEMBER_CHUNK_BYTES));
    const insertChunk = (db: Db, i: number) =>
      db
        .insertInto(CHUNKS)
        .values({
          address,
          round_id: roundId,
          generation,
          chunk: BigInt(i),
          bytes: chunkAt(i),
          fetched_at: fetchedAt,
        })
        .execute();
    const row = {
      address,
      round_id: roundId,
      member_count: BigInt(list.members.length),
      members: new Uint8Array(),
      statement: list.statement ?? null,
      fetched_at: fetchedAt,
      generation: chunkCount > 0 ? generation : null,
      chunk_count: BigInt(chunkCount),
      byte_count: BigInt(bytes.length),
      member_size: memberSize === undefined ? null : BigInt(memberSize),
    };
    try {
      for (let i = 0; i + 1 < chunkCount; i++) {
        await this.#conn.write(
          signal,
          { table: CHUNKS },
          (db) => insertChunk(db, i),
          chunkWrite(chunkAt(i)),
        );
        await yieldToEventLoop();
      }
      await this.#conn.write(
        signal,
        { table: TABLE },
        async (db) => {
          if (chunkCount > 0) await insertChunk(db, chunkCount - 1);
          // An upsert rather than SQLite's REPLACE: the same statement on PostgreSQL.
          const { address: _a, round_id: _r, ...columns } = row;
          await db
            .insertInto(TABLE)
            .values(row)
            .onConflict((oc) => oc.columns(["address", "round_id"]).doUpdateSet(columns))
            .execute();
        },
        chunkWrite(chunkCount > 0 ? chunkAt(chunkCount - 1) : new Uint8Array()),
      );
    } catch (err) {
      // The chunks written so far belong to no list; pruning would find them too.
      await this.#deleteChunks(address, roundId, (g) => g === generation).catch(() => {});
      throw err;
    }
    // The chunks of the list this one replaced, and of writes that never finished.
    await this.#deleteChunks(address, roundId, (g) => g !== generation, signal);
  }

  /**
   * The member list of a PoET round as stored (packed when its members are 32 bytes long), or
   * `undefined`. Reads chunk by chunk into one buffer, with a turn of the event loop between
   * chunks. Rejects with a `"corrupt"` {@link StorageError} when the list does not decode.
   */
  async read(
    address: string,
    roundId: string,
    options: AbortOptions = {},
  ): Promise<StoredMemberList | undefined> {
    const { signal } = options;
    for (let attempt = 1; ; attempt++) {
      const header = await this.#header(address, roundId, signal);
      if (header === undefined) return undefined;
      try {
        return await assembleMemberList(
          header,
          (i, offset, length) =>
            this.#conn.read(signal, { table: CHUNKS }, (db) =>
              selectChunk(
                db,
                header,
                i,
                offset,
                length,
                this.#conn.hasOwnTable(CHUNKS),
                this.#conn.blobAsBase64,
              ),
            ),
          this.#conn.blobReadBytes,
        );
      } catch (err) {
        if (!(err instanceof StorageError) || err.kind !== "corrupt" || attempt >= READ_ATTEMPTS) {
          throw err;
        }
        // Replaced (or deleted) while it was read: read what is there now.
        const now = await this.#header(address, roundId, signal);
        if (now === undefined) return undefined;
        if (now.generation === header.generation && now.byteCount === header.byteCount) throw err;
      }
    }
  }

  /**
   * The member list of a PoET round with one array per member, or `undefined`: for small lists
   * and tools; the proof fetcher reads a round's members packed, with {@link read}.
   */
  async get(
    address: string,
    roundId: string,
    options: AbortOptions = {},
  ): Promise<MemberList | undefined> {
    const list = await this.read(address, roundId, options);
    if (list === undefined) return undefined;
    const { members, ...rest } = list;
    return { ...rest, members: members instanceof PackedMembers ? members.toArray() : members };
  }

  /** Deletes the member list of a PoET round. Returns whether it existed. */
  async delete(address: string, roundId: string, options: AbortOptions = {}): Promise<boolean> {
    const { signal } = options;
    const existed = await this.#conn.write(signal, { table: TABLE }, async (db) => {
      const result = await db
        .deleteFrom(TABLE)
        .where("address", "=", address)
        .where("round_id", "=", roundId)
        .executeTakeFirst();
      return result.numDeletedRows > 0n;
    });
    await this.#deleteChunks(address, roundId, () => true, signal);
    return existed;
  }

  /**
   * Deletes lists downloaded before `before` (and the chunks of lists never completed then).
   * Returns how many lists were deleted.
   */
  async pruneFetchedBefore(before: Date, options: AbortOptions = {}): Promise<number> {
    const { signal } = options;
    const limit = unixMillisParam(before, "before");
    const deleted = await this.#conn.write(signal, { table: TABLE }, async (db) => {
      const result = await db.deleteFrom(TABLE).where("fetched_at", "<", limit).executeTakeFirst();
      return Number(result.numDeletedRows);
    });
    if (this.#conn.hasOwnTable(CHUNKS)) await this.#deleteChunkBatches({ before: limit }, signal);
    return deleted;
  }

  /** The PoET rounds that have a member list, ordered by address and round (read each with {@link read}). */
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

  async #header(
    address: string,
    roundId: string,
    signal: AbortSignal | undefined,
  ): Promise<MemberListHeader | undefined> {
    const row = await this.#conn.read(signal, { table: TABLE }, async (db) => {
      if (!this.#conn.hasOwnTable(TABLE)) return undefined;
      return db
        .selectFrom(TABLE)
        .selectAll()
        .where("address", "=", address)
        .where("round_id", "=", roundId)
        .executeTakeFirst();
    });
    return row === undefined ? undefined : decodeMemberListHeader(row);
  }

  /**
   * Deletes the chunks of a round whose generation `which` selects, a few per write (a chunk is a
   * megabyte to free).
   */
  async #deleteChunks(
    address: string,
    roundId: string,
    which: (generation: bigint) => boolean,
    signal?: AbortSignal,
  ): Promise<void> {
    if (!this.#conn.hasOwnTable(CHUNKS)) return;
    const generations = await this.#conn.read(signal, { table: CHUNKS }, async (db) => {
      const rows = await db
        .selectFrom(CHUNKS)
        .select("generation")
        .distinct()
        .where("address", "=", address)
        .where("round_id", "=", roundId)
        .execute();
      return rows.map((r) => readU64(r.generation, { table: CHUNKS, column: "generation" }));
    });
    for (const generation of generations.filter(which)) {
      await this.#deleteChunkBatches({ address, roundId, generation }, signal);
    }
  }

  /**
   * Deletes the chunk rows fetched before `before`, or those of one generation of a round,
   * {@link CHUNKS_DELETED_PER_WRITE} per write with a turn of the event loop between writes.
   */
  async #deleteChunkBatches(
    which: { before: bigint } | { address: string; roundId: string; generation: bigint },
    signal: AbortSignal | undefined,
  ): Promise<void> {
    for (;;) {
      const n = await this.#conn.write(signal, { table: CHUNKS }, async (db) => {
        let query = db.selectFrom(CHUNKS).select(["address", "round_id", "generation", "chunk"]);
        query =
          "before" in which
            ? query.where("fetched_at", "<", which.before)
            : query
                .where("address", "=", which.address)
                .where("round_id", "=", which.roundId)
                .where("generation", "=", which.generation);
        const keys = await query.limit(CHUNKS_DELETED_PER_WRITE).execute();
        for (const k of keys) await deleteChunkRow(db, k);
        return keys.length;
      });
      if (n < CHUNKS_DELETED_PER_WRITE) return;
      await yieldToEventLoop();
    }
  }
}

/**
 * The raw `bytes` of chunk `index` of `header`'s list from byte `offset` on, at most `length` of
 * them (`substr`, the same on SQLite and PostgreSQL), or `undefined` when the chunk is not there.
 */
export async function selectChunk(
  db: Db,
  header: MemberListHeader,
  index: number,
  offset: number,
  length: number,
  hasChunkTable: boolean,
  base64 = false,
): Promise<unknown> {
  if (!hasChunkTable || header.generation === undefined) return undefined;
  // `length` infinite: the whole chunk (`offset` is then 0).
  const slice = Number.isFinite(length)
    ? sql`substr(${sql.ref("bytes")}, ${offset + 1}, ${length})`
    : sql.ref("bytes");
  const bytes = base64 ? sql`encode(${slice}, 'base64')` : slice;
  const row = await db
    .selectFrom(CHUNKS)
    .select(sql<unknown>`${bytes}`.as("bytes"))
    .where("address", "=", header.address)
    .where("round_id", "=", header.roundId)
    .where("generation", "=", header.generation)
    .where("chunk", "=", BigInt(index))
    .executeTakeFirst();
  const value = row?.bytes;
  // Base64 as PostgreSQL writes it (a line break every 76 characters, which Node skips).
  if (base64 && typeof value === "string") return Buffer.from(value, "base64");
  return value;
}

/** Deletes one chunk row by its key, as read. */
async function deleteChunkRow(
  db: Db,
  key: { address: unknown; round_id: unknown; generation: unknown; chunk: unknown },
): Promise<void> {
  await db
    .deleteFrom(CHUNKS)
    .where("address", "=", key.address as string)
    .where("round_id", "=", key.round_id as string)
    .where("generation", "=", key.generation as bigint)
    .where("chunk", "=", key.chunk as bigint)
    .execute();
}
