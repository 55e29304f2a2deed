/**
 * @module cli/commands/status
 *
 * `poet-client status --db <file>`: for each identity in a node-state database, where it is
 * registered and for which round, which proof was chosen, whether the NiPoST exists, what happens
 * next and when, and every inconsistency between the rows (docs/node-client.md §1.4, §1.8, §1.11,
 * §4). The "next step" is `planNextStep` (registration/next-step.ts) over the rows and the round
 * calendar, the decision the registration manager's cycle takes when it resumes, so the operator
 * sees what the node will do after a restart, and which process holds each identity's lease until
 * when (one worker per identity).
 * The file is opened read-only: pointed at a go-spacemesh node's database, `status` changes
 * nothing in it (no tables of ours added, which go-spacemesh would see as schema drift).
 */
import { equalBytes, toHex } from "../../bytes.js";
import { StorageError } from "../../errors.js";
import { planNextStep } from "../../registration/next-step.js";
import { poetAddress } from "../../registration/poet-address.js";
import type { RoundSchedule } from "../../schedule/index.js";
import {
  type ChallengeRecord,
  computedChallengeHash,
  type Inconsistency,
  type NipostRecord,
  type NodeState,
  type PoetRegistration,
  type VerifiedProof,
} from "../../storage/index.js";

import { type Command, listOption, NO_ARGUMENTS, startCommand, stringOption } from "../command.js";
import { EXIT_ATTENTION, EXIT_OK } from "../exit-codes.js";
import { formatInstant, formatRelative, jsonText, table } from "../format.js";
import { NETWORK_HELP, NETWORK_OPTIONS, scheduleFromOptions } from "../network-options.js";
import { displayTarget, nodeStateTarget, openExistingNodeState } from "../node-state-file.js";
import { parsePoetUrl } from "../poet-requests.js";
import type { Style } from "../style.js";
import { parseTickSize, TICK_SIZE_HELP, TICK_SIZE_OPTION } from "../tick-size.js";

const OPTIONS = {
  ...NETWORK_OPTIONS,
  ...TICK_SIZE_OPTION,
  db: { type: "string" },
  "data-dir": { type: "string" },
  poet: { type: "string", multiple: true },
} as const;

/**
 * The step an identity is at, as `status` words it: the steps of the library's `NextStep`
 * (registration/next-step.ts), with `register` told apart from `register-missing` (some PoETs
 * already hold the challenge) and `post` shown as `run-post`, which is also what a chosen proof
 * still looking for better ones shows (the output the command always had).
 */
export type StatusStep =
  | "wait-for-registration-window"
  | "register"
  | "register-missing"
  | "wait-for-round-end"
  | "fetch-proofs"
  | "run-post"
  | "publish-atx"
  | "expired"
  | "window-missed"
  | "build-challenge"
  | "repair";

/** What `status` knows about one identity. */
export interface IdentityStatus {
  nodeId: Uint8Array;
  publishEpoch: number | undefined;
  round: number | undefined;
  challengeHash: Uint8Array | undefined;
  registrations: {
    poet: string;
    roundId: string;
    roundEnd: Date;
    /** `false` when the row was made for another challenge. */
    forCurrentChallenge: boolean | undefined;
    configured: boolean | undefined;
  }[];
  /** Configured PoETs (`--poet`) without a registration. */
  missingPoets: string[];
  proof:
    | {
        ref: Uint8Array;
        poet: string | undefined;
        roundId: string | undefined;
        leaves: bigint | undefined;
        ticks: bigint | undefined;
        leafIndex: bigint | undefined;
      }
    | undefined;
  nipost: { poetProofRef: Uint8Array; numUnits: number } | undefined;
  /** Who holds the identity's lease until when: `held` (live), `expired` or `released`. */
  lease:
    | { state: "held" | "expired" | "released"; holder: string; token: bigint; expiresAt: Date }
    | undefined;
  next: { step: StatusStep; at: Date | undefined; description: string };
  problems: string[];
}

