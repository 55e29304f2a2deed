/**
 * @module client/wrong-service-key-error
 *
 * The PoET answered with a service key other than the one the node was configured with
 * (docs/protocol.md §6; docs/node-client.md §2.4 and §8). The Go node never compares them, so a
 * PoET that changed hands or a wrong URL goes unnoticed until proofs stop matching. Here it is a
 * {@link RegistrationRejectedError} with reason `wrong-service-key`: nothing registered with or
 * fetched from that server can be trusted under the configured identity.
 */
import { toHex } from "../bytes.js";
import { RegistrationRejectedError } from "../errors.js";

/** A PoET's service key differs from the configured one. */
export class WrongServiceKeyError extends RegistrationRejectedError {
  /** The configured key. */
  readonly expected: Uint8Array;
  /** The key the server sent. */
  readonly actual: Uint8Array;
  /** Where the key was seen: `info` or `proof`. */
  readonly source: "info" | "proof";

  constructor(server: string, source: "info" | "proof", expected: Uint8Array, actual: Uint8Array) {
    super(
      server,
      "wrong-service-key",
      `the ${source} response carries service key ${toHex(actual)}, not the configured ${toHex(expected)}`,
    );
    this.name = "WrongServiceKeyError";
    this.expected = expected;
    this.actual = actual;
    this.source = source;
  }
}
