/**
 * @module cli/command
 *
 * The shape every `poet-client` command has, and the parsing all of them share. Each command lives
 * in its own file under `commands/`, declares its options once, and gets back typed values, its
 * `--help` text and the common `--json`/`--help` flags; a malformed command line is a
 * {@link UsageError}, which the entry point turns into exit code 2.
 */
import { type ParseArgsConfig, parseArgs } from "node:util";
import { EXIT_CODES_HELP } from "./exit-codes.js";
import type { CliIo } from "./io.js";
import { colourEnabled, makeStyle, type Style } from "./style.js";
import { UsageError } from "./usage-error.js";

/** What a command receives. */
export interface CommandContext {
  io: CliIo;
}

/** One `poet-client` command. */
export interface Command {
  /** The word after `poet-client`. */
  name: string;
  /** The full `--help` text, without the exit-code table. */
  help: string;
  /** Runs the command; resolves to the process exit code. */
  run(argv: readonly string[], context: CommandContext): Promise<number>;
}

type Options = NonNullable<ParseArgsConfig["options"]>;

/** The options every command accepts. */
export const COMMON_OPTIONS = {
  help: { type: "boolean", short: "h" },
  json: { type: "boolean" },
} as const satisfies Options;

/** The parsed command line of a command. */
export interface Parsed {
  values: Readonly<Record<string, string | boolean | string[] | undefined>>;
  positionals: string[];
}

/** The value of a string option, or `undefined`. */
export function stringOption(parsed: Parsed, name: string): string | undefined {
  const value = parsed.values[name];
  return typeof value === "string" ? value : undefined;
}

/** The values of a repeatable string option (empty when absent). */
export function listOption(parsed: Parsed, name: string): string[] {
  const value = parsed.values[name];
  if (Array.isArray(value)) return value;
  return typeof value === "string" ? [value] : [];
}

/** Whether a boolean flag was given. */
export function flag(parsed: Parsed, name: string): boolean {
  return parsed.values[name] === true;
}

/**
 * Arguments that start like a negative number (`-1`, `-5s`) are values, not options: without this,
 * `fetch-proof <url> -1` would read `-1` as an unknown option instead of an invalid round id. They
 * are hidden from `parseArgs` behind this marker and restored afterwards.
 */
const NEGATIVE = "\u0000negative\u0000";

function restoreNegative<T>(value: T): T {
  if (typeof value === "string" && value.startsWith(NEGATIVE)) {
    return value.slice(NEGATIVE.length) as T;
  }
  if (Array.isArray(value)) return value.map(restoreNegative) as T;
  return value;
}

/** `parseArgs`'s complaint about an option, said in one line with the flag's name. */
function optionProblem(cause: unknown): UsageError {
  const err = cause as { code?: string; message?: string };
  const text = err.message ?? String(cause);
  const flagName = /'(-{1,2}[^'\s<=]+)/.exec(text)?.[1] ?? "<option>";
  switch (err.code) {
    case "ERR_PARSE_ARGS_UNKNOWN_OPTION":
      return new UsageError(flagName, `${flagName}: unknown option`, { cause });
    case "ERR_PARSE_ARGS_INVALID_OPTION_VALUE":
      return new UsageError(
        flagName,
        /does not take an argument/.test(text)
          ? `${flagName}: takes no value`
          : `${flagName}: expects a value`,
        { cause },
      );
    default:
      return new UsageError(flagName, `${flagName}: ${text.replace(/'/g, "")}`, { cause });
  }
}

/**
 * Parses `argv` strictly against `options` plus `--help` and `--json`.
 *
 * @throws UsageError on an unknown option, a missing option value or a positional count outside
 *   `[minPositionals, maxPositionals]`.
 */
export function parseCommandLine(
  _command: string,
  argv: readonly string[],
  options: Options,
  positionals: { min: number; max: number; names: string },
): Parsed {
  let parsed: { values: Record<string, unknown>; positionals: string[] };
  try {
    parsed = parseArgs({
      args: argv.map((arg) => (/^-\d/.test(arg) ? `${NEGATIVE}${arg}` : arg)),
      options: { ...options, ...COMMON_OPTIONS },
      strict: true,
      allowPositionals: true,
    }) as { values: Record<string, unknown>; positionals: string[] };
  } catch (cause) {
    throw optionProblem(cause);
  }
  const values: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(parsed.values)) values[key] = restoreNegative(value);
  const given = parsed.positionals.map(restoreNegative);
  if (values.help !== true) {
    const n = given.length;
    if (n < positionals.min) {
      const missing = positionals.names.split(" ").slice(n).join(" ");
      throw new UsageError(missing, `missing ${missing}`);
    }
    if (n > positionals.max) {
      throw new UsageError(
        "<argument>",
        `unexpected argument ${JSON.stringify(given[positionals.max])}`,
      );
    }
  }
  return { values, positionals: given } as Parsed;
}

/** Writes a command's help followed by the exit-code table. */
export function printHelp(command: Command, context: CommandContext): number {
  context.io.stdout.write(`${command.help.trimEnd()}\n\n${EXIT_CODES_HELP}\n`);
  return 0;
}

/** The colour style for `io`, plain when `json` is set. */
export function styleFor(io: CliIo, json: boolean): Style {
  return makeStyle(!json && colourEnabled(io));
}

/** What a command works with once its command line is parsed. */
export interface Invocation {
  parsed: Parsed;
  /** Whether `--json` was given. */
  json: boolean;
  io: CliIo;
  /** The colour style, plain under `--json`. */
  style: Style;
}

/** The positionals of a command that takes none. */
export const NO_ARGUMENTS = { min: 0, max: 0, names: "no arguments" } as const;

/**
 * The start of every command: parses `argv` against `options` (plus {@link COMMON_OPTIONS}) and
 * sets up the output; when `--help` was given, prints the help and returns the exit code instead.
 *
 * @example
 * ```ts
 * const start = startCommand(this, argv, context, OPTIONS, NO_ARGUMENTS);
 * if (typeof start === "number") return start;
 * const { parsed, json, io, style } = start;
 * ```
 */
export function startCommand(
  command: Command,
  argv: readonly string[],
  context: CommandContext,
  options: Options,
  positionals: { min: number; max: number; names: string },
): Invocation | number {
  const parsed = parseCommandLine(command.name, argv, options, positionals);
  if (flag(parsed, "help")) return printHelp(command, context);
  const json = flag(parsed, "json");
  const { io } = context;
  return { parsed, json, io, style: styleFor(io, json) };
}
