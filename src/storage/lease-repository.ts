/**
 * @module storage/lease-repository
 *
 * One worker per identity, across processes: a lease per identity in the node state
 * (docs/operator-guide.md, "One worker per identity"). The process that runs an identity holds its
 * lease and renews it; another process on the same state sees who holds it until when, and waits
 * for the lease to expire (or skips the identity) instead of submitting or running PoST a second
 * time. A holder that died stops renewing; once its lease expired, the next acquisition takes it
 * over with a higher fencing token.
 *
 * **Fencing.** A lease held through a repository fences the writes for its identity made through
 * the same state (the same connection): every such write first checks, in its own transaction,
 * that the lease row still names this holder and token, and a stale holder's write is refused with
 * a {@link LeaseLostError} before anything of it is written. The first refusal (or failed renewal)
 * marks the lease lost: every later write for the identity through that state is refused without
 * asking the database, and the lease's `onLost` callback runs once, so that the worker stops at
 * once. Writes for an identity this state holds no lease on are not fenced (a caller that uses the
 * node state without a manager, the CLI).
 *
 * **Time.** The store never reads a clock: every call gets the instant from the caller's
 * `Clock`. Expiry is therefore judged by the clocks of the processes that share the state.
 * Processes on one host share the clock. Processes on several hosts (a shared PostgreSQL) must keep
 * their clocks in step (NTP): the lease time must dwarf the clock skew, since a holder whose clock
 * runs behind believes in its lease for `skew` longer than another process does.
 *
 * **Tokens.** The fencing token of an identity only grows: each acquisition by a holder that does
 * not hold it now (first, after a release, after a takeover) writes the previous token plus one.
 * Renewing, or acquiring again a lease we still hold (live or expired but not taken), keeps it.
 * A release keeps the row (and so the token) and marks it released.
 *
 * This file is the dialect-neutral interface; `sqlite-lease-repository.ts` implements it for the
 * SQLite node state, the PostgreSQL state implements the same.
 */
import type { AbortOptions } from "../abort-options.js";
import type { LeaseLostError } from "../errors.js";

/** One identity's lease as the store holds it. */
export interface Lease {
  /** The identity (ed25519 public key, 32 bytes). */
  nodeId: Uint8Array;
  /**
   * Who holds (or last held) it: a string unique per process, readable by an operator, such as
   * `poet-client@host-1:4711:9f3a1c2e`.
   */
  holder: string;
  /** The fencing token: grows with every acquisition by a new holder (u64, ≥ 1). */
  token: bigint;
  /** When this holder acquired it (the holder's clock). */
  acquiredAt: Date;
  /** The last acquisition or renewal (the holder's clock). */
  renewedAt: Date;
  /** Until when it is held (a released lease keeps the expiry it had). */
  expiresAt: Date;
  /** Whether the holder gave it up ({@link LeaseRepository.release}). */
  released: boolean;
}

/** What an acquisition needs. */
export interface LeaseAcquireOptions {
  /** Who asks (see {@link Lease.holder}); non-empty, at most {@link MAX_LEASE_HOLDER_LENGTH} characters. */
  holder: string;
  /** Now, from the caller's clock. */
  at: Date;
  /** How long the lease lasts from `at`, in ms (a positive integer). */
  ttlMs: number;
  /**
   * Called once when the lease is found lost after it was granted: a fenced write or a renewal
   * found another holder, a newer token or a released row. Must not throw.
   */
  onLost?: ((error: LeaseLostError) => void) | undefined;
  signal?: AbortSignal | undefined;
}

/** The answer to {@link LeaseRepository.acquire}. */
export type LeaseAcquireResult =
  | {
      held: true;
      /** Our lease, now fencing the identity's writes through this state. */
      lease: Lease;
      /**
       * The expired lease of another holder that this acquisition took over, or `undefined` (the
       * identity was free, released, or already ours).
       */
      tookOver: Lease | undefined;
    }
  | {
      held: false;
      /** The live lease of the holder that has it. */
      current: Lease;
    };

/** What a renewal needs. */
export interface LeaseRenewOptions {
  /** Now, from the caller's clock. */
  at: Date;
  /** The new lease time from `at`, in ms. */
  ttlMs: number;
  signal?: AbortSignal | undefined;
}

