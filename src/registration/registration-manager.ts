/**
 * @module registration/registration-manager
 *
 * The registration manager: for every identity and round it registers the challenge with every
 * PoET of the node's phase, survives crashes and flaky PoETs, and delivers the best verified proof
 * as a NiPoST in time for the cycle gap (docs/node-client.md §1, §4, §5, §7, §8;
 * docs/protocol.md §3, §6.1).
 *
 * Design, and why:
 *
 * - **State first.** Each identity's cycle (`identity-cycle.ts`) reads the node state before
 *   every step and skips what is done, so a first run, a resume after a crash and a resume after
 *   an operator's `delete` are the same code. Nothing is kept only in memory that a restart needs.
 * - **Shared per PoET.** One client, one `info()` per round (`poet-pool.ts`), one proof download
 *   per round (`proof-fetcher.ts`) and one verification per proof (`shared-verifier.ts`) serve
 *   every identity; submits and downloads pass through concurrency limits, so a thousand
 *   identities do not open thousands of connections at once.
 * - **Never fatal.** Where go-spacemesh exits (phase mismatch, registrations only at removed
 *   PoETs) or loops (a stale challenge, members without the challenge), the manager emits an
 *   event and returns a typed {@link NiPostOutcome}. Only an abort or a storage failure rejects.
 * - **A store that blips.** A retriable failure of the node state's store (a PostgreSQL restart
 *   or failover, a broken connection, a deadlock, a busy SQLite file) does not end the identity
 *   for the epoch: the writes that must not be lost (submit intents, registration rows, the
 *   NiPoST row) are tried again where they are made, and any other such failure in the cycle
 *   pauses it (`store-failed`) for `storeRetryDelayMs` and resumes it from the node state, with
 *   the same code as a restart, under the same lease.
 * - **Time from the clock.** Every wait uses the injected {@link Clock}, so that a test drives a
 *   two-week round with a `ManualClock`.
 * - **PoET set changes** take effect through {@link RegistrationManager.switchPoets}: stale rows
 *   go by the one rule of `planPoetSwitch` (each identity's in one transaction) and running
 *   cycles resume from the node state with the new set.
 * - **One worker per identity.** Each identity runs only under its lease in the node state
 *   (`identity-leases.ts`): a second process on the same state waits (or skips) instead of
 *   submitting or proving twice, and takes over when the holder dies.
 */

import type { AbortOptions } from "../abort-options.js";
import { raceAbort } from "../abortable.js";
import {
  CertificateCache,
  type CertifyCallback,
  poetSigningPrefix,
  type Signer,
} from "../auth/index.js";
import { equalBytes, nodeKey, toHex } from "../bytes.js";
import { AbortFanOut, anySignal, isAbort, linkedController, sleepUntil } from "../cancellation.js";
import type { PoetClient } from "../client/index.js";
import { createPoetClient } from "../client/index.js";
import { type Clock, systemClock } from "../clock.js";
import {
  AbortedError,
  ConfigError,
  isRetriableStoreFailure,
  LeaseLostError,
  PoetError,
  throwIfAborted,
} from "../errors.js";
import { type Logger, silentLogger } from "../logger.js";
import { DEFAULT_STORE_RETRY_DELAY_MS, decideRetry, type RandomSource } from "../retry-policy.js";
import {
  MAINNET,
  type PhaseSwitchPlan,
  type PoetServerConfig,
  planPoetSwitch,
  proofPacing,
  RoundSchedule,
} from "../schedule/index.js";
import type { NodeState } from "../storage/index.js";
import { TurnBudget } from "../turn-budget.js";
import { createParallelVerifier, type ParallelVerifier } from "../verify/pool/index.js";
import { applyPoetSwitch, readPoetSwitchRows } from "./apply-poet-switch.js";
import { adaptPoetClient } from "./client-adapter.js";
import { ConcurrencyLimit } from "./concurrency-limit.js";
import type { RegistrationEvent, RegistrationEventListener } from "./events.js";
import { type CycleContext, runIdentityCycle } from "./identity-cycle.js";
import {
  DEFAULT_LEASE_TIME_MS,
  type IdentityLeaseStatus,
  IdentityLeases,
  leaseHolder,
} from "./identity-leases.js";
import type { NextStep } from "./next-step.js";
import type { NiPostOutcome, NiPostRequest, PostProvider } from "./nipost.js";
import { type CycleResult, ParkedCycle } from "./parked-cycle.js";
import { poetAddress } from "./poet-address.js";
import type { RegistrationPoetClient } from "./poet-client-port.js";
import { type PoetEntry, PoetPool } from "./poet-pool.js";
import { ProofFetcher } from "./proof-fetcher.js";
import type { RegistrationRun } from "./registration-run.js";
import { repairBeforeResuming } from "./repair-before-resuming.js";
import { SharedDates } from "./shared-dates.js";
import { type ProofVerifier, SharedVerifier } from "./shared-verifier.js";

/**
 * Identity steps per event-loop turn when many identities move at once (their cycles start, or a
 * proof arrives for all of them): each is tens to hundreds of µs of JavaScript, so 32 of them stay
 * far below the 50 ms a node may block.
 */
const CYCLE_STEPS_PER_TURN = 32;

/**
 * Runs admitted to ask their PoETs at once, per submit slot: each has several submits to make,
 * so four per slot keep the slots busy with room to spare.
 */
const RUNS_PER_SUBMIT = 4;

