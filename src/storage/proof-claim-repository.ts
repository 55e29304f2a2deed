/**
 * @module storage/proof-claim-repository
 *
 * One proof download per PoET and round for a whole fleet: a claim per `(poet, round)` in our own
 * `poet_client_proof_claim` table (docs/operator-guide.md, "Running a fleet"). The worker that
 * needs a round's proof first claims it; the claim holder downloads, verifies and stores the proof
 * and member list (`verified-proof-repository.ts`, `member-list-repository.ts`) and then marks the
 * claim finished; the other workers on the same state wait for the stored result instead of
 * downloading it too. A claim expires like a lease (clock-based, from the caller's clock): the
 * holder renews it while it works, and when it stops renewing (the process died) the next worker
 * that asks takes it over with a higher token.
 *
 * A claim's **outcome**: `"open"` while its holder works on it; `"stored"` once the proof and its
 * member list are in the store; `"not-stored"` when the holder got the proof but could not share
 * it (a member list the store could not take, or a final failure such as an invalid proof): each
 * worker then downloads for itself, as without claims; `"released"` when the holder gave it up without a
 * result (no proof before its deadline, or it closed): the next worker to ask takes it. A
 * `"stored"` claim can be claimed again, by a worker that finds the stored rows gone (pruned, or
 * dropped as damaged).
 *
 * The store never reads a clock; every instant comes from the caller. The claim is taken with a
 * compare-and-set on the token, so it is safe on PostgreSQL with several processes writing at once
 * as well as on SQLite, whose writes are serialised anyway. Claims are no identity's rows: they
 * are not fenced by the identity leases, not copied by `copyNodeState`, and safe to delete.
 */
import type { AbortOptions } from "../abort-options.js";
import { ConfigError } from "../errors.js";
import {
  type ColumnPlace,
  corrupt,
  readText,
  readU64,
  readUnixMillis,
  textParam,
  u64Param,
  unixMillisParam,
} from "./columns.js";
import type { StoreConnection } from "./store-connection.js";

const TABLE = "poet_client_proof_claim";

/** Where a claim stands; see the module notes. */
export type ProofClaimOutcome = "open" | "stored" | "not-stored" | "released";

const OUTCOMES: readonly ProofClaimOutcome[] = ["open", "stored", "not-stored", "released"];

/** One PoET round's claim as the store holds it. */
export interface ProofClaim {
  /** The PoET's normalised address. */
  poet: string;
  roundId: string;
  /** Who holds (or last held) it: the worker's lease holder string. */
  holder: string;
  /** Grows with every claim by a new holder (u64, ≥ 1). */
  token: bigint;
  /** When this holder claimed it (the holder's clock). */
  claimedAt: Date;
  /** Until when the holder is trusted to be working on it. */
  expiresAt: Date;
  outcome: ProofClaimOutcome;
}

/** What a claim needs. */
export interface ProofClaimOptions extends AbortOptions {
  /** Who asks; non-empty. */
  holder: string;
  /** Now, from the caller's clock. */
  at: Date;
  /** How long the claim lasts from `at`, in ms (a positive integer). */
  ttlMs: number;
}

/** The answer to {@link ProofClaimRepository.claim}. */
export type ProofClaimResult =
  | {
      granted: true;
      /** Ours now: download, store, then {@link ProofClaimRepository.finish}. */
      claim: ProofClaim;
      /**
       * The claim this one replaced: an expired `"open"` claim (its holder died), a `"released"`
       * one, or a `"stored"` one.
       */
      previous: ProofClaim | undefined;
    }
  | {
      granted: false;
      /** The claim of the holder that has it (`"open"`), or a `"not-stored"` one. */
      current: ProofClaim;
    };

/** A raw row. */
export interface ProofClaimRow {
  address: unknown;
  round_id: unknown;
  holder: unknown;
  token: unknown;
  claimed_at: unknown;
  expires_at: unknown;
  outcome: unknown;
}

