/**
 * @module cli/style
 *
 * Terminal colour, used only when it helps: stdout is a TTY and `NO_COLOR` is not set (the
 * no-color.org convention; `FORCE_COLOR` turns it on for pipes that understand it). Piped output
 * and `--json` are therefore always plain text a script can parse.
 */
import type { CliIo } from "./io.js";

/** Text decorations; each is the identity function when colour is off. */
export interface Style {
  readonly enabled: boolean;
  bold(text: string): string;
  dim(text: string): string;
  red(text: string): string;
  green(text: string): string;
  yellow(text: string): string;
  cyan(text: string): string;
}

function wrap(open: number, close: number): (text: string) => string {
  return (text) => `\u001b[${open}m${text}\u001b[${close}m`;
}

const plain = (text: string) => text;

/** Whether colour should be used on `io.stdout`. */
export function colourEnabled(io: Pick<CliIo, "env" | "stdout">): boolean {
  const noColor = io.env.NO_COLOR;
  if (noColor !== undefined && noColor !== "") return false;
  const force = io.env.FORCE_COLOR;
  if (force !== undefined && force !== "" && force !== "0") return true;
  return io.stdout.isTTY === true;
}

/** A {@link Style} that colours when `enabled`. */
export function makeStyle(enabled: boolean): Style {
  if (!enabled) {
    return {
      enabled,
      bold: plain,
      dim: plain,
      red: plain,
      green: plain,
      yellow: plain,
      cyan: plain,
    };
  }
  return {
    enabled,
    bold: wrap(1, 22),
    dim: wrap(2, 22),
    red: wrap(31, 39),
    green: wrap(32, 39),
    yellow: wrap(33, 39),
    cyan: wrap(36, 39),
  };
}

const ANSI = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*[A-Za-z]`, "g");

/** The printable width of `text`, ignoring colour escapes. */
export function visibleLength(text: string): number {
  return text.replace(ANSI, "").length;
}
