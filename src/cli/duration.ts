/**
 * @module cli/duration
 *
 * Durations and instants typed by an operator: `336h`, `14d`, `1h30m`, `864000s` (the way a PoET
 * reports them), `500ms`; instants as ISO 8601 or the word `now`. Everything becomes integer
 * milliseconds or a `Date`; anything else is a {@link ConfigError} naming the option.
 */
import { ConfigError } from "../errors.js";

const UNIT_MS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

/**
 * Parses `text` as a sum of `<number><unit>` parts (units ms, s, m, h, d, w).
 *
 * @example
 * ```ts
 * parseDuration("--cycle-gap", "12h"); // 43_200_000
 * parseDuration("--epoch", "1h30m"); // 5_400_000
 * ```
 */
export function parseDuration(setting: string, text: string): number {
  const trimmed = text.trim();
  const part = /(\d+(?:\.\d+)?)(ms|s|m|h|d|w)/gy;
  let total = 0;
  let matched = 0;
  let m: RegExpExecArray | null = part.exec(trimmed);
  while (m !== null) {
    total += Number(m[1]) * (UNIT_MS[m[2] as string] as number);
    matched = part.lastIndex;
    m = part.exec(trimmed);
  }
  if (trimmed === "" || matched !== trimmed.length) {
    throw new ConfigError(
      setting,
      `${JSON.stringify(text)} is not a duration (examples: 336h, 14d, 1h30m, 864000s, 500ms)`,
    );
  }
  const ms = Math.round(total);
  if (!Number.isSafeInteger(ms)) throw new ConfigError(setting, `${text} is too long`);
  return ms;
}

/**
 * Parses an instant: ISO 8601 (a date alone means midnight UTC) or `now` (taken from `nowMs`).
 *
 * @example
 * ```ts
 * parseInstant("--from", "2024-09-16T08:00:00Z", clock.now());
 * ```
 */
export function parseInstant(setting: string, text: string, nowMs: number): Date {
  if (text === "now") return new Date(nowMs);
  const withZone = /^\d{4}-\d{2}-\d{2}$/.test(text) ? `${text}T00:00:00Z` : text;
  const ms = Date.parse(withZone);
  if (!/^\d{4}-\d{2}-\d{2}/.test(text) || Number.isNaN(ms)) {
    throw new ConfigError(
      setting,
      `${JSON.stringify(text)} is not an ISO 8601 instant (example: 2024-09-16T08:00:00Z)`,
    );
  }
  return new Date(ms);
}

/** Parses an integer option between `min` (default 0) and `max`. */
export function parseCount(setting: string, text: string, max: number, min = 0): number {
  if (!/^\d+$/.test(text)) throw new ConfigError(setting, `${JSON.stringify(text)} is not a count`);
  const n = Number(text);
  if (n > max) throw new ConfigError(setting, `must be at most ${max}, got ${n}`);
  if (n < min) throw new ConfigError(setting, `must be at least ${min}, got ${n}`);
  return n;
}
