/**
 * @module cli/demo/demo-view
 *
 * What the demo shows while it runs. On a terminal: a live view redrawn in place a few times a
 * second — the round's calendar with countdowns, what each identity is waiting for, each PoET's
 * state — built only from the registration manager's typed events (docs/node-client.md §7 item
 * 13) and the mocks' state. Elsewhere (a pipe, CI): one plain line per event, so a log reads as a
 * story, and between events a line with the countdown to the next instant of the calendar, so that
 * a log never goes quiet for long without saying what it waits for. Failures the demo stages on
 * purpose are labelled as staged, so that nobody mistakes them for bugs. The view never drives
 * anything; it only listens.
 */
import { toHex } from "../../bytes.js";
import type { Clock } from "../../clock.js";
import type { RegistrationEvent } from "../../registration/index.js";
import type { RoundSchedule } from "../../schedule/index.js";
import { formatDuration, formatInstant } from "../format.js";
import type { TextSink } from "../io.js";
import { type Style, visibleLength } from "../style.js";
import type { DemoPoet } from "./demo-scenario.js";

const ESC = String.fromCharCode(27);

/** What the view knows about one identity. */
interface IdentityView {
  label: string;
  state: string;
  until: number | undefined;
  registeredAt: Set<string>;
  best: { poet: string; ticks: bigint } | undefined;
  note: string | undefined;
  done: boolean;
  failed: boolean;
}

/** What the view knows about one PoET's proof. */
interface PoetProofView {
  leaves: bigint;
  ticks: bigint;
}

/** Renders the demo's progress, live on a terminal or as plain lines. */
export class DemoView {
  readonly #out: TextSink;
  readonly #style: Style;
  readonly #clock: Clock;
  readonly #schedule: RoundSchedule;
  readonly #poets: readonly DemoPoet[];
  readonly #live: boolean;
  readonly #quiet: boolean;
  readonly #startedAt: number;
  readonly #identities = new Map<string, IdentityView>();
  readonly #proofs = new Map<string, PoetProofView>();
  readonly #names = new Map<string, string>();
  /** Failed submits per identity and PoET since the last success: only the first is printed. */
  readonly #retries = new Map<string, number>();
  #drawnLines = 0;
  /** When the last plain line was printed (clock time): a pipe gets a countdown after a silence. */
  #lastLineAt: number;

