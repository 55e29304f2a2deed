/**
 * Shared helpers of the CLI tests: run a command in-process with captured output and a manual
 * clock, and a small RFC 5545 reader used to check the calendars the CLI writes.
 */

import { runCli } from "../src/cli/cli.js";
import { memoryIo } from "../src/cli/io.js";
import { ManualClock } from "../src/clock.js";

export interface CliResult {
  code: number;
  out: string;
  err: string;
}

export async function cli(
  argv: string[],
  options: { now?: string; env?: Record<string, string>; isTTY?: boolean } = {},
): Promise<CliResult> {
  const clock = new ManualClock(Date.parse(options.now ?? "2024-09-10T12:00:00Z"));
  const io = memoryIo({ clock, env: options.env ?? {}, isTTY: options.isTTY ?? false });
  const code = await runCli(argv, io);
  return { code, out: io.out(), err: io.err() };
}

export interface IcsComponent {
  name: string;
  props: { name: string; params: string; value: string }[];
  children: IcsComponent[];
}

/**
 * Parses iCalendar text strictly enough to catch what calendar apps reject: every line ends in
 * CRLF, no line is longer than 75 octets, folded lines are unfolded, BEGIN/END nest properly.
 */
export function parseIcs(text: string): IcsComponent {
  if (!text.endsWith("\r\n")) throw new Error("the file does not end with CRLF");
  const raw = text.slice(0, -2).split("\r\n");
  for (const [i, line] of raw.entries()) {
    if (line.includes("\n") || line.includes("\r"))
      throw new Error(`bare LF or CR on line ${i + 1}`);
    if (Buffer.byteLength(line, "utf8") > 75)
      throw new Error(`line ${i + 1} is longer than 75 octets`);
  }
  const lines: string[] = [];
  for (const line of raw) {
    if (line.startsWith(" ") || line.startsWith("\t")) {
      if (lines.length === 0) throw new Error("continuation line before any content line");
      lines[lines.length - 1] += line.slice(1);
    } else {
      lines.push(line);
    }
  }
  const stack: IcsComponent[] = [];
  let root: IcsComponent | undefined;
  for (const line of lines) {
    const m = /^([A-Za-z0-9-]+)((?:;[^:]*)?):(.*)$/.exec(line);
    if (m === null) throw new Error(`not a content line: ${line}`);
    const [, name, params, value] = m as unknown as [string, string, string, string];
    const upper = name.toUpperCase();
    if (upper === "BEGIN") {
      const component: IcsComponent = { name: value, props: [], children: [] };
      stack.at(-1)?.children.push(component);
      stack.push(component);
    } else if (upper === "END") {
      const top = stack.pop();
      if (top === undefined || top.name !== value) throw new Error(`END:${value} does not match`);
      if (stack.length === 0) root = top;
    } else {
      const top = stack.at(-1);
      if (top === undefined) throw new Error(`property ${name} outside any component`);
      top.props.push({ name: upper, params, value });
    }
  }
  if (root === undefined || stack.length > 0) throw new Error("unbalanced BEGIN/END");
  return root;
}

export function prop(component: IcsComponent, name: string): string | undefined {
  return component.props.find((p) => p.name === name)?.value;
}

/** Parses `20240916T080000Z` into a Date. */
export function icsUtc(value: string): Date {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value);
  if (m === null) throw new Error(`not a UTC date-time: ${value}`);
  const [, y, mo, d, h, mi, s] = m as unknown as string[];
  return new Date(Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s)));
}
