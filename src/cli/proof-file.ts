/**
 * @module cli/proof-file
 *
 * The proof files `verify` reads and `fetch-proof --out` writes. The CLI's own format is exactly
 * the PoET's `GET /v1/proofs/{round}` answer (a `ProofResponse` in protobuf JSON, docs/protocol.md
 * §1.3), so a file saved with `curl` verifies as well as one saved by `fetch-proof`, and a saved
 * proof can be handed to anyone who speaks the PoET API. For testing a verifier, `verify` also
 * reads test-vector files (hex fields and an explicit statement), one vector or a `vectors` list.
 */
import { create, type JsonValue } from "@bufbuild/protobuf";
import { WireFormatError } from "../errors.js";
import {
  MerkleProofSchema,
  PoetProofSchema,
  type ProofResponse,
  ProofResponseSchema,
} from "../gen/rpc/api/v1/api_pb.js";
import type { PoetProof } from "../wire/index.js";
import { parsePoetJson, poetToJson } from "../wire/index.js";
import { readFileOrFail } from "./file-error.js";

/** One proof to check, from whichever file format it came from. */
export interface ProofInput {
  /** Vector name, or the file name for a PoET answer. */
  name: string;
  proof: PoetProof;
  /** The round's members (from a PoET answer, or a vector that has them). */
  members: Uint8Array[] | undefined;
  /** The statement, when the file gives it instead of members. */
  statement: Uint8Array | undefined;
  /** The PoET key stored with the proof. */
  pubkey: Uint8Array | undefined;
  /** The security parameter, when the file says (reduced-T test vectors). */
  securityParam: number | undefined;
  /** The expected outcome, when the file says (test vectors). */
  expectValid: boolean | undefined;
}

const MAX_FILE_BYTES = 256 * 1024 * 1024;

function hexBytes(field: string, value: unknown): Uint8Array {
  if (typeof value !== "string" || !/^([0-9a-fA-F]{2})*$/.test(value)) {
    throw new WireFormatError(field, "expected a hex string");
  }
  return new Uint8Array(Buffer.from(value, "hex"));
}

function hexList(field: string, value: unknown): Uint8Array[] {
  if (!Array.isArray(value)) throw new WireFormatError(field, "expected a list of hex strings");
  return value.map((v, i) => hexBytes(`${field}[${i}]`, v));
}

function vectorInput(v: Record<string, unknown>, index: string): ProofInput {
  const name = typeof v.name === "string" ? v.name : `vector ${index}`;
  const leavesText = v.leaves_decimal ?? v.leaves;
  if (
    !(typeof leavesText === "string" && /^\d+$/.test(leavesText)) &&
    !(typeof leavesText === "number" && Number.isSafeInteger(leavesText) && leavesText >= 0)
  ) {
    throw new WireFormatError(`${name}.leaves_decimal`, "expected a decimal leaf count");
  }
  const param = v.security_param;
  return {
    name,
    proof: {
      root: hexBytes(`${name}.root`, v.root),
      provenLeaves: hexList(`${name}.proven_leaves`, v.proven_leaves),
      proofNodes: hexList(`${name}.proof_nodes`, v.proof_nodes),
      leaves: BigInt(leavesText),
    },
    members: v.members === undefined ? undefined : hexList(`${name}.members`, v.members),
    statement: v.statement === undefined ? undefined : hexBytes(`${name}.statement`, v.statement),
    pubkey:
      v.service_pubkey === undefined
        ? undefined
        : hexBytes(`${name}.service_pubkey`, v.service_pubkey),
    securityParam: typeof param === "number" ? param : undefined,
    expectValid: typeof v.go_verifier_valid === "boolean" ? v.go_verifier_valid : undefined,
  };
}

/** Converts a parsed `ProofResponse` into a {@link ProofInput}. */
export function responseInput(name: string, response: ProofResponse): ProofInput {
  const poet = response.proof;
  const merkle = poet?.proof;
  if (poet === undefined || merkle === undefined) {
    throw new WireFormatError("rpc.api.v1.ProofResponse.proof", "the response holds no proof");
  }
  return {
    name,
    proof: {
      root: merkle.root,
      provenLeaves: merkle.provenLeaves,
      proofNodes: merkle.proofNodes,
      leaves: poet.leaves,
    },
    members: poet.members,
    statement: undefined,
    pubkey: response.pubkey.length === 0 ? undefined : response.pubkey,
    securityParam: undefined,
    expectValid: undefined,
  };
}

/** Parses the text of a proof file: a PoET answer, one test vector, or a `vectors` list. */
export function parseProofFile(name: string, text: string): ProofInput[] {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    // JSON.parse quotes the text around the error: from a binary file, that is raw bytes.
    // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters mark a binary file
    if (/[\u0000-\u0008\u000e-\u001f\ufffd]/.test(text.slice(0, 4096))) {
      throw new WireFormatError(name, "binary data, not a JSON proof file", { cause });
    }
    throw new WireFormatError(name, `not JSON: ${(cause as Error).message}`, { cause });
  }
  if (json === null || typeof json !== "object" || Array.isArray(json)) {
    throw new WireFormatError(name, "expected a JSON object");
  }
  const obj = json as Record<string, unknown>;
  if (Array.isArray(obj.vectors)) {
    return obj.vectors.map((v, i) => {
      if (v === null || typeof v !== "object")
        throw new WireFormatError(`vectors[${i}]`, "not an object");
      return vectorInput(v as Record<string, unknown>, String(i));
    });
  }
  if ("proven_leaves" in obj) return [vectorInput(obj, "0")];
  if ("proof" in obj) {
    return [responseInput(name, parsePoetJson(ProofResponseSchema, obj as JsonValue))];
  }
  throw new WireFormatError(
    name,
    "neither a PoET proof response ({proof, pubkey}) nor a test vector (proven_leaves) nor a list of vectors",
  );
}

/** Reads and parses a proof file. */
export function readProofFile(path: string): ProofInput[] {
  return parseProofFile(path, readFileOrFail(path, MAX_FILE_BYTES).toString("utf8"));
}

/** The PoET-answer JSON of a proof, its members and the PoET's key: what `--out` writes. */
export function proofResponseJson(
  proof: PoetProof,
  members: readonly Uint8Array[],
  pubkey: Uint8Array,
): JsonValue {
  const message = create(ProofResponseSchema, {
    proof: create(PoetProofSchema, {
      proof: create(MerkleProofSchema, {
        root: proof.root,
        provenLeaves: proof.provenLeaves,
        proofNodes: proof.proofNodes,
      }),
      members: [...members],
      leaves: proof.leaves,
    }),
    pubkey,
  });
  return poetToJson(ProofResponseSchema, message);
}
