/**
 * @module storage/verified-proof-repository
 *
 * Proofs that passed verification, kept in our own `poet_client_proof` table and keyed by their
 * ref = blake3(SCALE(PoetProof)) (docs/protocol.md §4.3, docs/node-client.md §1.8, §2.7). With
 * it, a restart (or a second identity registered in the same round) finds the proof of a PoET and
 * round already downloaded and verified, and neither downloads nor verifies it again.
 *
 * The proof is stored as its SCALE bytes, so the key can always be recomputed: we compute the ref
 * ourselves when storing (a caller cannot file a proof under a wrong key) and check it again when
 * reading, so a damaged row is a `"corrupt"` {@link StorageError}, never a proof that silently
 * differs from the one that was verified. It is a cache: the proof fetcher drops a damaged row
 * ({@link VerifiedProofRepository.deleteByRound}) and downloads the proof again, and
 * `NodeState.check()` reports such rows for `repair()`.
 */

import type { AbortOptions } from "../abort-options.js";
import { equalBytes, toHex } from "../bytes.js";
import { proofRefOfEncoded } from "../verify/proof-ref.js";
import { decodePoetProof, encodePoetProof } from "../wire/index.js";
import type { PoetProof } from "../wire/poet-proof.js";
import {
  bytesParam,
  type ColumnPlace,
  corrupt,
  hashParam,
  readBytes,
  readHash,
  readText,
  readU64,
  readUnixMillis,
  textParam,
  u64Param,
  unixMillisParam,
} from "./columns.js";
import type { StoreConnection } from "./store-connection.js";

/** What to store about a proof that passed verification. */
export interface VerifiedProofInput {
  proof: PoetProof;
  /** The PoET's normalised base URL the proof came from. */
  address: string;
  /** The PoET round id. */
  roundId: string;
  /** The PoET's public key that came with the proof. */
  servicePubkey: Uint8Array;
  /** The statement (membership root of the round's members) the proof was verified against. */
  statement: Uint8Array;
  /** When verification succeeded. */
  verifiedAt: Date;
}

/** A stored verified proof. */
export interface VerifiedProof extends VerifiedProofInput {
  /** blake3(SCALE(proof)), 32 bytes. */
  ref: Uint8Array;
}

const TABLE = "poet_client_proof";

/** A raw row. */
export interface ProofRow {
  ref: unknown;
  proof: unknown;
  leaves: unknown;
  address: unknown;
  round_id: unknown;
  service_pubkey: unknown;
  statement: unknown;
  verified_at: unknown;
}

/** Checks and decodes a raw row: the bytes must hash to the ref and decode as a `PoetProof`. */
export function decodeVerifiedProofRow(row: ProofRow): VerifiedProof {
  const ref = readHash(row.ref, { table: TABLE, column: "ref" });
  const at = (column: string): ColumnPlace => ({ table: TABLE, column });
  const bytes = readBytes(row.proof, at("proof"));
  if (!equalBytes(proofRefOfEncoded(bytes), ref)) {
    throw corrupt(at("proof"), `the proof bytes do not hash to ref ${toHex(ref)}`);
  }
  let proof: PoetProof;
  try {
    proof = decodePoetProof(bytes);
  } catch (err) {
    throw corrupt(
      at("proof"),
      `not a SCALE PoetProof: ${err instanceof Error ? err.message : String(err)}`,
      err,
    );
  }
  const leaves = readU64(row.leaves, at("leaves"));
  if (leaves !== proof.leaves) {
    throw corrupt(at("leaves"), `${leaves} differs from the proof's ${proof.leaves}`);
  }
  return {
    ref,
    proof,
    address: readText(row.address, at("address")),
    roundId: readText(row.round_id, at("round_id")),
    servicePubkey: readBytes(row.service_pubkey, at("service_pubkey")),
    statement: readBytes(row.statement, at("statement")),
    verifiedAt: readUnixMillis(row.verified_at, at("verified_at")),
  };
}

/**
 * The cache of verified proofs, shared by every identity of the node.
 *
 * @example
 * ```ts
 * const [known] = await state.proofs.findByRound(poet.address, roundId);
 * if (!known) {
 *   const { proof, members, pubkey } = await client.proof(roundId, { signal });
 *   await verifyPoetProof(proof, membershipRoot(members), { signal });
 *   await state.proofs.put({ proof, address: poet.address, roundId, servicePubkey: pubkey,
 *     statement: membershipRoot(members), verifiedAt: new Date(clock.now()) });
 * }
 * ```
 */
export class VerifiedProofRepository {
  readonly #conn: StoreConnection;

  constructor(conn: StoreConnection) {
    this.#conn = conn;
  }

