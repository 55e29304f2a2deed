/**
 * The parent's handle on one crash-test child (./child.ts): spawn, the IPC messages it sent, and
 * waits bounded by a generous real-time limit that only fails a stuck run.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { crashChildArgs } from "./child-bundle.js";
import type {
  AdvanceMessage,
  ArmMessage,
  ChildInit,
  ChildMessage,
  CloseMessage,
  EventMessage,
  FinishedMessage,
  OutcomeSummary,
  SubmitMessage,
} from "./protocol.js";

/** How long, in real time, one wait for a child may take before the run counts as stuck. */
export const STUCK_MS = 120_000;

/** What a wait for a child's quiet report can end with. */
export type Settled =
  | { kind: "quiet"; now: number; next: number | undefined }
  | { kind: "finished"; message: FinishedMessage }
  | { kind: "exit"; code: number | null; signal: NodeJS.Signals | null };

/** Orders what the parent hears from every child (submits, deaths). */
let heard = 0;

/** One running child. */
export class CrashChild {
  readonly id: number;
  readonly init: ChildInit;
  readonly process: ChildProcess;
  /** Its events, each with the real time (`performance.now()`) the parent heard it. */
  readonly events: (EventMessage & { heardAt: number })[] = [];
  /** Each identity's outcome, as its `buildNiPost` ended. */
  readonly outcomes: OutcomeSummary[] = [];
  /** Each submit, with the order in which the parent heard it among all children's. */
  readonly submits: (SubmitMessage & { order: number })[] = [];
  /** The order (as in {@link submits}) at which the parent learnt of its death. */
  diedOrder: number | undefined;
  /** Set once it exited. */
  exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  /** The real time (`performance.now()`) the parent saw it exit. */
  exitedAt: number | undefined;
  finished: FinishedMessage | undefined;
  failure: string | undefined;
  /** Whether the parent killed it (otherwise a SIGKILL came from the child's own plan). */
  killedByParent = false;
  /** The latest quiet report, by sequence number. */
  #quiet = new Map<number, { now: number; next: number | undefined }>();
  #seq = 0;
  #wake: (() => void) | undefined;
  #stderr = "";
  readonly exited: Promise<void>;

  constructor(init: ChildInit) {
    this.id = init.child;
    this.init = init;
    // `CRASH_CHILD_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof"`: Node options for every child.
    const nodeArgs = process.env.CRASH_CHILD_ARGS?.split(" ").filter((a) => a !== "") ?? [];
    this.process = spawn(process.execPath, [...nodeArgs, ...crashChildArgs()], {
      stdio: ["ignore", "ignore", "pipe", "ipc"],
      serialization: "advanced",
    });
    this.process.stderr?.setEncoding("utf8");
    this.process.stderr?.on("data", (chunk: string) => {
      this.#stderr = (this.#stderr + chunk).slice(-8000);
      if (process.env.CRASH_DEBUG) process.stderr.write(chunk);
    });
    this.process.on("message", (message: ChildMessage) => {
      switch (message.type) {
        case "quiet":
          this.#quiet.set(message.seq, { now: message.now, next: message.next });
          break;
        case "event":
          this.events.push({ ...message, heardAt: performance.now() });
          break;
        case "outcome":
          this.outcomes.push(message.outcome);
          break;
        case "submit":
          this.submits.push({ ...message, order: heard++ });
          break;
        case "finished":
          this.finished = message;
          break;
        case "failed":
          this.failure = message.error;
          break;
      }
      this.#poke();
    });
    // An IPC write to a child that just died is not an error of the test.
    this.process.on("error", () => {});
    this.exited = new Promise((resolve) => {
      this.process.on("exit", (code, signal) => {
        this.exit = { code, signal };
        this.exitedAt = performance.now();
        this.diedOrder ??= heard++;
        this.#poke();
        resolve();
      });
    });
    this.process.send(init);
  }

  #poke(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  get alive(): boolean {
    return this.exit === undefined;
  }

  /** The last lines the child wrote to stderr. */
  get stderr(): string {
    return this.#stderr;
  }

  /** Moves the child's clock to `to`; its next quiet report answers this call's sequence number. */
  advance(to: number): void {
    this.#seq++;
    if (!this.alive) return;
    const message: AdvanceMessage = { type: "advance", seq: this.#seq, to };
    try {
      this.process.send(message);
    } catch {
      // it died meanwhile: the wait sees the exit
    }
  }

  /** Waits for the quiet report of the latest advance (or the first one), the end, or the exit. */
  async settled(): Promise<Settled> {
    const started = performance.now();
    for (;;) {
      if (this.failure !== undefined) {
        throw new Error(`child ${this.id} failed: ${this.failure}\n${this.#stderr}`);
      }
      if (this.finished !== undefined) return { kind: "finished", message: this.finished };
      if (this.exit !== undefined) return { kind: "exit", ...this.exit };
      const quiet = this.#quiet.get(this.#seq);
      if (quiet !== undefined) return { kind: "quiet", ...quiet };
      const left = STUCK_MS - (performance.now() - started);
      if (left <= 0) {
        throw new Error(`child ${this.id} stuck: no report for ${STUCK_MS} ms\n${this.#stderr}`);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 1000));
        this.#wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  /**
   * Tells the child to die by its own hand at the `points`-th point it reaches from now on (in the
   * middle of its next actions); `killedByParent` is set, as the parent decided it.
   */
  arm(points: number): void {
    if (!this.alive) return;
    this.killedByParent = true;
    const message: ArmMessage = { type: "arm", points };
    try {
      this.process.send(message);
    } catch {
      // it died meanwhile
    }
  }

  /** Asks the child to close its manager and finish (a fleet's end). */
  close(): void {
    if (!this.alive) return;
    try {
      this.process.send({ type: "close" } satisfies CloseMessage);
    } catch {
      // it died meanwhile
    }
  }

  /** SIGKILL from the parent; resolves once it is gone. */
  async kill(): Promise<void> {
    if (this.alive) {
      this.killedByParent = true;
      this.diedOrder = heard++;
      this.process.kill("SIGKILL");
    }
    await this.exited;
  }

  /** Waits (bounded) for the exit after `finished`. */
  async ended(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const limit = new Promise<void>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`child ${this.id} did not exit after finishing`)),
        STUCK_MS,
      );
    });
    try {
      await Promise.race([this.exited, limit]);
    } finally {
      clearTimeout(timer);
    }
  }
}
