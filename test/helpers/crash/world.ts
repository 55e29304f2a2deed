/**
 * The crash test's world and trials: three mock PoETs on 127.0.0.1:0 in the parent, driven by the
 * parent's `ManualClock`; a real SQLite node state in a temporary folder; a few seeded identities;
 * children (./child.ts) that run the registration manager on that file and are killed with SIGKILL
 * at seeded points of every step, then restarted on the same file (at once, or after the clock
 * moved past the round start or the proof cut-off) until every identity has its outcome.
 *
 * Kills come from three places:
 * - the child itself, at a planned point (./protocol.ts `CHILD_POINTS`): before or after a submit
 *   leaves, after the registration row, around a proof download, verification, the best-proof
 *   choice, PoST and the nipost row;
 * - the parent's mock PoETs: right after a PoET accepted the k-th submit and before it answers
 *   (the PoET holds the challenge, the node has no row), or while serving the k-th proof;
 * - the parent's clock driver: at the k-th quiet step (while the node waits for a round, a poll or
 *   PoST).
 *
 * **Duplicate PoST work** (see {@link analysePostLog}): a PoST call for an identity is a duplicate
 * when, as it starts, the identity's nipost row is already stored, or another PoST call for the same
 * identity was started (ended or not) by a process that is still alive. A call repeated because the
 * process that made the earlier one was killed before its nipost row was written is *redone*, not
 * a duplicate: that work was lost with the process.
 *
 * **Duplicate submit** (two processes): a submit of an identity to a PoET by one process when
 * another live process already submitted that identity to that PoET.
 *
 * **Lost**: an identity whose challenge is in the member list of at least one PoET's round (so a
 * PoET accepted it) and that ends without a nipost row. **Not best**: a nipost row on another proof
 * than the most-leaves proof among those PoETs. **Unfinished**: a nipost row that no live process
 * returned as `ready`. **Missed window**: an identity no PoET holds that ends without a NiPoST (it
 * was down across the round start before any PoET accepted it; not a loss). **Conflicting**: any
 * submit of a second challenge for an identity at a PoET round, refused (409) or not.
 */
import fs from "node:fs";
import path from "node:path";
import { Code, ConnectError } from "@connectrpc/connect";
import Database from "better-sqlite3";
import { createEd25519Signer } from "../../../src/auth/index.js";
import { toHex } from "../../../src/bytes.js";
import { ManualClock } from "../../../src/clock.js";
import { RoundSchedule } from "../../../src/schedule/index.js";
import {
  companionPath,
  type NodeState,
  openNodeState,
  openPostgresState,
} from "../../../src/storage/index.js";
import { type MockPoet, SUBMIT_MESSAGES, startMockPoet } from "../../../src/testing/index.js";
import { proofRef } from "../../../src/verify/index.js";
import { prng, prngBytes } from "../prng.js";
import { CrashChild, type Settled, STUCK_MS } from "./child-process.js";
import {
  CHILD_POINTS,
  type ChildPoint,
  CRASH_SECURITY_PARAM,
  type CrashIdentity,
  type OutcomeSummary,
  type PostLogLine,
} from "./protocol.js";

export const T0 = Date.parse("2024-01-01T00:00:00Z");
export const EPOCH_MS = 60_000;
export const PHASE_SHIFT_MS = 20_000;
export const CYCLE_GAP_MS = 10_000;
/** The children's `proofCutoffMs` (child.ts). */
export const PROOF_CUTOFF_MS = 20_000;
/** Clock ms one PoST takes in a child. */
export const POST_MS = 5_000;
/**
 * The leaves of the three PoETs' proofs: the last one is the best. As few as the proofs open
 * (./protocol.ts `CRASH_SECURITY_PARAM`, 16): the mock PoETs prove every round of every trial, each
 * label 400 SHA-256, and the children verify them again in every life.
 */
