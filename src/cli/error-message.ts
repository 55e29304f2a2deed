/**
 * @module cli/error-message
 *
 * How a failure reads on the command line: one line, printable, naming what the operator named (a
 * file, a URL), in words rather than a library's internals. A network failure whose cause is a
 * known system error (refused, unknown host, TLS against a plain-HTTP server, …) is said in plain
 * words with the server's URL; any other error keeps its own message, which the library already
 * words for people. Control characters and undecodable bytes (from a binary file, say) are shown as
 * escapes, never sent to the terminal.
 */
import { PoetError, PoetRpcError } from "../errors.js";
import { FileAccessError } from "./file-error.js";

const MAX_MESSAGE_CHARS = 400;

/** The system errors a network failure is commonly made of, in the operator's words. */
const NETWORK_CAUSES: readonly [RegExp, (server: string) => string][] = [
  [
    /^(EPROTO|ERR_SSL_WRONG_VERSION_NUMBER|ERR_SSL_PACKET_LENGTH_TOO_LONG)$|wrong version number|packet length too long/,
    (server) => `${server}: the server does not speak TLS (is it http:// rather than https://?)`,
  ],
  [/^ECONNREFUSED$/, (server) => `${server}: connection refused (is the PoET running?)`],
  [/^(ENOTFOUND|EAI_AGAIN)$/, (server) => `${server}: host not found`],
  [/^(ECONNRESET|EPIPE)$/, (server) => `${server}: the connection was closed by the server`],
  [/^(EHOSTUNREACH|ENETUNREACH)$/, (server) => `${server}: host unreachable`],
  [
    /^(DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE|CERT_HAS_EXPIRED|ERR_TLS_CERT_ALTNAME_INVALID)$/,
    (server) => `${server}: its TLS certificate is not trusted`,
  ],
];

function causeCodes(err: unknown): string[] {
  const codes: string[] = [];
  let current: unknown = err;
  for (let depth = 0; depth < 8 && current !== null && typeof current === "object"; depth++) {
    const { code, message } = current as { code?: unknown; message?: unknown };
    if (typeof code === "string") codes.push(code);
    if (typeof message === "string") codes.push(message);
    const errors = (current as { errors?: unknown }).errors;
    if (Array.isArray(errors)) codes.push(...errors.flatMap(causeCodes));
    current = (current as { cause?: unknown }).cause;
  }
  return codes;
}

/**
 * `text` on one line with every control character, and the replacement character that stands
 * for undecodable bytes, written as an escape; cut to a readable length.
 */
export function printableLine(text: string): string {
  const line = text.replace(/\r?\n\s*/g, " ").replace(
    // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is replaced
    /[\u0000-\u001f\u007f-\u009f\ufffd]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
  return line.length > MAX_MESSAGE_CHARS ? `${line.slice(0, MAX_MESSAGE_CHARS)}…` : line;
}

/**
 * The one-line message for an error a command threw, and the `code` its `--json` form carries.
 *
 * @example
 * ```ts
 * const { message, code } = describeError(err);
 * io.stderr.write(`poet-client info: ${message}\n`);
 * ```
 */
export function describeError(err: unknown): { message: string; code: string } {
  const code =
    err instanceof PoetError ? err.code : err instanceof FileAccessError ? "file" : "error";
  if (err instanceof PoetRpcError && err.kind === "network") {
    const causes = causeCodes(err.cause);
    for (const [pattern, say] of NETWORK_CAUSES) {
      if (causes.some((c) => pattern.test(c))) return { message: say(err.server), code };
    }
  }
  const message = err instanceof Error ? err.message : String(err);
  return { message: printableLine(message), code };
}
