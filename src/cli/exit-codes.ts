/**
 * @module cli/exit-codes
 *
 * The exit codes of `poet-client`. Scripts branch on them, so they are part of the CLI's contract
 * and are listed in every `--help` (docs/operator-guide.md). Distinct codes are kept for the
 * outcomes an operator's script acts on differently: a usage mistake, an invalid proof, a proof
 * that is simply not out yet, and a node state that needs attention.
 */

/** Everything worked. */
export const EXIT_OK = 0;
/** A runtime failure: a server, a file or the database could not be used. */
export const EXIT_FAILURE = 1;
/** The command line was wrong: unknown command or option, missing or malformed argument. */
export const EXIT_USAGE = 2;
/** A proof was read or downloaded but failed verification. */
export const EXIT_VERIFICATION_FAILED = 3;
/** The proof of the round is not available yet (404 "proof not found"). */
export const EXIT_NOT_READY = 4;
/** The node state is inconsistent, or a phase switch would lose an epoch and was not accepted. */
export const EXIT_ATTENTION = 5;

/**
 * Every exit code and what it means: the one table that `--help` prints and that
 * docs/operator-guide.md shows (a test keeps the two the same).
 */
export const EXIT_CODE_TABLE: readonly (readonly [number, string])[] = [
  [EXIT_OK, "ok"],
  [EXIT_FAILURE, "failure: a server, the network, a file or the database could not be used"],
  [EXIT_USAGE, "usage: unknown command or option, missing or malformed argument"],
  [EXIT_VERIFICATION_FAILED, "verification failed: the proof is invalid"],
  [EXIT_NOT_READY, "not ready: the PoET has not published the proof of that round yet"],
  [
    EXIT_ATTENTION,
    "attention needed: the node state is inconsistent, a PoET's key differs from the expected one (info, fetch-proof, verify), or a phase switch would lose an epoch",
  ],
];

function wrap(text: string, width: number, indent: string): string {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(" ")) {
    if (line !== "" && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line === "" ? word : `${line} ${word}`;
    }
  }
  lines.push(line);
  return lines.join(`\n${indent}`);
}

/** The exit-code table printed at the end of every `--help`. */
export const EXIT_CODES_HELP = `Exit codes:\n${EXIT_CODE_TABLE.map(
  ([code, meaning]) => `  ${code}  ${wrap(meaning, 88, "     ")}`,
).join("\n")}`;
