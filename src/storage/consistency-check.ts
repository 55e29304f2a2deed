/**
 * @module storage/consistency-check
 *
 * Checks that go-spacemesh does not make (docs/node-client.md §4, §8). The Go node never compares a
 * `poet_registration.hash` with the identity's current challenge, and reuses any `nipost` row it
 * finds, so state left behind by a crash or by an operator's partial `delete` silently costs one or
 * two epochs, or produces an ATX for the wrong PoET ref. Here every row is bound to the challenge
 * it was made for:
 *
 * - `registration-hash-mismatch`: a registration whose hash is not the current challenge's;
 * - `registration-without-challenge`: a registration of an identity that has no challenge;
 * - `nipost-ref-mismatch`: a NiPoST whose PoET ref is not the one stored with the challenge;
 * - `nipost-without-challenge`: a NiPoST of an identity that has no challenge;
 * - `intent-without-challenge`: a submit intent of an identity that has no challenge;
 * - `intent-hash-mismatch`: a submit intent for another challenge than the current one;
 * - `corrupt-row`: a row whose values do not decode (wrong length, bad SCALE, wrong type), in any
 *   table the library has: go-spacemesh's four and our own (verified proofs, whose bytes must also
 *   hash to their ref; member lists, with every chunk of theirs; submit intents).
 *
 * Every row of every table is read and decoded. Our cache tables (proofs, member lists) hold
 * nothing that cannot be downloaded again, so deleting a damaged row there costs a download.
 *
 * {@link NodeState.check} only reports; {@link NodeState.repair} deletes the offending rows in one
 * transaction, which is what the registration manager calls before resuming. The current
 * challenge's hash is the one recorded with the row; for rows go-spacemesh wrote it is computed
 * from the row (`challenge-hash.ts`), or by the caller's `challengeHash`.
 */

import { setImmediate as yieldToEventLoop } from "node:timers/promises";
import type { Kysely } from "kysely";
import type { AbortOptions } from "../abort-options.js";
import { equalBytes, toHex } from "../bytes.js";
import { StorageError } from "../errors.js";
import { decodeCertificateRow } from "./certificate-repository.js";
import { computedChallengeHash } from "./challenge-hash.js";
import {
  type ChallengeRecord,
  decodeChallengeRow,
  type NipostChallenge,
  selectChallengeRows,
} from "./challenge-repository.js";

import {
  assembleMemberList,
  decodeMemberListHeader,
  selectChunk,
} from "./member-list-repository.js";
import { decodeNipostRow } from "./nipost-repository.js";
import { decodeProofClaimRow } from "./proof-claim-repository.js";
import { decodeRegistrationRow } from "./registration-repository.js";
import type { NodeStateTables } from "./schema.js";
import { decodeLeaseRow } from "./sqlite-lease-repository.js";
import type { StoreConnection } from "./store-connection.js";
import { decodeSubmitIntentRow } from "./submit-intent-repository.js";
import { decodeVerifiedProofRow } from "./verified-proof-repository.js";

/** What is inconsistent. */
export type InconsistencyKind =
  | "registration-hash-mismatch"
  | "registration-without-challenge"
  | "nipost-ref-mismatch"
  | "nipost-without-challenge"
  | "intent-without-challenge"
  | "intent-hash-mismatch"
  | "corrupt-row";

/** One inconsistency found by {@link NodeState.check}. */
export interface Inconsistency {
  kind: InconsistencyKind;
  /** The table of the offending row. */
  table:
    | "challenge"
    | "poet_registration"
    | "nipost"
    | "poet_certificates"
    | "poet_client_proof"
    | "poet_client_members"
    | "poet_client_submit_intent"
    | "poet_client_lease"
    | "poet_client_proof_claim";
  /**
   * The identity the row belongs to (the raw id bytes, even when they are not 32 long); empty for
   * the rows of a cache shared by every identity (`poet_client_proof`, `poet_client_members`) and
   * for proof-download claims (`poet_client_proof_claim`).
   */
  nodeId: Uint8Array;
  /** Hex of `nodeId`. */
  identity: string;
  /** The PoET address, for registration, intent, proof and member-list rows. */
  address: string | undefined;
  /** What is wrong, in words. */
  detail: string;
}

/** Options of {@link NodeState.check}. */
export interface CheckOptions {
  /**
   * Computes the hash of a challenge whose hash was not recorded by this library (a row written
   * by go-spacemesh). Default: BLAKE3(0x00 ‖ SCALE(NIPostChallengeV1)) of the row, or the V2 hash
   * when that is the one the identity's registrations hold; when they hold neither, such
   * registrations are not compared.
   */
  challengeHash?: ((challenge: NipostChallenge) => Uint8Array) | undefined;
  signal?: AbortSignal | undefined;
}

