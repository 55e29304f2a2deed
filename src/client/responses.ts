/**
 * @module client/responses
 *
 * Turns the PoET's protobuf answers into the library's types, checking what a client must not
 * take on faith (docs/protocol.md §6): key and hash sizes, present durations, a decimal round id
 * of at most 32 bytes, a positive round end, a certifier that is either complete or none at all
 * (the real server sends `{"url":"","pubkey":""}` rather than `null` when it has none, §1.3).
 * A violation is a non-retriable `bad-response` {@link PoetRpcError}: the server is broken or
 * hostile, and asking again will not help.
 *
 * Members that are not 32 bytes get their own error, {@link ProofVerificationError} with reason
 * `bad-members`: the PoET does not check challenge lengths (§2.1), and such a member makes the
 * membership tree ambiguous for every verifier built like the Go one (§4.2).
 */
import { create } from "@bufbuild/protobuf";
import { ConfigError, PoetRpcError, ProofVerificationError } from "../errors.js";
import {
  type InfoResponse,
  type PowParamsResponse,
  type ProofResponse,
  type SubmitRequest,
  SubmitRequestSchema,
  type SubmitResponse,
} from "../gen/rpc/api/v1/api_pb.js";
import type { AttemptTarget } from "../transport/index.js";
import {
  dateToTimestamp,
  durationToMs,
  PackedMembers,
  type ProofResponseJson,
} from "../wire/index.js";
import type {
  PoetInfo,
  PoetRoundProof,
  PoetSubmitRequest,
  PowParams,
  SubmitResult,
} from "./poet-client.js";

/** Bytes of keys, hashes and challenges in the protocol. */
export const HASH_BYTES = 32;
/** Longest round id the Go node stores. */
export const MAX_ROUND_ID_BYTES = 32;
const ROUND_ID = new RegExp(`^\\d{1,${MAX_ROUND_ID_BYTES}}$`);

/**
 * Whether `text` is a round id as PoETs write them: 1 to {@link MAX_ROUND_ID_BYTES} decimal
 * digits.
 *
 * @example
 * ```ts
 * isRoundId("30"); // true
 * ```
 */
export function isRoundId(text: string): boolean {
  return ROUND_ID.test(text);
}

/**
 * A standalone copy of `bytes`. gRPC and Connect decode fields as views into the whole response
 * buffer (a Node `Buffer`); copying keeps a 32-byte member from pinning a multi-megabyte proof
 * response in memory and gives callers plain `Uint8Array`s whatever the protocol.
 */
function own(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(bytes);
}

function badResponse(target: AttemptTarget, message: string): PoetRpcError {
  return new PoetRpcError(message, { ...target, kind: "bad-response", retriable: false });
}

function expectLength(target: AttemptTarget, field: string, bytes: Uint8Array, length: number) {
  if (bytes.length !== length) {
    throw badResponse(target, `${field} is ${bytes.length} bytes, not ${length}`);
  }
}

/**
 * Reads `GET /v1/info`.
 *
 * @throws {PoetRpcError} kind `bad-response` on a missing or malformed field.
 */
export function readInfo(res: InfoResponse, target: AttemptTarget): PoetInfo {
  expectLength(target, "servicePubkey", res.servicePubkey, HASH_BYTES);
  if (res.phaseShift === undefined) throw badResponse(target, "phaseShift is missing");
  if (res.cycleGap === undefined) throw badResponse(target, "cycleGap is missing");
  const phaseShiftMs = durationToMs(res.phaseShift);
  const cycleGapMs = durationToMs(res.cycleGap);
  if (!(phaseShiftMs >= 0) || !(cycleGapMs >= 0)) {
    throw badResponse(target, "phaseShift and cycleGap must not be negative");
  }
  const info: PoetInfo = { servicePubkey: own(res.servicePubkey), phaseShiftMs, cycleGapMs };
  const certifier = res.certifier;
  if (certifier !== undefined && certifier.url !== "" && certifier.pubkey.length > 0) {
    expectLength(target, "certifier.pubkey", certifier.pubkey, HASH_BYTES);
    let url: URL;
    try {
      url = new URL(certifier.url);
    } catch {
      throw badResponse(target, `certifier.url ${JSON.stringify(certifier.url)} is not a URL`);
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") {
      throw badResponse(target, `certifier.url ${certifier.url} is not an http(s) URL`);
    }
    info.certifier = { url: certifier.url, pubkey: own(certifier.pubkey) };
  }
  return info;
}

/**
 * Reads `GET /v1/pow_params`.
 *
 * @throws {PoetRpcError} kind `bad-response` when the parameters are missing.
 */
export function readPowParams(res: PowParamsResponse, target: AttemptTarget): PowParams {
  const params = res.powParams;
  if (params === undefined) throw badResponse(target, "powParams is missing");
  return { challenge: own(params.challenge), difficulty: params.difficulty };
}

/**
 * Reads `POST /v1/submit`; `nowMs` is the client time of the answer.
 *
 * @throws {PoetRpcError} kind `bad-response` for a round id that is not a short decimal or a
 *   missing or negative round end.
 */
