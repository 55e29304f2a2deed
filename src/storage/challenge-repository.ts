/**
 * @module storage/challenge-repository
 *
 * The `challenge` table: each identity's current NiPoST challenge (the build-challenge step) and, once proof collection has
 * picked the best proof, its `poet_proof_ref` and SCALE `poet_proof_membership`
 * (docs/node-client.md §1.2, §1.8). Columns are bound exactly as go-spacemesh binds them, so rows
 * written by either program read the same in the other.
 *
 * The Go node never stores the challenge *hash* it registered, which is why it cannot tell that a
 * `poet_registration` row belongs to an older challenge (docs/node-client.md §4, §8). We keep the
 * hash beside the row in `poet_client_challenge`, together with a digest of the row's columns: if
 * the row is later rewritten by something that does not know about the hash (go-spacemesh, an
 * operator), the digest no longer matches and the hash reads as unknown instead of wrong.
 */

import { sha256 } from "@noble/hashes/sha2.js";
import { type Kysely, sql } from "kysely";
import type { AbortOptions } from "../abort-options.js";
import { equalBytes, toHex } from "../bytes.js";
import { ConfigError, StorageError } from "../errors.js";
import type { MembershipProof, NipostChallenge } from "../wire/index.js";
import {
  bytesParam,
  type ColumnPlace,
  hashParam,
  readHash,
  readOptionalBytes,
  readOptionalHash,
  readU32,
  readU64,
  u32Param,
  u64Param,
} from "./columns.js";
import { CompiledStatements } from "./compiled-statements.js";
import { membershipParam, readMembership } from "./membership-column.js";
import type { NodeStateTables } from "./schema.js";
import type { StoreConnection } from "./store-connection.js";

export type { InitialPost, NipostChallenge } from "../wire/index.js";

/** A `challenge` row read back. */
export interface ChallengeRecord {
  nodeId: Uint8Array;
  challenge: NipostChallenge;
  /** The challenge hash recorded with this exact row, if known. */
  hash: Uint8Array | undefined;
  /** The selected PoET proof's ref (proof collection done), if any. */
  poetProofRef: Uint8Array | undefined;
  /** The challenge's membership proof in the selected round, if any. */
  membership: MembershipProof | undefined;
}

/** Options of {@link ChallengeRepository.add} and {@link ChallengeRepository.update}. */
export interface ChallengeWriteOptions {
  /** The challenge hash submitted to PoETs, recorded so that stale registrations can be detected. */
  hash?: Uint8Array | undefined;
  signal?: AbortSignal | undefined;
}

const TABLE = "challenge";

function place(column: string, nodeId?: unknown): ColumnPlace {
  return { table: TABLE, column, nodeId };
}

function encodeRow(nodeId: Uint8Array, c: NipostChallenge) {
  hashParam(nodeId, "nodeId");
  const post = c.initialPost;
  if (post !== undefined && post.indices?.length === 0) {
    throw new ConfigError("challenge.initialPost.indices", "must not be empty");
  }
  return {
    id: nodeId,
    epoch: u32Param(c.publishEpoch, "challenge.publishEpoch"),
    sequence: u64Param(c.sequence, "challenge.sequence"),
    prev_atx: hashParam(c.prevAtx, "challenge.prevAtx"),
    pos_atx: hashParam(c.positioningAtx, "challenge.positioningAtx"),
    commit_atx:
      c.commitmentAtx === undefined ? null : hashParam(c.commitmentAtx, "challenge.commitmentAtx"),
    post_nonce: post === undefined ? null : u32Param(post.nonce, "challenge.initialPost.nonce"),
    post_indices:
      post === undefined ? null : bytesParam(post.indices, "challenge.initialPost.indices"),
    post_pow: post === undefined ? null : u64Param(post.pow, "challenge.initialPost.pow"),
  };
}

/**
 * A digest of the columns that define the challenge, in a fixed layout. Used only to tell whether
 * the row still is the one a hash was recorded for.
 */
