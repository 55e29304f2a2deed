/**
 * @module cli/commands/switch-phase
 *
 * `poet-client switch-phase --db <file> --to <url>...`: moves a node from the PoETs it uses to
 * another set, possibly of another phase, without losing an epoch when that is possible
 * (docs/node-client.md §4, §7 item 2; docs/protocol.md §3.5). The rule is the library's one rule
 * for changing PoETs, {@link planPoetSwitch}, the same that `RegistrationManager.switchPoets`
 * applies; this command gathers its inputs (the new PoETs' phase from their `/v1/info`, each
 * identity's rows from the database), explains the plan, and — unless `--dry-run` — applies it with
 * {@link applyPoetSwitch} (each identity's deletions in one transaction). A plan that loses an
 * epoch is refused unless `--accept-loss` is given; so is a switch that would change an identity
 * whose lease a running node holds (live at the CLI's clock), unless `--force` is given.
 */
import { toHex } from "../../bytes.js";
import { ConfigError } from "../../errors.js";
import { applyPoetSwitch, readPoetSwitchRows } from "../../registration/index.js";
import {
  type PoetSwitchIdentityPlan,
  type PoetSwitchPlan,
  planPoetSwitch,
  type RoundSchedule,
} from "../../schedule/index.js";
import { type Lease, leaseIsLive } from "../../storage/index.js";
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
  force: { type: "boolean" },
  at: { type: "string" },
  "to-phase-shift": { type: "string" },
  "to-cycle-gap": { type: "string" },
} as const;

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

/** Whether the plan changes the identity's rows. */
function changes(p: PoetSwitchIdentityPlan): boolean {
  return (
    p.deleteRegistrations.length > 0 || p.deleteIntents.length > 0 || p.deleteNipost !== undefined
  );
}

/** The live leases (at `nowMs`) of the identities the plan changes, by node id. */
function liveHolders(plan: PoetSwitchPlan, leases: readonly Lease[], nowMs: number): Lease[] {
  const changed = new Set(plan.identities.filter(changes).map((p) => toHex(p.nodeId)));
  return leases
    .filter((l) => leaseIsLive(l, nowMs) && changed.has(toHex(l.nodeId)))
    .sort((a, b) => (toHex(a.nodeId) < toHex(b.nodeId) ? -1 : 1));
}

function describeLease(l: Lease): string {
  return `identity ${toHex(l.nodeId)} is held by "${l.holder}" until ${formatInstant(l.expiresAt)}`;
}

