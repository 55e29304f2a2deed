/**
 * @module cli/io
 *
 * What a command may touch of the outside world, passed in rather than taken from `process`, so
 * that tests run every command in-process with captured output, a chosen environment and a
 * manual clock, and only the entry point (`main.ts`) knows about the real process.
 */
import type { Clock } from "../clock.js";

/** A place to write text: `process.stdout` or a test buffer. */
export interface TextSink {
  write(text: string): unknown;
  /** True when the sink is an interactive terminal. */
  isTTY?: boolean | undefined;
  /** Terminal width, when known. */
  columns?: number | undefined;
}

/** The process-level facilities a command uses. */
export interface CliIo {
  stdout: TextSink;
  stderr: TextSink;
  /** Environment variables (`NO_COLOR`, `FORCE_COLOR`). */
  env: Readonly<Record<string, string | undefined>>;
  /** The source of "now" for schedules, countdowns and status. */
  clock: Clock;
  /** Fires when the user interrupts (Ctrl-C). */
  signal?: AbortSignal | undefined;
  /**
   * Uniform numbers in [0, 1) for the demo's keys, challenges and jitter, so that a test can seed
   * them. Default: the operating system's random bytes and `Math.random`.
   */
  random?: (() => number) | undefined;
}

/** Captured output of a command run against {@link memoryIo}. */
export interface MemoryIo extends CliIo {
  readonly out: () => string;
  readonly err: () => string;
}

/**
 * An in-memory {@link CliIo} for tests and for embedding the CLI in another program.
 *
 * @example
 * ```ts
 * const io = memoryIo({ clock: systemClock });
 * const code = await runCli(["schedule", "--json"], io);
 * JSON.parse(io.out());
 * ```
 */
export function memoryIo(options: {
  clock: Clock;
  env?: Record<string, string | undefined>;
  isTTY?: boolean;
  signal?: AbortSignal;
  random?: () => number;
}): MemoryIo {
  let out = "";
  let err = "";
  return {
    stdout: {
      write: (text: string) => {
        out += text;
      },
      isTTY: options.isTTY ?? false,
      columns: 120,
    },
    stderr: {
      write: (text: string) => {
        err += text;
      },
      isTTY: false,
    },
    env: options.env ?? {},
    clock: options.clock,
    signal: options.signal,
    random: options.random,
    out: () => out,
    err: () => err,
  };
}
