/**
 * Shared set-up of the registration manager tests: mock PoETs on loopback driven by one
 * `ManualClock`, a node state in a temporary SQLite file, ed25519 identities, and a driver that
 * moves the clock forward in small steps while real sockets do their work.
 */
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { createEd25519Signer, type Signer } from "../src/auth/index.js";
import { ManualClock } from "../src/clock.js";
import {
  type NiPostOutcome,
  type RegistrationEvent,
  RegistrationManager,
  type RegistrationManagerOptions,
} from "../src/registration/index.js";
import { RoundSchedule } from "../src/schedule/index.js";
import { type NipostChallenge, type NodeState, openNodeState } from "../src/storage/index.js";
import { type MockPoet, type MockPoetOptions, startMockPoet } from "../src/testing/index.js";

export const T0 = Date.parse("2024-01-01T00:00:00Z");
export const EPOCH_MS = 60_000;
export const PHASE_SHIFT_MS = 20_000;
export const CYCLE_GAP_MS = 10_000;
export const TICK_SIZE = 100n;

/** Round `n` starts at T0 + 20 s + n·60 s and ends 50 s later; publish epoch n + 1. */
export const schedule = new RoundSchedule({
  genesis: new Date(T0),
  epochDurationMs: EPOCH_MS,
  phaseShiftMs: PHASE_SHIFT_MS,
  cycleGapMs: CYCLE_GAP_MS,
});

export interface Identity {
  signer: Signer;
  challenge: NipostChallenge;
  hash: Uint8Array;
}

export function identity(publishEpoch = 1): Identity {
  const signer = createEd25519Signer(new Uint8Array(randomBytes(32)));
  return {
    signer,
    challenge: {
      publishEpoch,
      sequence: 0n,
      prevAtx: new Uint8Array(32),
      positioningAtx: new Uint8Array(randomBytes(32)),
    },
    hash: new Uint8Array(randomBytes(32)),
  };
}

/** A new challenge of the same identity for another publish epoch. */
export function nextChallenge(id: Identity, publishEpoch: number): Identity {
  return {
    signer: id.signer,
    challenge: { ...id.challenge, publishEpoch, sequence: id.challenge.sequence + 1n },
    hash: new Uint8Array(randomBytes(32)),
  };
}

export const POST_RESULT = {
  post: { nonce: 7, indices: Uint8Array.of(1, 2, 3), pow: 99n },
  numUnits: 4,
  vrfNonce: 12_345n,
  labelsPerUnit: 1024n,
};

export interface Harness {
  clock: ManualClock;
  dir: string;
  dbPath: string;
  state: NodeState;
  poets: MockPoet[];
  events: RegistrationEvent[];
  postCalls: Uint8Array[];
  manager: RegistrationManager;
  /** A new manager over the same state and PoETs (the previous one should be closed). */
  restart(options?: Partial<RegistrationManagerOptions>): Promise<RegistrationManager>;
  /** Re-opens the node state file (after closing it). */
  reopenState(): Promise<NodeState>;
  managerOptions(extra?: Partial<RegistrationManagerOptions>): RegistrationManagerOptions;
  close(): Promise<void>;
}

