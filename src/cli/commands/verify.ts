/**
 * @module cli/commands/verify
 *
 * `poet-client verify <file>`: verifies a saved PoET proof the way the Go reference does
 * (docs/protocol.md §5.5) and prints its leaves, ticks and reference; optionally checks that a
 * challenge is a member and that the proof carries the expected PoET key (docs/protocol.md §6).
 * Reads the PoET's own answer format (what `fetch-proof --out` or `curl` saves) and test-vector
 * files.
 */

import { parseBytesArg } from "../bytes.js";
import { type Command, startCommand, stringOption } from "../command.js";
import { parseCount } from "../duration.js";
import { EXIT_ATTENTION, EXIT_OK, EXIT_VERIFICATION_FAILED } from "../exit-codes.js";
import { jsonText, table } from "../format.js";
import { checkProof, type ProofReport } from "../proof-check.js";
import { readProofFile } from "../proof-file.js";
import { reportJson, reportText } from "../proof-report.js";
import { parseTickSize, TICK_SIZE_HELP, TICK_SIZE_OPTION } from "../tick-size.js";

const OPTIONS = {
  ...TICK_SIZE_OPTION,
  challenge: { type: "string" },
  pubkey: { type: "string" },
  "security-param": { type: "string" },
} as const;

/** `poet-client verify`. */
export const verifyCommand: Command = {
  name: "verify",
  help: `Usage: poet-client verify <file> [--challenge <hex|b64>] [--pubkey <hex|b64>] [--tick-size <n>] [--json]

Verifies the PoET proof in <file> byte for byte like the Go reference verifier: the membership
root of the round's members is the statement, the 150 proven leaves must sit at the Fiat-Shamir
indices, the Merkle path must rebuild the root and every label must recompute. Prints the
leaves, the ticks (leaves / tick size), the proof reference (the node's PoST challenge) and the
member count.

<file> is the JSON a PoET answers to GET /v1/proofs/<round> (what "fetch-proof --out" writes),
or a test-vector file (hex fields with a statement; one vector or a "vectors" list, in which case
the exit code says whether every outcome matches the vectors' expectations).

Options:
  --challenge <bytes>    also check that this 32-byte challenge is a member, and its path
  --pubkey <bytes>       also check that the proof carries this PoET key
  --security-param <n>   number of proven leaves (default 150; test vectors may say otherwise)
${TICK_SIZE_HELP}
  --json                 machine-readable output
  -h, --help             this help

Exit code 3 when a proof does not verify, 5 when it verifies but carries another PoET key than
the expected one (--pubkey).

Example:
  poet-client verify round-30.json --challenge 61dd44fc03cbfef76ab5b7d515ce3f2a48aae5d6371965ee13715b06d377b3a1`,

  async run(argv, context) {
    const start = startCommand(this, argv, context, OPTIONS, { min: 1, max: 1, names: "<file>" });
    if (typeof start === "number") return start;
    const { parsed, json, io, style } = start;
    const tickSize = parseTickSize(stringOption(parsed, "tick-size"));
    const challengeText = stringOption(parsed, "challenge");
    const pubkeyText = stringOption(parsed, "pubkey");
    const paramText = stringOption(parsed, "security-param");
    const options = {
      tickSize,
      challenge:
        challengeText === undefined ? undefined : parseBytesArg("--challenge", challengeText, 32),
      expectedPubkey:
        pubkeyText === undefined ? undefined : parseBytesArg("--pubkey", pubkeyText, 32),
      securityParam:
        paramText === undefined ? undefined : parseCount("--security-param", paramText, 1000, 1),
      signal: io.signal,
    };
    const file = parsed.positionals[0] as string;
    const inputs = readProofFile(file);
    const reports: ProofReport[] = [];
    for (const input of inputs) reports.push(await checkProof(input, options));

    const vectorFile = inputs.length > 1 || reports.some((r) => r.expected !== undefined);
    const ok = vectorFile
      ? reports.every((r) => r.expected ?? r.valid)
      : reports.every((r) => r.valid && r.pubkeyMatches !== false);
    const keyMismatch = !vectorFile && reports.every((r) => r.valid) && !ok;

    if (json) {
      const body =
        reports.length === 1
          ? { ok, ...reportJson(reports[0] as ProofReport) }
          : { ok, proofs: reports.map(reportJson) };
      io.stdout.write(jsonText(body));
    } else if (reports.length === 1) {
      io.stdout.write(`${reportText(reports[0] as ProofReport, style)}\n`);
    } else {
      const rows = reports.map((r) => [
        r.name,
        r.valid ? style.green("valid") : style.red(`invalid: ${r.reason ?? ""}`),
        r.leaves.toString(),
        r.ticks.toString(),
        r.expected === undefined
          ? ""
          : r.expected
            ? style.green("as expected")
            : style.red("UNEXPECTED"),
      ]);
      io.stdout.write(
        `${table([["proof", "verification", "leaves", "ticks", "expectation"].map(style.bold), ...rows])}\n`,
      );
      const unexpected = reports.filter((r) => r.expected === false).length;
      io.stdout.write(
        `\n${reports.length} proofs, ${reports.filter((r) => r.valid).length} valid` +
          (vectorFile ? `, ${unexpected} not as expected\n` : "\n"),
      );
    }
    return ok ? EXIT_OK : keyMismatch ? EXIT_ATTENTION : EXIT_VERIFICATION_FAILED;
  },
};