export function challengeFingerprint(row: ReturnType<typeof encodeRow>): Uint8Array {
  const parts: Uint8Array[] = [];
  const int = (v: bigint | null) => {
    const b = new Uint8Array(9);
    if (v !== null) {
      b[0] = 1;
      new DataView(b.buffer).setBigInt64(1, v);
    }
    parts.push(b);
  };
  const bytes = (v: Uint8Array | null) => {
    const len = new Uint8Array(5);
    if (v !== null) {
      len[0] = 1;
      new DataView(len.buffer).setUint32(1, v.length);
    }
    parts.push(len);
    if (v !== null) parts.push(v);
  };
  int(row.epoch);
  int(row.sequence);
  bytes(row.prev_atx);
  bytes(row.pos_atx);
  bytes(row.commit_atx);
  int(row.post_nonce);
  bytes(row.post_indices);
  int(row.post_pow);
  const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    all.set(p, at);
    at += p.length;
  }
  return sha256(all);
}

/** A raw `challenge` row joined with its recorded hash. */
export type ChallengeRow = {
  id: unknown;
  epoch: unknown;
  sequence: unknown;
  prev_atx: unknown;
  pos_atx: unknown;
  commit_atx: unknown;
  post_nonce: unknown;
  post_indices: unknown;
  post_pow: unknown;
  poet_proof_ref: unknown;
  poet_proof_membership: unknown;
  meta_hash: unknown;
  meta_fingerprint: unknown;
};

/** Checks and decodes a raw challenge row. */
export function decodeChallengeRow(row: ChallengeRow): ChallengeRecord {
  const nodeId = readHash(row.id, place("id", row.id));
  const at = (column: string) => place(column, nodeId);
  const challenge: NipostChallenge = {
    publishEpoch: readU32(row.epoch, at("epoch")),
    sequence: readU64(row.sequence, at("sequence")),
    prevAtx: readHash(row.prev_atx, at("prev_atx")),
    positioningAtx: readHash(row.pos_atx, at("pos_atx")),
  };
  const commitmentAtx = readOptionalHash(row.commit_atx, at("commit_atx"));
  if (commitmentAtx !== undefined) challenge.commitmentAtx = commitmentAtx;
  const indices = readOptionalBytes(row.post_indices, at("post_indices"));
  if (indices !== undefined) {
    challenge.initialPost = {
      nonce: readU32(row.post_nonce, at("post_nonce")),
      indices,
      pow: readU64(row.post_pow, at("post_pow")),
    };
  }
  // Go treats an empty membership as "not fetched yet" and only then ignores the ref.
  const membershipBytes = readOptionalBytes(row.poet_proof_membership, at("poet_proof_membership"));
  let membership: MembershipProof | undefined;
  let poetProofRef: Uint8Array | undefined;
  if (membershipBytes !== undefined) {
    membership = readMembership(membershipBytes, at("poet_proof_membership"));
    poetProofRef = readHash(row.poet_proof_ref, at("poet_proof_ref"));
  }
  let hash: Uint8Array | undefined;
  if (row.meta_hash !== null && row.meta_hash !== undefined) {
    const recorded = readHash(row.meta_hash, {
      table: "poet_client_challenge",
      column: "hash",
      nodeId,
    });
    const expected = challengeFingerprint(encodeRow(nodeId, challenge));
    const stored = row.meta_fingerprint;
    if (stored instanceof Uint8Array && equalBytes(stored, expected)) hash = recorded;
  }
  return { nodeId, challenge, hash, poetProofRef, membership };
}

const CHALLENGE_COLUMNS = [
  "challenge.id",
  "challenge.epoch",
  "challenge.sequence",
  "challenge.prev_atx",
  "challenge.pos_atx",
  "challenge.commit_atx",
  "challenge.post_nonce",
  "challenge.post_indices",
  "challenge.post_pow",
  "challenge.poet_proof_ref",
  "challenge.poet_proof_membership",
] as const;

function selectWithHashes(db: Kysely<NodeStateTables>) {
  return db
    .selectFrom("challenge")
    .leftJoin("poet_client_challenge", "poet_client_challenge.id", "challenge.id")
    .select(CHALLENGE_COLUMNS)
    .select([
      "poet_client_challenge.hash as meta_hash",
      "poet_client_challenge.fingerprint as meta_fingerprint",
    ]);
}

/**
 * Selects challenge rows with their recorded hash. `withHashes = false` (a read-only file without
 * our `poet_client_challenge` table) reads every hash as unknown.
 */