/** Checks and decodes a raw row (a bad value is a `"corrupt"` `StorageError`). */
export function decodeProofClaimRow(row: ProofClaimRow): ProofClaim {
  const at = (column: string): ColumnPlace => ({ table: TABLE, column });
  const outcome = readText(row.outcome, at("outcome"));
  if (!(OUTCOMES as readonly string[]).includes(outcome)) {
    throw corrupt(at("outcome"), `"${outcome}" is not one of ${OUTCOMES.join(", ")}`);
  }
  return {
    poet: readText(row.address, at("address")),
    roundId: readText(row.round_id, at("round_id")),
    holder: readText(row.holder, at("holder")),
    token: readU64(row.token, at("token")),
    claimedAt: readUnixMillis(row.claimed_at, at("claimed_at")),
    expiresAt: readUnixMillis(row.expires_at, at("expires_at")),
    outcome: outcome as ProofClaimOutcome,
  };
}

function ttlParam(ttlMs: number): number {
  if (!Number.isSafeInteger(ttlMs) || ttlMs <= 0) {
    throw new ConfigError("claim.ttlMs", `must be a positive integer number of ms, got ${ttlMs}`);
  }
  return ttlMs;
}

/**
 * The proof-download claims of the node state's PoET rounds. `state.proofClaims` of a node state.
 *
 * @example
 * ```ts
 * const got = await state.proofClaims.claim(poet, "30", {
 *   holder: manager.leaseHolder,
 *   at: new Date(clock.now()),
 *   ttlMs: 30_000,
 * });
 * if (got.granted) {
 *   // download, verify and store the proof and its members, renewing while it takes, then:
 *   await state.proofClaims.finish(got.claim, "stored");
 * } else {
 *   // wait for `state.members.get(poet, "30")`, or claim again after got.current.expiresAt
 * }
 * ```
 */
export class ProofClaimRepository {
  readonly #conn: StoreConnection;

  constructor(conn: StoreConnection) {
    this.#conn = conn;
  }