function nextStep(
  schedule: RoundSchedule,
  now: number,
  challenge: ChallengeRecord | undefined,
  registrations: IdentityStatus["registrations"],
  submitIntents: readonly { poet: string }[],
  missing: string[],
  nipost: NipostRecord | undefined,
  inconsistent: string[],
): IdentityStatus["next"] {
  // The decision is the library's (registration/next-step.ts); this only words it.
  const next = planNextStep(schedule, now, {
    publishEpoch: challenge?.challenge.publishEpoch,
    registrations: registrations.map((r) => ({ poet: r.poet, roundEnd: r.roundEnd })),
    submitIntents,
    missingPoets: missing,
    proofChosen: challenge?.poetProofRef !== undefined,
    nipostStored: nipost !== undefined,
    inconsistent: inconsistent.length > 0,
  });
  switch (next.step) {
    case "repair":
      return {
        step: "repair",
        at: undefined,
        description:
          "the rows contradict each other; the registration manager deletes the stale ones when it resumes",
      };
    case "build-challenge":
      return {
        step: "build-challenge",
        at: undefined,
        description: "no challenge: the node builds one for the next open round",
      };
    case "publish-atx": {
      const publishEpoch = schedule.publishEpoch(next.round);
      const early = now < next.from.getTime();
      return {
        step: "publish-atx",
        at: early ? next.from : next.at,
        description: early
          ? `NiPoST ready: publish the ATX in epoch ${publishEpoch}, which starts ${formatInstant(next.from)}`
          : `NiPoST ready: publish the ATX before epoch ${publishEpoch} ends at ${formatInstant(next.at)}`,
      };
    }
    case "expired":
      return {
        step: "expired",
        at: next.at,
        description:
          next.why === "proof-deadline-passed"
            ? `no proof chosen before the proof deadline ${formatInstant(next.at)}`
            : nipost !== undefined
              ? "the publish epoch ended before the ATX"
              : "the publish epoch ended before PoST",
      };
    case "post":
      return runPost(next.at);
    case "window-missed":
      return {
        step: "window-missed",
        at: next.at,
        description: `registration for round ${next.round} closed at ${formatInstant(next.at)} with no PoET holding the challenge; the epoch is lost`,
      };
    case "wait-for-registration-window":
      return {
        step: "wait-for-registration-window",
        at: next.at,
        description: `registration for round ${next.round} opens ${formatInstant(next.at)}`,
      };
    case "register":
      return registrations.length === 0
        ? {
            step: "register",
            at: next.at,
            description: `register with every PoET before ${formatInstant(next.at)}`,
          }
        : {
            step: "register-missing",
            at: next.at,
            description: `register with ${missing.length} more PoET${missing.length > 1 ? "s" : ""} before ${formatInstant(next.at)}`,
          };
    case "wait-for-round-end":
      return {
        step: "wait-for-round-end",
        at: next.at,
        description: `wait for round ${next.round} to end at ${formatInstant(next.at)}, then fetch the proofs`,
      };
    case "fetch-proofs":
      // With a proof chosen the CLI reports PoST as next (as before), the better-proof search aside.
      if (challenge?.poetProofRef !== undefined) {
        return runPost(schedule.publishEpochEnd(next.round));
      }
      return {
        step: "fetch-proofs",
        at: next.at,
        description: `round ${next.round} ended: fetch, verify and choose a proof before ${formatInstant(next.at)}`,
      };
  }
}

function runPost(publishEnd: Date): IdentityStatus["next"] {
  return {
    step: "run-post",
    at: publishEnd,
    description: `proof chosen: run PoST over its ref, before ${formatInstant(publishEnd)}`,
  };
}

