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

/** The exit-code table printed at the end of every `--help`. */
export const EXIT_CODES_HELP = `Exit codes:
  0  ok
  1  failure (server, network, file or database error)
  2  usage error (unknown command or option, bad argument)
  3  verification failed (the proof is invalid)
  4  not ready (the proof of that round is not published yet)
  5  attention needed (inconsistent node state, an unexpected PoET key,
     or a phase switch that loses an epoch)`;
