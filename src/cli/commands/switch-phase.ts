/**
 * @module cli/commands/switch-phase
 *
 * `poet-client switch-phase --db <file> --to <url>...`: moves a node from the PoETs it uses to
 * another set, possibly of another phase, without losing an epoch when that is possible
 * (docs/node-client.md §4, §7 item 2; docs/protocol.md §3.5). The planning is
 * {@link planPhaseSwitch}; this command gathers its inputs (the new PoETs' phase from their
 * `/v1/info`, each identity's publish epoch from the database), explains the plan, and — unless
 * `--dry-run` — applies the part that touches the database in one transaction: when the current
 * challenge can still be registered in the new phase, the registrations at PoETs outside the new
 * set are removed so that the node registers the challenge with the new PoETs instead. A plan that
 * loses an epoch is refused unless `--accept-loss` is given.
 */
import { toHex } from "../../bytes.js";
import { ConfigError } from "../../errors.js";
import { type PhaseSwitchPlan, planPhaseSwitch, type RoundSchedule } from "../../schedule/index.js";
import type { NodeState } from "../../storage/index.js";
import {
  type Command,
  flag,
  listOption,
  NO_ARGUMENTS,
  startCommand,
  stringOption,
} from "../command.js";
import { parseDuration, parseInstant } from "../duration.js";
import { EXIT_ATTENTION, EXIT_OK } from "../exit-codes.js";
import { formatDuration, formatInstant, jsonText } from "../format.js";
import { NETWORK_HELP, NETWORK_OPTIONS, scheduleFromOptions } from "../network-options.js";
import { nodeStateTarget, openExistingNodeState } from "../node-state-file.js";
import {
  fetchPoetInfo,
  POET_REQUEST_OPTIONS,
  type PoetRequestOptions,
  parsePoetUrl,
  poetRequestOptions,
} from "../poet-requests.js";
import { asUsageError } from "../usage-error.js";

const OPTIONS = {
  ...NETWORK_OPTIONS,
  ...POET_REQUEST_OPTIONS,
  db: { type: "string" },
  "data-dir": { type: "string" },
  to: { type: "string", multiple: true },
  "dry-run": { type: "boolean" },
  "accept-loss": { type: "boolean" },
  at: { type: "string" },
  "to-phase-shift": { type: "string" },
  "to-cycle-gap": { type: "string" },
} as const;

/** The plan of one identity. */
export interface IdentitySwitch {
  nodeId: Uint8Array;
  plan: PhaseSwitchPlan | undefined;
  /** Registrations removed (or to remove, in a dry run). */
  remove: string[];
  /** Registrations kept. */
  keep: string[];
  explanation: string;
}

async function targetPhase(
  urls: string[],
  options: { phaseShift: string | undefined; cycleGap: string | undefined },
  requests: PoetRequestOptions,
): Promise<{ phaseShiftMs: number; cycleGapMs: number; source: string }> {
  if (options.phaseShift !== undefined || options.cycleGap !== undefined) {
    if (options.phaseShift === undefined || options.cycleGap === undefined) {
      throw new ConfigError("--to-phase-shift", "give both --to-phase-shift and --to-cycle-gap");
    }
    return {
      phaseShiftMs: parseDuration("--to-phase-shift", options.phaseShift),
      cycleGapMs: parseDuration("--to-cycle-gap", options.cycleGap),
      source: "command line",
    };
  }
  const infos = await Promise.all(urls.map((url) => fetchPoetInfo(url, requests)));
  const first = infos[0];
  if (first === undefined) throw new ConfigError("--to", "is required");
  for (const [i, info] of infos.entries()) {
    if (info.phaseShiftMs !== first.phaseShiftMs || info.cycleGapMs !== first.cycleGapMs) {
      throw new ConfigError(
        "--to",
        `the new PoETs disagree on their phase: ${urls[0]} has phase shift ${formatDuration(first.phaseShiftMs)} and cycle gap ${formatDuration(first.cycleGapMs)}, ${urls[i]} has ${formatDuration(info.phaseShiftMs)} and ${formatDuration(info.cycleGapMs)}`,
      );
    }
  }
  return { phaseShiftMs: first.phaseShiftMs, cycleGapMs: first.cycleGapMs, source: "/v1/info" };
}