/** Settles the caller's promise of `buildNiPost` (and forgets the running cycle). */
interface Settle {
  resolve: (outcome: NiPostOutcome) => void;
  reject: (err: unknown) => void;
}

/** An identity's cycle as the manager drives it, from its lease on (see `buildNiPost`). */
interface ManagedRun extends Settle {
  signer: Signer;
  request: NiPostRequest;
  /** The caller's signal. */
  signal: AbortSignal | undefined;
  lease: AbortFanOut;
  /** Pauses after retriable store failures so far. */
  paused: number;
}

/** One attempt of a {@link ManagedRun}: the PoET set it started with and its controller. */
interface Attempt {
  run: ManagedRun;
  generation: AbortFanOut;
  linked: ReturnType<typeof linkedController>;
}

/** The error of a lost lease, or `undefined` while it is held. */
function leaseLost(lease: AbortFanOut): LeaseLostError | undefined {
  return lease.aborted && lease.reason instanceof LeaseLostError ? lease.reason : undefined;
}

/** A configured PoET with the address it is stored under, as given to `createClient`. */
export interface ResolvedPoet extends PoetServerConfig {
  /** The normalised address (`http://` added when no scheme was given). */
  address: string;
}

/** Settings of a {@link RegistrationManager}. */
export interface RegistrationManagerOptions {
  /** The network clock and the node's phase (phase shift, cycle gap). */
  schedule: RoundSchedule;
  /** The PoETs to register with: `{ url, protocol?, pubkey? }`. */
  poets: readonly PoetServerConfig[];
  /** The node state (see `openNodeState`). Not closed by the manager. */
  state: NodeState;
  /** The 20-byte genesis id: PoET signatures cover `genesisId ‖ 0x04 ‖ challenge`. */
  genesisId: Uint8Array;
  /** The identities, one signer each; more can be added with {@link RegistrationManager.addIdentity}. */
  signers?: readonly Signer[] | undefined;
  /** The node's PoST prover. */
  post: PostProvider;
  /**
   * Obtains a certificate from the certifier a PoET advertises (for example the auth module's
   * `certify` with the identity's PoST). Certificates are kept in the node state and renewed
   * before they expire; without this callback, proof of work is used.
   */
  certify?: CertifyCallback | undefined;
  clock?: Clock | undefined;
  logger?: Logger | undefined;
  /** Receives every event. More listeners: {@link RegistrationManager.onEvent}. */
  onEvent?: RegistrationEventListener | undefined;
  /** Leaves per tick, for ticks in events and results. Default: mainnet's 9,331,200. */
  tickSize?: bigint | undefined;
  /** Submits running at once, over all identities and PoETs. Default 32. */
  maxConcurrentSubmits?: number | undefined;
  /** Proof downloads running at once. Default 4. */
  maxConcurrentDownloads?: number | undefined;
  /**
   * How long after the round end better proofs are awaited from PoETs that have not answered,
   * before PoST starts with the best one so far. Default: 1/12 of the cycle gap (1 h on mainnet);
   * never shorter than the last first query plus two poll intervals, so that every PoET holding
   * the registration is asked first (see `proofPacing`).
   */
  proofCutoffMs?: number | undefined;
  /**
   * How long after a round end the first proof query waits (before the random jitter): real PoETs
   * publish 0.3–2.1 s after the round end. Default 2.5 s, or 1/10 of the cycle gap when shorter.
   */
  proofQueryGraceMs?: number | undefined;
  /** Base delay between submit attempts (each waits 1–2× this). Default 10 s. */
  submitRetryDelayMs?: number | undefined;
  /**
   * Base pause after a retriable failure of the node state's store (a PostgreSQL restart or
   * failover, a broken connection, a deadlock, a busy SQLite file) before the write is tried
   * again or the identity's cycle resumes from the node state (each pause is 1–2× this).
   * Default 5 s.
   */
  storeRetryDelayMs?: number | undefined;
  /**
   * First delay between proof polls, doubled up to `maxProofPollIntervalMs`. Default 1/4320 of the
   * cycle gap (10 s on mainnet), between 100 ms and 10 s.
   */
  proofPollIntervalMs?: number | undefined;
  /** Longest delay between proof polls. Default 1/48 of the cycle gap, at most 5 min. */
  maxProofPollIntervalMs?: number | undefined;
  /**
   * Time limit of one request (info, submit). For a proof download it limits silence (no bytes
   * for this long over REST), not the length of a transfer that is making progress; the proof
   * deadline bounds the rest. Default 120 s.
   */
  requestTimeoutMs?: number | undefined;
  /**
   * Most bytes of a proof response, passed to the PoET clients the manager creates. Default
   * 2 GiB − 1: about 45 million members over REST, where mainnet rounds have millions. Other
   * calls keep the client's small cap.
   */
  maxProofResponseBytes?: number | undefined;
  /** Uniform random numbers in [0, 1), for jitter. Default `Math.random`. */
  random?: RandomSource | undefined;
  /**
   * Checks proofs. Default: a `ParallelVerifier` owned (and closed) by the manager, which spreads
   * the work over the cores without blocking the event loop. Pass a shared one, or
   * `{ verify: verifyPoetProof }` to stay on the calling thread.
   */
  verifier?: ProofVerifier | undefined;
  /**
   * Makes the client of a PoET (tests inject clients here). Default: `createPoetClient` with the
   * PoET's URL, protocol and key and the manager's clock.
   */
  createClient?: ((poet: ResolvedPoet) => PoetClient | RegistrationPoetClient) | undefined;
  /**
   * How long an identity's lease lasts without renewal, in ms; renewed every third of it. A
   * process that dies is taken over by another within this time. Default 30 s (see
   * `DEFAULT_LEASE_TIME_MS`); with processes on several hosts, keep it far above their clock skew.
   */
  leaseTimeMs?: number | undefined;
  /**
   * A label for this manager in the lease rows, events and `status`: the holder is
   * `label@host:pid:random`. Default `"poet-client"`.
   */
  leaseHolder?: string | undefined;
  /**
   * What to do when another live holder (another process on the same node state) has an
   * identity: `"wait"` (default) until its lease expires, then take over and resume from the node
   * state; `"skip"`: `buildNiPost` rejects at once with a `LeaseLostError` (`"held-elsewhere"`).
   * Both emit `identity-held-elsewhere` first.
   */
  whenHeldElsewhere?: "wait" | "skip" | undefined;
}

