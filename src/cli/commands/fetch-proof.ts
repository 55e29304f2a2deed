/**
 * @module cli/commands/fetch-proof
 *
 * `poet-client fetch-proof <url> <round>`: downloads a round's proof, verifies it like the Go
 * reference (docs/protocol.md §5.5), prints leaves, ticks and reference (§4.1, §4.3), and saves the
 * PoET's answer for later (`--out`). A 404 means the proof is not out yet (§1.4, §3.2) and gets
 * its own exit code, so a script can poll: `until poet-client fetch-proof …; [ $? -ne 4 ]`.
 */

import { isRoundId } from "../../client/responses.js";
import { parseBytesArg } from "../bytes.js";
import { type Command, startCommand, stringOption } from "../command.js";
import { EXIT_ATTENTION, EXIT_OK, EXIT_VERIFICATION_FAILED } from "../exit-codes.js";
import { writeFileOrFail } from "../file-error.js";
import { jsonText } from "../format.js";
import {
  expectedPoetKey,
  fetchRoundProof,
  POET_REQUEST_OPTIONS,
  parsePoetUrl,
  poetRequestOptions,
} from "../poet-requests.js";
import { checkProof } from "../proof-check.js";
import { proofResponseJson } from "../proof-file.js";
import { reportJson, reportText } from "../proof-report.js";
import { parseTickSize, TICK_SIZE_HELP, TICK_SIZE_OPTION } from "../tick-size.js";
import { UsageError } from "../usage-error.js";

const OPTIONS = {
  ...POET_REQUEST_OPTIONS,
  ...TICK_SIZE_OPTION,
  out: { type: "string" },
  challenge: { type: "string" },
  pubkey: { type: "string" },
} as const;

/** `poet-client fetch-proof`. */
export const fetchProofCommand: Command = {
  name: "fetch-proof",
  help: `Usage: poet-client fetch-proof <url> <round> [--out <file>] [--challenge <bytes>] [--pubkey <key>]
                             [--protocol rest|grpc|connect] [--timeout <d>] [--tick-size <n>] [--json]

Downloads the proof of round <round> (the exact round id, e.g. 30) from the PoET at <url>,
verifies it byte for byte like the Go reference verifier, and prints its leaves, ticks, reference
(the node's PoST challenge) and member count. With --out, saves the PoET's answer as it came
(protobuf JSON), for "poet-client verify" later.

Options:
  --out <file>           save the proof
  --challenge <bytes>    also check that this 32-byte challenge is a member, and its path
  --pubkey <key>         the PoET's expected key (default: the key of a mainnet PoET with that URL)
  --protocol <p>         rest (default), grpc or connect
  --timeout <duration>   time limit of the download (default 60s)
${TICK_SIZE_HELP}
  --json                 machine-readable output
  -h, --help             this help

Exit code 4 when the PoET has not published the proof of that round yet, 3 when it does not
verify, 5 when it verifies but carries another PoET key than the expected one.

Example:
  poet-client fetch-proof https://mainnet-poet-0.spacemesh.network 30 --out round-30.json`,

  async run(argv, context) {
    const start = startCommand(this, argv, context, OPTIONS, {
      min: 2,
      max: 2,
      names: "<url> <round>",
    });
    if (typeof start === "number") return start;
    const { parsed, json, io, style } = start;
    const url = parsePoetUrl("<url>", parsed.positionals[0] as string);
    const roundId = parsed.positionals[1] as string;
    if (!isRoundId(roundId)) {
      throw new UsageError(
        "<round>",
        `<round>: ${JSON.stringify(roundId)} is not a valid round id (a round id is a whole number such as 30)`,
      );
    }
    const tickSize = parseTickSize(stringOption(parsed, "tick-size"));
    const challengeText = stringOption(parsed, "challenge");
    const expectedPubkey = expectedPoetKey(parsed, url, true);
    const challenge =
      challengeText === undefined ? undefined : parseBytesArg("--challenge", challengeText, 32);
    const out = stringOption(parsed, "out");

    const answer = await fetchRoundProof(
      url,
      roundId,
      poetRequestOptions(parsed, 60_000, io.signal),
    );
    if (out !== undefined) {
      writeFileOrFail(
        out,
        `${JSON.stringify(proofResponseJson(answer.proof, answer.members.toArray(), answer.pubkey))}\n`,
      );
    }
    const report = await checkProof(
      {
        name: `${url} round ${roundId}`,
        proof: answer.proof,
        members: answer.members.toArray(),
        statement: undefined,
        pubkey: answer.pubkey,
        securityParam: undefined,
        expectValid: undefined,
      },
      { tickSize, challenge, expectedPubkey, signal: io.signal },
    );
    const ok = report.valid && report.pubkeyMatches !== false;
    if (json) {
      io.stdout.write(jsonText({ ok, url, roundId, out, ...reportJson(report) }));
    } else {
      io.stdout.write(`${reportText(report, style)}\n`);
      if (out !== undefined) io.stdout.write(`saved to ${out}\n`);
    }
    return !report.valid ? EXIT_VERIFICATION_FAILED : ok ? EXIT_OK : EXIT_ATTENTION;
  },
};