/** Plans the switch of every identity in `state`. */
export async function planIdentities(
  state: NodeState,
  options: {
    from: RoundSchedule;
    to: RoundSchedule;
    at: Date;
    targets: string[];
    signal?: AbortSignal | undefined;
  },
): Promise<IdentitySwitch[]> {
  const opts = options.signal === undefined ? {} : { signal: options.signal };
  const challenges = await state.challenges.list(opts);
  const registrations = await state.registrations.list(opts);
  const ids = new Map<string, Uint8Array>();
  for (const row of [...challenges, ...registrations]) ids.set(toHex(row.nodeId), row.nodeId);
  const result: IdentitySwitch[] = [];
  for (const [hex, nodeId] of [...ids.entries()].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const challenge = challenges.find((c) => toHex(c.nodeId) === hex);
    const regs = registrations.filter((r) => toHex(r.nodeId) === hex).map((r) => r.address);
    const outside = regs.filter((a) => !options.targets.includes(a));
    const inside = regs.filter((a) => options.targets.includes(a));
    if (challenge === undefined) {
      result.push({
        nodeId,
        plan: undefined,
        remove: [],
        keep: regs,
        explanation: "no challenge: its next challenge is registered with the new PoETs",
      });
      continue;
    }
    const plan = planPhaseSwitch({
      from: options.from,
      to: options.to,
      at: options.at,
      publishEpoch: challenge.challenge.publishEpoch,
    });
    const now = plan.mode === "now";
    result.push({
      nodeId,
      plan,
      remove: now ? outside : [],
      keep: now ? inside : regs,
      explanation: plan.explanation,
    });
  }
  return result;
}

