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
 *
 * The first {@link COLD_BODY_BYTES} a process parses go in pieces of {@link COLD_PIECE_BYTES},
 * one piece per turn: until the engine has compiled the readers, parsing runs in the
 * interpreter, some ten times slower, and one 64 KiB chunk alone would hold the loop for 10 to
 * 40 ms.
 */
import { TurnBudget } from "../turn-budget.js";

/** Body bytes parsed per turn of the event loop, all downloads together (about half a millisecond of work). */
export const BODY_BYTES_PER_TURN = 128 * 1024;

/** Body bytes a process parses in small pieces first, while its readers are not compiled yet. */
export const COLD_BODY_BYTES = 512 * 1024;

/** Bytes per piece (and per turn) of those first bytes. */
export const COLD_PIECE_BYTES = 4 * 1024;

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

/** Body bytes planned for parsing so far in this process (counts up to {@link COLD_BODY_BYTES}). */
let plannedBytes = 0;

interface Piece {
  bytes: Uint8Array;
  cost: number;
}

/** `chunk` as pieces to parse, each with its cost in the turn budget. */
function piecesOf(chunk: Uint8Array, first: boolean): Piece[] {
  const pieces: Piece[] = [];
  let at = 0;
  while (at < chunk.length && plannedBytes < COLD_BODY_BYTES) {
    const bytes = chunk.subarray(at, at + COLD_PIECE_BYTES);
    pieces.push({ bytes, cost: BODY_BYTES_PER_TURN });
    plannedBytes += bytes.length;
    at += bytes.length;
  }
  if (at < chunk.length) {
    const bytes = at === 0 ? chunk : chunk.subarray(at);
    // The first chunk of a body also sets its reader up: it takes a whole turn, so downloads
    // that start together set up one per turn.
    const cost = first && at === 0 ? Math.max(bytes.length, BODY_BYTES_PER_TURN) : bytes.length;
    pieces.push({ bytes, cost });
  }
  return pieces;
}

/**
 * Hands `chunk` to `sink` within the body budget: at once while the turn has bytes left
 * (returns `undefined`), otherwise piece by piece in later turns (returns a promise that
 * resolves once all of it was handed over, or `sink` returned `false` to stop).
 *
 * @param first - whether this is the first chunk of its body (its reader is set up with it).
 * @example
 * ```ts
 * const later = feedBody(chunk, first, (piece) => (reader.push(piece), true));
 * if (later !== undefined) {
 *   stream.pause();
 *   await later;
 *   stream.resume();
 * }
 * ```
 */
export function feedBody(
  chunk: Uint8Array,
  first: boolean,
  sink: (piece: Uint8Array) => boolean,
): Promise<void> | undefined {
  const pieces = piecesOf(chunk, first);
  for (let i = 0; i < pieces.length; i++) {
    const piece = pieces[i] as Piece;
    const wait = bodyTurns.take(piece.cost);
    if (wait !== undefined) return feedLater(wait, pieces, i, sink);
    if (!sink(piece.bytes)) return undefined;
  }
  return undefined;
}

/** The rest of {@link feedBody}, from piece `from` on, once `wait` grants that piece its turn. */
async function feedLater(
  wait: Promise<void>,
  pieces: Piece[],
  from: number,
  sink: (piece: Uint8Array) => boolean,
): Promise<void> {
  await wait;
  for (let i = from; ; ) {
    if (!sink((pieces[i] as Piece).bytes)) return;
    if (++i === pieces.length) return;
    const next = bodyTurns.take((pieces[i] as Piece).cost);
    if (next !== undefined) await next;
  }
}

/**
 * Waits until the body budget gives a turn of its own: for the end of a body, whose reader then
 * parses the answer outside the members (a few milliseconds for a mainnet proof). Downloads share
 * the budget and so end at about the same time; this way they end in separate turns.
 *
 * @example
 * ```ts
 * await bodyEndTurn();
 * return reader.finish();
 * ```
 */
export async function bodyEndTurn(): Promise<void> {
  const wait = bodyTurns.take(BODY_BYTES_PER_TURN);
  if (wait !== undefined) await wait;
}