async function listOrReport<T>(
  what: string,
  list: () => Promise<T[]>,
  failures: string[],
): Promise<T[]> {
  try {
    return await list();
  } catch (err) {
    if (err instanceof StorageError && err.kind === "corrupt") {
      failures.push(`cannot list ${what}: ${err.message}`);
      return [];
    }
    throw err;
  }
}

/** Gathers the status of every identity in `state`. */
export async function nodeStatus(
  state: NodeState,
  options: {
    schedule: RoundSchedule;
    now: number;
    tickSize: bigint;
    poets: string[] | undefined;
    signal?: AbortSignal | undefined;
  },
): Promise<{ identities: IdentityStatus[]; inconsistencies: Inconsistency[]; failures: string[] }> {
  const { signal } = options;
  const opts = signal === undefined ? {} : { signal };
  const inconsistencies = await state.check(opts);
  const failures: string[] = [];
  const challenges = await listOrReport("challenges", () => state.challenges.list(opts), failures);
  const registrations = await listOrReport(
    "registrations",
    () => state.registrations.list(opts),
    failures,
  );
  const niposts = await listOrReport("NiPoSTs", () => state.nipost.list(opts), failures);
  const leases = await listOrReport("leases", () => state.leases.list(opts), failures);
  const intents = await listOrReport("submit intents", () => state.intents.list(opts), failures);

  const ids = new Map<string, Uint8Array>();
  for (const row of [...challenges, ...registrations, ...niposts, ...leases])
    ids.set(toHex(row.nodeId), row.nodeId);
  for (const i of inconsistencies) if (i.nodeId.length > 0) ids.set(i.identity, i.nodeId);
  const configured = options.poets?.map(poetAddress);

  const identities: IdentityStatus[] = [];
  for (const [hex, nodeId] of [...ids.entries()].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const challenge = challenges.find((c) => equalBytes(c.nodeId, nodeId));
    const own = registrations.filter((r: PoetRegistration) => equalBytes(r.nodeId, nodeId));
    // A row go-spacemesh wrote has no recorded hash: it is computed from the row.
    const challengeHash =
      challenge === undefined
        ? undefined
        : (challenge.hash ??
          computedChallengeHash(
            challenge.challenge,
            own.map((r) => r.hash),
          ));
    const regs = own.map((r) => ({
      poet: r.address,
      roundId: r.roundId,
      roundEnd: r.roundEnd,
      forCurrentChallenge:
        challengeHash === undefined ? undefined : equalBytes(challengeHash, r.hash),
      configured: configured === undefined ? undefined : configured.includes(r.address),
    }));
    const nipost = niposts.find((n) => equalBytes(n.nodeId, nodeId));
    const lease = leases.find((l) => equalBytes(l.nodeId, nodeId));
    const inconsistent = inconsistencies.filter((i) => i.identity === hex).map((i) => i.detail);
    const unconfigured = regs
      .filter((r) => r.configured === false)
      .map((r) => `registered at ${r.poet}, which is not among the configured PoETs`);
    const missing =
      configured === undefined ? [] : configured.filter((p) => !regs.some((r) => r.poet === p));
    let proof: IdentityStatus["proof"];
    if (challenge?.poetProofRef !== undefined) {
      let verified: VerifiedProof | undefined;
      try {
        verified = await state.proofs.get(challenge.poetProofRef, opts);
      } catch (err) {
        if (!(err instanceof StorageError)) throw err;
        failures.push(`cannot read the chosen proof of ${hex}: ${err.message}`);
      }
      proof = {
        ref: challenge.poetProofRef,
        poet: verified?.address,
        roundId: verified?.roundId,
        leaves: verified?.proof.leaves,
        ticks: verified === undefined ? undefined : verified.proof.leaves / options.tickSize,
        leafIndex: challenge.membership?.leafIndex,
      };
    }
    identities.push({
      nodeId,
      publishEpoch: challenge?.challenge.publishEpoch,
      round:
        challenge === undefined
          ? undefined
          : options.schedule.roundForPublishEpoch(challenge.challenge.publishEpoch),
      challengeHash,
      registrations: regs,
      missingPoets: missing,
      proof,
      nipost:
        nipost === undefined
          ? undefined
          : { poetProofRef: nipost.poetProofRef, numUnits: nipost.numUnits },
      lease:
        lease === undefined
          ? undefined
          : {
              state: lease.released
                ? "released"
                : lease.expiresAt.getTime() > options.now
                  ? "held"
                  : "expired",
              holder: lease.holder,
              token: lease.token,
              expiresAt: lease.expiresAt,
            },
      next: nextStep(
        options.schedule,
        options.now,
        challenge,
        regs.filter((r) => r.forCurrentChallenge !== false),
        // A submit whose answer was not stored may have reached the PoET: never "window missed".
        intents
          .filter(
            (i) =>
              equalBytes(i.nodeId, nodeId) &&
              (challengeHash === undefined || equalBytes(i.hash, challengeHash)),
          )
          .map((i) => ({ poet: i.address })),
        missing,
        nipost,
        inconsistent,
      ),
      problems: [...inconsistent, ...unconfigured],
    });
  }
  return { identities, inconsistencies, failures };
}