/** `poet-client switch-phase`. */
export const switchPhaseCommand: Command = {
  name: "switch-phase",
  help: `Usage: poet-client switch-phase --db <local.sql> | --data-dir <dir> --to <poet-url>... [--dry-run] [--accept-loss]
                              [--at <instant>] [--to-phase-shift <d> --to-cycle-gap <d>] [--json]

Moves the node to another set of PoETs, possibly of another phase, losing no epoch when that is
possible. The new PoETs' phase is read from their /v1/info (they must agree). For each identity in
the database it works out the safe moment:

  now          the new phase's round for the current publish epoch has not started: the challenge
               can still be registered there. Applying removes the identity's registrations at
               PoETs not in --to, so that the node registers the challenge with the new PoETs.
  after proof  keep the current round at the old PoETs and register the next challenge with the new
               ones: nothing changes in the database; change the node's PoET list at the time shown.

It names the publish epochs, if any, for which no ATX will be published. --dry-run only explains.
Otherwise a plan that loses an epoch is refused unless --accept-loss is given, and everything is
applied in one transaction. Stop the node before applying.

Options:
  --db <file>                 the node-state SQLite file (local.sql; never created), or a fleet's
                              PostgreSQL state: postgres://user@host/db?schema=poet_client
  --data-dir <dir>            or the node's data directory (local.sql, else node_state.sql, in it)
  --to <url>                  a PoET of the new set (repeatable, required)
  --dry-run                   explain, change nothing
  --accept-loss               apply even if a publish epoch is lost
  --at <instant>              plan for another moment than now
  --to-phase-shift <duration> the new phase, when the new PoETs cannot be asked
  --to-cycle-gap <duration>
  --protocol <rest|grpc|connect>  how to ask the new PoETs (default rest)
  --timeout <duration>        per request (default 10s)
  --json                      machine-readable output
  -h, --help                  this help

${NETWORK_HELP.replace("Calendar options", "Calendar of the current phase")}

Exit code 5 when the switch would lose an epoch and --accept-loss was not given.

Example:
  poet-client switch-phase --data-dir ~/spacemesh/node_data --to https://poet-x.example --to https://poet-y.example --dry-run`,

  async run(argv, context) {
    const start = startCommand(this, argv, context, OPTIONS, NO_ARGUMENTS);
    if (typeof start === "number") return start;
    const { parsed, json, io, style } = start;
    const db = nodeStateTarget(stringOption(parsed, "db"), stringOption(parsed, "data-dir"));
    const toUrls = listOption(parsed, "to");
    if (toUrls.length === 0) throw new ConfigError("--to", "give at least one PoET of the new set");
    const targets = toUrls.map((url) => parsePoetUrl("--to", url));
    const nowMs = io.clock.now();
    const atText = stringOption(parsed, "at");
    const at = atText === undefined ? new Date(nowMs) : parseInstant("--at", atText, nowMs);
    const { schedule: from } = scheduleFromOptions(parsed, nowMs);
    const phase = await targetPhase(
      targets,
      {
        phaseShift: stringOption(parsed, "to-phase-shift"),
        cycleGap: stringOption(parsed, "to-cycle-gap"),
      },
      poetRequestOptions(parsed, 10_000, io.signal),
    );
    let to: RoundSchedule;
    try {
      to = from.withPhase(phase);
    } catch (err) {
      throw phase.source === "command line"
        ? asUsageError(err, { phaseShiftMs: "--to-phase-shift", cycleGapMs: "--to-cycle-gap" })
        : asUsageError(err, { phaseShiftMs: "--to", cycleGapMs: "--to" });
    }
    const dryRun = flag(parsed, "dry-run");
    const acceptLoss = flag(parsed, "accept-loss");

    const state = await openExistingNodeState(db, io.signal, { readonly: dryRun });
    try {
      const plans = await planIdentities(state, { from, to, at, targets, signal: io.signal });
      const lost = [...new Set(plans.flatMap((p) => p.plan?.lostPublishEpochs ?? []))].sort(
        (a, b) => a - b,
      );
      const refused = !dryRun && lost.length > 0 && !acceptLoss;
      const apply = !dryRun && !refused;
      let removed = 0;
      if (apply) {
        await state.transaction(
          async (tx) => {
            for (const p of plans) {
              for (const address of p.remove) {
                if (await tx.registrations.delete(p.nodeId, address)) removed += 1;
              }
            }
          },
          io.signal === undefined ? {} : { signal: io.signal },
        );
      }
      if (json) {
        io.stdout.write(
          jsonText({
            ok: !refused,
            dryRun,
            applied: apply,
            refused,
            at,
            from: { phaseShiftMs: from.phaseShiftMs, cycleGapMs: from.cycleGapMs },
            to: {
              phaseShiftMs: to.phaseShiftMs,
              cycleGapMs: to.cycleGapMs,
              poets: targets,
              source: phase.source,
            },
            lostPublishEpochs: lost,
            removedRegistrations: removed,
            identities: plans.map((p) => ({
              nodeId: p.nodeId,
              mode: p.plan?.mode,
              switchAt: p.plan?.switchAt,
              publishEpoch: p.plan?.publishEpoch,
              keepRound: p.plan?.keepRound,
              firstNewRound: p.plan?.firstNewRound,
              firstNewPublishEpoch: p.plan?.firstNewPublishEpoch,
              lostPublishEpochs: p.plan?.lostPublishEpochs ?? [],
              safe: p.plan?.safe ?? true,
              removeRegistrations: p.remove,
              keepRegistrations: p.keep,
              explanation: p.explanation,
            })),
          }),
        );
      } else {
        io.stdout.write(
          `switching from phase shift ${formatDuration(from.phaseShiftMs)} / cycle gap ${formatDuration(from.cycleGapMs)} ` +
            `to ${formatDuration(to.phaseShiftMs)} / ${formatDuration(to.cycleGapMs)} (${targets.join(", ")}), at ${formatInstant(at)}\n\n`,
        );
        if (plans.length === 0) io.stdout.write("no identities in the database\n");
        for (const p of plans) {
          const mode =
            p.plan === undefined
              ? ""
              : p.plan.mode === "now"
                ? "switch now"
                : "switch after the proof";
          io.stdout.write(
            `${style.bold(`identity ${toHex(p.nodeId)}`)}${mode ? `: ${mode}` : ""}\n`,
          );
          io.stdout.write(
            `  ${p.plan === undefined || p.plan.safe ? p.explanation : style.red(p.explanation)}\n`,
          );
          for (const a of p.remove)
            io.stdout.write(`  ${apply ? "removed" : "would remove"} registration at ${a}\n`);
          if (p.plan?.mode === "after-proof") {
            io.stdout.write(`  change the node's PoETs after ${formatInstant(p.plan.switchAt)}\n`);
          }
        }
        io.stdout.write("\n");
        if (lost.length > 0) {
          io.stdout.write(
            style.red(
              `publish epoch${lost.length > 1 ? "s" : ""} ${lost.join(", ")} will have no ATX\n`,
            ),
          );
        } else {
          io.stdout.write(style.green("no epoch is lost\n"));
        }
        if (dryRun) io.stdout.write("dry run: nothing was changed\n");
        else if (refused)
          io.stdout.write(
            style.yellow("refused: add --accept-loss to switch anyway; nothing was changed\n"),
          );
        else
          io.stdout.write(`applied: ${removed} registration${removed === 1 ? "" : "s"} removed\n`);
      }
      return refused ? EXIT_ATTENTION : EXIT_OK;
    } finally {
      await state.close();
    }
  },
};
