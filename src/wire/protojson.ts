/**
 * @module wire/protojson
 *
 * The PoET's REST gateway speaks canonical protobuf JSON (docs/protocol.md §1.2): lowerCamelCase
 * names on output (either spelling on input), every field emitted, bytes as padded standard
 * base64, u64 values as decimal strings, Durations as `"<seconds>[.<fraction>]s"` and Timestamps
 * as RFC 3339. Rather than re-implementing those rules by hand, this module wraps
 * `@bufbuild/protobuf`'s JSON codec and the generated messages of the PoET API, with the two
 * choices the real server makes: unknown fields are ignored on input, and fields with implicit
 * presence (empty bytes and lists, zeros) are always written on output. One difference remains:
 * the server writes an unset message field as `null` while `@bufbuild/protobuf` leaves it out;
 * both parse to the same message, and JSON is always parsed, never compared as text.
 *
 * Parse failures become a {@link WireFormatError} whose `field` is the offending protobuf field
 * when the parser names one (for example `rpc.api.v1.SubmitResponse.round_end`), otherwise the
 * message type. The time helpers turn Durations into milliseconds and Timestamps into `Date`s,
 * the units of the library's API.
 */
import {
  create,
  type DescMessage,
  fromJson,
  type JsonValue,
  type MessageShape,
  toJson,
} from "@bufbuild/protobuf";
import {
  type Duration,
  DurationSchema,
  type Timestamp,
  timestampDate,
  timestampFromMs,
} from "@bufbuild/protobuf/wkt";
import { WireFormatError } from "../errors.js";

/** Options of {@link poetToJson}. */
export interface PoetJsonWriteOptions {
  /**
   * Write fields that hold their default value (`""`, `[]`, `0`, `"0"`), as the PoET server does.
   * Default `true`; pass `false` for the compact form the Go node sends in requests.
   */
  emitDefaults?: boolean;
}

const NAMED_FIELD = /cannot decode (?:field |message )?([A-Za-z_][\w.]*)/;

function parseError(schema: DescMessage, err: unknown): WireFormatError {
  const message = err instanceof Error ? err.message : String(err);
  const field = NAMED_FIELD.exec(message)?.[1] ?? schema.typeName;
  return new WireFormatError(field, message, { cause: err });
}

/**
 * Parses a PoET API message from JSON text or an already-parsed JSON value, the way the server's
 * gateway does: both name spellings, unknown fields ignored, u64 as string or number, bytes in
 * any base64 alphabet with or without padding.
 *
 * @throws {WireFormatError} on invalid JSON or a value of the wrong type, naming the field.
 * @example
 * ```ts
 * import { SubmitResponseSchema } from "spacemesh-poet-client/proto";
 * const res = parsePoetJson(SubmitResponseSchema, await response.text());
 * res.roundId; // "30"
 * ```
 */
export function parsePoetJson<Desc extends DescMessage>(
  schema: Desc,
  json: string | JsonValue,
): MessageShape<Desc> {
  let value: JsonValue;
  if (typeof json === "string") {
    try {
      value = JSON.parse(json) as JsonValue;
    } catch (err) {
      throw new WireFormatError(schema.typeName, `invalid JSON: ${(err as Error).message}`, {
        cause: err,
      });
    }
  } else {
    value = json;
  }
  try {
    return fromJson(schema, value, { ignoreUnknownFields: true });
  } catch (err) {
    throw parseError(schema, err);
  }
}

/**
 * Serialises a PoET API message to a JSON value in the server's shape: lowerCamelCase names,
 * padded base64 bytes, u64 as strings and (by default) every implicit field written.
 *
 * @throws {WireFormatError} when the message holds a value JSON cannot carry (for example a
 *   Duration out of range).
 * @example
 * ```ts
 * import { SubmitRequestSchema } from "spacemesh-poet-client/proto";
 * const body = JSON.stringify(poetToJson(SubmitRequestSchema, request, { emitDefaults: false }));
 * ```
 */
export function poetToJson<Desc extends DescMessage>(
  schema: Desc,
  message: MessageShape<Desc>,
  options: PoetJsonWriteOptions = {},
): JsonValue {
  try {
    return toJson(schema, message, { alwaysEmitImplicit: options.emitDefaults ?? true });
  } catch (err) {
    const text = err instanceof Error ? err.message : String(err);
    throw new WireFormatError(schema.typeName, `cannot encode to JSON: ${text}`, { cause: err });
  }
}

/**
 * Milliseconds in a protobuf Duration, keeping any sub-millisecond fraction
 * (`"1166400.523146812s"` → `1166400523.146812`).
 *
 * @example
 * ```ts
 * const untilRoundEnd = durationToMs(submitResponse.roundEnd!);
 * ```
 */
export function durationToMs(duration: Duration): number {
  return Number(duration.seconds) * 1000 + duration.nanos / 1_000_000;
}

/**
 * A protobuf Duration of `ms` milliseconds, rounded to whole nanoseconds.
 *
 * @throws {WireFormatError} when `ms` is not a finite number.
 * @example
 * ```ts
 * const phaseShift = msToDuration(240 * 3_600_000); // "864000s" in JSON
 * ```
 */
export function msToDuration(ms: number): Duration {
  if (!Number.isFinite(ms)) {
    throw new WireFormatError("google.protobuf.Duration", `${ms} ms is not a finite duration`);
  }
  const sign = ms < 0 ? -1 : 1;
  const abs = Math.abs(ms);
  let seconds = Math.floor(abs / 1000);
  let nanos = Math.round((abs - seconds * 1000) * 1_000_000);
  if (nanos >= 1_000_000_000) {
    seconds += 1;
    nanos -= 1_000_000_000;
  }
  // Seconds and nanos carry the same sign; avoid a negative zero, which protobuf cannot encode.
  return create(DurationSchema, {
    seconds: BigInt(seconds) * BigInt(sign),
    nanos: nanos === 0 ? 0 : nanos * sign,
  });
}

/**
 * A protobuf Timestamp for a `Date` (millisecond precision).
 *
 * @throws {WireFormatError} for an invalid `Date`.
 * @example
 * ```ts
 * request.deadline = dateToTimestamp(schedule.roundEnd(round));
 * ```
 */
export function dateToTimestamp(date: Date): Timestamp {
  const ms = date.getTime();
  if (!Number.isFinite(ms)) {
    throw new WireFormatError("google.protobuf.Timestamp", "invalid Date");
  }
  return timestampFromMs(ms);
}

/**
 * The `Date` of a protobuf Timestamp (sub-millisecond digits are dropped).
 *
 * @example
 * ```ts
 * const deadline = timestampToDate(request.deadline!);
 * ```
 */
export function timestampToDate(timestamp: Timestamp): Date {
  return timestampDate(timestamp);
}