export const LEAVES = [16n, 17n, 18n] as const;
/** Round 0: opens before T0 + 1 s, starts at T0 + 20 s, ends at T0 + 70 s; publish epoch 1. */
export const ROUND = 0;
export const schedule = new RoundSchedule({
  genesis: new Date(T0),
  epochDurationMs: EPOCH_MS,
  phaseShiftMs: PHASE_SHIFT_MS,
  cycleGapMs: CYCLE_GAP_MS,
});
/** When a trial starts: round 0 is open for registration. */
export const START_MS = T0 + 1_000;
/** Most clock steps of one trial (a guard against a loop that never ends). */
const MAX_STEPS = 5_000;

/** Where one life ends. */
export type KillPlan =
  | { where: "child"; point: ChildPoint; occurrence: number }
  /** Right after a PoET accepted the `occurrence`-th submit of this life, before it answers. */
  | { where: "accept"; occurrence: number }
  /** While a PoET serves the `occurrence`-th proof of this life. */
  | { where: "download"; occurrence: number }
  /** At the `occurrence`-th quiet step of this life. */
  | { where: "clock"; occurrence: number };

/** How long the node stays down after a kill. */
export type Outage = "none" | "past-round-start" | "past-cutoff";

export function killName(plan: KillPlan): string {
  return plan.where === "child" ? plan.point : plan.where;
}

/** A seeded random kill in any step. */
export function randomKill(random: () => number): KillPlan {
  const r = random();
  if (r < 0.15) return { where: "accept", occurrence: 1 + Math.floor(random() * 6) };
  if (r < 0.25) return { where: "download", occurrence: 1 + Math.floor(random() * 3) };
  if (r < 0.4) return { where: "clock", occurrence: 1 + Math.floor(random() * 4) };
  const point = CHILD_POINTS[Math.floor(random() * CHILD_POINTS.length)] as ChildPoint;
  return { where: "child", point, occurrence: 1 + Math.floor(random() * 3) };
}

/** A trial's plan. */
export interface TrialOptions {
  seed: number;
  identities?: number | undefined;
  /** The kill that ends each life, by life number; `undefined`: that life runs to its end. */
  kills: (life: number, random: () => number) => KillPlan | undefined;
  /** How long the node stays down after the kill of `life`. */
  outage?: ((life: number, random: () => number) => Outage) | undefined;
  /** The best PoET (LEAVES[2]) answers "proof not found" until the first restart. */
  bestProofLate?: boolean | undefined;
  /**
   * After the first kill, the node asks for another challenge for the same publish epoch (a
   * rebuilt challenge): whatever it does, no PoET may see a second challenge of an identity.
   */
  changeChallenge?: boolean | undefined;
  /** Most kills (default 4). */
  maxKills?: number | undefined;
}

/** What one trial found. */
export interface TrialResult {
  seed: number;
  identities: number;
  /** Each kill: where, and the clock time. */
  kills: { where: string; at: number }[];
  /** Lives started on a file that already held state. */
  resumes: number;
  /** Identities a PoET accepted that ended without a NiPoST row. */
  lost: string[];
  /** Identities whose NiPoST row exists but no process returned it (one ended with an error). */
  unfinished: string[];
  /** Identities no PoET holds that ended without a NiPoST (the registration window was missed). */
  missed: string[];
  /** NiPoSTs not on the best proof among the PoETs whose member list holds the challenge. */
  notBest: string[];
  /** Submits of a second challenge for one identity at one PoET round. */
  conflicting: number;
  postCalls: number;
  duplicatePost: number;
  redonePost: number;
  duplicateSubmits: number;
  integrity: string;
  checkProblems: number;
  outcomes: OutcomeSummary[];
  /** Clock ms from a holder's death to the other process taking over (two-process trials). */
  takeoverMs?: number | undefined;
  /** Human-readable notes (what each identity got). */
  notes: string[];
}

/** One accepted or refused submit, seen by a mock PoET. */
interface SubmitSeen {
  poet: number;
  nodeId: string;
  challenge: string;
  round: string | undefined;
  outcome: "accepted" | "conflict" | "refused";
}

/** The three mock PoETs, with hooks on accept and proof. */
class Poets {
  readonly mocks: MockPoet[];
  readonly seen: SubmitSeen[] = [];
  onAccept: (() => void) | undefined;
  onProof: (() => void) | undefined;
  /** PoETs answering "proof not found" whatever the round. */
  readonly late = new Set<number>();

