/**
 * @module cli/format
 *
 * How the CLI writes values for people and for scripts. People get UTC dates, short durations
 * ("13d 12h") and aligned tables; scripts (`--json`) get ISO 8601 instants, milliseconds, bytes as
 * lowercase hex and 64-bit integers as decimal strings, so that no value loses precision in a
 * JSON parser.
 */
import { toHex } from "../bytes.js";
import { visibleLength } from "./style.js";

/** Standard padded base64 of `bytes`, the way PoETs show keys. */
export function toBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64");
}

/** An instant as `2024-09-16 08:00:00Z` (UTC, seconds). */
export function formatInstant(at: Date): string {
  const iso = at.toISOString();
  const ms = iso.slice(19, 23);
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}${ms === ".000" ? "" : ms}Z`;
}

const UNITS: readonly [string, number][] = [
  ["d", 86_400_000],
  ["h", 3_600_000],
  ["m", 60_000],
  ["s", 1000],
];

/** A duration as its two largest units: `13d 12h`, `4m 10s`, `950ms`, `-2h`. */
export function formatDuration(ms: number): string {
  if (ms < 0) return `-${formatDuration(-ms)}`;
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const parts: string[] = [];
  let rest = ms;
  for (const [unit, size] of UNITS) {
    const n = Math.floor(rest / size);
    if (n > 0 || parts.length > 0) {
      if (n > 0) parts.push(`${n}${unit}`);
      rest -= n * size;
    }
    if (parts.length === 2) break;
  }
  return parts.join(" ") || "0s";
}

/** "in 3h 10m" or "2d ago", relative to `now`. */
export function formatRelative(at: Date, now: number): string {
  const delta = at.getTime() - now;
  if (Math.abs(delta) < 1000) return "now";
  return delta > 0 ? `in ${formatDuration(delta)}` : `${formatDuration(-delta)} ago`;
}

/** Converts a value for `JSON.stringify`: bytes → hex, bigint → string, Date → ISO. */
export function toJsonValue(value: unknown): unknown {
  if (value instanceof Uint8Array) return toHex(value);
  if (typeof value === "bigint") return value.toString();
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value)) return value.map(toJsonValue);
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      if (v !== undefined) out[k] = toJsonValue(v);
    }
    return out;
  }
  return value;
}

/** Pretty JSON text (2-space indent, trailing newline) of `value` after {@link toJsonValue}. */
export function jsonText(value: unknown): string {
  return `${JSON.stringify(toJsonValue(value), null, 2)}\n`;
}

/** Left-aligned columns separated by two spaces; the first row is the header. */
export function table(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const row of rows) {
    row.forEach((cell, i) => {
      widths[i] = Math.max(widths[i] ?? 0, visibleLength(cell));
    });
  }
  return rows
    .map((row) =>
      row
        .map((cell, i) =>
          i === row.length - 1 ? cell : cell + " ".repeat((widths[i] ?? 0) - visibleLength(cell)),
        )
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}

/** `label: value` lines with the labels padded to one width. */
export function fields(rows: readonly (readonly [string, string])[]): string {
  const width = Math.max(0, ...rows.map(([label]) => label.length));
  return rows.map(([label, value]) => `${`${label}:`.padEnd(width + 1)}  ${value}`).join("\n");
}
