/**
 * @module registration/identity-leases
 *
 * One worker per identity, across processes (docs/operator-guide.md, "One worker per identity"):
 * the registration manager holds the lease of every identity it runs (`storage/lease-repository.ts`)
 * and never submits or runs PoST for an identity whose lease it does not know to be held.
 *
 * - **Acquire** before an identity runs (first run or resume). A live lease of another holder is
 *   reported up front (`identity-held-elsewhere`, and in `status()`); then the manager either waits
 *   on its clock until that lease's expiry and asks again (default), or gives up on the identity
 *   (`whenHeldElsewhere: "skip"`). The identities waiting are checked together, in one read for
 *   all those due at once (`lease-waiters.ts`), and only those found free try to acquire. A row
 *   locked by another worker's acquisition right now is asked again after a pause that doubles
 *   each time, up to a tenth of the lease time, on the clock (never in a loop).
 *   A lease taken over after its holder stopped renewing is reported
 *   with the previous holder (`lease-taken-over`); the identity then resumes from the node state,
 *   with the same code as a restart.
 * - **Renew** every lease every `ttl / 3`, all in one `renewMany` (a few statements and
 *   transactions for thousands of identities). A renewal that is refused (another holder, a newer
 *   token, a released row) loses the lease at once.
 * - **Self-fence.** The same loop wakes at the earliest expiry: a lease for which no renewal was
 *   written by then (a database that does not answer, an event loop that stalled) stops its
 *   identity at that instant, without waiting for the database, because another process may take
 *   over from then on.
 * - **Check** before each submit (in memory: held, not lost, not past its expiry) and before PoST
 *   (a renewal written to the node state; if the store cannot answer, the in-memory check).
 * - **Lost** (`lease-lost`): the identity's signal aborts with the {@link LeaseLostError}, its
 *   background registrations are cancelled by the manager, and `buildNiPost` rejects with it.
 * - **Release** on `close()` (or `removeIdentity`): a lease is held from the identity's first
 *   `buildNiPost` on, between cycles too, so that the identity stays with one process.
 *
 * - **A store that blips** (a PostgreSQL restart or failover, a broken connection, a deadlock):
 *   an acquisition that met a retriable failure is asked again after 1–2× `storeRetryDelayMs`
 *   (the library's one retry policy, on the clock); a renewal, after a pause that doubles from
 *   50 ms up to a tenth of the lease time, as long as the leases have not expired. The fencing
 *   does not change: every acquisition, renewal and write checks the lease row in its own
 *   transaction, so a retry can never let two workers hold one identity.
 *
 * Takeover time: a holder that dies is taken over at its last renewal plus the lease time, so at
 * most the lease time after its death (the default 30 s).
 */
import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import { nodeKey, toHex } from "../bytes.js";
import { AbortFanOut, linkedController, sleepUntil } from "../cancellation.js";
import type { Clock } from "../clock.js";
import {
  ConfigError,
  isRetriableStoreFailure,
  type LeaseHolderInfo,
  LeaseLostError,
  type LeaseLostReason,
} from "../errors.js";
import type { Logger } from "../logger.js";
import { DEFAULT_STORE_RETRY_DELAY_MS, decideRetry, type RandomSource } from "../retry-policy.js";
import { type Lease, type LeaseRepository, leaseIsLive } from "../storage/index.js";
import type { TurnBudget } from "../turn-budget.js";
import type { RegistrationEvent } from "./events.js";
import { LeaseWaiters } from "./lease-waiters.js";

/**
 * Default lease time: 30 s. A process that dies is taken over within it, which costs nothing next
 * to a registration window of hours and a cycle gap of 12 h on mainnet; renewing every 10 s is one
 * row update per identity, written in shared group commits; and 30 s dwarfs the clock skew of
 * hosts kept in step by NTP (milliseconds) when the state is shared between hosts.
 */
export const DEFAULT_LEASE_TIME_MS = 30_000;

/** The default label of a manager's lease holder. */
export const DEFAULT_LEASE_LABEL = "poet-client";

/**
 * The first pause before asking again for a lease whose row another worker has locked right now
 * (its acquisition or takeover is being committed): doubled at each answer of the kind, up to
 * {@link busyPauseCapMs}.
 */