  private constructor(mocks: MockPoet[]) {
    this.mocks = mocks;
    mocks.forEach((mock, i) => {
      const handlers = mock.handlers;
      const submit = handlers.submit.bind(handlers);
      const proof = handlers.proof.bind(handlers);
      handlers.submit = (request) => {
        const nodeId = toHex(request.pubkey);
        const challenge = toHex(request.challenge);
        try {
          const response = submit(request);
          this.seen.push({
            poet: i,
            nodeId,
            challenge,
            round: response.roundId,
            outcome: "accepted",
          });
          this.onAccept?.();
          return response;
        } catch (err) {
          const conflict = err instanceof Error && err.message.includes(SUBMIT_MESSAGES.conflict);
          this.seen.push({
            poet: i,
            nodeId,
            challenge,
            round: undefined,
            outcome: conflict ? "conflict" : "refused",
          });
          throw err;
        }
      };
      handlers.proof = (request) => {
        if (this.late.has(i)) {
          throw new ConnectError(SUBMIT_MESSAGES.proofNotFound, Code.NotFound);
        }
        const response = proof(request);
        this.onProof?.();
        return response;
      };
    });
  }

  static async start(clock: ManualClock): Promise<Poets> {
    const mocks = await Promise.all(
      LEAVES.map((leaves) =>
        startMockPoet({
          clock,
          genesis: new Date(T0),
          epochDurationMs: EPOCH_MS,
          phaseShiftMs: PHASE_SHIFT_MS,
          cycleGapMs: CYCLE_GAP_MS,
          leavesPerRound: leaves,
          securityParam: CRASH_SECURITY_PARAM,
        }),
      ),
    );
    return new Poets(mocks);
  }

  async stop(): Promise<void> {
    await Promise.all(this.mocks.map((m) => m.stop()));
  }
}

/** Seeded identities of one trial. */
function identities(random: () => number, n: number): CrashIdentity[] {
  return Array.from({ length: n }, () => {
    const seed = prngBytes(random, 32);
    return {
      seed,
      nodeId: createEd25519Signer(seed).nodeId,
      publishEpoch: schedule.publishEpoch(ROUND),
      positioningAtx: prngBytes(random, 32),
      hash: prngBytes(random, 32),
    };
  });
}

/** Counts of the PoST log (see the module's definition of a duplicate). */
export function analysePostLog(lines: readonly PostLogLine[]): {
  calls: number;
  duplicates: number;
  redone: number;
} {
  const dead = new Set<number>();
  /** Per identity, the children that started a PoST for it. */
  const started = new Map<string, Set<number>>();
  let calls = 0;
  let duplicates = 0;
  let redone = 0;
  for (const line of lines) {
    if (line.kind === "dead") {
      dead.add(line.child);
      continue;
    }
    if (line.kind !== "start" || line.nodeId === undefined) continue;
    calls++;
    const before = started.get(line.nodeId) ?? new Set<number>();
    const liveOther = [...before].some((c) => !dead.has(c));
    if (line.rowExists === true || liveOther) duplicates++;
    else if (before.size > 0) redone++;
    before.add(line.child);
    started.set(line.nodeId, before);
  }
  return { calls, duplicates, redone };
}

function readPostLog(file: string): PostLogLine[] {
  if (!fs.existsSync(file)) return [];
  return fs
    .readFileSync(file, "utf8")
    .split("\n")
    .filter((l) => l.length > 0)
    .map((l) => JSON.parse(l) as PostLogLine);
}

/** Notes in the PoST log that the parent saw `child` die (see {@link analysePostLog}). */
export function appendDead(file: string, child: number): void {
  fs.appendFileSync(file, `${JSON.stringify({ child, kind: "dead" } satisfies PostLogLine)}\n`);
}

function integrityOf(file: string): string {
  if (!fs.existsSync(file)) return "ok";
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    const rows = db.pragma("integrity_check") as { integrity_check: string }[];
    return rows.map((r) => r.integrity_check).join("; ");
  } finally {
    db.close();
  }
}

