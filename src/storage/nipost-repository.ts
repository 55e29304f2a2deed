/**
 * @module storage/nipost-repository
 *
 * The `nipost` table: the result of the post step, one row per identity, with the PoET proof ref it
 * was made for and the challenge's membership proof (docs/node-client.md §1.8). `post_pow`,
 * `vrf_nonce` and `labels_per_unit` are u64 values that go-spacemesh binds as signed int64; they
 * round-trip as `bigint` over the full range.
 */
import type { AbortOptions } from "../abort-options.js";
import { toHex } from "../bytes.js";
import { StorageError } from "../errors.js";
import type { MembershipProof } from "../wire/index.js";
import {
  bytesParam,
  type ColumnPlace,
  hashParam,
  readBytes,
  readHash,
  readU32,
  readU64,
  u32Param,
  u64Param,
} from "./columns.js";
import { membershipParam, readMembership } from "./membership-column.js";
import type { StoreConnection } from "./store-connection.js";

/** A PoST proof (nonce, indices, k2 proof of work). */
export interface PostProof {
  /** u32 nonce. */
  nonce: number;
  indices: Uint8Array;
  /** u64 k2 proof of work. */
  pow: bigint;
}

/** The NiPoST of one identity as the `nipost` row stores it (the manager hands out a `NiPost`). */
export interface StoredNipost {
  post: PostProof;
  /** u32 space units. */
  numUnits: number;
  /** u64 VRF nonce. */
  vrfNonce: bigint;
  /** The challenge's membership proof in the PoET round. */
  membership: MembershipProof;
  /** The PoET proof ref, which was the PoST challenge (32 bytes). */
  poetProofRef: Uint8Array;
  /** u64 labels per unit. */
  labelsPerUnit: bigint;
}

/** A `nipost` row read back. */
export interface NipostRecord extends StoredNipost {
  nodeId: Uint8Array;
}

const TABLE = "nipost";

/** A raw row. */
export interface NipostRow {
  id: unknown;
  post_nonce: unknown;
  post_indices: unknown;
  post_pow: unknown;
  num_units: unknown;
  vrf_nonce: unknown;
  poet_proof_membership: unknown;
  poet_proof_ref: unknown;
  labels_per_unit: unknown;
}

/** Checks and decodes a raw row. */
export function decodeNipostRow(row: NipostRow): NipostRecord {
  const nodeId = readHash(row.id, { table: TABLE, column: "id", nodeId: row.id });
  const at = (column: string): ColumnPlace => ({ table: TABLE, column, nodeId });
  return {
    nodeId,
    post: {
      nonce: readU32(row.post_nonce, at("post_nonce")),
      indices: readBytes(row.post_indices, at("post_indices")),
      pow: readU64(row.post_pow, at("post_pow")),
    },
    numUnits: readU32(row.num_units, at("num_units")),
    vrfNonce: readU64(row.vrf_nonce, at("vrf_nonce")),
    membership: readMembership(row.poet_proof_membership, at("poet_proof_membership")),
    poetProofRef: readHash(row.poet_proof_ref, at("poet_proof_ref")),
    labelsPerUnit: readU64(row.labels_per_unit, at("labels_per_unit")),
  };
}

/**
 * The PoST result per identity.
 *
 * @example
 * ```ts
 * if (!(await state.nipost.get(nodeId))) {
 *   const post = await runPost(ref);
 *   await state.nipost.add(nodeId, { post, numUnits: 4, vrfNonce, membership, poetProofRef: ref, labelsPerUnit });
 * }
 * ```
 */
export class NipostRepository {
  readonly #conn: StoreConnection;

  constructor(conn: StoreConnection) {
    this.#conn = conn;
  }

  /** Inserts the identity's NiPoST; a second one is a `"duplicate"` {@link StorageError}. */
  async add(nodeId: Uint8Array, nipost: StoredNipost, options: AbortOptions = {}): Promise<void> {
    const row = {
      id: hashParam(nodeId, "nodeId"),
      post_nonce: u32Param(nipost.post.nonce, "nipost.post.nonce"),
      post_indices: bytesParam(nipost.post.indices, "nipost.post.indices"),
      post_pow: u64Param(nipost.post.pow, "nipost.post.pow"),
      num_units: u32Param(nipost.numUnits, "nipost.numUnits"),
      vrf_nonce: u64Param(nipost.vrfNonce, "nipost.vrfNonce"),
      poet_proof_membership: membershipParam(nipost.membership, "nipost.membership"),
      poet_proof_ref: hashParam(nipost.poetProofRef, "nipost.poetProofRef"),
      labels_per_unit: u64Param(nipost.labelsPerUnit, "nipost.labelsPerUnit"),
    };
    const identity = toHex(nodeId);
    await this.#conn.write(
      options.signal,
      { table: TABLE, identity },
      async (db) => {
        const existing = await db
          .selectFrom(TABLE)
          .select("id")
          .where("id", "=", nodeId)
          .executeTakeFirst();
        if (existing) {
          throw new StorageError("the identity already has a NiPoST", {
            kind: "duplicate",
            table: TABLE,
            identity,
          });
        }
        await db.insertInto(TABLE).values(row).execute();
      },
      { plain: true },
    );
  }

  /** The identity's NiPoST, or `undefined`. */
  async get(nodeId: Uint8Array, options: AbortOptions = {}): Promise<NipostRecord | undefined> {
    hashParam(nodeId, "nodeId");
    return this.#conn.read(
      options.signal,
      { table: TABLE, identity: toHex(nodeId) },
      async (db) => {
        const row = await db
          .selectFrom(TABLE)
          .selectAll()
          .where("id", "=", nodeId)
          .executeTakeFirst();
        return row === undefined ? undefined : decodeNipostRow(row);
      },
    );
  }

  /** Every NiPoST row. */
  async list(options: AbortOptions = {}): Promise<NipostRecord[]> {
    return this.#conn.read(options.signal, { table: TABLE }, async (db) => {
      const rows = await db.selectFrom(TABLE).selectAll().orderBy("id").execute();
      return rows.map(decodeNipostRow);
    });
  }

  /** Deletes the identity's NiPoST. Returns whether it existed. */
  async delete(nodeId: Uint8Array, options: AbortOptions = {}): Promise<boolean> {
    hashParam(nodeId, "nodeId");
    return this.#conn.write(
      options.signal,
      { table: TABLE, identity: toHex(nodeId) },
      async (db) => {
        const result = await db.deleteFrom(TABLE).where("id", "=", nodeId).executeTakeFirst();
        return result.numDeletedRows > 0n;
      },
    );
  }
}
