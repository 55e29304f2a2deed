/**
 * @module cli/bytes
 *
 * Byte arguments on the command line: hex or base64 (node ids, challenges, keys). Both
 * encodings are accepted because PoETs print keys in base64 and databases and logs show them in hex.
 */
import { ConfigError } from "../errors.js";

/**
 * Parses a hex (optionally `0x`-prefixed) or base64 argument of exactly `length` bytes.
 *
 * @example
 * ```ts
 * parseBytesArg("--challenge", "61dd44fc…b3a1", 32);
 * ```
 */
export function parseBytesArg(setting: string, text: string, length: number): Uint8Array {
  const hex = text.startsWith("0x") ? text.slice(2) : text;
  let bytes: Uint8Array | undefined;
  if (/^([0-9a-fA-F]{2})+$/.test(hex) && hex.length === length * 2) {
    bytes = new Uint8Array(Buffer.from(hex, "hex"));
  } else if (/^[A-Za-z0-9+/_-]+={0,2}$/.test(text)) {
    bytes = new Uint8Array(Buffer.from(text, "base64"));
  }
  if (bytes === undefined || bytes.length !== length) {
    throw new ConfigError(
      setting,
      `expected ${length} bytes as hex or base64, got ${JSON.stringify(text)}`,
    );
  }
  return bytes;
}