/** The time a node comes back after a kill at `now`. */
function restartTime(now: number, outage: Outage): number {
  if (outage === "past-round-start") {
    const start = schedule.registrationDeadline(ROUND).getTime();
    return now < start ? start + 1_000 : now;
  }
  if (outage === "past-cutoff") {
    const cutoff = schedule.roundEnd(ROUND).getTime() + PROOF_CUTOFF_MS;
    return now < cutoff ? cutoff + 1_000 : now;
  }
  return now;
}

/** Options of a {@link Trial.drive}. */
export interface DriveOptions {
  /**
   * Runs at every step once all are quiet. It may kill children, or add new ones to the group:
   * then it returns `true`, and every live child is settled again before the clock moves.
   */
  onQuiet?: ((step: number) => Promise<boolean | undefined> | Promise<void>) | undefined;
  /** An instant the parent wants a step at (a planned kill or restart), if any. */
  wakeAt?: (() => number | undefined) | undefined;
  /** Most clock steps (default {@link MAX_STEPS}). */
  maxSteps?: number | undefined;
}

/**
 * A trial's folder, clock, PoETs and identities; the node state is a SQLite file in the folder, or
 * a PostgreSQL schema (`postgres`) that several children share at once.
 */
export class Trial {
  readonly clock = new ManualClock(START_MS);
  readonly random: () => number;
  readonly dbPath: string;
  readonly postLog: string;
  readonly ids: CrashIdentity[];
  poets!: Poets;
  #nextChild = 0;
  readonly children: CrashChild[] = [];

  constructor(
    readonly dir: string,
    readonly seed: number,
    n: number,
    readonly postgres?: { url: string; schema: string } | undefined,
  ) {
    this.random = prng(seed);
    this.ids = identities(this.random, n);
    this.dbPath = path.join(dir, "node_state.sql");
    this.postLog = path.join(dir, "post.log");
  }

  async start(): Promise<void> {
    this.poets = await Poets.start(this.clock);
    // The store exists before any child opens it, so that two children never race to create it.
    const state = await this.openState(true);
    await state.close();
  }

  /** The trial's node state, as the parent opens it (to create it, and for the final checks). */
  openState(create = false): Promise<NodeState> {
    if (this.postgres === undefined) return openNodeState(this.dbPath, { create });
    return openPostgresState({
      connection: this.postgres.url,
      schema: this.postgres.schema,
      maxConnections: 2,
    });
  }

  spawn(
    kill: KillPlan | undefined,
    ids = this.ids,
    lease: { label?: string | undefined; timeMs?: number | undefined } = {},
  ): CrashChild {
    const child = new CrashChild({
      type: "init",
      child: this.#nextChild++,
      dbPath: this.dbPath,
      postgres: this.postgres,
      leaseLabel: lease.label,
      leaseTimeMs: lease.timeMs,
      postLog: this.postLog,
      genesisMs: T0,
      epochMs: EPOCH_MS,
      phaseShiftMs: PHASE_SHIFT_MS,
      cycleGapMs: CYCLE_GAP_MS,
      nowMs: this.clock.now(),
      poets: this.poets.mocks.map((m) => ({ url: m.url, pubkey: m.info.servicePubkey })),
      identities: ids,
      postMs: POST_MS,
      seed: Math.floor(this.random() * 2 ** 32),
      kill:
        kill?.where === "child" ? { point: kill.point, occurrence: kill.occurrence } : undefined,
    });
    this.children.push(child);
    return child;
  }

