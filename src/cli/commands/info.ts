/**
 * @module cli/commands/info
 *
 * `poet-client info <url>`: what an operator checks first about a PoET — is it up, which key does
 * it sign with, is it on my phase, does it offer certificates, and which round can I register for
 * now (docs/protocol.md §1.3, §3.1, §6). The round is computed from the network calendar with the
 * PoET's own phase, since `/v1/info` no longer reports round ids.
 */
import { equalBytes, toHex } from "../../bytes.js";
import { ConfigError } from "../../errors.js";
import { type Command, startCommand } from "../command.js";
import { EXIT_ATTENTION, EXIT_OK } from "../exit-codes.js";
import {
  fields,
  formatDuration,
  formatInstant,
  formatRelative,
  jsonText,
  toBase64,
} from "../format.js";
import { NETWORK_HELP, NETWORK_OPTIONS, scheduleFromOptions } from "../network-options.js";
import {
  expectedPoetKey,
  fetchPoetInfo,
  POET_REQUEST_OPTIONS,
  parsePoetUrl,
  poetRequestOptions,
} from "../poet-requests.js";

const OPTIONS = {
  ...NETWORK_OPTIONS,
  ...POET_REQUEST_OPTIONS,
  pubkey: { type: "string" },
} as const;

/** `poet-client info`. */
export const infoCommand: Command = {
  name: "info",
  help: `Usage: poet-client info <url> [--pubkey <key>] [--protocol rest|grpc|connect] [--timeout <d>] [calendar options] [--json]

Asks the PoET at <url> for /v1/info and prints its service key, phase shift, cycle gap and
certifier, then — from the network calendar with the PoET's phase — the round open for registration
now, when registration closes, and the round executing now with its end. Says whether the PoET's
phase matches the network's, and whether its key is the expected one (--pubkey, or the key of a
mainnet PoET with that URL).

Options:
  --pubkey <key>         the PoET's expected service key (hex or base64)
  --protocol <p>         rest (default, what public PoETs serve), grpc or connect
  --timeout <duration>   time limit of the request (default 10s)
  --json                 machine-readable output
  -h, --help             this help

${NETWORK_HELP}

Exit code 5 when the key differs from the expected one.

Example:
  poet-client info https://mainnet-poet-0.spacemesh.network`,

  async run(argv, context) {
    const start = startCommand(this, argv, context, OPTIONS, { min: 1, max: 1, names: "<url>" });
    if (typeof start === "number") return start;
    const { parsed, json, io, style } = start;
    const url = parsePoetUrl("<url>", parsed.positionals[0] as string);
    const nowMs = io.clock.now();
    const { schedule: network, name } = scheduleFromOptions(parsed, nowMs);
    const expected = expectedPoetKey(parsed, url, name === "mainnet");
    const info = await fetchPoetInfo(url, poetRequestOptions(parsed, 10_000, io.signal));
    const keyMatches =
      expected === undefined ? undefined : equalBytes(expected, info.servicePubkey);
    const phaseMatches = network.samePhase(info);
    let schedule = network;
    try {
      schedule = network.withPhase(info);
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
    }
    const now = new Date(nowMs);
    const open = schedule.openRound(now);
    const executing = schedule.executingRound(now);
    const { certifier } = info;

    if (json) {
      io.stdout.write(
        jsonText({
          ok: keyMatches !== false,
          url,
          servicePubkey: info.servicePubkey,
          servicePubkeyBase64: toBase64(info.servicePubkey),
          pubkeyMatches: keyMatches,
          phaseShiftMs: info.phaseShiftMs,
          cycleGapMs: info.cycleGapMs,
          phaseMatchesNetwork: phaseMatches,
          network: name,
          certifier:
            certifier === undefined
              ? null
              : {
                  url: certifier.url,
                  pubkey: certifier.pubkey,
                  pubkeyBase64: toBase64(certifier.pubkey),
                },
          openRound: open,
          openRoundId: String(open),
          registrationDeadline: schedule.registrationDeadline(open),
          executingRound: executing ?? null,
          executingRoundEnd: executing === undefined ? null : schedule.roundEnd(executing),
        }),
      );
      return keyMatches === false ? EXIT_ATTENTION : EXIT_OK;
    }
    const key = `${toBase64(info.servicePubkey)} (${toHex(info.servicePubkey)})`;
    const rows: [string, string][] = [
      ["poet", url],
      [
        "service key",
        keyMatches === undefined
          ? key
          : keyMatches
            ? `${key} ${style.green("expected")}`
            : `${key} ${style.red(`DIFFERS from the expected ${toBase64(expected as Uint8Array)}`)}`,
      ],
      [
        "phase",
        `phase shift ${formatDuration(info.phaseShiftMs)}, cycle gap ${formatDuration(info.cycleGapMs)} ` +
          (phaseMatches
            ? style.green(`(same as ${name})`)
            : style.yellow(
                `(${name} uses ${formatDuration(network.phaseShiftMs)} / ${formatDuration(network.cycleGapMs)}: another phase)`,
              )),
      ],
      [
        "certifier",
        certifier === undefined
          ? "none (registration by proof of work)"
          : `${certifier.url} key ${toBase64(certifier.pubkey)}`,
      ],
      [
        "open round",
        `${open}: registration closes ${formatInstant(schedule.registrationDeadline(open))} (${formatRelative(schedule.registrationDeadline(open), nowMs)})`,
      ],
      [
        "executing",
        executing === undefined
          ? "no round (cycle gap)"
          : `round ${executing}, ends ${formatInstant(schedule.roundEnd(executing))} (${formatRelative(schedule.roundEnd(executing), nowMs)})`,
      ],
    ];
    io.stdout.write(`${fields(rows)}\n`);
    return keyMatches === false ? EXIT_ATTENTION : EXIT_OK;
  },
};
