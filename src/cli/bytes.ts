/**
 * @module cli/bytes
 *
 * Byte helpers for command-line input: hex or base64 arguments (node ids, challenges, keys) and
 * equality. Arguments are accepted in either encoding because PoETs print keys in base64 and
 * databases and logs show them in hex.
 */
import { ConfigError } from "../errors.js";

/** Whether `a` and `b` hold the same bytes. */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

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
