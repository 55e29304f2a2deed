/**
 * Byte helpers of the tests: hex, base64 and UTF-8 to and from bytes.
 */
import { toHex } from "../../src/bytes.js";

export const hex = toHex;
export const unhex = (text: string): Uint8Array => new Uint8Array(Buffer.from(text, "hex"));
export const b64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString("base64");
export const unb64 = (text: string): Uint8Array => new Uint8Array(Buffer.from(text, "base64"));
export const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text);
