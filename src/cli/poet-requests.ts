/**
 * @module cli/poet-requests
 *
 * The two PoET calls the command line makes — `/v1/info` and `/v1/proofs/{round}`
 * (docs/protocol.md §1.1, §6) — with one client per call, a per-command timeout, and answers in
 * the library's units, and the options that go with them (`--protocol`, `--timeout`, `--pubkey`).
 * `info`, `fetch-proof` and `switch-phase` use them; keeping the client plumbing here means a
 * command only sees the answer.
 */
import { createPoetClient, type PoetInfo, type PoetRoundProof } from "../client/index.js";
import { ConfigError } from "../errors.js";
import { poetAddress } from "../registration/poet-address.js";
import { MAINNET } from "../schedule/index.js";
import type { PoetProtocol } from "../transport/index.js";
import { parseBytesArg } from "./bytes.js";
import { type Parsed, stringOption } from "./command.js";
import { parseDuration } from "./duration.js";
import { UsageError } from "./usage-error.js";

/** The `--protocol` and `--timeout` options. */
export const POET_REQUEST_OPTIONS = {
  protocol: { type: "string" },
  timeout: { type: "string" },
} as const;

/** Parses `--protocol` (default `rest`, what public PoETs serve). */
export function parseProtocol(text: string | undefined): PoetProtocol {
  if (text === undefined) return "rest";
  if (text === "rest" || text === "grpc" || text === "connect") return text;
  throw new UsageError(
    "--protocol",
    `--protocol: expected rest, grpc or connect, got ${JSON.stringify(text)}`,
  );
}

/**
 * The PoET address an operator typed as `setting` (`<url>`, `--to`, `--poet`): a URL with a scheme,
 * or a host and port the way a node's config gives them (`http://` is then added, as the node
 * does). A word that cannot be a host (`not-a-url`: no dot, no port, not `localhost`) is refused
 * here rather than sent to DNS.
 *
 * @example
 * ```ts
 * parsePoetUrl("<url>", "https://mainnet-poet-0.spacemesh.network"); // unchanged
 * parsePoetUrl("<url>", "127.0.0.1:8080"); // "http://127.0.0.1:8080"
 * ```
 */
export function parsePoetUrl(setting: string, text: string): string {
  const refuse = (cause?: unknown) =>
    new UsageError(
      setting,
      `${setting}: ${JSON.stringify(text)} is not a PoET URL (example: https://mainnet-poet-0.spacemesh.network)`,
      { cause },
    );
  let address: string;
  try {
    address = poetAddress(text);
  } catch (err) {
    if (err instanceof ConfigError) throw refuse(err);
    throw err;
  }
  const { hostname, port } = new URL(address);
  const hasScheme = /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\//.test(text.trim());
  const hostLike =
    hostname.includes(".") || hostname.startsWith("[") || hostname === "localhost" || port !== "";
  if (hostname === "" || (!hasScheme && !hostLike)) throw refuse();
  return address;
}

/** How a command asks a PoET. */
export interface PoetRequestOptions {
  protocol: PoetProtocol;
  timeoutMs: number;
  signal: AbortSignal | undefined;
}

/**
 * Reads `--protocol`, then `--timeout` (`defaultTimeoutMs` when absent).
 *
 * @example
 * ```ts
 * const info = await fetchPoetInfo(url, poetRequestOptions(parsed, 10_000, io.signal));
 * ```
 */
export function poetRequestOptions(
  parsed: Parsed,
  defaultTimeoutMs: number,
  signal: AbortSignal | undefined,
): PoetRequestOptions {
  const protocol = parseProtocol(stringOption(parsed, "protocol"));
  const timeoutText = stringOption(parsed, "timeout");
  const timeoutMs =
    timeoutText === undefined ? defaultTimeoutMs : parseDuration("--timeout", timeoutText);
  return { protocol, timeoutMs, signal };
}

/**
 * The service key expected of the PoET at `url`: `--pubkey` when given, else, when
 * `lookUpMainnet`, the key of the mainnet PoET with that URL, if any.
 *
 * @example
 * ```ts
 * const expected = expectedPoetKey(parsed, url, name === "mainnet");
 * ```
 */
export function expectedPoetKey(
  parsed: Parsed,
  url: string,
  lookUpMainnet: boolean,
): Uint8Array | undefined {
  const text = stringOption(parsed, "pubkey");
  if (text !== undefined) return parseBytesArg("--pubkey", text, 32);
  return lookUpMainnet ? MAINNET.poets.find((p) => poetAddress(p.url) === url)?.pubkey : undefined;
}

/** Asks the PoET at `url` for its info. */
export async function fetchPoetInfo(url: string, options: PoetRequestOptions): Promise<PoetInfo> {
  const client = createPoetClient({
    url,
    protocol: options.protocol,
    timeoutMs: options.timeoutMs,
  });
  try {
    return await client.info(options.signal === undefined ? {} : { signal: options.signal });
  } finally {
    await client.close();
  }
}

/** Asks the PoET at `url` for the proof of round `roundId` (one attempt, no retries). */
export async function fetchRoundProof(
  url: string,
  roundId: string,
  options: PoetRequestOptions,
): Promise<PoetRoundProof> {
  const client = createPoetClient({
    url,
    protocol: options.protocol,
    timeoutMs: options.timeoutMs,
    proofTimeoutMs: options.timeoutMs,
  });
  try {
    return await client.proof(
      roundId,
      options.signal === undefined ? {} : { signal: options.signal },
    );
  } finally {
    await client.close();
  }
}