// The exact key values of each reported row, so that repair deletes that row even when its key
// columns hold something other than what the domain types describe.
const rowKeys = new WeakMap<Inconsistency, Record<string, unknown>>();

function asBytes(value: unknown): Uint8Array {
  if (value instanceof Uint8Array) return new Uint8Array(value);
  if (typeof value === "string") return new TextEncoder().encode(value);
  return new Uint8Array();
}

function report(
  found: Inconsistency[],
  kind: InconsistencyKind,
  table: Inconsistency["table"],
  key: Record<string, unknown>,
  idColumn: string,
  detail: string,
): void {
  const nodeId = idColumn === "" ? new Uint8Array() : asBytes(key[idColumn]);
  const address = typeof key.address === "string" ? key.address : undefined;
  const item: Inconsistency = { kind, table, nodeId, identity: toHex(nodeId), address, detail };
  rowKeys.set(item, key);
  found.push(item);
}

function corruptDetail(err: unknown): string {
  if (err instanceof StorageError && err.kind === "corrupt") return err.message;
  throw err;
}

/** Reports every inconsistency between the rows of the node state. */
export async function checkNodeState(
  conn: StoreConnection,
  options: CheckOptions = {},
): Promise<Inconsistency[]> {
  return conn.snapshot(options.signal, {}, async (db) => {
    const found: Inconsistency[] = [];
    const challenges = new Map<string, ChallengeRecord>();
    const corruptChallenges = new Set<string>();

    for (const row of await selectChallengeRows(
      db,
      conn.hasOwnTable("poet_client_challenge"),
    ).execute()) {
      try {
        const record = decodeChallengeRow(row);
        challenges.set(toHex(record.nodeId), record);
      } catch (err) {
        const detail = corruptDetail(err);
        report(found, "corrupt-row", "challenge", { id: row.id }, "id", detail);
        corruptChallenges.add(toHex(asBytes(row.id)));
      }
    }

    const registrationRows = await db.selectFrom("poet_registration").selectAll().execute();
    // A row without a recorded hash gets the one computed from its columns (challenge-hash.ts),
    // decided by the hashes its identity's registrations hold.
    const registered = new Map<string, Uint8Array[]>();
    for (const row of registrationRows) {
      if (!(row.id instanceof Uint8Array) || !(row.hash instanceof Uint8Array)) continue;
      const identity = toHex(row.id);
      registered.set(identity, [...(registered.get(identity) ?? []), row.hash]);
    }
    const hashes = new Map<string, Uint8Array | undefined>();
    const currentHash = (identity: string, challenge: ChallengeRecord) => {
      if (!hashes.has(identity)) {
        hashes.set(
          identity,
          challenge.hash ??
            options.challengeHash?.(challenge.challenge) ??
            computedChallengeHash(challenge.challenge, registered.get(identity) ?? []),
        );
      }
      return hashes.get(identity);
    };

    for (const row of registrationRows) {
      const key = { id: row.id, address: row.address };
      let registration: ReturnType<typeof decodeRegistrationRow>;
      try {
        registration = decodeRegistrationRow(row);
      } catch (err) {
        report(found, "corrupt-row", "poet_registration", key, "id", corruptDetail(err));
        continue;
      }
      const identity = toHex(registration.nodeId);
      if (corruptChallenges.has(identity)) continue;
      const challenge = challenges.get(identity);
      if (challenge === undefined) {
        report(
          found,
          "registration-without-challenge",
          "poet_registration",
          key,
          "id",
          `registered with ${registration.address} (round ${registration.roundId}) but the identity has no challenge`,
        );
        continue;
      }
      const hash = currentHash(identity, challenge);
      if (hash !== undefined && !equalBytes(hash, registration.hash)) {
        report(
          found,
          "registration-hash-mismatch",
          "poet_registration",
          key,
          "id",
          `registered challenge ${toHex(registration.hash)} with ${registration.address}, but the current challenge is ${toHex(hash)}`,
        );
      }
    }

    for (const row of await db.selectFrom("nipost").selectAll().execute()) {
      const key = { id: row.id };
      let nipost: ReturnType<typeof decodeNipostRow>;
      try {
        nipost = decodeNipostRow(row);
      } catch (err) {
        report(found, "corrupt-row", "nipost", key, "id", corruptDetail(err));
        continue;
      }
      const identity = toHex(nipost.nodeId);
      if (corruptChallenges.has(identity)) continue;
      const challenge = challenges.get(identity);
      if (challenge === undefined) {
        report(
          found,
          "nipost-without-challenge",
          "nipost",
          key,
          "id",
          `NiPoST for PoET ref ${toHex(nipost.poetProofRef)} but the identity has no challenge`,
        );
      } else if (
        challenge.poetProofRef === undefined ||
        !equalBytes(challenge.poetProofRef, nipost.poetProofRef)
      ) {
        const expected =
          challenge.poetProofRef === undefined
            ? "no selected proof"
            : toHex(challenge.poetProofRef);
        report(
          found,
          "nipost-ref-mismatch",
          "nipost",
          key,
          "id",
          `NiPoST for PoET ref ${toHex(nipost.poetProofRef)}, but the challenge has ${expected}`,
        );
      }
    }

    for (const row of await db.selectFrom("poet_certificates").selectAll().execute()) {
      try {
        decodeCertificateRow(row);
      } catch (err) {
        const key = { node_id: row.node_id, certifier_id: row.certifier_id };
        report(found, "corrupt-row", "poet_certificates", key, "node_id", corruptDetail(err));
      }
    }

    if (conn.hasOwnTable("poet_client_submit_intent")) {
      for (const row of await db.selectFrom("poet_client_submit_intent").selectAll().execute()) {
        const key = { id: row.id, address: row.address };
        let intent: ReturnType<typeof decodeSubmitIntentRow>;
        try {
          intent = decodeSubmitIntentRow(row);
        } catch (err) {
          report(found, "corrupt-row", "poet_client_submit_intent", key, "id", corruptDetail(err));
          continue;
        }
        const identity = toHex(intent.nodeId);
        if (corruptChallenges.has(identity)) continue;
        const challenge = challenges.get(identity);
        const where = `${intent.address} (round ${intent.roundId})`;
        if (challenge === undefined) {
          report(
            found,
            "intent-without-challenge",
            "poet_client_submit_intent",
            key,
            "id",
            `a submit intent at ${where} but the identity has no challenge`,
          );
          continue;
        }
        const hash = currentHash(identity, challenge);
        if (hash !== undefined && !equalBytes(hash, intent.hash)) {
          report(
            found,
            "intent-hash-mismatch",
            "poet_client_submit_intent",
            key,
            "id",
            `a submit intent of challenge ${toHex(intent.hash)} at ${where}, but the current challenge is ${toHex(hash)}`,
          );
        }
      }
    }

    // The caches: each row is read and decoded on its own (a proof or a member list can be
    // megabytes), with a turn of the event loop between rows.
    if (conn.hasOwnTable("poet_client_proof")) {
      const keys = await db
        .selectFrom("poet_client_proof")
        .select(["ref", "address", "round_id"])
        .execute();
      for (const k of keys) {
        await yieldToEventLoop();
        const row = await db
          .selectFrom("poet_client_proof")
          .selectAll()
          .where("ref", "=", k.ref as Uint8Array)
          .executeTakeFirst();
        if (row === undefined) continue;
        try {
          decodeVerifiedProofRow(row);
        } catch (err) {
          const key = { ref: row.ref, address: row.address, round_id: row.round_id };
          report(found, "corrupt-row", "poet_client_proof", key, "", corruptDetail(err));
        }
      }
    }
    if (conn.hasOwnTable("poet_client_members")) {
      const keys = await db
        .selectFrom("poet_client_members")
        .select(["address", "round_id"])
        .execute();
      for (const k of keys) {
        await yieldToEventLoop();
        const row = await db
          .selectFrom("poet_client_members")
          .selectAll()
          .where("address", "=", k.address as string)
          .where("round_id", "=", k.round_id as string)
          .executeTakeFirst();
        if (row === undefined) continue;
        try {
          // The list's row and then its chunks, one at a time (a mainnet list is 92 of them).
          const header = decodeMemberListHeader(row);
          const chunks = conn.hasOwnTable("poet_client_member_chunk");
          await assembleMemberList(
            header,
            (i, offset, length) =>
              selectChunk(db, header, i, offset, length, chunks, conn.blobAsBase64),
            conn.blobReadBytes,
          );
        } catch (err) {
          const key = { address: row.address, round_id: row.round_id };
          report(found, "corrupt-row", "poet_client_members", key, "", corruptDetail(err));
        }
      }
    }
    // Leases: a row that does not decode is reported; deleting it frees the identity for the
    // next acquisition (a holder's fence names its own holder string, so it cannot match).
    if (conn.hasOwnTable("poet_client_lease")) {
      for (const row of await db.selectFrom("poet_client_lease").selectAll().execute()) {
        try {
          decodeLeaseRow(row);
        } catch (err) {
          report(
            found,
            "corrupt-row",
            "poet_client_lease",
            { id: row.id },
            "id",
            corruptDetail(err),
          );
        }
      }
    }
    // Proof-download claims: a row that does not decode is reported; deleting it lets the next
    // worker claim the round (a claim is no result, only who fetches it).
    if (conn.hasOwnTable("poet_client_proof_claim")) {
      for (const row of await db.selectFrom("poet_client_proof_claim").selectAll().execute()) {
        try {
          decodeProofClaimRow(row);
        } catch (err) {
          const key = { address: row.address, round_id: row.round_id };
          report(found, "corrupt-row", "poet_client_proof_claim", key, "", corruptDetail(err));
        }
      }
    }
    return found;
  });
}