/** {@link RegistrationManager.planPhaseSwitch}'s answer: the overall plan and each identity's. */
export interface ManagerPhaseSwitchPlan extends PhaseSwitchPlan {
  identities: { nodeId: Uint8Array; plan: PhaseSwitchPlan }[];
}

/** What {@link RegistrationManager.switchPoets} did. */
export interface SwitchPoetsResult {
  poets: string[];
  /** When the new set took effect. */
  appliedAt: Date;
  /** Identities whose rows were cleared. */
  cleared: Uint8Array[];
  /** Registrations deleted. */
  registrationsDeleted: number;
  /** Write-ahead submit intents deleted (with the registrations they could stand for). */
  intentsDeleted: number;
  /** NiPoST rows deleted. */
  nipostsDeleted: number;
  /** Identities whose rows were left alone because this manager lost their lease meanwhile. */
  skipped: Uint8Array[];
}

/** One identity as a status display shows it. */
export interface IdentityStatus {
  nodeId: Uint8Array;
  /** Whether a `buildNiPost` runs for it now. */
  running: boolean;
  /** Its latest event, with the instants of what comes next. */
  lastEvent: RegistrationEvent | undefined;
  /**
   * The step its cycle took last, as `planNextStep` names it (`registration/next-step.ts`), with
   * until (or from) when; `undefined` until a `buildNiPost` for it ran here. It stays after the
   * cycle ended: `publish-atx`, `window-missed` or `expired` say what the outcome left to do.
   */
  next: NextStep | undefined;
  /** Who holds its lease until when, as far as this manager knows (`undefined`: never asked). */
  lease: IdentityLeaseStatus | undefined;
}

function duration(setting: string, value: number | undefined, fallback: number): number {
  const v = value ?? fallback;
  if (!Number.isSafeInteger(v) || v < 0) {
    throw new ConfigError(setting, `must be a non-negative integer number of ms, got ${value}`);
  }
  return v;
}

function count(setting: string, value: number | undefined, fallback: number): number {
  const v = value ?? fallback;
  if (!Number.isSafeInteger(v) || v < 1) {
    throw new ConfigError(setting, `must be a positive integer, got ${value}`);
  }
  return v;
}

function isRegistrationClient(
  client: PoetClient | RegistrationPoetClient,
): client is RegistrationPoetClient {
  return typeof (client as Partial<RegistrationPoetClient>).register === "function";
}

/**
 * Registers every identity's challenge with the node's PoETs and turns the best proof into a
 * NiPoST, round after round, across crashes and flaky PoETs.
 *
 * @example
 * ```ts
 * await using state = await openNodeState("node_data", { create: true }); // node_data/local.sql
 * await using manager = new RegistrationManager({
 *   schedule: MAINNET.schedule,
 *   poets: MAINNET.poets,
 *   genesisId: MAINNET.genesisId,
 *   state,
 *   signers: [signer],
 *   post: async ({ challenge }, { signal }) => postService.prove(challenge, { signal }),
 *   onEvent: (event) => ui.show(event),
 * });
 * const outcome = await manager.buildNiPost(
 *   { nodeId: signer.nodeId, challenge: { challenge, hash } },
 *   { signal },
 * );
 * if (outcome.kind === "ready") publishAtx(outcome.nipost);
 * else console.warn(outcome.error.message);
 * await manager.complete(signer.nodeId); // after the ATX is published
 * ```
 */
export class RegistrationManager {
  readonly #state: NodeState;
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #listeners = new Set<RegistrationEventListener>();
  readonly #signers = new Map<string, Signer>();
  readonly #running = new Map<string, Promise<NiPostOutcome>>();
  readonly #lastEvents = new Map<string, RegistrationEvent>();
  /** Each identity's latest step, as its cycle reported it. */
  readonly #steps = new Map<string, NextStep>();
  readonly #closed = new AbortController();
  /**
   * The manager's close passed on to each identity's cycle: one listener on `#closed`, a set
   * entry per cycle (not a listener each on a signal every identity shares).
   */
  readonly #closedLinks = new AbortFanOut(this.#closed.signal);
  readonly #createClient: (poet: ResolvedPoet) => PoetClient | RegistrationPoetClient;
  readonly #certify: CertifyCallback | undefined;
  readonly #certificates: CertificateCache;
  readonly #pool: PoetPool;
  readonly #context: CycleContext;
  readonly #ownedVerifier: ParallelVerifier | undefined;
  readonly #leases: IdentityLeases;
  readonly #storeRetryDelayMs: number;
  readonly #verifier: SharedVerifier;
  readonly #random: RandomSource;
  /** Aborted (and replaced) when the PoET set changes: the running cycles restart. */
  #generation = new AbortFanOut();
  #closing: Promise<void> | undefined;
  /** The node state's check and repair, run once before the first cycle resumes. */
  #repairing: Promise<void> | undefined;
  /** Whether that check and repair is done (a cycle then starts without waiting for it). */
  #repaired = false;