  /**
   * Steps the clock for the live children in `group` until each has finished or died (see
   * {@link DriveOptions}; `onQuiet` alone for the single-process trials).
   */
  async drive(
    group: CrashChild[],
    options: DriveOptions | DriveOptions["onQuiet"] = {},
  ): Promise<void> {
    const {
      onQuiet,
      wakeAt,
      maxSteps = MAX_STEPS,
    } = typeof options === "function" ? { onQuiet: options } : options;
    let stalledSince: number | undefined;
    let steps = 0;
    for (let step = 0; ; step++) {
      if (steps > maxSteps) {
        throw new Error(`trial ${this.seed}: ${maxSteps} clock steps to no end`);
      }
      const reports = new Map<CrashChild, Settled>();
      for (const child of group) {
        if (child.alive && child.finished === undefined) reports.set(child, await child.settled());
      }
      for (const [child, report] of reports) {
        if (report.kind === "finished") await child.ended();
        if (report.kind === "exit" && child.finished === undefined)
          appendDead(this.postLog, child.id);
      }
      const live = group.filter((c) => c.alive && c.finished === undefined);
      if (process.env.CRASH_DEBUG)
        process.stderr.write(
          `step ${step} t=${this.clock.now() - T0} real=${Math.round(performance.now())} ${[...reports.values()].map((r) => JSON.stringify(r, (_k, v) => (typeof v === "bigint" ? String(v) : v))).join(" ")}\n`,
        );
      if (live.length === 0) return;
      const changed = (await onQuiet?.(step)) === true;
      const still = group.filter((c) => c.alive && c.finished === undefined);
      if (changed || still.length < live.length) continue;
      let next = wakeAt?.();
      if (next !== undefined && next <= this.clock.now()) next = undefined;
      for (const child of live) {
        const report = reports.get(child);
        if (report?.kind !== "quiet" || report.next === undefined) continue;
        next = next === undefined ? report.next : Math.min(next, report.next);
      }
      if (next === undefined) {
        // Nothing is scheduled and nothing finished: real work the children do not show, or stuck.
        stalledSince ??= performance.now();
        if (performance.now() - stalledSince > STUCK_MS) {
          throw new Error(`trial ${this.seed}: nothing scheduled and nothing finished: stuck`);
        }
        await new Promise((resolve) => setTimeout(resolve, 5));
        next = this.clock.now();
      } else {
        stalledSince = undefined;
        steps++;
      }
      await this.clock.set(Math.max(next, this.clock.now()));
      for (const child of live) child.advance(this.clock.now());
    }
  }

  /** Final checks over the PoETs, the node state and the PoST log. */
  async result(outcomes: OutcomeSummary[], kills: TrialResult["kills"], resumes: number) {
    const notes: string[] = [];
    const lost: string[] = [];
    const unfinished: string[] = [];
    const missed: string[] = [];
    // Every child is gone: let the PoETs prove the round, to see which proof was the best.
    const end = schedule.roundEnd(ROUND).getTime();
    if (this.clock.now() < end) await this.clock.set(end);
    const notBest: string[] = [];
    const state = await this.openState();
    let checkProblems = 0;
    try {
      checkProblems = (await state.check()).length;
      for (const id of this.ids) {
        const nodeId = toHex(id.nodeId);
        const hash = toHex(id.hash);
        // The PoETs whose round holds the challenge, and the best of their proofs.
        let best: { poet: number; leaves: bigint; ref: string } | undefined;
        const holders: number[] = [];
        this.poets.mocks.forEach((mock, i) => {
          const round = mock.state.round(ROUND);
          const held = round?.closed?.members.some((m) => toHex(m) === hash) === true;
          if (!held || round?.proof === undefined) return;
          holders.push(i);
          const leaves = round.proof.leaves;
          if (best === undefined || leaves > best.leaves) {
            best = { poet: i, leaves, ref: toHex(proofRef(round.proof)) };
          }
        });
        const row = await state.nipost.get(id.nodeId);
        const outcome = outcomes.find((o) => toHex(o.nodeId) === nodeId);
        notes.push(
          `${nodeId.slice(0, 8)}: held by PoETs [${holders}], outcome ${outcome?.kind ?? "none"}` +
            (outcome?.leaves === undefined ? "" : ` on ${outcome.leaves} leaves`) +
            (outcome?.error === undefined ? "" : ` (${outcome.error})`),
        );
        if (best === undefined) {
          if (outcome?.kind !== "ready") missed.push(nodeId);
          continue;
        }
        if (row === undefined) {
          lost.push(nodeId);
          continue;
        }
        if (outcome?.kind !== "ready") unfinished.push(nodeId);
        if (toHex(row.poetProofRef) !== best.ref) notBest.push(nodeId);
      }
    } finally {
      await state.close();
    }
    // One challenge per identity and PoET round: any refused "conflicting registration", or two
    // accepted challenges for one identity at one PoET round.
    let conflicting = this.poets.seen.filter((s) => s.outcome === "conflict").length;
    const accepted = new Map<string, string>();
    for (const s of this.poets.seen) {
      if (s.outcome !== "accepted") continue;
      const key = `${s.poet}:${s.round}:${s.nodeId}`;
      const earlier = accepted.get(key);
      if (earlier !== undefined && earlier !== s.challenge) conflicting++;
      accepted.set(key, s.challenge);
    }
    const post = analysePostLog(readPostLog(this.postLog));
    // PostgreSQL has no integrity_check: its own checks are `state.check()`'s.
    const integrity =
      this.postgres !== undefined
        ? "ok"
        : [integrityOf(this.dbPath), integrityOf(companionPath(this.dbPath))]
            .filter((r, i, all) => all.indexOf(r) === i)
            .join("; ");
    return {
      seed: this.seed,
      identities: this.ids.length,
      kills,
      resumes,
      lost,
      unfinished,
      missed,
      notBest,
      conflicting,
      postCalls: post.calls,
      duplicatePost: post.duplicates,
      redonePost: post.redone,
      duplicateSubmits: duplicateSubmits(this.children),
      integrity,
      checkProblems,
      outcomes,
      notes,
    } satisfies TrialResult;
  }