/** The answer to {@link LeaseRepository.renewMany}. */
export interface LeaseRenewManyResult {
  renewed: Lease[];
  lost: LeaseLostError[];
}

/**
 * The leases of the node state's identities. `state.leases` of a node state.
 *
 * @example
 * ```ts
 * const holder = `my-node@${hostname()}:${process.pid}`;
 * const got = await state.leases.acquire(nodeId, {
 *   holder,
 *   at: new Date(clock.now()),
 *   ttlMs: 30_000,
 *   onLost: (err) => stopWorkingOn(nodeId, err),
 * });
 * if (!got.held) {
 *   console.log(`held by ${got.current.holder} until ${got.current.expiresAt.toISOString()}`);
 * } else {
 *   // every ttl/3:
 *   const renewed = await state.leases.renew(got.lease, { at: new Date(clock.now()), ttlMs: 30_000 });
 *   // … and when done:
 *   await state.leases.release(renewed);
 * }
 * ```
 */
export interface LeaseRepository {
  /**
   * Takes the identity's lease when it is free, released, expired (`expiresAt <= at`) or already
   * ours (same holder: renewed, same token); otherwise answers who holds it until when. A granted
   * lease fences the identity's writes through this state until it is released or found lost.
   * The granted lease may keep `nodeId` itself, not a copy: do not write to the array afterwards.
   *
   * @throws {ConfigError} for a bad node id, holder or lease time.
   */
  acquire(nodeId: Uint8Array, options: LeaseAcquireOptions): Promise<LeaseAcquireResult>;

  /**
   * Extends a lease we hold to `at + ttlMs`. Rejects with a {@link LeaseLostError} (and marks the
   * lease lost, calling its `onLost`) when the row no longer names this holder and token, or was
   * released. An expired lease that nobody took is still ours and is renewed.
   */
  renew(lease: Lease, options: LeaseRenewOptions): Promise<Lease>;

  /**
   * Renews many leases at once, as {@link renew} does each: one holder's whole set every few
   * seconds, written in a few statements and transactions instead of one per identity. Returns the
   * renewed leases and a {@link LeaseLostError} for each lease that was no longer ours (each of
   * those marked lost, its `onLost` called). The order of the answers is not that of `leases`.
   */
  renewMany(leases: readonly Lease[], options: LeaseRenewOptions): Promise<LeaseRenewManyResult>;

  /**
   * Gives the lease up: marks the row released (keeping its token) when it still names this holder
   * and token, and stops fencing the identity through this state. Returns whether the row was ours.
   */
  release(lease: Lease, options?: AbortOptions): Promise<boolean>;

  /**
   * Checks, by reading, that the lease is still ours (holder, token, not released). Rejects with a
   * {@link LeaseLostError} (and marks it lost) otherwise. Expiry is the caller's to judge.
   */
  check(lease: Lease, options?: AbortOptions): Promise<void>;

  /** The identity's lease row (live, expired or released), or `undefined`. */
  get(nodeId: Uint8Array, options?: AbortOptions): Promise<Lease | undefined>;

  /**
   * The lease rows of many identities, in one query per few hundred (identities without a row
   * are absent from the answer): for a worker that waits on thousands of identities held
   * elsewhere, one read instead of one acquisition each.
   */
  getMany(nodeIds: readonly Uint8Array[], options?: AbortOptions): Promise<Lease[]>;

  /** Every lease row, ordered by identity. */
  list(options?: AbortOptions): Promise<Lease[]>;
}

/** Longest holder string a store accepts. */
export const MAX_LEASE_HOLDER_LENGTH = 200;

/**
 * Whether `lease` is live at `at` (held, not released, not expired).
 *
 * @example
 * ```ts
 * const lease = await state.leases.get(nodeId);
 * if (lease !== undefined && leaseIsLive(lease, clock.now())) console.log(`held by ${lease.holder}`);
 * ```
 */
export function leaseIsLive(lease: Lease, at: Date | number): boolean {
  const now = typeof at === "number" ? at : at.getTime();
  return !lease.released && lease.expiresAt.getTime() > now;
}