  /**
   * Claims the round's download when nobody has it, its holder's claim expired (`expiresAt <=
   * at`) or was released, it is already ours, or it is `"stored"` (the caller found the stored
   * rows gone).
   * Otherwise answers with the current claim: a live one of another holder, or a `"not-stored"`
   * one (download for yourself).
   */
  async claim(
    poet: string,
    roundId: string,
    options: ProofClaimOptions,
  ): Promise<ProofClaimResult> {
    const address = textParam(poet, "claim.poet");
    const round = textParam(roundId, "claim.roundId");
    const holder = textParam(options.holder, "claim.holder");
    const ttlMs = ttlParam(options.ttlMs);
    const at = options.at;
    const atMs = unixMillisParam(at, "claim.at");
    const expiresAt = new Date(at.getTime() + ttlMs);
    const expiresMs = unixMillisParam(expiresAt, "claim.at");
    return this.#conn.write(options.signal, { table: TABLE }, async (db) => {
      const read = async () => {
        const row = await db
          .selectFrom(TABLE)
          .selectAll()
          .where("address", "=", address)
          .where("round_id", "=", round)
          .executeTakeFirst();
        return row === undefined ? undefined : decodeProofClaimRow(row);
      };
      const current = await read();
      if (current === undefined) {
        const inserted = await db
          .insertInto(TABLE)
          .values({
            address,
            round_id: round,
            holder,
            token: u64Param(1n, "claim.token"),
            claimed_at: atMs,
            expires_at: expiresMs,
            outcome: "open",
          })
          .onConflict((oc) => oc.columns(["address", "round_id"]).doNothing())
          .executeTakeFirst();
        if (inserted.numInsertedOrUpdatedRows === 0n) {
          // Another worker inserted it just before us.
          return { granted: false, current: (await read()) as ProofClaim } as const;
        }
        const claim: ProofClaim = {
          poet: address,
          roundId: round,
          holder,
          token: 1n,
          claimedAt: at,
          expiresAt,
          outcome: "open",
        };
        return { granted: true, claim, previous: undefined } as const;
      }
      if (current.outcome === "open" && current.holder === holder) {
        await db
          .updateTable(TABLE)
          .set({ expires_at: expiresMs })
          .where("address", "=", address)
          .where("round_id", "=", round)
          .where("token", "=", u64Param(current.token, "claim.token"))
          .execute();
        return { granted: true, claim: { ...current, expiresAt }, previous: undefined } as const;
      }
      const free =
        current.outcome === "stored" ||
        current.outcome === "released" ||
        (current.outcome === "open" && current.expiresAt.getTime() <= at.getTime());
      if (!free) return { granted: false, current } as const;
      const token = current.token + 1n;
      const updated = await db
        .updateTable(TABLE)
        .set({
          holder,
          token: u64Param(token, "claim.token"),
          claimed_at: atMs,
          expires_at: expiresMs,
          outcome: "open",
        })
        .where("address", "=", address)
        .where("round_id", "=", round)
        .where("token", "=", u64Param(current.token, "claim.token"))
        .executeTakeFirst();
      if (updated.numUpdatedRows === 0n) {
        // Another worker took it between our read and our write.
        return { granted: false, current: (await read()) ?? current } as const;
      }
      const claim: ProofClaim = {
        poet: address,
        roundId: round,
        holder,
        token,
        claimedAt: at,
        expiresAt,
        outcome: "open",
      };
      return { granted: true, claim, previous: current } as const;
    });
  }

  /**
   * Extends our open claim to `at + ttlMs`. Returns the renewed claim, or `undefined` when it is
   * no longer ours (another holder took it over, or it was finished).
   */
  async renew(
    claim: ProofClaim,
    options: { at: Date; ttlMs: number } & AbortOptions,
  ): Promise<ProofClaim | undefined> {
    const expiresAt = new Date(options.at.getTime() + ttlParam(options.ttlMs));
    const expiresMs = unixMillisParam(expiresAt, "claim.at");
    const changed = await this.#update(claim, { expires_at: expiresMs }, options);
    return changed ? { ...claim, expiresAt } : undefined;
  }

  /**
   * Marks our open claim finished: `"stored"` (the others read the stored rows) or `"not-stored"`
   * (the others download for themselves). Returns whether the claim was still ours.
   */
  async finish(
    claim: ProofClaim,
    outcome: Exclude<ProofClaimOutcome, "open">,
    options: AbortOptions = {},
  ): Promise<boolean> {
    return this.#update(claim, { outcome }, options);
  }

  /**
   * Gives our open claim up without a result (the PoET did not answer in time; we are closing):
   * it is marked `"released"` and expires at `at`, so that the next worker that asks takes it at
   * once. Returns whether it was still ours.
   */
  async release(claim: ProofClaim, options: { at: Date } & AbortOptions): Promise<boolean> {
    const atMs = unixMillisParam(options.at, "claim.at");
    return this.#update(claim, { expires_at: atMs, outcome: "released" }, options);
  }

  /** The round's claim, or `undefined`. */
  async get(
    poet: string,
    roundId: string,
    options: AbortOptions = {},
  ): Promise<ProofClaim | undefined> {
    return this.#conn.read(options.signal, { table: TABLE }, async (db) => {
      if (!this.#conn.hasOwnTable(TABLE)) return undefined;
      const row = await db
        .selectFrom(TABLE)
        .selectAll()
        .where("address", "=", poet)
        .where("round_id", "=", roundId)
        .executeTakeFirst();
      return row === undefined ? undefined : decodeProofClaimRow(row);
    });
  }

  /** Every claim, ordered by PoET and round. */
  async list(options: AbortOptions = {}): Promise<ProofClaim[]> {
    return this.#conn.read(options.signal, { table: TABLE }, async (db) => {
      if (!this.#conn.hasOwnTable(TABLE)) return [];
      const rows = await db
        .selectFrom(TABLE)
        .selectAll()
        .orderBy("address")
        .orderBy("round_id")
        .execute();
      return rows.map(decodeProofClaimRow);
    });
  }

  /** Deletes the claims made before `before` (their rounds' proofs are of no use any more). */
  async pruneClaimedBefore(before: Date, options: AbortOptions = {}): Promise<number> {
    const limit = unixMillisParam(before, "before");
    return this.#conn.write(options.signal, { table: TABLE }, async (db) => {
      const result = await db.deleteFrom(TABLE).where("claimed_at", "<", limit).executeTakeFirst();
      return Number(result.numDeletedRows);
    });
  }

  /** Updates our open claim (same holder and token); whether it was still ours. */
  async #update(
    claim: ProofClaim,
    set: { expires_at?: bigint; outcome?: string },
    options: AbortOptions,
  ): Promise<boolean> {
    return this.#conn.write(options.signal, { table: TABLE }, async (db) => {
      const result = await db
        .updateTable(TABLE)
        .set(set)
        .where("address", "=", claim.poet)
        .where("round_id", "=", claim.roundId)
        .where("holder", "=", claim.holder)
        .where("token", "=", u64Param(claim.token, "claim.token"))
        .where("outcome", "=", "open")
        .executeTakeFirst();
      return result.numUpdatedRows > 0n;
    });
  }
}
