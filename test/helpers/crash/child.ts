/**
 * One life of a node in the crash test: a child process that runs a `RegistrationManager` on a
 * real SQLite file against the parent's mock PoETs, with a `ManualClock` that only the parent
 * moves (see ./protocol.ts), until every identity's `buildNiPost` has ended — or until a SIGKILL,
 * from the parent or from itself at the planned point (`init.kill`).
 *
 * The PoST provider appends a line to the PoST log, with fsync, when a PoST starts (noting whether
 * the identity's nipost row was already stored) and when it returns, so that the parent can count
 * PoST work across kills and processes. A PoST takes `postMs` of clock time.
 */
import fs from "node:fs";
import { createEd25519Signer } from "../../../src/auth/index.js";
import { toHex } from "../../../src/bytes.js";
import { createPoetClient, type PoetClient } from "../../../src/client/index.js";
import { ManualClock } from "../../../src/clock.js";
import {
  type NiPostOutcome,
  type ProofVerifier,
  type RegistrationEvent,
  RegistrationManager,
} from "../../../src/registration/index.js";
import { RoundSchedule } from "../../../src/schedule/index.js";
import { type NodeState, openNodeState, openPostgresState } from "../../../src/storage/index.js";
import { verifyPoetProof } from "../../../src/verify/index.js";
import { settle } from "../clock-driver.js";
import { prng } from "../prng.js";
import { trackedPool } from "../tracked-pool.js";
import {
  type ChildInit,
  type ChildMessage,
  type ChildPoint,
  CRASH_SECURITY_PARAM,
  LEASE_TIME_MS,
  type OutcomeSummary,
  type ParentMessage,
  type PostLogLine,
} from "./protocol.js";

const TICK_SIZE = 100n;
const POST_RESULT = {
  post: { nonce: 7, indices: Uint8Array.of(1, 2, 3), pow: 99n },
  numUnits: 4,
  vrfNonce: 12_345n,
  labelsPerUnit: 1024n,
};

function send(message: ChildMessage): void {
  // A fleet worker closed by the parent may still settle an advance after it disconnected.
  if (process.connected) process.send?.(message);
}

let init: ChildInit;
const reached = new Map<string, number>();
/** Bumped by every point and event: part of what "quiet" compares. */
let activity = 0;

/** Points left before an armed death (the parent's `arm` message), if armed. */
let armed: number | undefined;

/** Counts the point; dies on the spot when it is the planned one. */
function point(name: ChildPoint): void {
  activity++;
  if (armed !== undefined && --armed <= 0) process.kill(process.pid, "SIGKILL");
  const n = (reached.get(name) ?? 0) + 1;
  reached.set(name, n);
  const kill = init.kill;
  if (kill !== undefined && kill.point === name && kill.occurrence === n) {
    process.kill(process.pid, "SIGKILL");
  }
}