  async close(): Promise<void> {
    await Promise.all(this.children.map((c) => c.kill()));
    await this.poets?.stop();
  }
}

/**
 * Submits of an (identity, PoET) pair by one process after another process that was still alive
 * had submitted that pair.
 */
function duplicateSubmits(children: readonly CrashChild[]): number {
  const all = children.flatMap((child) => child.submits.map((s) => ({ child, ...s })));
  all.sort((a, b) => a.order - b.order);
  let n = 0;
  const first = new Map<string, CrashChild[]>();
  for (const s of all) {
    const key = `${toHex(s.nodeId)}:${s.poet}`;
    const senders = first.get(key) ?? [];
    const liveOther = senders.some(
      (c) => c !== s.child && (c.diedOrder === undefined || c.diedOrder > s.order),
    );
    if (liveOther) n++;
    if (!senders.includes(s.child)) senders.push(s.child);
    first.set(key, senders);
  }
  return n;
}

/**
 * Runs one single-process trial: lives killed as `options.kills` plans, restarted on the same
 * file after the planned outage, until a life finishes.
 */
export async function runTrial(dir: string, options: TrialOptions): Promise<TrialResult> {
  const trial = new Trial(dir, options.seed, options.identities ?? 3);
  const kills: TrialResult["kills"] = [];
  let resumes = 0;
  try {
    await trial.start();
    if (options.bestProofLate === true) trial.poets.late.add(2);
    const maxKills = options.maxKills ?? 4;
    for (let life = 0; ; life++) {
      const plan = kills.length < maxKills ? options.kills(life, trial.random) : undefined;
      const ids =
        options.changeChallenge === true && life > 0
          ? trial.ids.map((id) => ({ ...id, hash: prngBytes(trial.random, 32) }))
          : trial.ids;
      const child = trial.spawn(plan, ids);
      if (life > 0) resumes++;
      let accepts = 0;
      let proofs = 0;
      const hit = () => {
        kills.push({ where: killName(plan as KillPlan), at: trial.clock.now() });
        void child.kill();
      };
      trial.poets.onAccept =
        plan?.where === "accept"
          ? () => {
              if (++accepts === plan.occurrence && child.alive) hit();
            }
          : undefined;
      trial.poets.onProof =
        plan?.where === "download"
          ? () => {
              if (++proofs === plan.occurrence && child.alive) hit();
            }
          : undefined;
      await trial.drive([child], async (step) => {
        if (plan?.where === "clock" && step + 1 === plan.occurrence) {
          kills.push({ where: "clock", at: trial.clock.now() });
          await child.kill();
          appendDead(trial.postLog, child.id);
        }
      });
      trial.poets.onAccept = undefined;
      trial.poets.onProof = undefined;
      if (child.finished !== undefined) {
        return await trial.result(child.finished.outcomes, kills, resumes);
      }
      await child.exited;
      if (child.exit?.signal !== "SIGKILL") {
        throw new Error(
          `trial ${options.seed}: child ${child.id} exited with ${JSON.stringify(child.exit)}\n${child.stderr}`,
        );
      }
      if (!child.killedByParent) {
        kills.push({ where: killName(plan as KillPlan), at: trial.clock.now() });
      }
      trial.poets.late.clear();
      const outage = options.outage?.(life, trial.random) ?? "none";
      await trial.clock.set(restartTime(trial.clock.now(), outage));
    }
  } finally {
    await trial.close();
  }
}