/** `poet-client switch-phase`. */
export const switchPhaseCommand: Command = {
  name: "switch-phase",
  help: `Usage: poet-client switch-phase --db <local.sql> | --data-dir <dir> --to <poet-url>... [--dry-run] [--accept-loss] [--force]
                              [--at <instant>] [--to-phase-shift <d> --to-cycle-gap <d>] [--json]

Moves the node to another set of PoETs, possibly of another phase, losing no epoch when that is
possible. The new PoETs' phase is read from their /v1/info (they must agree). For each identity in
the database it works out the safe moment:

  now          the new phase's round for the current publish epoch has not started: the challenge
               can still be registered there. Applying removes the identity's registrations at
               PoETs not in --to, so that the node registers the challenge with the new PoETs.
  after proof  keep the current round at the old PoETs and register the next challenge with the new
               ones: registrations of the kept round stay; change the node's PoET list at the time
               shown.

Whatever the moment, registrations at PoETs not in --to also go when they can no longer serve (the
identity has no challenge, its proof is already chosen, or they are for another round than the one
kept), and so does a NiPoST that does not match the challenge's chosen proof. Each removal is
listed with its reason. It names the publish epochs, if any, for which no ATX will be published.
--dry-run only explains. Otherwise a plan that loses an epoch is refused unless --accept-loss is
given; each identity's removals are applied in one transaction. Stop the node before applying:
a switch that would change an identity whose lease a running node holds (not released, not expired)
is refused, naming the holder and the expiry, unless --force is given (--dry-run warns of them).

Options:
  --db <file>                 the node-state SQLite file (local.sql; never created), or a fleet's
                              PostgreSQL state: postgres://user@host/db?schema=poet_client
  --data-dir <dir>            or the node's data directory (local.sql, else node_state.sql, in it)
  --to <url>                  a PoET of the new set (repeatable, required)
  --dry-run                   explain, change nothing
  --accept-loss               apply even if a publish epoch is lost
  --force                     apply even if a running node holds the lease of an identity it changes
  --at <instant>              plan for another moment than now
  --to-phase-shift <duration> the new phase, when the new PoETs cannot be asked
  --to-cycle-gap <duration>
  --protocol <rest|grpc|connect>  how to ask the new PoETs (default rest)
  --timeout <duration>        per request (default 10s)
  --json                      machine-readable output
  -h, --help                  this help

${NETWORK_HELP.replace("Calendar options", "Calendar of the current phase")}

Exit code 5 when the switch would lose an epoch and --accept-loss was not given; exit code 2 when
a running node holds the lease of an identity the switch changes and --force was not given.

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
    const force = flag(parsed, "force");

    const state = await openExistingNodeState(db, io.signal, { readonly: dryRun });
    try {
      const target = { from, to, poets: targets, at };
      const signalOpts = io.signal === undefined ? {} : { signal: io.signal };
      const planned: PoetSwitchPlan = planPoetSwitch({
        ...target,
        identities: await readPoetSwitchRows(state, signalOpts),
      });
      // Leases are judged at the CLI's clock (not --at): whether a node runs now.
      const live = liveHolders(planned, await state.leases.list(signalOpts), nowMs);
      if (!dryRun && !force && live.length > 0) {
        throw new ConfigError(
          "--force",
          `${live.map(describeLease).join("; ")}: a running node holds ${live.length === 1 ? "this identity's lease" : "these identities' leases"}; stop the node first (or give --force); nothing was changed`,
        );
      }
      const lost = planned.lostPublishEpochs;
      const refused = !dryRun && lost.length > 0 && !acceptLoss;
      const apply = !dryRun && !refused;
      let removed = 0;
      let intentsRemoved = 0;
      let nipostsRemoved = 0;
      let plan = planned;
      if (apply) {
        const applied = await applyPoetSwitch(state, target, signalOpts);
        plan = applied.plan;
        removed = applied.registrationsDeleted;
        intentsRemoved = applied.intentsDeleted;
        nipostsRemoved = applied.nipostsDeleted;
      }
      const plans = plan.identities;
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
            liveLeases: live.map((l) => ({
              nodeId: l.nodeId,
              holder: l.holder,
              expiresAt: l.expiresAt,
            })),
            removedRegistrations: removed,
            removedIntents: intentsRemoved,
            removedNiposts: nipostsRemoved,
            identities: plans.map((p) => ({
              nodeId: p.nodeId,
              mode: p.phase?.mode,
              switchAt: p.phase?.switchAt,
              publishEpoch: p.phase?.publishEpoch,
              keepRound: p.phase?.keepRound,
              firstNewRound: p.phase?.firstNewRound,
              firstNewPublishEpoch: p.phase?.firstNewPublishEpoch,
              lostPublishEpochs: p.phase?.lostPublishEpochs ?? [],
              safe: p.phase?.safe ?? true,
              removeRegistrations: p.deleteRegistrations.map((r) => r.address),
              keepRegistrations: p.keepRegistrations.map((r) => r.address),
              removeIntents: p.deleteIntents.map((r) => r.address),
              keepIntents: p.keepIntents.map((r) => r.address),
              removeNipost: p.deleteNipost !== undefined,
              reasons: {
                remove: p.deleteRegistrations,
                keep: p.keepRegistrations,
                removeIntents: p.deleteIntents,
                nipost: p.deleteNipost,
              },
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
            p.phase === undefined
              ? ""
              : p.phase.mode === "now"
                ? "switch now"
                : "switch after the proof";
          io.stdout.write(
            `${style.bold(`identity ${toHex(p.nodeId)}`)}${mode ? `: ${mode}` : ""}\n`,
          );
          io.stdout.write(
            `  ${p.phase === undefined || p.phase.safe ? p.explanation : style.red(p.explanation)}\n`,
          );
          for (const r of p.deleteRegistrations) {
            io.stdout.write(
              `  ${apply ? "removed" : "would remove"} registration at ${r.address} (round ${r.roundId}): ${r.reason}\n`,
            );
          }
          for (const r of p.deleteIntents) {
            io.stdout.write(
              `  ${apply ? "removed" : "would remove"} unconfirmed submit at ${r.address} (round ${r.roundId}): ${r.reason}\n`,
            );
          }
          if (p.deleteNipost !== undefined) {
            io.stdout.write(
              `  ${apply ? "removed" : "would remove"} its NiPoST: ${p.deleteNipost}\n`,
            );
          }
          if (p.phase?.mode === "after-proof") {
            io.stdout.write(`  change the node's PoETs after ${formatInstant(p.phase.switchAt)}\n`);
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
        for (const l of live) {
          io.stdout.write(
            style.yellow(
              `warning: ${describeLease(l)}: stop the node before applying${dryRun ? "" : " (applied anyway: --force)"}\n`,
            ),
          );
        }
        if (dryRun) io.stdout.write("dry run: nothing was changed\n");
        else if (refused)
          io.stdout.write(
            style.yellow("refused: add --accept-loss to switch anyway; nothing was changed\n"),
          );
        else
          io.stdout.write(
            `applied: ${removed} registration${removed === 1 ? "" : "s"} removed` +
              (intentsRemoved > 0
                ? `, ${intentsRemoved} unconfirmed submit${intentsRemoved === 1 ? "" : "s"} removed`
                : "") +
              (nipostsRemoved > 0
                ? `, ${nipostsRemoved} NiPoST${nipostsRemoved === 1 ? "" : "s"} removed`
                : "") +
              "\n",
          );
      }
      return refused ? EXIT_ATTENTION : EXIT_OK;
    } finally {
      await state.close();
    }
  },
};
