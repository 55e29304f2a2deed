/**
 * Shared set-up of the registration manager tests: mock PoETs on loopback driven by one
 * `ManualClock`, a node state in a temporary SQLite file, seeded ed25519 identities, and a driver
 * that steps the clock from one timer to the next once real sockets are quiet.
 *
 * Every harness's folder is made in one temporary folder per process, deleted when it exits: a
 * test that closes its pieces one by one (a PostgreSQL state beside the harness's SQLite one)
 * leaves nothing behind.
 */
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
import { verifyPoetProof } from "../src/verify/index.js";
import { runningTestFile } from "./helpers/after-file.js";
import { driveClock, runClock, settledFlag, waitFor } from "./helpers/clock-driver.js";
import { prng, prngBytes } from "./helpers/prng.js";

export { settledFlag };

export const T0 = Date.parse("2024-01-01T00:00:00Z");
export const EPOCH_MS = 60_000;
export const PHASE_SHIFT_MS = 20_000;
export const CYCLE_GAP_MS = 10_000;
/**
 * Leaves per tick. The harness's rounds are a tenth of a real PoET's hundreds of leaves (each
 * costs 400 SHA-256 to prove, most of a registration test's CPU time), and so is its tick size:
 * the ticks are those of rounds ten times longer.
 */
export const TICK_SIZE = 10n;
/**
 * `T`, the leaves each proof of the harness's PoETs opens and its verifier checks (150 on the
 * network): with rounds of a few dozen leaves, 150 would open every leaf. The verifier's own tests
 * use the network's; a test here that wants it sets `securityParam: 150` on its PoETs and gives the
 * manager its own verifier.
 */
export const HARNESS_SECURITY_PARAM = 8;

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

/**
 * The identities' keys and challenges: seeded, so that every run sees the same ones. One stream
 * per test file: `npm test` runs several files in one process (scripts/test.mjs names the file
 * whose tests run, `helpers/after-file.ts`), and each file's tests draw what they draw when it runs
 * alone.
 */
const streams = new Map<unknown, () => number>();
function random(): number {
  const file = runningTestFile();
  let stream = streams.get(file);
  if (stream === undefined) {
    stream = prng(0x1d3a7);
    streams.set(file, stream);
  }
  return stream();
}
const randomBytes = (n: number) => prngBytes(random, n);

export function identity(publishEpoch = 1): Identity {
  const signer = createEd25519Signer(randomBytes(32));
  return {
    signer,
    challenge: {
      publishEpoch,
      sequence: 0n,
      prevAtx: new Uint8Array(32),
      positioningAtx: randomBytes(32),
    },
    hash: randomBytes(32),
  };
}

/** A new challenge of the same identity for another publish epoch. */
export function nextChallenge(id: Identity, publishEpoch: number): Identity {
  return {
    signer: id.signer,
    challenge: { ...id.challenge, publishEpoch, sequence: id.challenge.sequence + 1n },
    hash: randomBytes(32),
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

let folders: string | undefined;
/**
 * The process's folder of harness folders, removed when the process exits: test files that share
 * a process share it, and a hook of one file's tests would remove it under the next file.
 */
function harnessFolders(): string {
  if (folders === undefined) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "registration-test-"));
    process.once("exit", () => fs.rmSync(dir, { recursive: true, force: true }));
    folders = dir;
  }
  return folders;
}

/** Starts mock PoETs (one per entry of `poets`) and a manager over them. */
export async function setup(
  poets: MockPoetOptions[],
  extra: Partial<RegistrationManagerOptions> = {},
  start = T0,
): Promise<Harness> {
  const clock = new ManualClock(start);
  const dir = fs.mkdtempSync(path.join(harnessFolders(), "harness-"));
  const dbPath = path.join(dir, "node_state.sql");
  const mocks = await Promise.all(
    poets.map((p) =>
      startMockPoet({
        clock,
        genesis: new Date(T0),
        epochDurationMs: EPOCH_MS,
        phaseShiftMs: PHASE_SHIFT_MS,
        cycleGapMs: CYCLE_GAP_MS,
        // Tests that compare proofs set their own counts.
        leavesPerRound: 15n,
        securityParam: HARNESS_SECURITY_PARAM,
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
    // On the calling thread: a manager's own ParallelVerifier starts a worker and warms up for
    // every test, which is most of a registration test's CPU time. (`verifier: undefined` in
    // `extra` gives the manager its own, as in production, with the network's `T`.)
    verifier: {
      verify: (proof, statement, options) =>
        verifyPoetProof(proof, statement, {
          signal: options?.signal,
          securityParam: HARNESS_SECURITY_PARAM,
        }),
    },
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

/**
 * Steps the clock from one timer to the next until `promise` settles, waiting before each step
 * until real sockets and sliced work are quiet (test/helpers/clock-driver.ts).
 */
export async function drive<T>(
  clock: ManualClock,
  promise: Promise<T>,
  options: { maxSteps?: number } = {},
): Promise<T> {
  return driveClock(clock, promise, options);
}

/** Drives the clock to `untilMs` (for work that runs in the background). */
export async function driveTo(clock: ManualClock, untilMs: number): Promise<void> {
  await runClock(clock, () => false, { untilMs });
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
export async function until(condition: () => boolean): Promise<void> {
  await waitFor(condition);
}