export function selectChallengeRows(
  db: Kysely<NodeStateTables>,
  withHashes = true,
): ReturnType<typeof selectWithHashes> {
  if (withHashes) return selectWithHashes(db);
  // Same columns, hashes null: callers only add `challenge.*` filters and ordering.
  return db
    .selectFrom("challenge")
    .select(CHALLENGE_COLUMNS)
    .select([
      sql<unknown>`null`.as("meta_hash"),
      sql<unknown>`null`.as("meta_fingerprint"),
    ]) as unknown as ReturnType<typeof selectWithHashes>;
}

/**
 * Each identity's NiPoST challenge and selected proof.
 *
 * @example
 * ```ts
 * await state.challenges.add(nodeId, challenge, { hash: challengeHash });
 * // … proof collection picked a proof:
 * await state.challenges.setPoetProof(nodeId, proofRef, { nodes, leafIndex: 5n });
 * const row = await state.challenges.get(nodeId);
 * if (row?.poetProofRef) startPost(row.poetProofRef);
 * ```
 */
export class ChallengeRepository {
  readonly #conn: StoreConnection;
  readonly #shapes = new CompiledStatements();

  constructor(conn: StoreConnection) {
    this.#conn = conn;
  }

  get #withHashes(): boolean {
    return this.#conn.hasOwnTable("poet_client_challenge");
  }

  /** The identity's challenge row, or `undefined`. */
  async get(nodeId: Uint8Array, options: AbortOptions = {}): Promise<ChallengeRecord | undefined> {
    hashParam(nodeId, "nodeId");
    return this.#conn.read(
      options.signal,
      { table: TABLE, identity: toHex(nodeId) },
      async (db) => {
        const withHashes = this.#withHashes;
        const { rows } = await this.#shapes.run<ChallengeRow>(
          db,
          `get:${withHashes}`,
          [nodeId],
          (db) => selectChallengeRows(db, withHashes).where("challenge.id", "=", nodeId),
        );
        const row = rows[0];
        return row === undefined ? undefined : decodeChallengeRow(row);
      },
    );
  }

  /** Every challenge row. */
  async list(options: AbortOptions = {}): Promise<ChallengeRecord[]> {
    return this.#conn.read(options.signal, { table: TABLE }, async (db) => {
      const rows = await selectChallengeRows(db, this.#withHashes)
        .orderBy("challenge.id")
        .execute();
      return rows.map(decodeChallengeRow);
    });
  }

  /** Inserts the identity's challenge; a second one is a `"duplicate"` {@link StorageError}. */
  async add(
    nodeId: Uint8Array,
    challenge: NipostChallenge,
    options: ChallengeWriteOptions = {},
  ): Promise<void> {
    const row = encodeRow(nodeId, challenge);
    const hash = options.hash === undefined ? undefined : hashParam(options.hash, "hash");
    const identity = toHex(nodeId);
    await this.#conn.write(
      options.signal,
      { table: TABLE, identity },
      async (db) => {
        const existing = await db
          .selectFrom("challenge")
          .select("id")
          .where("id", "=", nodeId)
          .executeTakeFirst();
        if (existing) {
          throw new StorageError("the identity already has a challenge", {
            kind: "duplicate",
            table: TABLE,
            identity,
          });
        }
        await db.insertInto("challenge").values(row).execute();
        await this.#recordHash(db, nodeId, row, hash);
      },
      { plain: true },
    );
  }

  /**
   * Replaces the identity's challenge columns (the proof columns stay), like go-spacemesh's
   * `UpdateChallenge`. A missing row is a `"missing"` {@link StorageError}.
   */
  async update(
    nodeId: Uint8Array,
    challenge: NipostChallenge,
    options: ChallengeWriteOptions = {},
  ): Promise<void> {
    const row = encodeRow(nodeId, challenge);
    const hash = options.hash === undefined ? undefined : hashParam(options.hash, "hash");
    const identity = toHex(nodeId);
    await this.#conn.write(
      options.signal,
      { table: TABLE, identity },
      async (db) => {
        const { id: _id, ...columns } = row;
        const result = await db
          .updateTable("challenge")
          .set(columns)
          .where("id", "=", nodeId)
          .executeTakeFirst();
        if (result.numUpdatedRows === 0n) throw missing(identity);
        await this.#recordHash(db, nodeId, row, hash);
      },
      { plain: true },
    );
  }

  /**
   * Records the hash of the identity's current challenge row (for a row that go-spacemesh wrote,
   * whose hash the caller computed). A missing row is a `"missing"` {@link StorageError}.
   */
  async setHash(nodeId: Uint8Array, hash: Uint8Array, options: AbortOptions = {}): Promise<void> {
    hashParam(nodeId, "nodeId");
    hashParam(hash, "hash");
    const identity = toHex(nodeId);
    await this.#conn.write(
      options.signal,
      { table: TABLE, identity },
      async (db) => {
        const row = await selectChallengeRows(db)
          .where("challenge.id", "=", nodeId)
          .executeTakeFirst();
        if (row === undefined) throw missing(identity);
        const record = decodeChallengeRow(row);
        await this.#recordHash(db, nodeId, encodeRow(nodeId, record.challenge), hash);
      },
      { plain: true },
    );
  }

  /**
   * Stores the selected proof's ref and the challenge's membership proof (what proof collection chose), like
   * go-spacemesh's `UpdatePoetProofRef`. A missing row is a `"missing"` {@link StorageError}.
   */
  async setPoetProof(
    nodeId: Uint8Array,
    poetProofRef: Uint8Array,
    membership: MembershipProof,
    options: AbortOptions = {},
  ): Promise<void> {
    hashParam(nodeId, "nodeId");
    hashParam(poetProofRef, "poetProofRef");
    const encoded = membershipParam(membership, "membership");
    const identity = toHex(nodeId);
    await this.#conn.write(
      options.signal,
      { table: TABLE, identity },
      async (db) => {
        const result = await db
          .updateTable("challenge")
          .set({ poet_proof_ref: poetProofRef, poet_proof_membership: encoded })
          .where("id", "=", nodeId)
          .executeTakeFirst();
        if (result.numUpdatedRows === 0n) throw missing(identity);
      },
      { plain: true },
    );
  }

  /** Forgets the selected proof (proof collection runs again). Returns whether a row was changed. */
  async clearPoetProof(nodeId: Uint8Array, options: AbortOptions = {}): Promise<boolean> {
    hashParam(nodeId, "nodeId");
    return this.#conn.write(
      options.signal,
      { table: TABLE, identity: toHex(nodeId) },
      async (db) => {
        const result = await db
          .updateTable("challenge")
          .set({ poet_proof_ref: null, poet_proof_membership: null })
          .where("id", "=", nodeId)
          .executeTakeFirst();
        return result.numUpdatedRows > 0n;
      },
      { plain: true },
    );
  }

  /** Deletes the identity's challenge (go-spacemesh's `RemoveChallenge`). Returns whether it existed. */
  async delete(nodeId: Uint8Array, options: AbortOptions = {}): Promise<boolean> {
    hashParam(nodeId, "nodeId");
    return this.#conn.write(
      options.signal,
      { table: TABLE, identity: toHex(nodeId) },
      async (db) => {
        await db.deleteFrom("poet_client_challenge").where("id", "=", nodeId).execute();
        const result = await db.deleteFrom("challenge").where("id", "=", nodeId).executeTakeFirst();
        return result.numDeletedRows > 0n;
      },
      { plain: true },
    );
  }

  async #recordHash(
    db: Kysely<NodeStateTables>,
    nodeId: Uint8Array,
    row: ReturnType<typeof encodeRow>,
    hash: Uint8Array | undefined,
  ): Promise<void> {
    if (hash === undefined) {
      await db.deleteFrom("poet_client_challenge").where("id", "=", nodeId).execute();
      return;
    }
    const fingerprint = challengeFingerprint(row);
    await db
      .insertInto("poet_client_challenge")
      .values({ id: nodeId, hash, fingerprint })
      .onConflict((oc) => oc.column("id").doUpdateSet({ hash, fingerprint }))
      .execute();
  }
}

function missing(identity: string): StorageError {
  return new StorageError("the identity has no challenge", {
    kind: "missing",
    table: TABLE,
    identity,
  });
}
