#!/usr/bin/env node
/**
 * @module cli/main
 *
 * The `poet-client` executable: binds {@link runCli} to the real process — its arguments,
 * streams, environment and clock — and turns Ctrl-C into an abort that commands honour (the demo
 * stops its servers and closes its database before exiting). See docs/operator-guide.md.
 */
import { systemClock } from "../clock.js";
import { runCli } from "./cli.js";

const controller = new AbortController();
let interrupts = 0;
process.on("SIGINT", () => {
  interrupts += 1;
  if (interrupts > 1) process.exit(130);
  controller.abort(new Error("interrupted"));
});

// A closed pipe (`poet-client demo | head`) ends the program quietly, like other Unix tools.
for (const stream of [process.stdout, process.stderr]) {
  stream.on("error", (err: NodeJS.ErrnoException) => {
    if (err.code === "EPIPE") process.exit(process.exitCode ?? 0);
    throw err;
  });
}

const code = await runCli(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  clock: systemClock,
  signal: controller.signal,
});
process.exitCode = controller.signal.aborted && code === 0 ? 130 : code;