  /** @throws ConfigError for a setting that cannot work (the message names it). */
  constructor(options: RegistrationManagerOptions) {
    if (!(options.schedule instanceof RoundSchedule)) {
      throw new ConfigError("schedule", "must be a RoundSchedule");
    }
    if (options.state === undefined) throw new ConfigError("state", "is required");
    if (typeof options.post !== "function") throw new ConfigError("post", "must be a function");
    const prefix = poetSigningPrefix(options.genesisId);
    const schedule = options.schedule;
    this.#state = options.state;
    this.#clock = options.clock ?? systemClock;
    this.#logger = options.logger ?? silentLogger;
    this.#certify = options.certify;
    this.#certificates = new CertificateCache({
      clock: options.clock ?? systemClock,
      store: options.state.certificates,
    });
    if (options.onEvent !== undefined) this.#listeners.add(options.onEvent);
    const clock = this.#clock;
    const clientRequestTimeoutMs = duration("requestTimeoutMs", options.requestTimeoutMs, 120_000);
    const maxProofResponseBytes = options.maxProofResponseBytes;
    if (
      maxProofResponseBytes !== undefined &&
      !(Number.isSafeInteger(maxProofResponseBytes) && maxProofResponseBytes > 0)
    ) {
      throw new ConfigError(
        "maxProofResponseBytes",
        `must be a positive integer, got ${maxProofResponseBytes}`,
      );
    }
    this.#createClient =
      options.createClient ??
      ((poet) =>
        createPoetClient({
          url: poet.address,
          protocol: poet.protocol,
          servicePubkey: poet.pubkey,
          clock,
          logger: this.#logger,
          proofTimeoutMs: clientRequestTimeoutMs,
          maxProofResponseBytes,
        }));
    const tickSize = options.tickSize ?? MAINNET.tickSize;
    if (typeof tickSize !== "bigint" || tickSize <= 0n) {
      throw new ConfigError("tickSize", `must be a positive bigint, got ${String(tickSize)}`);
    }
    const requestTimeoutMs = duration("requestTimeoutMs", options.requestTimeoutMs, 120_000);
    const random = options.random ?? Math.random;
    const storeRetryDelayMs = duration(
      "storeRetryDelayMs",
      options.storeRetryDelayMs,
      DEFAULT_STORE_RETRY_DELAY_MS,
    );
    if (storeRetryDelayMs < 1) throw new ConfigError("storeRetryDelayMs", "must be at least 1 ms");
    this.#storeRetryDelayMs = storeRetryDelayMs;
    this.#random = random;
    const emit = (event: RegistrationEvent) => this.#emit(event);
    const closed = this.#closed.signal;
    const leaseTimeMs = duration("leaseTimeMs", options.leaseTimeMs, DEFAULT_LEASE_TIME_MS);
    if (leaseTimeMs < 3) throw new ConfigError("leaseTimeMs", "must be at least 3 ms");
    const whenHeldElsewhere = options.whenHeldElsewhere ?? "wait";
    if (whenHeldElsewhere !== "wait" && whenHeldElsewhere !== "skip") {
      throw new ConfigError(
        "whenHeldElsewhere",
        `must be "wait" or "skip", got ${whenHeldElsewhere}`,
      );
    }
    const turns = new TurnBudget(CYCLE_STEPS_PER_TURN);
    this.#leases = new IdentityLeases({
      leases: this.#state.leases,
      clock,
      logger: this.#logger,
      emit,
      holder: leaseHolder(options.leaseHolder),
      ttlMs: leaseTimeMs,
      whenHeldElsewhere,
      closed,
      storeRetryDelayMs,
      random,
      turns,
      onLost: (nodeId) => {
        // Its background registrations stop too: no submit after the lease is gone.
        for (const run of this.#context.runs.values()) {
          if (equalBytes(run.target.signer.nodeId, nodeId)) run.cancel();
        }
      },
    });

    this.#pool = new PoetPool({
      entries: this.#entries(options.poets),
      schedule,
      clock,
      emit,
      requestTimeoutMs,
      signal: closed,
    });
    const pacing = proofPacing(schedule, {
      graceMs: options.proofQueryGraceMs,
      pollIntervalMs: options.proofPollIntervalMs,
      maxPollIntervalMs: options.maxProofPollIntervalMs,
      cutoffMs: options.proofCutoffMs,
    });
    const downloads = count("maxConcurrentDownloads", options.maxConcurrentDownloads, 4);
    const submits = count("maxConcurrentSubmits", options.maxConcurrentSubmits, 32);
    const submitRetryDelayMs = duration("submitRetryDelayMs", options.submitRetryDelayMs, 10_000);
    for (const signer of options.signers ?? []) this.addIdentity(signer);
    // Created last, once every setting is known to be valid: it starts worker threads.
    this.#ownedVerifier = options.verifier === undefined ? createParallelVerifier() : undefined;
    const verifier = new SharedVerifier({
      state: this.#state,
      verifier: options.verifier ?? (this.#ownedVerifier as ParallelVerifier),
      clock,
      signal: closed,
      logger: this.#logger,
      storeRetryDelayMs,
      random,
    });
    this.#verifier = verifier;
    const fetcher = new ProofFetcher({
      state: this.#state,
      verifier,
      clock,
      logger: this.#logger,
      random,
      graceMs: pacing.graceMs,
      jitter: pacing.jitter,
      pollIntervalMs: pacing.pollIntervalMs,
      maxPollIntervalMs: pacing.maxPollIntervalMs,
      tickSize,
      downloads: new ConcurrencyLimit(downloads),
      emit,
      signal: closed,
      // One download per PoET and round for every worker on the state.
      claims: { holder: this.#leases.holder, ttlMs: leaseTimeMs },
      turns,
    });
    this.#context = {
      state: this.#state,
      pool: this.#pool,
      schedule,
      clock,
      logger: this.#logger,
      random,
      submits: new ConcurrencyLimit(submits),
      // Enough runs asking their PoETs to keep every submit slot busy while the next runs'
      // intents are written (see `RegistrationRunContext.admissions`).
      admissions: new ConcurrencyLimit(submits * RUNS_PER_SUBMIT),
      emit,
      prefix,
      submitRetryDelayMs,
      storeRetryDelayMs,
      requestTimeoutMs,
      fetcher,
      post: options.post,
      tickSize,
      proofCutoffMs: pacing.cutoffMs,
      proofQueryGraceMs: pacing.graceMs,
      runs: new Map<string, RegistrationRun>(),
      proved: new Map(),
      closed,
      confirmLease: (nodeId, signal) => this.#leases.confirm(nodeId, signal),
      dates: new SharedDates(),
      stepTaken: (nodeId, next) => this.#steps.set(nodeKey(nodeId), next),
      turns,
    };
  }

  /** The node's schedule (changes with a phase switch). */
  get schedule(): RoundSchedule {
    return this.#context.schedule;
  }

  /** The addresses of the PoETs in use. */
  get poets(): string[] {
    return this.#pool.addresses;
  }

  /** This manager, as the identities' lease rows name it (`label@host:pid:random`). */
  get leaseHolder(): string {
    return this.#leases.holder;
  }

  /** The node ids of the known identities. */
  get identities(): Uint8Array[] {
    return [...this.#signers.values()].map((s) => s.nodeId);
  }

  /** Adds an identity (a second signer with the same node id replaces the first). */
  addIdentity(signer: Signer): void {
    if (!(signer?.nodeId instanceof Uint8Array) || signer.nodeId.length !== 32) {
      throw new ConfigError("signer.nodeId", "must be 32 bytes");
    }
    if (typeof signer.sign !== "function")
      throw new ConfigError("signer.sign", "must be a function");
    this.#signers.set(nodeKey(signer.nodeId), signer);
  }

  /**
   * Forgets an identity (its rows stay in the node state). Its lease is released unless a
   * `buildNiPost` for it still runs.
   */
  removeIdentity(nodeId: Uint8Array): boolean {
    const key = toHex(nodeId);
    if (!this.#running.has(key)) {
      // Its background registrations could not submit without the lease: they stop too.
      for (const run of this.#context.runs.values()) {
        if (equalBytes(run.target.signer.nodeId, nodeId)) run.cancel();
      }
      void this.#leases.release(nodeId);
    }
    return this.#signers.delete(key);
  }

  /**
   * Adds an event listener; returns the function that removes it.
   *
   * @example
   * ```ts
   * const off = manager.onEvent((e) => {
   *   if (e.type === "waiting-for-round-end") console.log("proof after", e.queryAt);
   * });
   * ```
   */
  onEvent(listener: RegistrationEventListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * Registers the identity's challenge (or resumes from the node state), waits for the round,
   * picks the best proof, runs PoST and stores the NiPoST. Resolves with the NiPoST or with the
   * outcome that stopped it; rejects only with `AbortedError` (the signal or {@link close}), a
   * `StorageError`, a `ConfigError` for a request that cannot work, or a `LeaseLostError`. A
   * second call for an identity whose cycle runs joins it.
   *
   * The identity runs under its lease in the node state, held from the first call until
   * {@link close} (or {@link removeIdentity}). When another live process holds it, an
   * `identity-held-elsewhere` event says who until when, and the call waits for that lease to
   * expire and then resumes from the node state (or, with `whenHeldElsewhere: "skip"`, rejects
   * with a `LeaseLostError` of reason `"held-elsewhere"`). When the lease is lost while the cycle
   * runs (taken over, released by someone else, or not renewed before its expiry), the cycle stops
   * at once (`lease-lost`) and the call rejects with that `LeaseLostError`: the outcome belongs to
   * the new holder, and nothing more is submitted, proved or written for the identity here.
   *
   * @example
   * ```ts
   * const outcome = await manager.buildNiPost({ nodeId, challenge: { challenge, hash } }, { signal });
   * switch (outcome.kind) {
   *   case "ready": return outcome.nipost;
   *   case "window-missed": return retryAt(outcome.nextRegistrationDeadline);
   *   default: throw outcome.error;
   * }
   * ```
   */
  buildNiPost(request: NiPostRequest, options: AbortOptions = {}): Promise<NiPostOutcome> {
    let key: string;
    let signer: Signer | undefined;
    try {
      throwIfAborted(options.signal);
      this.#throwIfClosed();
      signer = this.#signers.get(toHex(request.nodeId));
      if (signer === undefined) {
        throw new ConfigError(
          "nodeId",
          `no signer for identity ${toHex(request.nodeId)}: call addIdentity first`,
        );
      }
      key = nodeKey(signer.nodeId);
    } catch (err) {
      return Promise.reject(err);
    }
    const running = this.#running.get(key);
    if (running !== undefined) return running;
    const identity = signer;
    const signal = options.signal;
    // Thousands of identities started together begin over many turns, a few per turn (the
    // manager's turn budget): until its turn comes, a call is one promise and one queue entry, so
    // the call returns at once however many identities start together; no signal, listener or
    // store read is made for it before then.
    // The caller's promise is settled by the cycle's last callback itself (`settle`): no promise
    // of the manager's own is chained to it while the identity waits.
    const cycle = new Promise<NiPostOutcome>((resolve, reject) => {
      const settle: Settle = {
        resolve: (outcome) => {
          this.#ended(key, cycle);
          resolve(outcome);
        },
        reject: (err) => {
          this.#ended(key, cycle);
          reject(err);
        },
      };
      this.#context.turns.run(() => {
        this.#cycle(identity, request, signal, settle).catch(settle.reject);
      });
    });
    this.#running.set(key, cycle);
    return cycle;
  }

  /** Forgets the identity's running cycle once it ended (unless another replaced it). */
  #ended(key: string, cycle: Promise<NiPostOutcome>): void {
    if (this.#running.get(key) === cycle) this.#running.delete(key);
  }

  /**
   * One identity's cycle, from its turn of the start-up on (see {@link buildNiPost}): up to its
   * lease, then its first attempt, whose callbacks `settle` the caller's promise. A failure before
   * the attempt rejects this call's own promise (the caller's is then rejected with it).
   */
  async #cycle(
    signer: Signer,
    request: NiPostRequest,
    signal: AbortSignal | undefined,
    settle: Settle,
  ): Promise<void> {
    throwIfAborted(signal);
    throwIfAborted(this.#closed.signal);
    // The node state is checked and repaired once, before the first cycle resumes (again after
    // a pause when the store failed retriably). Identities that waited for it take a turn again
    // once it is done: its end would otherwise start all of them in one turn.
    if (!this.#repaired) {
      const waiting = linkedController(signal, this.#closedLinks);
      try {
        await this.#repair(signer, waiting.signal);
      } finally {
        waiting.unlink();
      }
      const again = this.#context.turns.take();
      if (again !== undefined) await again;
    }
    const lease = await this.#leases.hold(signer.nodeId, signal);
    // From here on the cycle is driven by callbacks, not awaited: an identity that waits (parked,
    // `parked-cycle.ts`) is then this record and its cycle's, with no suspended call of the
    // manager's either.
    this.#attempt({ signer, request, signal, lease, paused: 0, ...settle });
  }

  /**
   * One attempt at the identity's cycle, under a controller linked to the caller's signal (a
   * listener, removed when the attempt ends) and to the lease, the manager's close and its PoET
   * set (a set entry each).
   */
  #attempt(run: ManagedRun): void {
    const generation = this.#generation;
    const linked = linkedController(run.signal, run.lease, this.#closedLinks, generation);
    const attempt: Attempt = { run, generation, linked };
    runIdentityCycle(this.#context, run.signer, run.request, linked.signal).then(
      (result) => this.#attemptResult(attempt, result),
      (err: unknown) => this.#attemptFailed(attempt, err),
    );
  }

  /** The attempt went on: parked (woken later), or ended with an outcome. */
  #attemptResult(attempt: Attempt, result: CycleResult): void {
    if (result instanceof ParkedCycle) {
      result.park((next) =>
        next.then(
          (goneOn) => this.#attemptResult(attempt, goneOn),
          (err: unknown) => this.#attemptFailed(attempt, err),
        ),
      );
      return;
    }
    const { run, linked } = attempt;
    linked.unlink();
    // An outcome reached after the lease was lost is the new holder's to decide.
    const lost = leaseLost(run.lease);
    if (lost !== undefined) run.reject(lost);
    else run.resolve(result);
  }

  /**
   * The attempt failed: a lost lease ends the cycle with its error, whatever the step was doing;
   * a retriable store failure pauses it and resumes it from the node state; a PoET set change
   * restarts it; anything else is final.
   */
  #attemptFailed(attempt: Attempt, err: unknown): void {
    const { run, linked } = attempt;
    const lost = leaseLost(run.lease) ?? (err instanceof LeaseLostError ? err : undefined);
    if (lost !== undefined) {
      linked.unlink();
      run.reject(lost);
      return;
    }
    // The store failed in a way a later call may not meet: pause, then resume from the node
    // state with the same code as a restart (the lease is kept meanwhile). What ends the pause
    // early is judged as what ends a step: a lost lease, a PoET set change, an abort.
    if (isRetriableStoreFailure(err) && !linked.signal.aborted) {
      run.paused++;
      this.#pauseForStore(run.signer.nodeId, err, run.paused, linked.signal).then(
        () => {
          linked.unlink();
          this.#attempt(run);
        },
        (pauseErr: unknown) => {
          const lostMeanwhile = leaseLost(run.lease);
          if (lostMeanwhile !== undefined) {
            linked.unlink();
            run.reject(lostMeanwhile);
          } else this.#restartOrFail(attempt, pauseErr);
        },
      );
      return;
    }
    this.#restartOrFail(attempt, err);
  }

  /** After a failure: a PoET set change restarts the cycle from the node state; else it ends. */
  #restartOrFail(attempt: Attempt, failure: unknown): void {
    const { run, linked, generation } = attempt;
    linked.unlink();
    const restart =
      generation.aborted && !this.#closed.signal.aborted && run.signal?.aborted !== true;
    if (restart && isAbort(failure)) this.#attempt(run);
    else run.reject(failure);
  }

  /**
   * Waits for the node state's check and repair (started by the first identity that waits),
   * pausing after retriable store failures, until `waiting` aborts.
   */
  async #repair(signer: Signer, waiting: AbortSignal): Promise<void> {
    for (let paused = 1; !this.#repaired; paused++) {
      this.#repairing ??= repairBeforeResuming(this.#state, this.#clock, (e) => this.#emit(e), {
        signal: this.#closed.signal,
      }).then(
        () => {
          this.#repaired = true;
        },
        (err: unknown) => {
          this.#repairing = undefined;
          throw err;
        },
      );
      try {
        await raceAbort(this.#repairing, waiting);
        return;
      } catch (err) {
        await this.#pauseForStore(signer.nodeId, err, paused, waiting);
      }
    }
  }

  /**
   * After `err` in an identity's cycle: rethrows it unless it is a retriable store failure;
   * otherwise reports `store-failed` and sleeps the policy's pause (1–2× `storeRetryDelayMs`) on
   * the clock, until `signal` aborts.
   */
  async #pauseForStore(
    nodeId: Uint8Array,
    err: unknown,
    attempt: number,
    signal: AbortSignal,
  ): Promise<void> {
    if (!isRetriableStoreFailure(err) || signal.aborted) throw err;
    const now = this.#clock.now();
    const decision = decideRetry(
      { delayMs: this.#storeRetryDelayMs, random: this.#random },
      err,
      attempt,
      now,
    );
    if (!decision.retry) throw err;
    this.#logger.debug(
      { err, nodeId: toHex(nodeId), attempt, resumeAt: decision.at },
      "the node state's store failed in the identity's cycle; it resumes from the node state",
    );
    this.#emit({
      type: "store-failed",
      at: new Date(now),
      nodeId,
      error: err,
      attempt,
      resumeAt: new Date(decision.at),
    });
    await this.#clock.sleep(decision.pauseMs, { signal });
  }

  /**
   * Clears the identity's registrations, NiPoST and challenge in one transaction, after its ATX
   * was published (go-spacemesh's `ResetState` + `RemoveChallenge`).
   */
  async complete(nodeId: Uint8Array, options: AbortOptions = {}): Promise<void> {
    this.#throwIfClosed();
    await this.#state.resetIdentity(nodeId, options);
  }

  /**
   * Each known identity with its latest event and the step its cycle is at (the one decision of
   * `planNextStep` that the cycle and `poet-client status` share).
   *
   * @example
   * ```ts
   * for (const s of manager.status()) {
   *   if (s.next?.step === "wait-for-round-end") console.log(toHex(s.nodeId), "proofs after", s.next.at);
   * }
   * ```
   */
  status(): IdentityStatus[] {
    return this.identities.map((nodeId) => ({
      nodeId,
      running: this.#running.has(toHex(nodeId)),
      lastEvent: this.#lastEvents.get(toHex(nodeId)),
      next: this.#steps.get(toHex(nodeId)),
      lease: this.#leases.status(nodeId),
    }));
  }

  /**
   * Says when moving to PoETs of another phase is safe and which publish epochs, if any, each
   * identity loses (see `planPhaseSwitch` in the schedule module).
   *
   * @example
   * ```ts
   * const plan = await manager.planPhaseSwitch({ to: { phaseShiftMs, cycleGapMs } });
   * console.log(plan.explanation, plan.lostPublishEpochs);
   * ```
   */
  async planPhaseSwitch(
    input: {
      to: RoundSchedule | { phaseShiftMs: number; cycleGapMs: number };
      at?: Date | undefined;
      postDurationMs?: number | undefined;
    },
    options: AbortOptions = {},
  ): Promise<ManagerPhaseSwitchPlan> {
    const from = this.#context.schedule;
    const to = input.to instanceof RoundSchedule ? input.to : from.withPhase(input.to);
    const at = input.at ?? new Date(this.#clock.now());
    const common = {
      from,
      to,
      at,
      ...(input.postDurationMs === undefined ? {} : { postDurationMs: input.postDurationMs }),
    };
    const rows = await readPoetSwitchRows(this.#state, options);
    const plan = planPoetSwitch({ ...common, poets: this.poets, identities: rows });
    const { latest, lostPublishEpochs } = plan;
    const identities = plan.identities.flatMap((i) =>
      i.phase === undefined ? [] : [{ nodeId: i.nodeId, plan: i.phase }],
    );
    return {
      ...latest,
      lostPublishEpochs,
      safe: lostPublishEpochs.length === 0,
      explanation:
        identities.length > 1
          ? `${identities.length} identities: ${latest.explanation}`
          : latest.explanation,
      identities,
    };
  }

  /**
   * Applies a new PoET set (and, with `phase`, a new phase shift and cycle gap): deletes the rows
   * that can no longer serve, by the one rule of `planPoetSwitch` (schedule module), each
   * identity's in one fenced transaction (`apply-poet-switch.ts`), then restarts every running
   * cycle from the node state. With
   * `when: "safe"` it first waits until {@link planPhaseSwitch}'s `switchAt`. This replaces the
   * manual `delete from poet_registration; delete from nipost;` procedure.
   *
   * @example
   * ```ts
   * const plan = await manager.planPhaseSwitch({ to: newPhase });
   * if (plan.safe) await manager.switchPoets({ poets: newPoets, phase: newPhase, when: "safe" });
   * ```
   */
  async switchPoets(
    input: {
      poets: readonly PoetServerConfig[];
      phase?: { phaseShiftMs: number; cycleGapMs: number } | undefined;
      when?: "now" | "safe" | undefined;
    },
    options: AbortOptions = {},
  ): Promise<SwitchPoetsResult> {
    this.#throwIfClosed();
    const signal = anySignal(options.signal, this.#closed.signal);
    const from = this.#context.schedule;
    const to = input.phase === undefined ? from : from.withPhase(input.phase);
    if (input.when === "safe") {
      const plan = await this.planPhaseSwitch({ to }, { signal });
      await sleepUntil(this.#clock, plan.switchAt.getTime(), signal);
    }
    const entries = this.#entries(input.poets);
    const keep = new Set(entries.map((e) => e.address));
    const applied = await applyPoetSwitch(
      this.#state,
      { from, to, poets: [...keep], at: new Date(this.#clock.now()) },
      { signal },
    );
    this.#pool.replace(entries, to);
    this.#context.schedule = to;
    // The runs of the old set stop, and are forgotten: a cycle restarted below makes a run of the
    // new set instead of joining a stopped one (it would wait for its end and miss the window).
    for (const run of this.#context.runs.values()) run.cancel();
    this.#context.runs.clear();
    const previous = this.#generation;
    this.#generation = new AbortFanOut();
    previous.abort(new PoetError("config", "the PoET set changed"));
    const appliedAt = new Date(this.#clock.now());
    this.#emit({
      type: "poets-switched",
      at: appliedAt,
      poets: [...keep],
      cleared: applied.cleared,
    });
    return {
      poets: [...keep],
      appliedAt,
      cleared: applied.cleared,
      skipped: applied.skipped.map((s) => s.nodeId),
      registrationsDeleted: applied.registrationsDeleted,
      intentsDeleted: applied.intentsDeleted,
      nipostsDeleted: applied.nipostsDeleted,
    };
  }

  /**
   * Stops every loop, releases the identities' leases and closes the PoET clients; running
   * `buildNiPost` calls reject with `AbortedError`.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#closed.abort(new AbortedError("the registration manager was closed"));
      // The background registrations do not listen to the manager's signal (a composite each
      // was kilobytes per identity): they are stopped here, with its reason.
      for (const run of this.#context.runs.values()) run.cancel(this.#closed.signal.reason);
      await Promise.allSettled([...this.#running.values()]);
      // Verified-proof rows being written in the background stop with the manager's signal:
      // the caller may close the node state once this resolves.
      await this.#verifier.idle();
      this.#context.proved.clear();
      // Once nothing works on the identities any more: another process may take them at once.
      await this.#leases.releaseAll();
      await Promise.allSettled(this.#pool.all.map(async (e) => e.client.close?.()));
      await this.#ownedVerifier?.close();
    })();
    return this.#closing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  #throwIfClosed(): void {
    if (this.#closed.signal.aborted) throw new AbortedError("the registration manager is closed");
  }

  #entries(poets: readonly PoetServerConfig[]): PoetEntry[] {
    if (!Array.isArray(poets)) throw new ConfigError("poets", "must be an array");
    const seen = new Set<string>();
    const existing = this.#pool === undefined ? [] : this.#pool.all;
    return poets.map((poet, i) => {
      const address = poetAddress(poet.url);
      if (seen.has(address)) throw new ConfigError(`poets[${i}].url`, `${address} is listed twice`);
      seen.add(address);
      if (poet.pubkey !== undefined && poet.pubkey.length !== 32) {
        throw new ConfigError(`poets[${i}].pubkey`, `must be 32 bytes, got ${poet.pubkey.length}`);
      }
      const reused = existing.find((e) => e.address === address);
      if (reused !== undefined) return { ...reused, pubkey: poet.pubkey };
      const client = this.#createClient({ ...poet, address });
      return {
        address,
        pubkey: poet.pubkey,
        client: this.#leased(
          isRegistrationClient(client)
            ? client
            : adaptPoetClient(client, {
                certify: this.#certify,
                certificates: this.#certificates,
                clock: this.#clock,
                logger: this.#logger,
              }),
        ),
      };
    });
  }

  /** `client`, whose submits go out only while the identity's lease is known to be held. */
  #leased(client: RegistrationPoetClient): RegistrationPoetClient {
    const leases = () => this.#leases;
    const register: RegistrationPoetClient["register"] = (request, options) => {
      leases().assertHeld(request.signer.nodeId);
      return client.register(request, options);
    };
    return new Proxy(client, {
      get(target, property) {
        if (property === "register") return register;
        const value: unknown = Reflect.get(target, property, target);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
  }

  #emit(event: RegistrationEvent): void {
    if ("nodeId" in event && event.nodeId instanceof Uint8Array) {
      this.#lastEvents.set(nodeKey(event.nodeId), event);
    }
    // A store outage is logged once by the store (`storage/store-outage.ts`), not per identity.
    const level =
      event.type === "store-failed"
        ? "debug"
        : event.type.endsWith("failed") || event.type.endsWith("rejected")
          ? "warn"
          : "info";
    this.#logger[level]({ event: event.type }, `registration: ${event.type}`);
    for (const listener of this.#listeners) {
      try {
        listener(event);
      } catch (err) {
        this.#logger.error({ err, event: event.type }, "an event listener threw");
      }
    }
  }
}