  /**
   * Stores a verified proof and returns its ref. Storing a proof that is already there keeps the
   * first record.
   */
  async put(input: VerifiedProofInput, options: AbortOptions = {}): Promise<Uint8Array> {
    const bytes = encodePoetProof(input.proof);
    const ref = proofRefOfEncoded(bytes);
    const row = {
      ref,
      proof: bytes,
      leaves: u64Param(input.proof.leaves, "proof.leaves"),
      address: textParam(input.address, "address"),
      round_id: textParam(input.roundId, "roundId"),
      service_pubkey: bytesParam(input.servicePubkey, "servicePubkey"),
      statement: bytesParam(input.statement, "statement"),
      verified_at: unixMillisParam(input.verifiedAt, "verifiedAt"),
    };
    await this.#conn.write(options.signal, { table: TABLE }, async (db) => {
      await db
        .insertInto(TABLE)
        .values(row)
        .onConflict((oc) => oc.column("ref").doNothing())
        .execute();
    });
    return ref;
  }

  /** The verified proof with this ref, or `undefined`. */
  async get(ref: Uint8Array, options: AbortOptions = {}): Promise<VerifiedProof | undefined> {
    hashParam(ref, "ref");
    return this.#conn.read(options.signal, { table: TABLE }, async (db) => {
      if (!this.#conn.hasOwnTable(TABLE)) return undefined;
      const row = await db.selectFrom(TABLE).selectAll().where("ref", "=", ref).executeTakeFirst();
      return row === undefined ? undefined : decodeVerifiedProofRow(row);
    });
  }

  /** Whether a proof with this ref was verified (without reading the proof). */
  async has(ref: Uint8Array, options: AbortOptions = {}): Promise<boolean> {
    hashParam(ref, "ref");
    return this.#conn.read(options.signal, { table: TABLE }, async (db) => {
      if (!this.#conn.hasOwnTable(TABLE)) return false;
      const row = await db
        .selectFrom(TABLE)
        .select("ref")
        .where("ref", "=", ref)
        .executeTakeFirst();
      return row !== undefined;
    });
  }

  /** The verified proofs of one PoET round (normally zero or one), most leaves first. */
  async findByRound(
    address: string,
    roundId: string,
    options: AbortOptions = {},
  ): Promise<VerifiedProof[]> {
    return this.#conn.read(options.signal, { table: TABLE }, async (db) => {
      if (!this.#conn.hasOwnTable(TABLE)) return [];
      const rows = await db
        .selectFrom(TABLE)
        .selectAll()
        .where("address", "=", address)
        .where("round_id", "=", roundId)
        .execute();
      return rows
        .map(decodeVerifiedProofRow)
        .sort((a, b) =>
          b.proof.leaves > a.proof.leaves ? 1 : b.proof.leaves < a.proof.leaves ? -1 : 0,
        );
    });
  }

  /** Deletes the proof with this ref. Returns whether it existed. */
  async delete(ref: Uint8Array, options: AbortOptions = {}): Promise<boolean> {
    hashParam(ref, "ref");
    return this.#conn.write(options.signal, { table: TABLE }, async (db) => {
      const result = await db.deleteFrom(TABLE).where("ref", "=", ref).executeTakeFirst();
      return result.numDeletedRows > 0n;
    });
  }

  /**
   * Deletes every proof stored for one PoET round, without reading them (a damaged row included).
   * Returns how many were deleted.
   */
  async deleteByRound(
    address: string,
    roundId: string,
    options: AbortOptions = {},
  ): Promise<number> {
    return this.#conn.write(options.signal, { table: TABLE }, async (db) => {
      const result = await db
        .deleteFrom(TABLE)
        .where("address", "=", address)
        .where("round_id", "=", roundId)
        .executeTakeFirst();
      return Number(result.numDeletedRows);
    });
  }

  /** Deletes proofs verified before `before`. Returns how many were deleted. */
  async pruneVerifiedBefore(before: Date, options: AbortOptions = {}): Promise<number> {
    const limit = unixMillisParam(before, "before");
    return this.#conn.write(options.signal, { table: TABLE }, async (db) => {
      const result = await db.deleteFrom(TABLE).where("verified_at", "<", limit).executeTakeFirst();
      return Number(result.numDeletedRows);
    });
  }

  /** The refs of every stored proof, in byte order (read each with {@link get}). */
  async refs(options: AbortOptions = {}): Promise<Uint8Array[]> {
    return this.#conn.read(options.signal, { table: TABLE }, async (db) => {
      if (!this.#conn.hasOwnTable(TABLE)) return [];
      const rows = await db.selectFrom(TABLE).select("ref").orderBy("ref").execute();
      return rows.map((r) => readHash(r.ref, { table: TABLE, column: "ref" }));
    });
  }
}
