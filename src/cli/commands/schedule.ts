/**
 * @module cli/commands/schedule
 *
 * `poet-client schedule`: the coming PoET rounds with every instant an operator plans around —
 * registration deadline, round end, cycle gap, proof deadline, publish epoch — and an iCalendar
 * file of them (docs/protocol.md §3.1, §3.5, §3.6; docs/concepts.md). Pure arithmetic over
 * {@link RoundSchedule}; no network.
 */
import type { RoundTimes } from "../../schedule/index.js";
import {
  type Command,
  type CommandContext,
  NO_ARGUMENTS,
  startCommand,
  stringOption,
} from "../command.js";
import { parseCount, parseInstant } from "../duration.js";
import { EXIT_FAILURE, EXIT_OK } from "../exit-codes.js";
import { writeFileOrFail } from "../file-error.js";
import {
  fields,
  formatDuration,
  formatInstant,
  formatRelative,
  jsonText,
  table,
} from "../format.js";
import { buildCalendar, roundEvents } from "../ics.js";
import {
  NETWORK_HELP,
  NETWORK_OPTIONS,
  scheduleFromOptions,
  scheduleJson,
} from "../network-options.js";

const OPTIONS = {
  ...NETWORK_OPTIONS,
  from: { type: "string" },
  count: { type: "string" },
  ics: { type: "string" },
} as const;

function roundJson(r: RoundTimes): Record<string, unknown> {
  return {
    round: r.round,
    roundId: String(r.round),
    registrationOpens: r.registrationOpens,
    registrationDeadline: r.registrationDeadline,
    roundStart: r.roundStart,
    roundEnd: r.roundEnd,
    cycleGapStart: r.roundEnd,
    cycleGapEnd: r.cycleGapEnd,
    proofDeadline: r.proofDeadline,
    publishEpoch: r.publishEpoch,
    publishEpochEnd: r.publishEpochEnd,
  };
}

/** `poet-client schedule`. */
export const scheduleCommand: Command = {
  name: "schedule",
  help: `Usage: poet-client schedule [--network mainnet | --genesis <t> --epoch <d> --phase-shift <d> --cycle-gap <d>]
                          [--from <instant>] [--count <n>] [--ics <file>] [--json]

Prints the PoET rounds open for registration at --from (default now) and after: when registration
closes (the round start), when the round ends, the cycle gap after it, the proof deadline and the
epoch in which the ATX built on it is published. With --ics, also writes the rounds as an
iCalendar file (registration windows with a reminder an hour before they close, cycle gaps and
proof deadlines, all in UTC).

Options:
  --from <instant>       start of the listing (ISO 8601 or "now"; default now)
  --count <n>            number of rounds (default 4, at most 520)
  --ics <file>           also write an iCalendar (.ics) file
  --json                 machine-readable output
  -h, --help             this help

${NETWORK_HELP}

Example:
  poet-client schedule --count 6 --ics poet-rounds.ics`,

  async run(argv, context: CommandContext) {
    const start = startCommand(this, argv, context, OPTIONS, NO_ARGUMENTS);
    if (typeof start === "number") return start;
    const { parsed, json, io, style } = start;
    const nowMs = io.clock.now();
    const { schedule, name } = scheduleFromOptions(parsed, nowMs);
    const fromText = stringOption(parsed, "from");
    const from = fromText === undefined ? new Date(nowMs) : parseInstant("--from", fromText, nowMs);
    const countText = stringOption(parsed, "count");
    const count = countText === undefined ? 4 : parseCount("--count", countText, 520);
    const rounds = schedule.upcoming(from, count);
    const icsPath = stringOption(parsed, "ics");

    if (icsPath !== undefined) {
      const text = buildCalendar(roundEvents(schedule, rounds, `Spacemesh ${name}`), {
        name: `Spacemesh PoET rounds (${name})`,
        stamp: new Date(nowMs),
      });
      writeFileOrFail(icsPath, text);
    }

    if (json) {
      io.stdout.write(
        jsonText({
          network: name,
          schedule: scheduleJson(schedule),
          now: new Date(nowMs),
          from,
          openRound: schedule.openRound(new Date(nowMs)),
          rounds: rounds.map(roundJson),
          ics: icsPath,
        }),
      );
      return EXIT_OK;
    }

    const now = new Date(nowMs);
    const open = schedule.openRound(now);
    const executing = schedule.executingRound(now);
    io.stdout.write(
      `${fields([
        ["network", name],
        [
          "calendar",
          `genesis ${formatInstant(schedule.genesis)}, epoch ${formatDuration(schedule.epochDurationMs)}, ` +
            `phase shift ${formatDuration(schedule.phaseShiftMs)}, cycle gap ${formatDuration(schedule.cycleGapMs)}`,
        ],
        [
          "now",
          `${formatInstant(now)}: round ${open} open for registration (closes ${formatRelative(
            schedule.registrationDeadline(open),
            nowMs,
          )}); ${executing === undefined ? "no round executing (cycle gap)" : `round ${executing} executing, ends ${formatRelative(schedule.roundEnd(executing), nowMs)}`}`,
        ],
      ])}\n\n`,
    );
    const header = [
      "round",
      "registration closes",
      "round end",
      "cycle gap until",
      "proof deadline",
      "publish epoch",
    ].map(style.bold);
    const rows = rounds.map((r) => [
      r.round === open ? style.green(String(r.round)) : String(r.round),
      formatInstant(r.registrationDeadline),
      formatInstant(r.roundEnd),
      formatInstant(r.cycleGapEnd),
      formatInstant(r.proofDeadline),
      String(r.publishEpoch),
    ]);
    io.stdout.write(`${table([header, ...rows])}\n`);
    io.stdout.write(
      style.dim(
        "\nRegister before 'registration closes'; the proof comes at 'round end'; PoST and the ATX\n" +
          "fit in the cycle gap; a proof fetched after 'proof deadline' is of no use.\n",
      ),
    );
    if (icsPath !== undefined) {
      io.stdout.write(`\nwrote ${rounds.length * 3} calendar events to ${icsPath}\n`);
    }
    return rounds.length === 0 && count > 0 ? EXIT_FAILURE : EXIT_OK;
  },
};
