/**
 * @module schedule/proof-pacing
 *
 * When a node asks its PoETs for their proofs, derived from the schedule (docs/node-client.md §1.1,
 * §1.5, §7 item 5): the same rules must work on mainnet's 12-hour cycle gap and on the few seconds
 * of a test network, so every default is a fraction of the cycle gap, clamped to what a real PoET
 * needs.
 *
 * - **Grace**: a real PoET publishes a round's proof 0.3–2 s after the round end (it finishes the
 *   tree and stores the proof first). Asking earlier only earns a 404 and pushes the next question
 *   a poll interval away, so the first query waits `graceMs` (default 2.5 s, or 1/10 of the cycle
 *   gap when that is shorter) plus the schedule's random jitter.
 * - **Polls**: after a miss, the next question comes `pollIntervalMs` later, doubling up to
 *   `maxPollIntervalMs`. Defaults: 1/4320 of the cycle gap (10 s on mainnet), at least 100 ms and at
 *   most 10 s; the longest 1/48 of the cycle gap (at most 5 min, at least the first interval).
 * - **Cut-off**: how long after the last round end better proofs are awaited once one proof is in
 *   hand. Default 1/12 of the cycle gap (1 h on mainnet). Whatever is configured, it is never
 *   shorter than the latest first query plus two poll intervals, so that every PoET that holds the
 *   registration is asked — and asked again once — before PoST starts on the best proof so far.
 *
 * Pure: numbers in, numbers out.
 */
import { ConfigError } from "../errors.js";

/** What the pacing needs from a schedule: its cycle gap and proof-query jitter. */
export interface PacedSchedule {
  readonly cycleGapMs: number;
  proofQueryJitter(): { minMs: number; maxMs: number };
}

/** Overrides of {@link proofPacing}'s defaults, in ms. */
export interface ProofPacingOptions {
  /** Wait after a round end before the first proof query (before the jitter). */
  graceMs?: number | undefined;
  /** First delay between proof polls. */
  pollIntervalMs?: number | undefined;
  /** Longest delay between proof polls. */
  maxPollIntervalMs?: number | undefined;
  /** How long after the last round end better proofs are awaited (raised to the floor below). */
  cutoffMs?: number | undefined;
}

/** The resolved pacing of proof queries. */
export interface ProofPacing {
  /** Wait after a round end before the first query, in ms. */
  graceMs: number;
  /** Random delay on top of the grace (the schedule's proof-query jitter). */
  jitter: { minMs: number; maxMs: number };
  pollIntervalMs: number;
  maxPollIntervalMs: number;
  /** After the last round end: when PoST starts on the best proof so far. */
  cutoffMs: number;
}

/** The grace real PoETs need to publish: they were seen publishing 0.3–2.1 s after the round end. */
export const DEFAULT_PROOF_GRACE_MS = 2_500;
const MIN_POLL_MS = 100;
const MAX_FIRST_POLL_MS = 10_000;
const MAX_POLL_MS = 300_000;

function duration(name: string, value: number | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new ConfigError(name, `must be a non-negative whole number of ms, got ${String(value)}`);
  }
  return value;
}

/**
 * Resolves the pacing of proof queries for a schedule.
 *
 * @throws {ConfigError} when an override is not a non-negative whole number of ms.
 * @example
 * ```ts
 * const pacing = proofPacing(MAINNET.schedule);
 * // { graceMs: 2500, jitter: { minMs: 8640, maxMs: 17280 }, pollIntervalMs: 10000,
 * //   maxPollIntervalMs: 300000, cutoffMs: 3600000 }
 * const firstQuery = roundEndMs + pacing.graceMs + drawJitter(pacing.jitter.minMs, pacing.jitter.maxMs, random);
 * ```
 */
export function proofPacing(
  schedule: PacedSchedule,
  options: ProofPacingOptions = {},
): ProofPacing {
  const gap = schedule.cycleGapMs;
  const jitter = schedule.proofQueryJitter();
  const graceMs =
    duration("proofQueryGraceMs", options.graceMs) ??
    Math.min(DEFAULT_PROOF_GRACE_MS, Math.floor(gap / 10));
  const pollIntervalMs =
    duration("proofPollIntervalMs", options.pollIntervalMs) ??
    Math.min(MAX_FIRST_POLL_MS, Math.max(MIN_POLL_MS, Math.floor(gap / 4320)));
  const maxPollIntervalMs =
    duration("maxProofPollIntervalMs", options.maxPollIntervalMs) ??
    Math.max(pollIntervalMs, Math.min(MAX_POLL_MS, Math.floor(gap / 48)));
  if (maxPollIntervalMs < pollIntervalMs) {
    throw new ConfigError(
      "maxProofPollIntervalMs",
      `must not be shorter than proofPollIntervalMs (${pollIntervalMs} ms), got ${maxPollIntervalMs}`,
    );
  }
  const floor = graceMs + jitter.maxMs + 2 * pollIntervalMs;
  const cutoffMs = Math.max(
    floor,
    duration("proofCutoffMs", options.cutoffMs) ?? Math.floor(gap / 12),
  );
  return { graceMs, jitter, pollIntervalMs, maxPollIntervalMs, cutoffMs };
}
