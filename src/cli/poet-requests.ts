/**
 * @module cli/poet-requests
 *
 * The two PoET calls the command line makes — `/v1/info` and `/v1/proofs/{round}`
 * (docs/protocol.md §1.1, §6) — with one client per call, a per-command timeout, and answers in
 * the library's units. `info`, `fetch-proof` and `switch-phase` use them; keeping the client
 * plumbing here means a command only sees the answer.
 */
import { createPoetClient } from "../client/index.js";
import { ConfigError } from "../errors.js";
import type { PoetProof } from "../wire/index.js";

/** The `--protocol` option. */
export const PROTOCOL_OPTION = { protocol: { type: "string" } } as const;

/** The wire protocols a PoET client can speak. */
export type PoetProtocol = "rest" | "grpc" | "connect";

/** Parses `--protocol` (default `rest`, what public PoETs serve). */
export function parseProtocol(text: string | undefined): PoetProtocol {
  if (text === undefined) return "rest";
  if (text === "rest" || text === "grpc" || text === "connect") return text;
  throw new ConfigError(
    "--protocol",
    `expected rest, grpc or connect, got ${JSON.stringify(text)}`,
  );
}

/** A PoET's `/v1/info`, in the library's units. */
export interface PoetInfoAnswer {
  servicePubkey: Uint8Array;
  phaseShiftMs: number;
  cycleGapMs: number;
  certifier: { url: string; pubkey: Uint8Array } | undefined;
}

/** Asks the PoET at `url` for its info. */
export async function fetchPoetInfo(
  url: string,
  options: { protocol: PoetProtocol; timeoutMs: number; signal: AbortSignal | undefined },
): Promise<PoetInfoAnswer> {
  const client = createPoetClient({
    url,
    protocol: options.protocol,
    timeoutMs: options.timeoutMs,
  });
  try {
    const info = await client.info(options.signal === undefined ? {} : { signal: options.signal });
    return {
      servicePubkey: info.servicePubkey,
      phaseShiftMs: info.phaseShiftMs,
      cycleGapMs: info.cycleGapMs,
      certifier: info.certifier ?? undefined,
    };
  } finally {
    await client.close();
  }
}

/** A round's proof as a PoET serves it. */
export interface RoundProofAnswer {
  proof: PoetProof;
  members: Uint8Array[];
  pubkey: Uint8Array;
}

/** Asks the PoET at `url` for the proof of round `roundId` (one attempt, no retries). */
export async function fetchRoundProof(
  url: string,
  roundId: string,
  options: { protocol: PoetProtocol; timeoutMs: number; signal: AbortSignal | undefined },
): Promise<RoundProofAnswer> {
  const client = createPoetClient({
    url,
    protocol: options.protocol,
    timeoutMs: options.timeoutMs,
    proofTimeoutMs: options.timeoutMs,
  });
  try {
    const answer = await client.proof(
      roundId,
      options.signal === undefined ? {} : { signal: options.signal },
    );
    return { proof: answer.proof, members: answer.members, pubkey: answer.pubkey };
  } finally {
    await client.close();
  }
}
