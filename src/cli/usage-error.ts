/**
 * @module cli/usage-error
 *
 * A mistake on the command line, named the way the operator typed it: a flag (`--phase-shift`) or
 * a placeholder (`<url>`), never the library's option name (`phaseShiftMs`). The library reports
 * bad configuration as a {@link ConfigError} whose `setting` is its own option name; the CLI
 * renames those here, in one table, so that every command words them alike and exits 2.
 */
import { ConfigError } from "../errors.js";

/** A command-line mistake: a {@link ConfigError} whose message is exactly what the operator reads. */
export class UsageError extends ConfigError {
  constructor(setting: string, message: string, options: { cause?: unknown } = {}) {
    super(setting, message, options);
    this.name = "UsageError";
    this.message = message;
  }
}

/** The flag each library setting comes from, for commands that take the usual calendar flags. */
const FLAG_OF_SETTING: Readonly<Record<string, string>> = {
  genesis: "--genesis",
  epochDurationMs: "--epoch",
  phaseShiftMs: "--phase-shift",
  cycleGapMs: "--cycle-gap",
  timeoutMs: "--timeout",
  proofTimeoutMs: "--timeout",
  "poets[].url": "<url>",
  url: "<url>",
};

/** The text of a {@link ConfigError} without its `setting: ` prefix. */
export function configReason(err: ConfigError): string {
  const prefix = `${err.setting}: `;
  return err.message.startsWith(prefix) ? err.message.slice(prefix.length) : err.message;
}

/**
 * `err` as the operator should read it: a library {@link ConfigError} becomes a
 * {@link UsageError} named after the flag it came from (`renames` first, then the common table);
 * anything else is returned as it is.
 *
 * @example
 * ```ts
 * try { from.withPhase(phase); }
 * catch (err) { throw asUsageError(err, { phaseShiftMs: "--to-phase-shift" }); }
 * ```
 */
export function asUsageError(
  err: unknown,
  renames: Readonly<Record<string, string>> = {},
): unknown {
  if (!(err instanceof ConfigError) || err instanceof UsageError) return err;
  const flag = renames[err.setting] ?? FLAG_OF_SETTING[err.setting];
  if (flag === undefined) return err;
  return new UsageError(flag, `${flag}: ${configReason(err)}`, { cause: err });
}