async function deleteRow(
  db: Kysely<NodeStateTables>,
  item: Inconsistency,
  key: Record<string, unknown>,
): Promise<bigint> {
  // Keys are bound exactly as they were read: a corrupt key is still the row's key.
  const raw = (name: string) => key[name] as Uint8Array;
  switch (item.table) {
    case "poet_registration": {
      const result = await db
        .deleteFrom("poet_registration")
        .where("id", "=", raw("id"))
        .where("address", "=", key.address as string)
        .executeTakeFirst();
      return result.numDeletedRows;
    }
    case "nipost": {
      const result = await db.deleteFrom("nipost").where("id", "=", raw("id")).executeTakeFirst();
      return result.numDeletedRows;
    }
    case "challenge": {
      await db.deleteFrom("poet_client_challenge").where("id", "=", raw("id")).execute();
      const result = await db
        .deleteFrom("challenge")
        .where("id", "=", raw("id"))
        .executeTakeFirst();
      return result.numDeletedRows;
    }
    case "poet_certificates": {
      const result = await db
        .deleteFrom("poet_certificates")
        .where("node_id", "=", raw("node_id"))
        .where("certifier_id", "=", raw("certifier_id"))
        .executeTakeFirst();
      return result.numDeletedRows;
    }
    case "poet_client_submit_intent": {
      const result = await db
        .deleteFrom("poet_client_submit_intent")
        .where("id", "=", raw("id"))
        .where("address", "=", key.address as string)
        .executeTakeFirst();
      return result.numDeletedRows;
    }
    case "poet_client_proof": {
      if (key.ref === undefined) {
        const result = await db
          .deleteFrom("poet_client_proof")
          .where("address", "=", key.address as string)
          .where("round_id", "=", key.round_id as string)
          .executeTakeFirst();
        return result.numDeletedRows;
      }
      const result = await db
        .deleteFrom("poet_client_proof")
        .where("ref", "=", raw("ref"))
        .executeTakeFirst();
      return result.numDeletedRows;
    }
    case "poet_client_members": {
      const result = await db
        .deleteFrom("poet_client_members")
        .where("address", "=", key.address as string)
        .where("round_id", "=", key.round_id as string)
        .executeTakeFirst();
      // Its chunks go with it (counted as the one list they make).
      await db
        .deleteFrom("poet_client_member_chunk")
        .where("address", "=", key.address as string)
        .where("round_id", "=", key.round_id as string)
        .execute();
      return result.numDeletedRows;
    }
    case "poet_client_lease": {
      const result = await db
        .deleteFrom("poet_client_lease")
        .where("id", "=", raw("id"))
        .executeTakeFirst();
      return result.numDeletedRows;
    }
    case "poet_client_proof_claim": {
      const result = await db
        .deleteFrom("poet_client_proof_claim")
        .where("address", "=", key.address as string)
        .where("round_id", "=", key.round_id as string)
        .executeTakeFirst();
      return result.numDeletedRows;
    }
  }
}

