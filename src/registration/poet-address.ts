/**
 * @module registration/poet-address
 *
 * The key under which a PoET's registrations are stored: its configured base URL, with `http://`
 * added when no scheme is given, exactly like go-spacemesh's `Address()` so that a node state
 * written by the Go node keeps matching (docs/node-client.md §1.4). No other normalisation is
 * done: a trailing slash or another scheme is another PoET, as it is for the Go node.
 */
import { ConfigError } from "../errors.js";

/**
 * The normalised address of a configured PoET URL.
 *
 * @example
 * ```ts
 * poetAddress("poet.example:8080"); // "http://poet.example:8080"
 * poetAddress("https://mainnet-poet-0.spacemesh.network"); // unchanged
 * ```
 */
export function poetAddress(url: string): string {
  const trimmed = url.trim();
  if (trimmed === "") throw new ConfigError("poets[].url", "is empty");
  const withScheme = /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\//.test(trimmed) ? trimmed : `http://${trimmed}`;
  let parsed: URL;
  try {
    parsed = new URL(withScheme);
  } catch (cause) {
    throw new ConfigError("poets[].url", `${JSON.stringify(url)} is not a URL`, { cause });
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
    throw new ConfigError("poets[].url", `${JSON.stringify(url)} must use http or https`);
  }
  return withScheme;
}
