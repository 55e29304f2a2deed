/**
 * @module storage/schema
 *
 * The kysely table types of the node state database: the four go-spacemesh tables the PoET client
 * shares with the Go node (docs/node-client.md §1.4, §1.8, §2.6) and the library's own
 * `poet_client_*` tables beside them.
 *
 * Every selected column is typed `unknown` on purpose: a row may have been written by go-spacemesh,
 * by an operator in `sqlite3`, or be damaged, so the repositories check each value through
 * `columns.ts` before it becomes a domain value. Insert and update types are the exact SQLite
 * types Go binds (BLOB as `Uint8Array`, INTEGER as `bigint`, TEXT as `string`).
 */
import type { ColumnType } from "kysely";

type Blob = ColumnType<unknown, Uint8Array, Uint8Array>;
type NullableBlob = ColumnType<unknown, Uint8Array | null, Uint8Array | null>;
type Int = ColumnType<unknown, bigint, bigint>;
type NullableInt = ColumnType<unknown, bigint | null, bigint | null>;
type Text = ColumnType<unknown, string, string>;

/** go-spacemesh `challenge`: one NiPoST challenge per identity, plus the selected proof. */
export interface ChallengeTable {
  id: Blob;
  epoch: Int;
  sequence: Int;
  prev_atx: Blob;
  pos_atx: Blob;
  commit_atx: NullableBlob;
  post_nonce: NullableInt;
  post_indices: NullableBlob;
  post_pow: NullableInt;
  poet_proof_ref: NullableBlob;
  poet_proof_membership: NullableBlob;
}

/** go-spacemesh `poet_registration`: one row per identity and PoET that accepted it. */
export interface PoetRegistrationTable {
  id: Blob;
  hash: Blob;
  address: Text;
  round_id: Text;
  round_end: Int;
}

/** go-spacemesh `nipost`: the result of the post step. */
export interface NipostTable {
  id: Blob;
  post_nonce: Int;
  post_indices: Blob;
  post_pow: Int;
  num_units: Int;
  vrf_nonce: Int;
  poet_proof_membership: Blob;
  poet_proof_ref: Blob;
  labels_per_unit: Int;
}

/** go-spacemesh `poet_certificates`: certifier certificates per identity and certifier key. */
export interface PoetCertificatesTable {
  node_id: Blob;
  certifier_id: Blob;
  certificate: Blob;
  signature: Blob;
}

/** Ours: the hash of the challenge row as this library registered it. */
export interface PoetClientChallengeTable {
  id: Blob;
  hash: Blob;
  /** Digest of the challenge row's columns when `hash` was recorded; a mismatch means "unknown". */
  fingerprint: Blob;
}

/** Ours: proofs that passed verification, keyed by their ref. */
export interface PoetClientProofTable {
  ref: Blob;
  proof: Blob;
  leaves: Int;
  address: Text;
  round_id: Text;
  service_pubkey: Blob;
  statement: Blob;
  verified_at: Int;
}

/**
 * Ours: downloaded member lists per PoET and round, one row each (`member-list-repository.ts`).
 * The members are `members` (rows of earlier releases hold them all there) followed by the chunks
 * of `generation` in `poet_client_member_chunk`.
 */
export interface PoetClientMembersTable {
  address: Text;
  round_id: Text;
  member_count: Int;
  members: Blob;
  statement: NullableBlob;
  fetched_at: Int;
  /** Which chunks hold the rest of the members; `NULL` in rows of earlier releases. */
  generation: NullableInt;
  /** How many chunks (0 in rows of earlier releases). */
  chunk_count: Int;
  /** The bytes of `members` and every chunk together; `NULL` in rows of earlier releases. */
  byte_count: NullableInt;
  /** 32 when the members are packed back to back; `NULL` when each has its 4-byte length. */
  member_size: NullableInt;
}

/** Ours: a piece of a stored member list (at most `MEMBER_CHUNK_BYTES`, `member-list-repository.ts`). */
export interface PoetClientMemberChunkTable {
  address: Text;
  round_id: Text;
  generation: Int;
  /** 0, 1, … in the order of the members. */
  chunk: Int;
  bytes: Blob;
  /** The list's `fetched_at`, so that pruning finds the chunks of a list never completed too. */
  fetched_at: Int;
}

/** Ours: each identity's lease (one worker per identity, `lease-repository.ts`). */
export interface PoetClientLeaseTable {
  id: Blob;
  holder: Text;
  /** The fencing token, a u64 stored as int64. */
  token: Int;
  /** Unix ms, from the holder's clock. */
  acquired_at: Int;
  renewed_at: Int;
  expires_at: Int;
  /** 1 once the holder released it. */
  released: Int;
}

/** Ours: a submit about to leave (or left) whose `poet_registration` row is not written yet. */
export interface PoetClientSubmitIntentTable {
  id: Blob;
  address: Text;
  hash: Blob;
  round_id: Text;
  /** The round end the schedule gives, unix ms. */
  round_end: Int;
  /** The submit's `deadline` (the round's proof deadline), unix ms. */
  proof_deadline: Int;
  created_at: Int;
}

/** Ours: who downloads a PoET round's proof for the whole fleet (`proof-claim-repository.ts`). */
export interface PoetClientProofClaimTable {
  address: Text;
  round_id: Text;
  holder: Text;
  /** Grows with every new holder, a u64 stored as int64. */
  token: Int;
  /** Unix ms, from the holder's clock. */
  claimed_at: Int;
  expires_at: Int;
  /** `open`, `stored`, `not-stored` or `released`. */
  outcome: Text;
}

/** All tables the library reads or writes. */
export interface NodeStateTables {
  challenge: ChallengeTable;
  poet_registration: PoetRegistrationTable;
  nipost: NipostTable;
  poet_certificates: PoetCertificatesTable;
  poet_client_challenge: PoetClientChallengeTable;
  poet_client_proof: PoetClientProofTable;
  poet_client_members: PoetClientMembersTable;
  poet_client_member_chunk: PoetClientMemberChunkTable;
  poet_client_lease: PoetClientLeaseTable;
  poet_client_submit_intent: PoetClientSubmitIntentTable;
  poet_client_proof_claim: PoetClientProofClaimTable;
}