/**
 * Deletes the rows behind `inconsistencies` (as returned by {@link NodeState.check}) in one
 * transaction and returns how many rows were deleted. Stale registrations and NiPoSTs are
 * deleted; so are rows that do not decode.
 */
export async function repairNodeState(
  conn: StoreConnection,
  inconsistencies: readonly Inconsistency[],
  options: AbortOptions = {},
): Promise<number> {
  return conn.write(options.signal, {}, async (db) => {
    let deleted = 0n;
    for (const item of inconsistencies) {
      const key =
        rowKeys.get(item) ??
        (item.table === "poet_registration" || item.table === "poet_client_submit_intent"
          ? { id: item.nodeId, address: item.address }
          : item.table === "poet_certificates"
            ? { node_id: item.nodeId }
            : { id: item.nodeId });
      if (
        (item.table === "poet_client_proof" ||
          item.table === "poet_client_members" ||
          item.table === "poet_client_proof_claim") &&
        !rowKeys.has(item)
      ) {
        // A cache row reported elsewhere: its round is not known, so it is left alone.
        continue;
      }
      if (item.table === "poet_certificates" && key.certifier_id === undefined) {
        const result = await db
          .deleteFrom("poet_certificates")
          .where("node_id", "=", item.nodeId)
          .executeTakeFirst();
        deleted += result.numDeletedRows;
        continue;
      }
      deleted += await deleteRow(db, item, key);
    }
    return Number(deleted);
  });
}