export const BUSY_LEASE_FIRST_PAUSE_MS = 50;

/** The longest pause before asking again for a locked lease row: a tenth of the lease time. */
export function busyPauseCapMs(ttlMs: number): number {
  return Math.max(BUSY_LEASE_FIRST_PAUSE_MS, Math.floor(ttlMs / 10));
}

/** Most characters of a holder label (the holder adds host, pid and a random part). */
const MAX_LABEL_LENGTH = 100;

/** What `status()` shows of an identity's lease. */
export type IdentityLeaseStatus =
  | {
      /** This manager holds it. */
      state: "held";
      holder: string;
      token: bigint;
      expiresAt: Date;
    }
  | {
      /** Another live holder has it; this manager waits for it or skipped the identity. */
      state: "held-elsewhere";
      holder: string;
      token: bigint;
      expiresAt: Date;
    }
  | {
      /** This manager held it and lost it; `current` holds it now, when known. */
      state: "lost";
      holder: string;
      token: bigint;
      reason: LeaseLostReason;
      current: LeaseHolderInfo | undefined;
    };

/** What {@link IdentityLeases} needs from the manager. */
export interface IdentityLeasesOptions {
  leases: LeaseRepository;
  clock: Clock;
  logger: Logger;
  emit: (event: RegistrationEvent) => void;
  /** This manager, as lease rows name it. */
  holder: string;
  ttlMs: number;
  whenHeldElsewhere: "wait" | "skip";
  /** Aborts every wait and loop (the manager closed). */
  closed: AbortSignal;
  /** Told once when an identity's lease is lost, after its fan-out aborted. */
  onLost: (nodeId: Uint8Array, error: LeaseLostError) => void;
  /** Base pause before an acquisition that met a retriable store failure is asked again. Default 5 s. */
  storeRetryDelayMs?: number | undefined;
  /** Uniform random numbers in [0, 1) for those pauses. Default `Math.random`. */
  random?: RandomSource | undefined;
  /**
   * The manager's turn budget: {@link IdentityLeases.releaseAll} releases one lease per step
   * (default: all in one turn).
   */
  turns?: TurnBudget | undefined;
}

/** A lease this manager holds. */
interface Slot {
  nodeId: Uint8Array;
  lease: Lease;
  /**
   * Aborts, with the {@link LeaseLostError} as its reason, when the lease is lost: a fan-out, not
   * an `AbortController`, since every identity holds one for as long as it runs and Node's
   * `AbortSignal` (two listener maps and a hidden class of its own) costs about a kilobyte; the
   * identity's cycle follows it as a set entry.
   */
  controller: AbortFanOut;
  lost: LeaseLostError | undefined;
  renewing: Promise<void> | undefined;
}

/**
 * The holder string of a manager: `label@host:pid:random`, unique per process and readable by an
 * operator.
 *
 * @example
 * ```ts
 * leaseHolder("node-7"); // "node-7@host-1:4711:9f3a1c2e"
 * ```
 */
export function leaseHolder(label: string = DEFAULT_LEASE_LABEL): string {
  if (typeof label !== "string" || label.length === 0 || label.length > MAX_LABEL_LENGTH) {
    throw new ConfigError(
      "leaseHolder",
      `must be a label of 1 to ${MAX_LABEL_LENGTH} characters, got ${String(label)}`,
    );
  }
  return `${label}@${hostname().slice(0, 60)}:${process.pid}:${toHex(randomBytes(4))}`;
}

/**
 * The leases of the identities one manager runs.
 *
 * @example
 * ```ts
 * const leases = new IdentityLeases({ leases: state.leases, clock, logger, emit, holder, ttlMs: 30_000,
 *   whenHeldElsewhere: "wait", closed, onLost: (nodeId) => cancelRuns(nodeId) });
 * const lease = await leases.hold(nodeId, callerSignal); // aborts when the lease is lost
 * leases.assertHeld(nodeId); // before a submit
 * await leases.confirm(nodeId, callerSignal); // before PoST
 * await leases.releaseAll(); // on close
 * ```
 */
