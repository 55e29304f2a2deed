/**
 * @module storage/columns
 *
 * How domain values become SQLite values and back, exactly as go-spacemesh binds them
 * (docs/node-client.md §1.4, §1.8, §2.6):
 *
 * - ids, hashes and refs are 32-byte BLOBs, even where the DDL says `CHAR(32)`;
 * - every unsigned 64-bit column (`post_pow`, `vrf_nonce`, `labels_per_unit`, `sequence`) is bound
 *   as a signed int64, so values of 2^63 and above are stored as negative numbers. We read and write
 *   them as `bigint` and reinterpret the two's complement, never going through `number`;
 * - instants that Go writes (`round_end`) are unix seconds; instants of our own tables are unix
 *   milliseconds.
 *
 * Reading is defensive: a row may have been written by another program or edited by hand, so
 * each value is checked (type, length, range) and a bad one becomes a {@link StorageError} of kind
 * `"corrupt"` naming the table, the column and the identity, instead of a wrong value further on.
 * Bad input from the caller is a {@link ConfigError} naming the field.
 */
import { toHex } from "../bytes.js";
import { ConfigError, StorageError } from "../errors.js";

const U64_LIMIT = 1n << 64n;
const U32_LIMIT = 1n << 32n;

/** Where a value sits, for error messages. */
export interface ColumnPlace {
  table: string;
  column: string;
  /** The raw node id of the row, when the row belongs to an identity. */
  nodeId?: unknown;
}

function identityOf(nodeId: unknown): string | undefined {
  return nodeId instanceof Uint8Array ? toHex(nodeId) : undefined;
}

/** A {@link StorageError} of kind `"corrupt"` for the value at `place`. */
export function corrupt(place: ColumnPlace, message: string, cause?: unknown): StorageError {
  const identity = identityOf(place.nodeId);
  return new StorageError(message, {
    kind: "corrupt",
    table: place.table,
    column: place.column,
    ...(identity === undefined ? {} : { identity }),
    ...(cause === undefined ? {} : { cause }),
  });
}

function describe(value: unknown): string {
  if (value === null) return "NULL";
  if (value instanceof Uint8Array) return `a ${value.length}-byte BLOB`;
  if (typeof value === "bigint" || typeof value === "number") return `the number ${value}`;
  if (typeof value === "string") return "TEXT";
  return typeof value;
}

/** A copy of a BLOB as a plain `Uint8Array` (not a Node `Buffer`). */
function plainBytes(value: Uint8Array): Uint8Array {
  return new Uint8Array(value);
}

/** Reads any BLOB. */
export function readBytes(value: unknown, place: ColumnPlace): Uint8Array {
  if (!(value instanceof Uint8Array))
    throw corrupt(place, `expected a BLOB, found ${describe(value)}`);
  return plainBytes(value);
}

/** Reads a BLOB that may be NULL or empty; both mean "absent", as in Go's `ColumnLen == 0`. */
export function readOptionalBytes(value: unknown, place: ColumnPlace): Uint8Array | undefined {
  if (value === null || value === undefined) return undefined;
  const bytes = readBytes(value, place);
  return bytes.length === 0 ? undefined : bytes;
}

/** Reads a 32-byte BLOB (an id, a hash, a ref, a public key). */
export function readHash(value: unknown, place: ColumnPlace): Uint8Array {
  if (!(value instanceof Uint8Array) || value.length !== 32) {
    throw corrupt(place, `expected a 32-byte BLOB, found ${describe(value)}`);
  }
  return plainBytes(value);
}

/** Reads a 32-byte BLOB that may be NULL or empty. */
export function readOptionalHash(value: unknown, place: ColumnPlace): Uint8Array | undefined {
  if (value === null || value === undefined) return undefined;
  if (value instanceof Uint8Array && value.length === 0) return undefined;
  return readHash(value, place);
}