/** Starts mock PoETs (one per entry of `poets`) and a manager over them. */
export async function setup(
  poets: MockPoetOptions[],
  extra: Partial<RegistrationManagerOptions> = {},
  start = T0,
): Promise<Harness> {
  const clock = new ManualClock(start);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "registration-test-"));
  const dbPath = path.join(dir, "node_state.sql");
  const mocks = await Promise.all(
    poets.map((p) =>
      startMockPoet({
        clock,
        genesis: new Date(T0),
        epochDurationMs: EPOCH_MS,
        phaseShiftMs: PHASE_SHIFT_MS,
        cycleGapMs: CYCLE_GAP_MS,
        leavesPerRound: 200n,
        ...p,
      }),
    ),
  );
  const events: RegistrationEvent[] = [];
  const postCalls: Uint8Array[] = [];
  const h = {
    clock,
    dir,
    dbPath,
    poets: mocks,
    events,
    postCalls,
  } as unknown as Harness;
  h.state = await openNodeState(dbPath, { create: true });
  h.managerOptions = (more = {}) => ({
    schedule,
    poets: mocks.map((m) => ({
      url: m.url,
      pubkey: m.info.servicePubkey,
      protocol: "connect" as const,
    })),
    state: h.state,
    genesisId: new Uint8Array(20).fill(7),
    clock,
    tickSize: TICK_SIZE,
    requestTimeoutMs: 30_000,
    proofCutoffMs: 20_000,
    submitRetryDelayMs: 1_000,
    proofPollIntervalMs: 1_000,
    maxProofPollIntervalMs: 4_000,
    random: () => 0.5,
    onEvent: (e) => events.push(e),
    post: async (request) => {
      postCalls.push(request.challenge);
      return POST_RESULT;
    },
    ...extra,
    ...more,
  });
  h.manager = new RegistrationManager(h.managerOptions());
  h.restart = async (more = {}) => {
    h.manager = new RegistrationManager(h.managerOptions(more));
    return h.manager;
  };
  h.reopenState = async () => {
    h.state = await openNodeState(dbPath, { create: true });
    return h.state;
  };
  h.close = async () => {
    await h.manager.close();
    await Promise.all(mocks.map((m) => m.stop()));
    await h.state.close();
    fs.rmSync(dir, { recursive: true, force: true });
  };
  return h;
}

function realTick(ms = 1): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function advance(
  clock: ManualClock,
  done: () => boolean,
  options: { stepMs?: number; untilMs?: number; maxSteps?: number },
): Promise<void> {
  const stepMs = options.stepMs ?? 500;
  for (let i = 0; i < (options.maxSteps ?? 5000) && !done(); i++) {
    await realTick();
    await realTick();
    if (done()) break;
    if (options.untilMs !== undefined && clock.now() >= options.untilMs) break;
    const next = clock.nextWakeup();
    const target = Math.min(
      next !== undefined && next > clock.now() ? next : clock.now() + stepMs,
      clock.now() + stepMs,
      options.untilMs ?? Number.POSITIVE_INFINITY,
    );
    await clock.set(target);
  }
}

/** Whether `promise` has settled yet, as a function to poll. */
export function settledFlag(promise: Promise<unknown>): () => boolean {
  let settled = false;
  promise.then(
    () => {
      settled = true;
    },
    () => {
      settled = true;
    },
  );
  return () => settled;
}

/**
 * Moves the clock forward in steps of at most `stepMs` until `promise` settles, giving real
 * sockets a moment between steps.
 */
export async function drive<T>(
  clock: ManualClock,
  promise: Promise<T>,
  options: { stepMs?: number; maxSteps?: number } = {},
): Promise<T> {
  await advance(clock, settledFlag(promise), options);
  return promise;
}

/** Drives the clock to `untilMs` (for work that runs in the background). */
export async function driveTo(clock: ManualClock, untilMs: number, stepMs = 500): Promise<void> {
  await advance(clock, () => false, { untilMs, stepMs });
}

export function ready(outcome: NiPostOutcome) {
  if (outcome.kind !== "ready") {
    throw new Error(
      `expected a NiPoST, got ${outcome.kind}: ${"error" in outcome ? outcome.error.message : ""}`,
    );
  }
  return outcome.nipost;
}

export function ofType<K extends RegistrationEvent["type"]>(
  events: readonly RegistrationEvent[],
  type: K,
): Extract<RegistrationEvent, { type: K }>[] {
  return events.filter((e): e is Extract<RegistrationEvent, { type: K }> => e.type === type);
}

export function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("hex");
}

/** Adds the identity to the manager and starts its NiPoST. */
export function build(h: Harness, id: Identity, manager = h.manager) {
  manager.addIdentity(id.signer);
  return manager.buildNiPost({
    nodeId: id.signer.nodeId,
    challenge: { challenge: id.challenge, hash: id.hash },
  });
}

/** Waits, without moving the clock, until `condition` holds (real sockets keep working). */
export async function until(condition: () => boolean, maxRealMs = 30_000): Promise<void> {
  const start = Date.now();
  while (!condition()) {
    if (Date.now() - start > maxRealMs) throw new Error("condition not reached in time");
    await realTick(5);
  }
}
