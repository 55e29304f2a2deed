/**
 * Fixtures of the client tests: the exchanges captured from a live PoET server
 * (`test/fixtures/real-server/`), its proofs and keys. The byte helpers of `./bytes.js` are
 * re-exported from here.
 */
import { readFileSync } from "node:fs";
import { sha256 } from "@noble/hashes/sha2.js";
import { unhex, utf8 } from "./bytes.js";
import { loadProofVectors } from "./proof-vectors.js";

export { b64, hex, unb64, unhex, utf8 } from "./bytes.js";

const dir = new URL("../fixtures/real-server/", import.meta.url);

export interface HttpExchange {
  seq: number;
  kind: "http";
  name: string;
  note: string;
  server: string;
  sent_at_utc: string;
  request: { method: string; path: string; headers: Record<string, string>; body: string | null };
  response: {
    status: number;
    status_text: string;
    headers: [string, string][];
    content_type: string;
    www_authenticate: string | null;
    body: string;
  };
}

export interface GrpcExchange {
  seq: number;
  kind: "grpc";
  name: string;
  server: string;
  sent_at_utc: string;
  request: { headers: Record<string, string>; body_hex: string; message_hex: string };
  response: {
    headers: Record<string, string | number>;
    trailers: Record<string, string> | null;
    trailers_only: boolean;
    message_hex: string | null;
    frame_prefix_hex: string | null;
  };
}

export type Exchange = HttpExchange | GrpcExchange;

export const transcripts = JSON.parse(
  readFileSync(new URL("transcripts.json", dir), "utf8"),
) as Exchange[];

export const httpExchanges = transcripts.filter((e): e is HttpExchange => e.kind === "http");
export const grpcExchanges = transcripts.filter((e): e is GrpcExchange => e.kind === "grpc");

export function exchange(name: string): Exchange {
  const found = transcripts.find((e) => e.name === name);
  if (found === undefined) throw new Error(`no exchange ${name}`);
  return found;
}

export function httpExchange(name: string): HttpExchange {
  const found = exchange(name);
  if (found.kind !== "http") throw new Error(`${name} is not HTTP`);
  return found;
}

export const realServerProofs = loadProofVectors(
  "test/fixtures/real-server/poet-proofs-real-server.json",
);

/** The seed of a key labelled in `server-config.json`: `sha256(utf8(label))`. */
export function seedOf(label: string): Uint8Array {
  return sha256(utf8(label));
}

/** Public keys of the transcripts (README table). */
export const KEYS = {
  serviceA: "7d96bcee5ae2736dde2b5b52c039d2a0f4cdfb85856cb9b9a428ef08c2092607",
  serviceB: "d955968b2eea845d0deaa3965b7b92ed289b3034a835e82c2d2a5a0f502d3107",
  serviceC: "a4f4772ed8e8e3d590602262777ca2c1387207453ad69aa9beeb947a997f545d",
  certifier1: "8b1ea380fd04f955255b8652a51e4ecd6a2a1526eec934459fd08d54ca6dfa71",
  certifier2: "13b78815005aefff8cb15159dfab4cfd6003092fdeb6e7bc68550e74016e3cd2",
  rogue: "2eb2d7f71b1c8146d498171c59523e0e8ad896d0039043101b143b800f8662d8",
} as const;

/** The transcripts' signing prefix. */
export const TRANSCRIPT_PREFIX = unhex("3e3565eccaefe96fced76d542da362bd2e1a75d104");