function appendLine(line: PostLogLine): void {
  const fd = fs.openSync(init.postLog, "a");
  try {
    fs.writeSync(fd, `${JSON.stringify(line)}\n`);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** A client whose submit and proof calls pass the kill points. */
function instrumented(client: PoetClient): PoetClient {
  return new Proxy(client, {
    get(target, key) {
      if (key === "submit") {
        return async (...args: Parameters<PoetClient["submit"]>) => {
          const request = args[0] as { pubkey?: Uint8Array };
          send({
            type: "submit",
            nodeId: request.pubkey ?? new Uint8Array(0),
            poet: target.url,
          });
          point("submit:before");
          const result = await target.submit(...args);
          point("submit:after");
          return result;
        };
      }
      if (key === "proof") {
        return async (...args: Parameters<PoetClient["proof"]>) => {
          point("proof:before");
          const result = await target.proof(...args);
          point("proof:after");
          return result;
        };
      }
      const value = Reflect.get(target, key, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

/** Wraps one method of an object with a point before it runs. */
function before<T extends object>(object: T, method: string, name: ChildPoint): T {
  return new Proxy(object, {
    get(target, key) {
      const value = Reflect.get(target, key, target);
      if (typeof value !== "function") return value;
      if (key !== method) return value.bind(target);
      return (...args: unknown[]) => {
        point(name);
        return value.apply(target, args);
      };
    },
  });
}

/** The node state, with points before the best-proof choice and the nipost row are written. */
function instrumentedState(state: NodeState): NodeState {
  const challenges = before(state.challenges, "setPoetProof", "choice:before");
  const nipost = before(state.nipost, "add", "nipost:before");
  return new Proxy(state, {
    get(target, key) {
      if (key === "challenges") return challenges;
      if (key === "nipost") return nipost;
      const value = Reflect.get(target, key, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

function summary(outcome: NiPostOutcome): OutcomeSummary {
  return {
    nodeId: outcome.nodeId,
    kind: outcome.kind,
    error: "error" in outcome ? outcome.error.message : undefined,
    proofRef: outcome.kind === "ready" ? outcome.nipost.proofRef : undefined,
    poet: outcome.kind === "ready" ? outcome.nipost.poet : undefined,
    leaves: outcome.kind === "ready" ? outcome.nipost.leaves : undefined,
  };
}

function eventMessage(event: RegistrationEvent): ChildMessage {
  const e = event as { nodeId?: unknown; poet?: unknown };
  return {
    type: "event",
    event: event.type,
    at: event.at.getTime(),
    nodeId: e.nodeId instanceof Uint8Array ? e.nodeId : undefined,
    poet: typeof e.poet === "string" ? e.poet : undefined,
  };
}

async function run(): Promise<void> {
  const clock = new ManualClock(init.nowMs);
  const schedule = new RoundSchedule({
    genesis: new Date(init.genesisMs),
    epochDurationMs: init.epochMs,
    phaseShiftMs: init.phaseShiftMs,
    cycleGapMs: init.cycleGapMs,
  });
  // PostgreSQL through a pool whose queries count as work for `settle` (it cannot see the sockets).
  const pool = init.postgres === undefined ? undefined : trackedPool(init.postgres.url, 4);
  const state =
    init.postgres === undefined || pool === undefined
      ? await openNodeState(init.dbPath, { busyTimeoutMs: 60_000 })
      : await openPostgresState({
          connection: pool,
          schema: init.postgres.schema,
          maxConnections: 4,
        });
  const watched = instrumentedState(state);
  const random = prng(init.seed);
  const verifier: ProofVerifier = {
    async verify(proof, statement, options) {
      point("verify:before");
      await verifyPoetProof(proof, statement, {
        signal: options?.signal,
        securityParam: CRASH_SECURITY_PARAM,
      });
      point("verify:after");
    },
  };
  // The identity lease (options a library without leases ignores): a second process on the state
  // waits for an identity another live process holds, and a dead holder's lease lapses after
  // the lease time (LEASE_TIME_MS unless the parent says otherwise).
  const leaseOptions: object = {
    whenHeldElsewhere: "wait",
    leaseTimeMs: init.leaseTimeMs ?? LEASE_TIME_MS,
    ...(init.leaseLabel === undefined ? {} : { leaseHolder: init.leaseLabel }),
  };
  const manager = new RegistrationManager({
    ...leaseOptions,
    schedule,
    poets: init.poets.map((p) => ({ url: p.url, pubkey: p.pubkey })),
    state: watched,
    genesisId: new Uint8Array(20).fill(7),
    clock,
    tickSize: TICK_SIZE,
    requestTimeoutMs: 30_000,
    proofCutoffMs: 20_000,
    submitRetryDelayMs: 1_000,
    proofPollIntervalMs: 1_000,
    maxProofPollIntervalMs: 4_000,
    random,
    verifier,
    createClient: (poet) =>
      instrumented(
        createPoetClient({
          url: poet.address,
          servicePubkey: poet.pubkey,
          clock,
          proofTimeoutMs: 30_000,
          random,
        }),
      ),
    onEvent: (event) => {
      send(eventMessage(event));
      point(`event:${event.type}` as ChildPoint);
    },
    post: async (request, { signal }) => {
      const nodeId = toHex(request.nodeId);
      const ref = toHex(request.challenge);
      const rowExists = (await state.nipost.get(request.nodeId, { signal })) !== undefined;
      appendLine({ child: init.child, kind: "start", nodeId, ref, rowExists, at: clock.now() });
      point("post:start");
      await clock.sleep(init.postMs, { signal });
      appendLine({ child: init.child, kind: "end", nodeId, ref, at: clock.now() });
      point("post:end");
      return POST_RESULT;
    },
  });
  const signers = init.identities.map((id) => createEd25519Signer(id.seed));
  for (const signer of signers) manager.addIdentity(signer);

  // A rejection (a StorageError, say) is an outcome the parent judges, not a crash of the test.
  const build = (request: Parameters<RegistrationManager["buildNiPost"]>[0]) =>
    manager
      .buildNiPost(request)
      .then(summary, (err: unknown) => ({
        nodeId: request.nodeId,
        kind: `rejected: ${err instanceof Error ? err.name : "error"}`,
        error: err instanceof Error ? err.message : String(err),
        proofRef: undefined,
        poet: undefined,
        leaves: undefined,
      }))
      .then((outcome) => {
        send({ type: "outcome", outcome });
        return outcome;
      });

  let seq = 0;
  // Quiet: settled, and still so after a real-timer turn — a zero-delay timer (between two steps
  // that wait on the clock) fires before the second look, and shows as activity.
  const signature = () => `${activity}:${clock.pending}:${clock.nextWakeup()}:${clock.now()}`;
  const quiet = async (at: number) => {
    for (;;) {
      await settle(clock);
      const before = signature();
      await new Promise((resolve) => setTimeout(resolve, 1));
      await settle(clock);
      if (signature() === before) break;
    }
    if (at === seq) send({ type: "quiet", seq: at, now: clock.now(), next: clock.nextWakeup() });
  };
  process.on("message", (message: ParentMessage) => {
    if (message.type === "close") {
      void manager.close();
      return;
    }
    if (message.type !== "advance") return;
    seq = message.seq;
    void clock.set(message.to).then(() => quiet(message.seq));
  });

  const building = Promise.all(
    init.identities.map((id, i) =>
      build({
        nodeId: (signers[i] as (typeof signers)[number]).nodeId,
        challenge: {
          challenge: {
            publishEpoch: id.publishEpoch,
            sequence: 0n,
            prevAtx: new Uint8Array(32),
            positioningAtx: id.positioningAtx,
          },
          hash: id.hash,
        },
      }),
    ),
  ).finally(() => {
    seq = -1;
  });
  void quiet(0);
  const outcomes = await building;
  send({ type: "finished", outcomes });
  await manager.close();
  await state.close();
  await pool?.end();
  process.disconnect?.();
}

// An `arm` may come right after `init`, before the manager runs.
process.on("message", (message: ParentMessage) => {
  if (message.type === "arm") armed = message.points;
});

process.once("message", (message: ParentMessage) => {
  if (message.type !== "init") return;
  init = message;
  run().catch((err: unknown) => {
    send({
      type: "failed",
      error: err instanceof Error ? (err.stack ?? err.message) : String(err),
    });
    process.exitCode = 1;
    process.disconnect?.();
  });
});