export function readSubmitResponse(
  res: SubmitResponse,
  target: AttemptTarget,
  nowMs: number,
): SubmitResult {
  if (!isRoundId(res.roundId)) {
    throw badResponse(
      target,
      `roundId ${JSON.stringify(res.roundId.slice(0, 64))} is not a decimal round id`,
    );
  }
  if (res.roundEnd === undefined) throw badResponse(target, "roundEnd is missing");
  const untilRoundEndMs = durationToMs(res.roundEnd);
  if (!(untilRoundEndMs >= 0))
    throw badResponse(target, `roundEnd ${untilRoundEndMs} ms is negative`);
  return { roundId: res.roundId, untilRoundEndMs, roundEnd: new Date(nowMs + untilRoundEndMs) };
}

/**
 * Reads `GET /v1/proofs/{roundId}`: either a whole message (gRPC, Connect, injected transports),
 * whose members are packed here, or a streamed REST answer whose members came packed
 * ({@link ProofResponseJson}).
 *
 * @throws {PoetRpcError} kind `bad-response` when the proof is missing or a hash is not 32 bytes.
 * @throws {ProofVerificationError} reason `bad-members` when a member is not 32 bytes.
 */
export function readProofResponse(
  answer: ProofResponse | ProofResponseJson,
  target: AttemptTarget,
): PoetRoundProof {
  const streamed = "response" in answer && "members" in answer;
  const res = streamed ? answer.response : answer;
  const poetProof = res.proof;
  if (poetProof === undefined) throw badResponse(target, "proof is missing");
  const merkle = poetProof.proof;
  if (merkle === undefined) throw badResponse(target, "proof.proof is missing");
  expectLength(target, "pubkey", res.pubkey, HASH_BYTES);
  expectLength(target, "proof.proof.root", merkle.root, HASH_BYTES);
  merkle.provenLeaves.forEach((leaf, i) => {
    expectLength(target, `proof.proof.provenLeaves[${i}]`, leaf, HASH_BYTES);
  });
  merkle.proofNodes.forEach((node, i) => {
    expectLength(target, `proof.proof.proofNodes[${i}]`, node, HASH_BYTES);
  });
  let members: PackedMembers;
  if (streamed) {
    const odd = answer.oddMembers;
    if (odd !== undefined)
      throw badMembers(target, odd.count, odd.total, odd.first, odd.firstLength);
    members = answer.members;
  } else {
    const bad = poetProof.members.findIndex((m) => m.length !== HASH_BYTES);
    if (bad >= 0) {
      const count = poetProof.members.filter((m) => m.length !== HASH_BYTES).length;
      throw badMembers(
        target,
        count,
        poetProof.members.length,
        bad,
        poetProof.members[bad]?.length ?? 0,
      );
    }
    // One copy into a packed buffer: no member keeps the whole response alive.
    members = PackedMembers.from(poetProof.members);
  }
  return {
    proof: {
      root: own(merkle.root),
      provenLeaves: merkle.provenLeaves.map(own),
      proofNodes: merkle.proofNodes.map(own),
      leaves: poetProof.leaves,
    },
    members,
    pubkey: own(res.pubkey),
  };
}

function badMembers(
  target: AttemptTarget,
  count: number,
  total: number,
  first: number,
  firstLength: number,
): ProofVerificationError {
  return new ProofVerificationError(
    "bad-members",
    `${target.server}: ${count} of ${total} members are not ${HASH_BYTES} bytes (first: member ${first}, ${firstLength} bytes)`,
  );
}

function expectInput(field: string, bytes: Uint8Array, length: number): void {
  if (bytes.length !== length) {
    throw new ConfigError(`request.${field}`, `must be ${length} bytes, got ${bytes.length}`);
  }
}

/**
 * The protobuf message of a registration, after checking the sizes the PoET would refuse.
 *
 * @throws {ConfigError} when the pubkey, challenge, signature or hint has the wrong size, a
 *   nonce comes without parameters, or the deadline is invalid.
 */
export function toSubmitRequest(request: PoetSubmitRequest): SubmitRequest {
  expectInput("pubkey", request.pubkey, HASH_BYTES);
  expectInput("challenge", request.challenge, HASH_BYTES);
  expectInput("signature", request.signature, 64);
  if (request.certificatePubkeyHint !== undefined && request.certificatePubkeyHint.length > 0) {
    expectInput("certificatePubkeyHint", request.certificatePubkeyHint, 4);
  }
  if ((request.nonce === undefined) !== (request.powParams === undefined)) {
    throw new ConfigError("request.nonce", "a PoW nonce and its powParams go together");
  }
  if (request.nonce !== undefined && (request.nonce < 0n || request.nonce >= 1n << 64n)) {
    throw new ConfigError("request.nonce", `${request.nonce} is not a u64`);
  }
  let deadline: SubmitRequest["deadline"];
  if (request.deadline !== undefined) {
    try {
      deadline = dateToTimestamp(request.deadline);
    } catch (err) {
      throw new ConfigError("request.deadline", "invalid Date", { cause: err });
    }
  }
  return create(SubmitRequestSchema, {
    prefix: request.prefix,
    challenge: request.challenge,
    pubkey: request.pubkey,
    signature: request.signature,
    ...(deadline === undefined ? {} : { deadline }),
    ...(request.certificate === undefined ? {} : { certificate: request.certificate }),
    ...(request.certificatePubkeyHint === undefined
      ? {}
      : { certificatePubkeyHint: request.certificatePubkeyHint }),
    ...(request.nonce === undefined ? {} : { nonce: request.nonce }),
    ...(request.powParams === undefined ? {} : { powParams: request.powParams }),
  });
}
