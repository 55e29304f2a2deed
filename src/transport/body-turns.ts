/**
 * @module transport/body-turns
 *
 * How much streamed body the process parses per turn of the event loop, all downloads together.
 * A proof of a mainnet round is over a hundred megabytes, parsed as it arrives at about 4 ms per
 * MiB; a loopback or LAN link delivers megabytes per turn, and every PoET's download delivers its
 * own. Each chunk handed to a body reader first takes its size from this one budget: once the
 * turn's bytes are spent, the download pauses and its chunk waits for a later turn, so one turn
 * parses about {@link BODY_BYTES_PER_TURN} (plus one chunk per download), whatever the number
 * of PoETs or the speed of the link.
 */
import { TurnBudget } from "../turn-budget.js";

/** Body bytes parsed per turn of the event loop, all downloads together (about half a millisecond of work). */
export const BODY_BYTES_PER_TURN = 128 * 1024;

/**
 * The process-wide budget of streamed body bytes: `take(chunk.length)` before parsing a chunk.
 *
 * @example
 * ```ts
 * const wait = bodyTurns.take(chunk.length);
 * if (wait !== undefined) await wait; // the turn's bytes are spent: a later turn
 * reader.push(chunk);
 * ```
 */
export const bodyTurns = new TurnBudget(BODY_BYTES_PER_TURN);