/** Reads TEXT. */
export function readText(value: unknown, place: ColumnPlace): string {
  if (typeof value !== "string") throw corrupt(place, `expected TEXT, found ${describe(value)}`);
  return value;
}

function readInteger(value: unknown, place: ColumnPlace): bigint {
  if (typeof value === "bigint") return value;
  // Without safe integers an INTEGER arrives as a number; accept it only while it is exact.
  if (typeof value === "number" && Number.isSafeInteger(value)) return BigInt(value);
  throw corrupt(place, `expected an INTEGER, found ${describe(value)}`);
}

/** Reads an unsigned 64-bit value stored as a signed int64 (two's complement). */
export function readU64(value: unknown, place: ColumnPlace): bigint {
  return BigInt.asUintN(64, readInteger(value, place));
}

/** Reads an unsigned 32-bit value (stored as a non-negative INTEGER). */
export function readU32(value: unknown, place: ColumnPlace): number {
  const n = readInteger(value, place);
  if (n < 0n || n >= U32_LIMIT) throw corrupt(place, `expected a u32, found ${n}`);
  return Number(n);
}

/** Reads unix seconds as a `Date`. */
export function readUnixSeconds(value: unknown, place: ColumnPlace): Date {
  const seconds = readInteger(value, place);
  const date = new Date(Number(seconds) * 1000);
  if (Number.isNaN(date.getTime()))
    throw corrupt(place, `${seconds} s is not a representable time`);
  return date;
}

/** Reads unix milliseconds as a `Date`. */
export function readUnixMillis(value: unknown, place: ColumnPlace): Date {
  const ms = readInteger(value, place);
  const date = new Date(Number(ms));
  if (Number.isNaN(date.getTime())) throw corrupt(place, `${ms} ms is not a representable time`);
  return date;
}

// ---- writing: caller input is checked, then bound the way Go binds it ----

/** Checks caller bytes of an exact length. */
export function hashParam(value: Uint8Array, field: string, length = 32): Uint8Array {
  if (!(value instanceof Uint8Array) || value.length !== length) {
    throw new ConfigError(field, `must be ${length} bytes, got ${describe(value)}`);
  }
  return value;
}

/** Checks caller bytes of any length. */
export function bytesParam(value: Uint8Array, field: string): Uint8Array {
  if (!(value instanceof Uint8Array)) throw new ConfigError(field, "must be a Uint8Array");
  return value;
}

/** Checks a u64 and returns it as the signed int64 Go stores. */
export function u64Param(value: bigint, field: string): bigint {
  if (typeof value !== "bigint" || value < 0n || value >= U64_LIMIT) {
    throw new ConfigError(field, `must be a bigint in [0, 2^64), got ${String(value)}`);
  }
  return BigInt.asIntN(64, value);
}

/** Checks a u32 and returns it as a bigint INTEGER. */
export function u32Param(value: number, field: string): bigint {
  if (!Number.isInteger(value) || value < 0 || value >= 2 ** 32) {
    throw new ConfigError(field, `must be an integer in [0, 2^32), got ${String(value)}`);
  }
  return BigInt(value);
}

/** Checks a `Date` and returns whole unix seconds, rounded down like Go's `Time.Unix()`. */
export function unixSecondsParam(value: Date, field: string): bigint {
  const ms = value instanceof Date ? value.getTime() : Number.NaN;
  if (Number.isNaN(ms)) throw new ConfigError(field, "must be a valid Date");
  return BigInt(Math.floor(ms / 1000));
}

/** Checks a `Date` and returns unix milliseconds. */
export function unixMillisParam(value: Date, field: string): bigint {
  const ms = value instanceof Date ? value.getTime() : Number.NaN;
  if (Number.isNaN(ms)) throw new ConfigError(field, "must be a valid Date");
  return BigInt(ms);
}

/** Checks a non-empty string. */
export function textParam(value: string, field: string): string {
  if (typeof value !== "string" || value.length === 0) {
    throw new ConfigError(field, "must be a non-empty string");
  }
  return value;
}