export class IdentityLeases {
  readonly #o: IdentityLeasesOptions;
  readonly #slots = new Map<string, Slot>();
  readonly #elsewhere = new Map<string, Lease>();
  readonly #lost = new Map<string, LeaseLostError>();
  readonly #waiters: LeaseWaiters;
  /** `closed` passed on to each acquisition under way (a set entry each, not a listener). */
  readonly #closing: AbortFanOut;
  #renewLoop: Promise<void> | undefined;
  /** The renewal under way (with its retries after store failures), if any. */
  #renewing: Promise<void> | undefined;
  #acquisitions = 0;

  constructor(options: IdentityLeasesOptions) {
    this.#o = options;
    this.#closing = new AbortFanOut(options.closed);
    this.#waiters = new LeaseWaiters({
      leases: options.leases,
      clock: options.clock,
      logger: options.logger,
      holder: options.holder,
      closed: options.closed,
      retryMs: busyPauseCapMs(options.ttlMs),
      onSeen: (lease) => this.#seenElsewhere(lease),
    });
  }

  /**
   * How often the store was asked: acquisitions (a write transaction each) and reads of the rows
   * of the identities waiting for another holder (one per batch).
   */
  get queries(): { acquisitions: number; waitReads: number } {
    return { acquisitions: this.#acquisitions, waitReads: this.#waiters.reads };
  }

  /** This manager, as lease rows name it. */
  get holder(): string {
    return this.#o.holder;
  }

  /**
   * Holds the identity's lease: returns what aborts when it is lost (a fan-out for the cycle's
   * controller to follow, `linkedController`). Waits while another live holder has it (or rejects
   * with a {@link LeaseLostError} `"held-elsewhere"` when told to skip).
   */
  async hold(nodeId: Uint8Array, signal: AbortSignal | undefined): Promise<AbortFanOut> {
    const key = nodeKey(nodeId);
    const held = this.#slots.get(key);
    if (held !== undefined && held.lost === undefined) return held.controller;
    const waiting = linkedController(signal, this.#closing);
    try {
      return await this.#acquire(nodeId, key, waiting.signal);
    } finally {
      waiting.unlink();
    }
  }

  /** {@link hold}'s acquisition (and waits), until `waitSignal` aborts. */
  async #acquire(nodeId: Uint8Array, key: string, waitSignal: AbortSignal): Promise<AbortFanOut> {
    const { clock, leases, ttlMs } = this.#o;
    let busyPause = 0;
    let storeFailures = 0;
    for (;;) {
      const slot = this.#slots.get(key);
      if (slot !== undefined && slot.lost === undefined) return slot.controller;
      waitSignal.throwIfAborted();
      this.#acquisitions++;
      let result: Awaited<ReturnType<LeaseRepository["acquire"]>>;
      try {
        result = await leases.acquire(nodeId, {
          holder: this.#o.holder,
          at: new Date(clock.now()),
          ttlMs,
          onLost: (error) => this.#lose(key, error),
          signal: waitSignal,
        });
      } catch (err) {
        // The store blipped: ask again later (the acquisition is fenced in its transaction).
        if (!isRetriableStoreFailure(err) || waitSignal.aborted) throw err;
        storeFailures++;
        const decision = decideRetry(
          {
            delayMs: this.#o.storeRetryDelayMs ?? DEFAULT_STORE_RETRY_DELAY_MS,
            random: this.#o.random ?? Math.random,
          },
          err,
          storeFailures,
          clock.now(),
        );
        if (!decision.retry) throw err;
        this.#o.logger.debug(
          { err, nodeId: key, attempt: storeFailures, nextAttemptAt: decision.at },
          "could not acquire the identity's lease; asking again",
        );
        await clock.sleep(decision.pauseMs, { signal: waitSignal });
        continue;
      }
      storeFailures = 0;
      if (result.held) {
        if (this.#o.closed.aborted) {
          // Closed while the acquisition ran: give it back at once.
          await leases.release(result.lease).catch(() => {});
          waitSignal.throwIfAborted();
        }
        return this.#took(key, result.lease, result.tookOver);
      }
      const current = result.current;
      this.#seenElsewhere(current);
      if (this.#o.whenHeldElsewhere === "skip") {
        throw new LeaseLostError({
          nodeId,
          holder: this.#o.holder,
          token: 0n,
          reason: "held-elsewhere",
          current: { holder: current.holder, token: current.token, expiresAt: current.expiresAt },
        });
      }
      if (!leaseIsLive(current, clock.now())) {
        // Refused although the row as last committed is free: another worker has the row locked,
        // acquiring it now. Ask again after a pause, longer each time (not at once, in a loop).
        busyPause =
          busyPause === 0
            ? BUSY_LEASE_FIRST_PAUSE_MS
            : Math.min(2 * busyPause, busyPauseCapMs(ttlMs));
        await clock.sleep(busyPause, { signal: waitSignal });
        continue;
      }
      busyPause = 0;
      // Until the lease runs out (checked with the other waiting identities in one read); if its
      // holder renewed it meanwhile, the wait goes on until the new expiry.
      await this.#waiters.wait(current, waitSignal);
    }
  }

  /** Reports (once per holder and token) that another holder has the identity's live lease. */
  #seenElsewhere(current: Lease): void {
    const key = toHex(current.nodeId);
    const seen = this.#elsewhere.get(key);
    this.#elsewhere.set(key, current);
    if (seen === undefined || seen.holder !== current.holder || seen.token !== current.token) {
      this.#o.emit({
        type: "identity-held-elsewhere",
        at: new Date(this.#o.clock.now()),
        nodeId: current.nodeId,
        holder: current.holder,
        token: current.token,
        expiresAt: current.expiresAt,
        action: this.#o.whenHeldElsewhere,
      });
    }
  }

  /**
   * Throws a {@link LeaseLostError} unless the identity's lease is held, not lost and not past
   * its expiry by this manager's clock. Reads nothing: cheap enough before every submit.
   */
  assertHeld(nodeId: Uint8Array): void {
    const key = toHex(nodeId);
    const slot = this.#slots.get(key);
    if (slot === undefined) {
      throw (
        this.#lost.get(key) ??
        new LeaseLostError({ nodeId, holder: this.#o.holder, token: 0n, reason: "released" })
      );
    }
    if (slot.lost !== undefined) throw slot.lost;
    if (this.#o.clock.now() >= slot.lease.expiresAt.getTime()) {
      const expired = this.#expired(slot);
      this.#lose(key, expired);
      throw expired;
    }
  }

  /**
   * Confirms the lease in the node state with a renewal (before PoST). A refused renewal loses
   * the lease and throws; a store that cannot answer falls back to {@link assertHeld}.
   */
  async confirm(nodeId: Uint8Array, signal: AbortSignal): Promise<void> {
    this.assertHeld(nodeId);
    const slot = this.#slots.get(toHex(nodeId)) as Slot;
    try {
      await this.#renew(slot, signal);
    } catch (err) {
      if (err instanceof LeaseLostError) throw err;
      signal.throwIfAborted();
      this.#o.logger.warn(
        { err, nodeId: toHex(nodeId) },
        "could not renew the identity's lease before PoST; it is still held until its expiry",
      );
    }
    this.assertHeld(nodeId);
  }

  /** What `status()` shows of the identity's lease. */
  status(nodeId: Uint8Array): IdentityLeaseStatus | undefined {
    const key = toHex(nodeId);
    const slot = this.#slots.get(key);
    if (slot !== undefined && slot.lost === undefined) {
      const { holder, token, expiresAt } = slot.lease;
      return { state: "held", holder, token, expiresAt };
    }
    const lost = slot?.lost ?? this.#lost.get(key);
    if (lost !== undefined) {
      return {
        state: "lost",
        holder: lost.holder,
        token: lost.token,
        reason: lost.reason,
        current: lost.current,
      };
    }
    const elsewhere = this.#elsewhere.get(key);
    if (elsewhere !== undefined) {
      const { holder, token, expiresAt } = elsewhere;
      return { state: "held-elsewhere", holder, token, expiresAt };
    }
    return undefined;
  }

  /** Releases the identity's lease, if held (the identity is no longer run here). */
  async release(nodeId: Uint8Array): Promise<void> {
    const key = toHex(nodeId);
    const slot = this.#slots.get(key);
    if (slot === undefined) return;
    this.#slots.delete(key);
    slot.controller.abort(
      new LeaseLostError({
        nodeId,
        holder: slot.lease.holder,
        token: slot.lease.token,
        reason: "released",
      }),
    );
    if (slot.lost !== undefined) return;
    try {
      await this.#o.leases.release(slot.lease);
    } catch (err) {
      this.#o.logger.warn({ err, nodeId: key }, "could not release the identity's lease");
    }
  }

  /** Releases every lease held (on close: call once the identities' work has stopped). */
  async releaseAll(): Promise<void> {
    // A release builds its error, aborts the slot's signal and queues its write: ten thousand of
    // them in one turn stopped the event loop for 0.3 s on close, so they go a step each.
    const releases: Promise<void>[] = [];
    for (const slot of [...this.#slots.values()]) {
      const turn = this.#o.turns?.take();
      if (turn !== undefined) await turn;
      releases.push(this.release(slot.nodeId));
    }
    await Promise.all(releases);
    await this.#renewLoop;
    await this.#renewing;
  }

  #took(key: string, lease: Lease, tookOver: Lease | undefined): AbortFanOut {
    const slot: Slot = {
      nodeId: lease.nodeId,
      lease,
      controller: new AbortFanOut(),
      lost: undefined,
      renewing: undefined,
    };
    this.#slots.set(key, slot);
    this.#elsewhere.delete(key);
    this.#lost.delete(key);
    const at = new Date(this.#o.clock.now());
    const { holder, token, expiresAt, nodeId } = lease;
    if (tookOver !== undefined) {
      this.#o.emit({
        type: "lease-taken-over",
        at,
        nodeId,
        holder,
        token,
        expiresAt,
        previous: {
          holder: tookOver.holder,
          token: tookOver.token,
          expiresAt: tookOver.expiresAt,
        },
      });
    } else {
      this.#o.emit({ type: "lease-acquired", at, nodeId, holder, token, expiresAt });
    }
    if (this.#renewLoop === undefined) this.#renewLoop = this.#renewEvery();
    return slot.controller;
  }

  /**
   * One loop for every lease held: every ttl / 3 it renews them all in one call (a few statements
   * and transactions for thousands of identities), and it wakes at the earliest expiry too, so
   * that a lease whose renewals did not land stops its identity at that very instant. It clears
   * `#renewLoop` itself, in the step where it finds nothing held, so that the next lease taken
   * starts a new loop.
   */
  async #renewEvery(): Promise<void> {
    const { clock, closed, ttlMs } = this.#o;
    const every = Math.max(1, Math.floor(ttlMs / 3));
    let nextRenewal = clock.now() + every;
    for (;;) {
      if (this.#slots.size === 0 || closed.aborted) {
        this.#renewLoop = undefined;
        return;
      }
      let wake = nextRenewal;
      for (const slot of this.#slots.values()) {
        wake = Math.min(wake, slot.lease.expiresAt.getTime());
      }
      try {
        await sleepUntil(clock, wake, closed);
      } catch {
        continue; // closed: ends at the top
      }
      const now = clock.now();
      for (const [key, slot] of [...this.#slots]) {
        if (now >= slot.lease.expiresAt.getTime()) this.#lose(key, this.#expired(slot));
      }
      if (now >= nextRenewal) {
        nextRenewal = now + every;
        // One renewal loop at a time: one still trying again after a store failure renews
        // more often than this period already.
        if (this.#renewing === undefined) {
          const renewing = this.#renewAll()
            .catch(() => {})
            .finally(() => {
              if (this.#renewing === renewing) this.#renewing = undefined;
            });
          this.#renewing = renewing;
        }
      }
    }
  }

  /**
   * Renews every held lease that is not being renewed already, in one call; after a retriable
   * store failure, again after a pause that doubles from {@link BUSY_LEASE_FIRST_PAUSE_MS} up to
   * a tenth of the lease time, while some lease is still unexpired (the loop self-fences the
   * others at their expiry).
   */
  async #renewAll(): Promise<void> {
    const { clock, closed, ttlMs } = this.#o;
    let pause = 0;
    for (;;) {
      const failure = await this.#renewOnce();
      if (failure === undefined || closed.aborted) return;
      // Once per failed renewal period; the retries in between say so only at debug level.
      this.#o.logger[pause === 0 ? "warn" : "debug"](
        { err: failure.err, leases: failure.leases },
        "could not renew the leases",
      );
      if (!isRetriableStoreFailure(failure.err)) return;
      pause = pause === 0 ? BUSY_LEASE_FIRST_PAUSE_MS : Math.min(2 * pause, busyPauseCapMs(ttlMs));
      const next = clock.now() + pause;
      const live = [...this.#slots.values()].some(
        (s) => s.lost === undefined && next < s.lease.expiresAt.getTime(),
      );
      if (!live) return;
      try {
        await clock.sleep(pause, { signal: closed });
      } catch {
        return;
      }
    }
  }

  /** One renewal of every held lease not being renewed already; the failure, if any. */
  async #renewOnce(): Promise<{ err: unknown; leases: number } | undefined> {
    const slots = [...this.#slots.values()].filter(
      (s) => s.lost === undefined && s.renewing === undefined,
    );
    if (slots.length === 0) return undefined;
    const { leases, clock, ttlMs, closed } = this.#o;
    let done!: () => void;
    const renewing = new Promise<void>((resolve) => {
      done = resolve;
    });
    for (const slot of slots) slot.renewing = renewing;
    try {
      const result = await leases.renewMany(
        slots.map((s) => s.lease),
        { at: new Date(clock.now()), ttlMs, signal: closed },
      );
      const byKey = new Map(slots.map((s) => [toHex(s.nodeId), s]));
      for (const lease of result.renewed) {
        const slot = byKey.get(toHex(lease.nodeId));
        if (slot !== undefined && slot.lost === undefined) slot.lease = lease;
      }
      for (const error of result.lost) this.#lose(toHex(error.nodeId), error);
      return undefined;
    } catch (err) {
      // A busy or failing store: tried again (see #renewAll), self-fenced at the expiry.
      return { err, leases: slots.length };
    } finally {
      for (const slot of slots) if (slot.renewing === renewing) slot.renewing = undefined;
      done();
    }
  }

  /** One renewal of the slot's lease (joined when one runs). */
  #renew(slot: Slot, signal: AbortSignal): Promise<void> {
    if (slot.renewing !== undefined) return slot.renewing;
    const key = toHex(slot.nodeId);
    const run = this.#o.leases
      .renew(slot.lease, { at: new Date(this.#o.clock.now()), ttlMs: this.#o.ttlMs, signal })
      .then(
        (lease) => {
          if (slot.lost === undefined) slot.lease = lease;
        },
        (err: unknown) => {
          if (err instanceof LeaseLostError) {
            this.#lose(key, err);
          } else if (!this.#o.closed.aborted) {
            // A busy or failing store: tried again at the next renewal, self-fenced at the expiry.
            this.#o.logger.warn({ err, nodeId: key }, "could not renew the identity's lease");
          }
          throw err;
        },
      )
      .finally(() => {
        slot.renewing = undefined;
      });
    slot.renewing = run;
    return run;
  }

  #expired(slot: Slot): LeaseLostError {
    return new LeaseLostError({
      nodeId: slot.nodeId,
      holder: slot.lease.holder,
      token: slot.lease.token,
      reason: "expired",
    });
  }

  /** The lease of `key` is lost: stop the identity, tell the manager and the listeners, once. */
  #lose(key: string, error: LeaseLostError): void {
    const slot = this.#slots.get(key);
    if (slot === undefined || slot.lost !== undefined || slot.lease.token !== error.token) return;
    if (this.#o.closed.aborted) return;
    slot.lost = error;
    this.#slots.delete(key);
    this.#lost.set(key, error);
    slot.controller.abort(error);
    this.#o.onLost(slot.nodeId, error);
    this.#o.logger.warn(
      { nodeId: key, reason: error.reason, current: error.current?.holder },
      "the identity's lease is lost: its work stops",
    );
    this.#o.emit({
      type: "lease-lost",
      at: new Date(this.#o.clock.now()),
      nodeId: slot.nodeId,
      holder: error.holder,
      token: error.token,
      reason: error.reason,
      current: error.current,
      error,
    });
  }
}
