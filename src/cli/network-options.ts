/**
 * @module cli/network-options
 *
 * The options that pick a round calendar, shared by `schedule`, `info`, `status` and
 * `switch-phase`: `--network mainnet` (the default) and overrides `--genesis`, `--epoch`,
 * `--phase-shift`, `--cycle-gap` for test networks and mock PoETs (docs/protocol.md §3.1).
 */
import { ConfigError } from "../errors.js";
import { MAINNET, RoundSchedule } from "../schedule/index.js";
import { type Parsed, stringOption } from "./command.js";
import { parseDuration, parseInstant } from "./duration.js";

/** The `parseArgs` declarations of the calendar options. */
export const NETWORK_OPTIONS = {
  network: { type: "string" },
  genesis: { type: "string" },
  epoch: { type: "string" },
  "phase-shift": { type: "string" },
  "cycle-gap": { type: "string" },
} as const;

/** Help lines for the calendar options. */
export const NETWORK_HELP = `Calendar options (default: --network mainnet):
  --network <name>       mainnet
  --genesis <instant>    genesis of a custom network (ISO 8601)
  --epoch <duration>     epoch length, e.g. 336h
  --phase-shift <dur>    round start offset into the epoch, e.g. 240h
  --cycle-gap <dur>      gap between a round's end and the next start, e.g. 12h`;

/** The schedule the options describe, and a short name for it. */
export function scheduleFromOptions(
  parsed: Parsed,
  nowMs: number,
): { schedule: RoundSchedule; name: string; custom: boolean } {
  const network = stringOption(parsed, "network") ?? "mainnet";
  if (network !== "mainnet") {
    throw new ConfigError(
      "--network",
      `unknown network ${JSON.stringify(network)}; known: mainnet`,
    );
  }
  const base = MAINNET.schedule;
  const genesis = stringOption(parsed, "genesis");
  const epoch = stringOption(parsed, "epoch");
  const phaseShift = stringOption(parsed, "phase-shift");
  const cycleGap = stringOption(parsed, "cycle-gap");
  const custom = [genesis, epoch, phaseShift, cycleGap].some((v) => v !== undefined);
  if (!custom) return { schedule: base, name: "mainnet", custom: false };
  const schedule = new RoundSchedule({
    genesis: genesis === undefined ? base.genesis : parseInstant("--genesis", genesis, nowMs),
    epochDurationMs: epoch === undefined ? base.epochDurationMs : parseDuration("--epoch", epoch),
    phaseShiftMs:
      phaseShift === undefined ? base.phaseShiftMs : parseDuration("--phase-shift", phaseShift),
    cycleGapMs: cycleGap === undefined ? base.cycleGapMs : parseDuration("--cycle-gap", cycleGap),
  });
  return {
    schedule,
    name: genesis === undefined && epoch === undefined ? "mainnet (custom phase)" : "custom",
    custom: true,
  };
}

/** The four numbers of `schedule`, for `--json`. */
export function scheduleJson(schedule: RoundSchedule): Record<string, unknown> {
  return {
    genesis: schedule.genesis,
    epochMs: schedule.epochDurationMs,
    phaseShiftMs: schedule.phaseShiftMs,
    cycleGapMs: schedule.cycleGapMs,
  };
}