  constructor(options: {
    out: TextSink;
    style: Style;
    clock: Clock;
    schedule: RoundSchedule;
    poets: readonly DemoPoet[];
    identities: readonly Uint8Array[];
    /** Redraw in place (a terminal) instead of printing lines. */
    live: boolean;
    /** Print nothing while running (`--json`). */
    quiet: boolean;
  }) {
    this.#out = options.out;
    this.#style = options.style;
    this.#clock = options.clock;
    this.#schedule = options.schedule;
    this.#poets = options.poets;
    this.#live = options.live && !options.quiet;
    this.#quiet = options.quiet;
    this.#startedAt = options.clock.now();
    this.#lastLineAt = this.#startedAt;
    for (const p of options.poets) this.#names.set(p.mock.url, p.name);
    options.identities.forEach((nodeId, i) => {
      this.#identities.set(toHex(nodeId), {
        label: `id-${i + 1} ${toHex(nodeId).slice(0, 8)}`,
        state: "starting",
        until: undefined,
        registeredAt: new Set(),
        best: undefined,
        note: undefined,
        done: false,
        failed: false,
      });
    });
  }

  /** The PoET's short name for a URL or address. */
  poetName(address: string): string {
    for (const [url, name] of this.#names) if (address.startsWith(url)) return name;
    return address;
  }

  /** Feeds one manager event into the view. */
  onEvent(event: RegistrationEvent): void {
    const line = this.#apply(event);
    if (line !== undefined && !this.#live && !this.#quiet) this.#line(event.at.getTime(), line);
  }

  #line(at: number, text: string): void {
    const elapsed = ((at - this.#startedAt) / 1000).toFixed(1).padStart(5);
    this.#out.write(`[${elapsed}s] ${text}\n`);
    this.#lastLineAt = Math.max(this.#lastLineAt, at);
  }

  /** How long a pipe may stay silent before the view prints where the round stands. */
  get #quietLimitMs(): number {
    return Math.max(2000, Math.round(this.#schedule.epochDurationMs / 8));
  }

  /** The name of the PoET at `poet` with " (staged)" when the demo is failing it on purpose. */
  #staged(poet: string): string {
    const staged = this.#poets.find((p) => p.name === poet)?.fault;
    return staged === undefined ? "" : ` — staged: the demo made ${poet} ${describeFault(staged)}`;
  }

  /** Prints a plain message (between frames on a terminal). */
  message(text: string): void {
    if (this.#quiet) return;
    if (this.#live) this.#erase();
    this.#out.write(`${text}\n`);
    this.#lastLineAt = Math.max(this.#lastLineAt, this.#clock.now());
  }

  #identity(nodeId: Uint8Array): IdentityView | undefined {
    return this.#identities.get(toHex(nodeId));
  }

  #apply(event: RegistrationEvent): string | undefined {
    const s = this.#style;
    switch (event.type) {
      case "waiting-for-registration-window": {
        const v = this.#identity(event.nodeId);
        if (v === undefined) return undefined;
        v.state = "waiting for the registration window";
        v.until = event.opensAt.getTime();
        return `${v.label}: waits for round ${event.round}'s registration window`;
      }
      case "registered": {
        const v = this.#identity(event.nodeId);
        if (v === undefined) return undefined;
        const poet = this.poetName(event.poet);
        v.registeredAt.add(poet);
        v.note = undefined;
        const key = `${toHex(event.nodeId)} ${poet}`;
        const retries = this.#retries.get(key) ?? 0;
        this.#retries.delete(key);
        if (!v.state.startsWith("waiting for the round end")) {
          v.state = "registering";
          v.until = this.#schedule.registrationDeadline(event.round).getTime();
        }
        const after =
          retries > 0 ? `, after ${retries} failed attempt${retries > 1 ? "s" : ""}` : "";
        return `${v.label}: registered at ${poet} (round ${event.roundId}${event.resumed ? ", resumed" : ""}${after})`;
      }
      case "registration-failed": {
        const v = this.#identity(event.nodeId);
        if (v === undefined) return undefined;
        const poet = this.poetName(event.poet);
        v.note = `${poet}: ${shortError(event.error.message)}`;
        const key = `${toHex(event.nodeId)} ${poet}`;
        const retries = (this.#retries.get(key) ?? 0) + 1;
        this.#retries.set(key, retries);
        if (retries > 1 && event.nextAttemptAt !== undefined) return undefined;
        const retry =
          event.nextAttemptAt === undefined
            ? "gives up for this round"
            : `retries every ${formatDuration(event.nextAttemptAt.getTime() - event.at.getTime())} or so`;
        return `${v.label}: ${s.yellow(`${poet} failed`)} (${shortError(event.error.message)}); ${retry}${this.#staged(poet)}`;
      }
      case "waiting-for-round-end": {
        const v = this.#identity(event.nodeId);
        if (v === undefined) return undefined;
        v.state = `waiting for the round end (${v.registeredAt.size}/${this.#poets.length} PoETs)`;
        v.until = event.queryAt.getTime();
        const end = event.roundEnd;
        const left = formatSeconds(end.getTime() - event.at.getTime());
        return `${v.label}: registered with ${event.poets.map((p) => this.poetName(p)).join(", ")}; waits for round ${event.round} to end at ${formatInstant(end)} (in ${left})`;
      }
      case "proof-downloaded": {
        const poet = this.poetName(event.poet);
        this.#proofs.set(poet, { leaves: event.leaves, ticks: event.ticks });
        return `${poet}: proof of round ${event.roundId} downloaded and verified: ${event.leaves} leaves = ${event.ticks} ticks, ${event.members} members`;
      }
      case "proof-fetch-failed": {
        const poet = this.poetName(event.poet);
        const key = `proof ${poet} ${event.roundId}`;
        const retries = (this.#retries.get(key) ?? 0) + 1;
        this.#retries.set(key, retries);
        const notReady = event.error.code === "proof-not-ready";
        if (notReady && retries > 1 && event.nextAttemptAt !== undefined) return undefined;
        const retry =
          event.nextAttemptAt === undefined
            ? "stops asking"
            : `asks again in ${formatDuration(event.nextAttemptAt.getTime() - event.at.getTime())}`;
        if (notReady) return `${poet}: proof of round ${event.roundId} not published yet; ${retry}`;
        return `${poet}: ${s.yellow("proof download failed")} (${shortError(event.error.message)}); ${retry}${this.#staged(poet)}`;
      }
      case "proof-rejected":
        return `${this.poetName(event.poet)}: ${s.red("proof rejected")}: ${shortError(event.error.message)}`;
      case "best-proof-selected": {
        const v = this.#identity(event.nodeId);
        if (v === undefined) return undefined;
        const poet = this.poetName(event.poet);
        v.best = { poet, ticks: event.ticks };
        v.state = "waiting for better proofs";
        const upgrade =
          event.replaces === undefined
            ? ""
            : ` (upgrade from ${this.poetName(event.replaces.poet)}, ${event.replaces.ticks} ticks)`;
        return `${v.label}: best proof so far: ${poet}, ${event.ticks} ticks${upgrade}`;
      }
      case "post-started": {
        const v = this.#identity(event.nodeId);
        if (v === undefined) return undefined;
        v.state = "running PoST";
        v.until = undefined;
        return `${v.label}: runs PoST over ref ${toHex(event.ref).slice(0, 12)}…`;
      }
      case "post-failed": {
        const v = this.#identity(event.nodeId);
        if (v !== undefined) {
          v.state = "PoST failed";
          v.failed = true;
        }
        return `${v?.label ?? "identity"}: ${s.red("PoST failed")}: ${event.error.message}`;
      }
      case "nipost-ready": {
        const v = this.#identity(event.nodeId);
        if (v === undefined) return undefined;
        v.state = "NiPoST ready";
        v.until = undefined;
        v.done = true;
        return `${v.label}: ${s.green("NiPoST ready")}: ${this.poetName(event.poet)}, ${event.ticks} ticks`;
      }
      case "challenge-expired":
      case "window-missed": {
        const v = this.#identity(event.nodeId);
        if (v !== undefined) {
          v.state = event.type === "window-missed" ? "missed the window" : "challenge expired";
          v.failed = true;
        }
        return `${v?.label ?? "identity"}: ${s.red(event.type)}: ${event.error.message}`;
      }
      case "phase-mismatch":
        return `${this.poetName(event.poet)}: ${s.red("other phase")}: ${event.error.message}`;
      case "state-repaired":
        return `repaired state: ${event.problem} → ${event.action}`;
      case "poet-set-mismatch":
      case "poets-switched":
        return event.type;
    }
  }

  /**
   * Draws one frame of the live view on a terminal; in a pipe, prints the countdown line when
   * nothing was printed for a while.
   */
  draw(): void {
    if (!this.#live) {
      const now = this.#clock.now();
      if (!this.#quiet && now - this.#lastLineAt >= this.#quietLimitMs) {
        this.#line(now, this.#countdownLine(now));
      }
      return;
    }
    const lines = this.#frame();
    this.#erase();
    this.#out.write(`${ESC}[?25l${lines.join("\n")}\n`);
    this.#drawnLines = lines.length;
  }

  /** Leaves the terminal as it was: last frame kept, cursor shown. */
  finish(): void {
    if (!this.#live) return;
    this.draw();
    this.#out.write(`${ESC}[?25h`);
    this.#drawnLines = 0;
  }

  #erase(): void {
    if (this.#drawnLines > 0) this.#out.write(`${ESC}[${this.#drawnLines}F${ESC}[J`);
    this.#drawnLines = 0;
  }

  #countdown(at: number | undefined, now: number): string {
    if (at === undefined) return "";
    const ms = at - now;
    return ms > 0 ? this.#style.cyan(` ${formatSeconds(ms)}`) : "";
  }

  /** Where round 0 stands at `now` and how long until its next instant. */
  #phase(now: number): string {
    const s = this.#style;
    const sch = this.#schedule;
    const regClose = sch.registrationDeadline(0).getTime();
    const end = sch.roundEnd(0).getTime();
    return now < regClose
      ? `registration open, closes in ${s.cyan(formatSeconds(regClose - now))}`
      : now < end
        ? `executing, ends in ${s.cyan(formatSeconds(end - now))}`
        : `cycle gap: proofs, PoST, NiPoST (next round in ${formatSeconds(sch.roundStart(1).getTime() - now)})`;
  }

  /** The line a pipe gets after a silence: the round's state and what the identities wait for. */
  #countdownLine(now: number): string {
    const waiting = [...this.#identities.values()].filter((v) => !v.done && !v.failed);
    const states = new Map<string, number>();
    for (const v of waiting) states.set(v.state, (states.get(v.state) ?? 0) + 1);
    const what = [...states].map(([state, n]) => `${n} ${state}`).join(", ");
    return `round 0: ${this.#phase(now)}${what === "" ? "" : `; identities: ${what}`}`;
  }

  #frame(): string[] {
    const s = this.#style;
    const now = this.#clock.now();
    const elapsed = formatSeconds(now - this.#startedAt);
    const lines = [
      s.bold(`PoET demo — ${elapsed}`) + s.dim("  (Ctrl-C stops)"),
      `round 0: ${this.#phase(now)}`,
      "",
      s.bold("identities"),
    ];
    for (const v of this.#identities.values()) {
      const mark = v.done ? s.green("✔") : v.failed ? s.red("✘") : "·";
      const best = v.best === undefined ? "" : s.dim(`  best ${v.best.poet} ${v.best.ticks} ticks`);
      const note = v.note === undefined || v.done ? "" : s.yellow(`  ${v.note}`);
      lines.push(` ${mark} ${v.label}  ${v.state}${this.#countdown(v.until, now)}${best}${note}`);
    }
    lines.push("", s.bold("PoETs"));
    for (const p of this.#poets) {
      const round = p.mock.state.round(0);
      const regs = round?.registrations.length ?? 0;
      const proof = this.#proofs.get(p.name);
      const status = p.fault === undefined ? s.green("up") : s.red(`${p.fault} (staged)`);
      const proofText =
        proof === undefined
          ? s.dim("no proof yet")
          : `proof ${proof.leaves} leaves = ${proof.ticks} ticks`;
      lines.push(
        ` ${p.name}  ${padVisible(status, 5)} ${p.mock.url}  ${p.leavesPerRound} leaves/round  ${regs} registered  ${proofText}`,
      );
    }
    return lines;
  }
}

/** A fault the demo's script set, as the rest of a sentence ("made poet-c …"). */
function describeFault(fault: string): string {
  return fault === "down" ? "unreachable on purpose" : `answer ${fault} on purpose`;
}

/**
 * What the demo says at the start about the failures it stages, so that they read as intended.
 *
 * @example
 * ```ts
 * view.message(stagedFailuresNotice("poet-c", timings.downMs));
 * ```
 */
export function stagedFailuresNotice(poet: string, downMs: number): string {
  return (
    `staged failures: ${poet} is unreachable for the first ${formatDuration(downMs)} and refuses ` +
    "two proof requests (503) when the round ends, on purpose, to show retries and a late better proof"
  );
}

/**
 * How to look at a demo's kept node state with `poet-client status`: the demo's calendar is not
 * mainnet's, so the command passes it with the calendar flags, and the demo's tick size.
 *
 * @example
 * ```ts
 * io.stdout.write(`${keptStateHelp(dbPath, schedule, 100n)}\n`);
 * ```
 */
export function keptStateHelp(dbPath: string, schedule: RoundSchedule, tickSize: bigint): string {
  return `node state kept in ${dbPath}; inspect it with:\n  ${inspectCommand(dbPath, schedule, tickSize).join(" ")}`;
}

/** The `poet-client status` command line for a kept demo state (see {@link keptStateHelp}). */
export function inspectCommand(
  dbPath: string,
  schedule: RoundSchedule,
  tickSize: bigint,
): string[] {
  return [
    "poet-client",
    "status",
    "--db",
    /^[\w./-]+$/.test(dbPath) ? dbPath : `'${dbPath.replace(/'/g, "'\\''")}'`,
    "--genesis",
    schedule.genesis.toISOString(),
    "--epoch",
    `${schedule.epochDurationMs}ms`,
    "--phase-shift",
    `${schedule.phaseShiftMs}ms`,
    "--cycle-gap",
    `${schedule.cycleGapMs}ms`,
    "--tick-size",
    tickSize.toString(),
  ];
}

function padVisible(text: string, width: number): string {
  return text + " ".repeat(Math.max(0, width - visibleLength(text)));
}

function formatSeconds(ms: number): string {
  return `${(Math.max(0, ms) / 1000).toFixed(1)}s`;
}

function shortError(message: string): string {
  const first = message.split("\n")[0] ?? message;
  return first.length > 90 ? `${first.slice(0, 87)}…` : first;
}