function short(hex: string): string {
  return hex.length > 16 ? `${hex.slice(0, 8)}…${hex.slice(-4)}` : hex;
}

function identityText(s: IdentityStatus, now: number, style: Style): string {
  const lines: string[] = [];
  const title = `identity ${toHex(s.nodeId)}`;
  lines.push(style.bold(title));
  lines.push(
    s.publishEpoch === undefined
      ? "  challenge:  none"
      : `  challenge:  publish epoch ${s.publishEpoch}, round ${s.round}` +
          (s.challengeHash === undefined ? "" : `, hash ${short(toHex(s.challengeHash))}`),
  );
  if (s.registrations.length === 0) {
    lines.push("  registered: nowhere");
  } else {
    const rows = s.registrations.map((r) => [
      `    ${r.poet}`,
      `round ${r.roundId}`,
      `ends ${formatInstant(r.roundEnd)} (${formatRelative(r.roundEnd, now)})`,
      r.forCurrentChallenge === false
        ? style.red("for another challenge")
        : r.configured === false
          ? style.yellow("not configured")
          : style.green("ok"),
    ]);
    lines.push("  registered:");
    lines.push(table(rows));
  }
  if (s.missingPoets.length > 0) {
    lines.push(`  missing:    ${s.missingPoets.join(", ")}`);
  }
  if (s.proof !== undefined) {
    const p = s.proof;
    lines.push(
      `  proof:      ${p.poet ?? "(PoET unknown)"} round ${p.roundId ?? "?"}, ` +
        `${p.leaves === undefined ? "? leaves" : `${p.leaves} leaves, ${style.bold(`${p.ticks} ticks`)}`}, ` +
        `ref ${short(toHex(p.ref))}` +
        (p.leafIndex === undefined ? "" : `, member #${p.leafIndex}`),
    );
  } else {
    lines.push("  proof:      not chosen yet");
  }
  lines.push(
    `  nipost:     ${s.nipost === undefined ? "not built" : `built (${s.nipost.numUnits} units)`}`,
  );
  const lease = s.lease;
  if (lease !== undefined) {
    const until = `${formatInstant(lease.expiresAt)} (${formatRelative(lease.expiresAt, now)})`;
    lines.push(
      lease.state === "held"
        ? `  lease:      held by ${style.bold(lease.holder)} until ${until}, token ${lease.token}`
        : lease.state === "expired"
          ? `  lease:      ${style.yellow("expired")} at ${until}, last held by ${lease.holder}: the next process takes it over`
          : `  lease:      free (released by ${lease.holder}, token ${lease.token})`,
    );
  }
  const when = s.next.at === undefined ? "" : ` (${formatRelative(s.next.at, now)})`;
  const colour =
    s.next.step === "expired" || s.next.step === "window-missed" || s.next.step === "repair"
      ? style.red
      : style.cyan;
  lines.push(`  next:       ${colour(s.next.description)}${when}`);
  for (const p of s.problems) lines.push(`  ${style.red("problem:")}    ${p}`);
  return lines.join("\n");
}

