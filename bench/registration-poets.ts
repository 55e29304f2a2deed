/**
 * @module bench/registration-poets
 *
 * The mock PoETs of the registration bench, in a process of their own, so that the bench measures
 * the client and not the servers it talks to. Driven over IPC by `bench/registration.ts`:
 *
 * - on start it sends `{ type: "ready", poets: [{ url, pubkey }], cpuMs }` (pubkey in hex; `cpuMs`
 *   is the CPU time this process has used so far, every reply carries it);
 * - `{ type: "set", at }` moves its clock to `at` (unix ms), performs every round transition due
 *   then (closing, proving) and is answered `{ type: "set", at, syncMs, cpuMs }` (`syncMs`: the
 *   time that took);
 * - `{ type: "stop" }` stops the mocks, answers `{ type: "stopped", cpuMs, maxRssKiB }` and exits.
 *
 * Its settings come as one JSON argument: `{ poets, genesis, epochDurationMs, phaseShiftMs,
 * cycleGapMs }`.
 */
import { toHex } from "../src/bytes.js";
import { ManualClock } from "../src/clock.js";
import { startMockPoet } from "../src/testing/index.js";

interface Settings {
  poets: number;
  genesis: number;
  epochDurationMs: number;
  phaseShiftMs: number;
  cycleGapMs: number;
}

type Command = { type: "set"; at: number } | { type: "stop" };

const settings = JSON.parse(process.argv[2] ?? "{}") as Settings;
const send = (message: unknown) => process.send?.(message);
const cpuMs = () => {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1000;
};
const clock = new ManualClock(settings.genesis);
const mocks = await Promise.all(
  Array.from({ length: settings.poets }, (_, i) =>
    startMockPoet({
      clock,
      genesis: new Date(settings.genesis),
      epochDurationMs: settings.epochDurationMs,
      phaseShiftMs: settings.phaseShiftMs,
      cycleGapMs: settings.cycleGapMs,
      leavesPerRound: BigInt(1000 + 500 * i),
    }),
  ),
);
process.on("message", (command: Command) => {
  if (command.type === "set") {
    clock.set(command.at).then(() => {
      // Every transition due now happens before the answer (a round that ended is proven now,
      // not inside the client's first proof request), so the bench can tell the PoETs' proving
      // time from the client's.
      const start = performance.now();
      for (const mock of mocks) mock.state.openRound();
      send({ type: "set", at: command.at, syncMs: performance.now() - start, cpuMs: cpuMs() });
    });
  } else if (command.type === "stop") {
    Promise.all(mocks.map((m) => m.stop())).then(() => {
      const usage = process.resourceUsage();
      send({
        type: "stopped",
        cpuMs: (usage.userCPUTime + usage.systemCPUTime) / 1000,
        maxRssKiB: usage.maxRSS,
      });
      process.disconnect();
    });
  }
});
send({
  type: "ready",
  cpuMs: cpuMs(),
  poets: mocks.map((m) => ({ url: m.url, pubkey: toHex(m.info.servicePubkey) })),
});
