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
  dbPath: string;
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

export type ParentMessage = ChildInit | AdvanceMessage;

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