/** `poet-client status`. */
export const statusCommand: Command = {
  name: "status",
  help: `Usage: poet-client status --db <local.sql> | --data-dir <dir> [--poet <url>]... [calendar options] [--json]

For each identity in the node-state database: its challenge and publish epoch, the PoETs it is
registered at (round id and announced round end), the chosen proof (PoET, leaves, ticks, ref), whether
the NiPoST is built, which process holds its lease until when, what happens next and when, and every inconsistency: registrations made for
another challenge, a NiPoST for another proof, rows of an identity without a challenge, rows that do
not decode. With --poet (the PoETs your node is configured with) it also flags registrations at PoETs
that are not configured and configured PoETs the identity is missing.

Options:
  --db <file>            the node-state SQLite file (local.sql; never created), or a fleet's
                         PostgreSQL state: postgres://user@host/db?schema=poet_client
  --data-dir <dir>       or the node's data directory (local.sql, else node_state.sql, in it)
  --poet <url>           a configured PoET (repeatable)
${TICK_SIZE_HELP}
  --json                 machine-readable output
  -h, --help             this help

${NETWORK_HELP}

Exit code 5 when an inconsistency or a registration at an unconfigured PoET is found.

Example:
  poet-client status --db ~/spacemesh/node_data/local.sql --poet https://mainnet-poet-0.spacemesh.network`,

  async run(argv, context) {
    const start = startCommand(this, argv, context, OPTIONS, NO_ARGUMENTS);
    if (typeof start === "number") return start;
    const { parsed, json, io, style } = start;
    const db = nodeStateTarget(stringOption(parsed, "db"), stringOption(parsed, "data-dir"));
    const now = io.clock.now();
    const { schedule, name } = scheduleFromOptions(parsed, now);
    const tickSize = parseTickSize(stringOption(parsed, "tick-size"));
    const poetList = listOption(parsed, "poet").map((url) => parsePoetUrl("--poet", url));
    const state = await openExistingNodeState(db, io.signal, { readonly: true });
    try {
      const { identities, inconsistencies, failures } = await nodeStatus(state, {
        schedule,
        now,
        tickSize,
        poets: poetList.length > 0 ? poetList : undefined,
        signal: io.signal,
      });
      const attention =
        inconsistencies.length > 0 ||
        failures.length > 0 ||
        identities.some((i) => i.problems.length > 0);
      if (json) {
        io.stdout.write(
          jsonText({
            ok: !attention,
            db: displayTarget(db),
            network: name,
            now: new Date(now),
            identities,
            inconsistencies: inconsistencies.map((i) => ({
              kind: i.kind,
              table: i.table,
              identity: i.identity,
              address: i.address,
              detail: i.detail,
            })),
            failures,
          }),
        );
      } else {
        if (identities.length === 0) io.stdout.write(`no identities in ${displayTarget(db)}\n`);
        io.stdout.write(identities.map((i) => identityText(i, now, style)).join("\n\n"));
        if (identities.length > 0) io.stdout.write("\n");
        for (const f of failures) io.stdout.write(`${style.red("error:")} ${f}\n`);
        io.stdout.write(
          attention
            ? `\n${style.yellow(`${inconsistencies.length} inconsistenc${inconsistencies.length === 1 ? "y" : "ies"} found; see "problem" lines`)}\n`
            : `\n${style.green("no inconsistencies")}\n`,
        );
      }
      return attention ? EXIT_ATTENTION : EXIT_OK;
    } finally {
      await state.close();
    }
  },
};
