/**
 * The messages between the crash test's parent (test/helpers/crash/world.ts) and each child
 * process that runs a registration manager (test/helpers/crash/child.ts), over the IPC channel
 * with `serialization: "advanced"` (so `Uint8Array` and `bigint` cross as they are).
 *
 * Time belongs to the parent. A child's `ManualClock` moves only when the parent says `advance`;
 * after each move (and once after its start) the child waits until it is quiet (no request in
 * flight, no pending slice, no new sleeper: test/helpers/clock-driver.ts `settle`) and answers
 * `quiet` with its next wake-up. The parent moves its own clock (the mock PoETs' clock) and every
 * live child's to the earliest wake-up of them all, so the children see exactly the parent's time,
 * and a busy machine only makes a run slower, never different.
 */

/**
 * A child manager's default lease time (clock ms): a dead holder's identities are taken over at
 * most this long after its death. Small beside this schedule's 19 s registration window, as mainnet's 30 s
 * default is beside its days.
 */
export const LEASE_TIME_MS = 3_000;

/**
 * `T`, the leaves a proof opens, of the crash test's PoETs (world.ts) and of the children's
 * verifier (child.ts): smaller than the network's 150, so that proving a round and verifying a
 * proof, done again in every life that gets that far, cost a tenth as much.
 */
export const CRASH_SECURITY_PARAM = 16;

/** Points in a child's run where a planned SIGKILL can strike (the child kills itself there). */
export const CHILD_POINTS = [
  /** Before a submit request leaves for a PoET. */
  "submit:before",
  /** A PoET answered a submit; the answer has not reached the manager (no row yet). */
  "submit:after",
  /** The `registered` event: the registration row was written. */
  "event:registered",
  /** Before a proof request leaves. */
  "proof:before",
  /** A proof was downloaded and parsed, not verified yet. */
  "proof:after",
  /** Verification is about to start / has just finished. */
  "verify:before",
  "verify:after",
  /** The best-proof choice: before the challenge row gets the ref / after (`best-proof-selected`). */
  "choice:before",
  "event:best-proof-selected",
  /** PoST: its start line is on disk / it is done and about to return. */
  "post:start",
  "post:end",
  /** The nipost row: before it is written / after (`nipost-ready`). */
  "nipost:before",
  "event:nipost-ready",
] as const;

/** A point of {@link CHILD_POINTS}. */
export type ChildPoint = (typeof CHILD_POINTS)[number];

/** One identity as a child gets it: its key seed and challenge. */
export interface CrashIdentity {
  seed: Uint8Array;
  nodeId: Uint8Array;
  publishEpoch: number;
  positioningAtx: Uint8Array;
  hash: Uint8Array;
}

/** The settings of one child's life, sent once right after it starts. */
export interface ChildInit {
  type: "init";
  /** Which child this is (a number the parent picks; also written to the PoST log). */
  child: number;
  /** The SQLite node state (unused with `postgres`). */
  dbPath: string;
  /**
   * Run on this PostgreSQL node state instead (a connection string and a schema the parent has
   * already migrated): several children then run on it at once, as a fleet's workers.
   */
  postgres?: { url: string; schema: string } | undefined;
  /** The manager's lease holder label (`leaseHolder`); default the library's. */
  leaseLabel?: string | undefined;
  /** The manager's lease time (clock ms); default {@link LEASE_TIME_MS}. */
  leaseTimeMs?: number | undefined;
  /** The PoST log: one JSON line per PoST start and end, appended with fsync. */
  postLog: string;
  /** The shared start of the schedule (unix ms). */
  genesisMs: number;
  epochMs: number;
  phaseShiftMs: number;
  cycleGapMs: number;
  /** The child's clock starts here: the parent's now. */
  nowMs: number;
  poets: { url: string; pubkey: Uint8Array }[];
  identities: CrashIdentity[];
  /** Clock ms one PoST takes. */
  postMs: number;
  /** Seed of the manager's jitter. */
  seed: number;
  /** Where this life ends by its own hand, if it gets that far. */
  kill?: { point: ChildPoint; occurrence: number } | undefined;
}

/** Parent to child: move the clock to `to` (unix ms), then report quiet with this `seq`. */
export interface AdvanceMessage {
  type: "advance";
  seq: number;
  to: number;
}

/**
 * Parent to child: die (SIGKILL by its own hand) at the `points`-th point of {@link CHILD_POINTS}
 * (or event) reached from now on, in the middle of whatever it does next.
 */
export interface ArmMessage {
  type: "arm";
  points: number;
}

/**
 * Parent to child: close the manager (every `buildNiPost` still waiting ends, the leases are
 * released), then finish as usual. A fleet's workers, given every identity, wait for the ones others
 * hold for as long as those run: the parent ends them once every identity is built.
 */
export interface CloseMessage {
  type: "close";
}

export type ParentMessage = ChildInit | AdvanceMessage | ArmMessage | CloseMessage;

/** Child to parent: quiet at `now`; `next` is the earliest sleeper's wake-up, if any. */
export interface QuietMessage {
  type: "quiet";
  seq: number;
  now: number;
  next: number | undefined;
}

/** A registration event, reduced to what the parent looks at. */
export interface EventMessage {
  type: "event";
  event: string;
  at: number;
  nodeId: Uint8Array | undefined;
  poet: string | undefined;
}

/** A submit is about to leave (for the two-process count of duplicate submits). */
export interface SubmitMessage {
  type: "submit";
  nodeId: Uint8Array;
  poet: string;
}

/** What one identity's `buildNiPost` ended with. */
export interface OutcomeSummary {
  nodeId: Uint8Array;
  kind: string;
  error: string | undefined;
  proofRef: Uint8Array | undefined;
  poet: string | undefined;
  leaves: bigint | undefined;
}

/** One identity's `buildNiPost` has ended (sent as it ends, before `finished`). */
export interface OutcomeMessage {
  type: "outcome";
  outcome: OutcomeSummary;
}

/** Every identity's `buildNiPost` has ended; the child closes and exits. */
export interface FinishedMessage {
  type: "finished";
  outcomes: OutcomeSummary[];
}

/** The child failed in a way no test expects (its message and stack). */
export interface FailedMessage {
  type: "failed";
  error: string;
}

export type ChildMessage =
  | QuietMessage
  | EventMessage
  | SubmitMessage
  | OutcomeMessage
  | FinishedMessage
  | FailedMessage;

/** One line of the PoST log. */
export interface PostLogLine {
  child: number;
  /** `start`: PoST begins; `end`: it returns its result; `dead`: the parent saw the child die. */
  kind: "start" | "end" | "dead";
  nodeId?: string;
  ref?: string;
  /** At `start`: whether the identity's nipost row was already stored. */
  rowExists?: boolean;
  at?: number;
}
