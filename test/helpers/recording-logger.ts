/**
 * A `Logger` that keeps what it is told, for tests that assert what an operator would read.
 */
import type { Logger } from "../../src/logger.js";

/** One logged line. */
export interface LoggedLine {
  level: "debug" | "info" | "warn" | "error";
  message: string;
  fields: Record<string, unknown>;
}

/** A logger keeping every line in `lines`; `warnings` are the `warn` ones. */
export function recordingLogger(): Logger & {
  lines: LoggedLine[];
  readonly warnings: LoggedLine[];
} {
  const lines: LoggedLine[] = [];
  const at = (level: LoggedLine["level"]) => (fields: Record<string, unknown>, message: string) => {
    lines.push({ level, message, fields });
  };
  return {
    lines,
    get warnings() {
      return lines.filter((l) => l.level === "warn");
    },
    debug: at("debug"),
    info: at("info"),
    warn: at("warn"),
    error: at("error"),
  };
}
