/**
 * @module cli/cli
 *
 * The `poet-client` dispatcher: picks the command, runs it, and turns every failure into a
 * message on stderr and a documented exit code (see {@link EXIT_CODES_HELP}). It takes a
 * {@link CliIo} instead of touching `process`, so the whole CLI runs in-process in tests; only
 * `main.ts` binds it to the real process.
 */
import { PoetError, PoetRpcError, ProofNotReadyError, ProofVerificationError } from "../errors.js";
import type { Command } from "./command.js";
import { describeError } from "./error-message.js";
import {
  EXIT_CODES_HELP,
  EXIT_FAILURE,
  EXIT_NOT_READY,
  EXIT_OK,
  EXIT_USAGE,
  EXIT_VERIFICATION_FAILED,
} from "./exit-codes.js";
import { FileAccessError } from "./file-error.js";
import type { CliIo } from "./io.js";
import { asUsageError, UsageError } from "./usage-error.js";

/** A command's name and summary, and how to load it (lazily, so that `schedule` never loads SQLite). */
export interface CommandEntry {
  name: string;
  summary: string;
  load(): Promise<Command>;
}

/** Every command, in the order `--help` lists them. */
export const COMMANDS: readonly CommandEntry[] = [
  {
    name: "info",
    summary: "a PoET's key, phase shift, cycle gap, certifier and open round",
    load: async () => (await import("./commands/info.js")).infoCommand,
  },
  {
    name: "schedule",
    summary: "the coming rounds and their deadlines; an iCalendar file with --ics",
    load: async () => (await import("./commands/schedule.js")).scheduleCommand,
  },
  {
    name: "status",
    summary: "each identity's registrations, chosen proof, next step, and inconsistencies",
    load: async () => (await import("./commands/status.js")).statusCommand,
  },
  {
    name: "fetch-proof",
    summary: "download a round's proof from a PoET, verify it, optionally save it",
    load: async () => (await import("./commands/fetch-proof.js")).fetchProofCommand,
  },
  {
    name: "verify",
    summary: "verify a saved proof; print its leaves, ticks and ref",
    load: async () => (await import("./commands/verify.js")).verifyCommand,
  },
  {
    name: "switch-phase",
    summary: "move a node state to the PoETs of another phase, safely (--dry-run explains)",
    load: async () => (await import("./commands/switch-phase.js")).switchPhaseCommand,
  },
  {
    name: "migrate-state",
    summary: "copy a node state into a fleet's PostgreSQL (or another file) and verify the copy",
    load: async () => (await import("./commands/migrate-state.js")).migrateStateCommand,
  },
  {
    name: "demo",
    summary: "the whole cycle against three mock PoETs on loopback, in about a minute",
    load: async () => (await import("./commands/demo.js")).demoCommand,
  },
];

function overview(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  const list = COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`).join("\n");
  return `poet-client: the PoET side of a Spacemesh node, from the command line.

Usage: poet-client <command> [options]
       poet-client <command> --help

Commands:
${list}

Every command takes --json for machine-readable output and --help for its options.
Colour is used only on a terminal and never when NO_COLOR is set.

${EXIT_CODES_HELP}
`;
}

/** The exit code for an error a command threw. */
export function exitCodeFor(err: unknown): number {
  if (err instanceof PoetError && err.code === "config") return EXIT_USAGE;
  if (err instanceof ProofVerificationError) return EXIT_VERIFICATION_FAILED;
  if (err instanceof ProofNotReadyError) return EXIT_NOT_READY;
  if (err instanceof PoetRpcError && err.kind === "proof-not-found") return EXIT_NOT_READY;
  return EXIT_FAILURE;
}

/**
 * Reports a failure: one line on stderr, `poet-client <command>: <message>`, a pointer to the
 * command's `--help` after a usage error, and, with `--json`, `{ ok: false, error }` on stdout as
 * well, whatever the failure (usage errors included).
 */
function reportFailure(
  io: CliIo,
  command: string,
  err: unknown,
  json: boolean,
  exitCode: number,
): void {
  const { message, code } = describeError(asUsageError(err));
  if (json) {
    io.stdout.write(
      `${JSON.stringify({ ok: false, error: { code, message, exitCode } }, null, 2)}\n`,
    );
  }
  const program = command === "" ? "poet-client" : `poet-client ${command}`;
  const help = exitCode === EXIT_USAGE ? ` (see "${program} --help")` : "";
  io.stderr.write(`${program}: ${message}${help}\n`);
  if (!(err instanceof PoetError) && !(err instanceof FileAccessError) && err instanceof Error) {
    if (err.stack !== undefined && io.env.POET_CLIENT_DEBUG) io.stderr.write(`${err.stack}\n`);
  }
}

/**
 * Runs `poet-client` with `argv` (without the node and script paths) and resolves to the exit code.
 *
 * @example
 * ```ts
 * const code = await runCli(["schedule", "--count", "2"], {
 *   stdout: process.stdout, stderr: process.stderr, env: process.env, clock: systemClock,
 * });
 * ```
 */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const [name, ...rest] = argv;
  const json = rest.includes("--json");
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    const target = name === "help" ? COMMANDS.find((c) => c.name === rest[0]) : undefined;
    if (target !== undefined) return runCli([target.name, "--help"], io);
    io.stdout.write(overview());
    return name === undefined ? EXIT_USAGE : EXIT_OK;
  }
  if (name === "--version" || name === "-v") {
    io.stdout.write("poet-client (spacemesh-poet-client) 0.1.0\n");
    return EXIT_OK;
  }
  const entry = COMMANDS.find((c) => c.name === name);
  if (entry === undefined) {
    const known = COMMANDS.map((c) => c.name).join(", ");
    const err = new UsageError(
      "<command>",
      `unknown command ${JSON.stringify(name)}; commands: ${known}`,
    );
    reportFailure(io, "", err, json || name === "--json", EXIT_USAGE);
    return EXIT_USAGE;
  }
  try {
    const command = await entry.load();
    return await command.run(rest, { io });
  } catch (err) {
    const code = exitCodeFor(err);
    reportFailure(io, name, err, json, code);
    return code;
  }
}