/** When the two-process trial kills the process that holds the identities. */
export type HolderKill = "none" | "after-register" | "during-post";

/** Events that say a process has an identity's lease (the `lease` lane's names). */
const TAKEN = new Set(["lease-acquired", "lease-taken-over"]);

/**
 * Clock ms from the holder's death to the survivor having the lease of every identity the holder
 * had (a `lease-acquired` or `lease-taken-over` event at or after the death); `undefined` when the
 * library has no such events or an identity was never taken over.
 */
function takeover(victim: CrashChild, survivor: CrashChild, killedAt: number): number | undefined {
  const held = new Set(
    victim.events
      .filter((e) => TAKEN.has(e.event) && e.nodeId !== undefined)
      .map((e) => toHex(e.nodeId as Uint8Array)),
  );
  if (held.size === 0) return undefined;
  let latest = 0;
  for (const nodeId of held) {
    const taken = survivor.events.find(
      (e) =>
        e.at >= killedAt &&
        TAKEN.has(e.event) &&
        e.nodeId !== undefined &&
        toHex(e.nodeId) === nodeId,
    );
    if (taken === undefined) return undefined;
    latest = Math.max(latest, taken.at - killedAt);
  }
  return latest;
}

/**
 * Two processes on one file at once, both given every identity. With `kill`, the first process
 * seen working (a `registered` event, or `post-started` for `"during-post"`) is killed with
 * SIGKILL at that step, and the other must finish; the takeover time is the clock time from that
 * death to the survivor's first takeover event (a lease event), when it has such events.
 */
export async function runTwoProcesses(
  dir: string,
  options: { seed: number; identities?: number | undefined; kill: HolderKill },
): Promise<TrialResult> {
  const trial = new Trial(dir, options.seed, options.identities ?? 3);
  const kills: TrialResult["kills"] = [];
  let killedAt: number | undefined;
  let victim: CrashChild | undefined;
  try {
    await trial.start();
    const pair = [trial.spawn(undefined), trial.spawn(undefined)];
    const sign = options.kill === "during-post" ? "post-started" : "registered";
    await trial.drive(pair, async () => {
      if (options.kill === "none" || victim !== undefined) return;
      const holder = pair.find((c) => c.alive && c.events.some((e) => e.event === sign));
      if (holder === undefined) return;
      victim = holder;
      killedAt = trial.clock.now();
      kills.push({ where: `holder ${options.kill}`, at: killedAt });
      await holder.kill();
      appendDead(trial.postLog, holder.id);
    });
    const outcomes = new Map<string, OutcomeSummary>();
    for (const child of pair) {
      for (const o of child.finished?.outcomes ?? []) {
        const key = toHex(o.nodeId);
        if (outcomes.get(key)?.kind !== "ready") outcomes.set(key, o);
      }
    }
    const result: TrialResult = await trial.result([...outcomes.values()], kills, 0);
    const survivor = pair.find((c) => c !== victim);
    if (killedAt !== undefined && victim !== undefined && survivor !== undefined) {
      result.takeoverMs = takeover(victim, survivor, killedAt);
    }
    const refusals = pair
      .flatMap((c) => c.finished?.outcomes ?? [])
      .filter((o) => o.kind !== "ready");
    for (const o of refusals) {
      result.notes.push(`${toHex(o.nodeId).slice(0, 8)}: one process ended ${o.kind} (${o.error})`);
    }
    return result;
  } finally {
    await trial.close();
  }
}
