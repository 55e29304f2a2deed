/**
 * @module wire
 *
 * Everything that turns PoET data into bytes or JSON and back: the SCALE codec and the layouts
 * built on it — the PoET proof whose hash is the proof reference (docs/protocol.md §4.3), the
 * node's membership proof (docs/node-client.md §1.8), the certificate (docs/protocol.md §2.8) and
 * the NiPoST challenge whose hash a node registers (docs/node-client.md §1.2) —
 * and the protobuf JSON helpers of the REST API (docs/protocol.md §1.2). Pure: no I/O, no clock.
 */
export type { CertificateData } from "./certificate.js";
export {
  CERTIFICATE_PUBKEY_MAX_BYTES,
  decodeCertificate,
  encodeCertificate,
} from "./certificate.js";
export type { MembershipProof } from "./membership-proof.js";
export {
  decodeMembershipProof,
  encodeMembershipProof,
  MEMBERSHIP_MAX_NODES,
  MEMBERSHIP_NODE_BYTES,
} from "./membership-proof.js";
export type { MerkleProof } from "./merkle-proof.js";
export {
  decodeMerkleProof,
  encodeMerkleProof,
  MERKLE_ELEMENT_MAX_BYTES,
  MERKLE_MAX_PROOF_NODES,
  MERKLE_MAX_PROVEN_LEAVES,
  readMerkleProof,
  writeMerkleProof,
} from "./merkle-proof.js";
export type { InitialPost, NipostChallenge, NipostChallengeV2 } from "./nipost-challenge.js";
export {
  ATX_ID_BYTES,
  decodeNipostChallenge,
  decodeNipostChallengeV2,
  encodeNipostChallenge,
  encodeNipostChallengeV2,
  NIPOST_CHALLENGE_HASH_PREFIX,
  nipostChallengeHash,
  nipostChallengeV2Hash,
  POST_INDICES_MAX_BYTES,
} from "./nipost-challenge.js";
export { MEMBER_BYTES, PackedMembers } from "./packed-members.js";
export type { PoetProof } from "./poet-proof.js";
export { decodePoetProof, encodePoetProof } from "./poet-proof.js";
export type {
  ProofResponseJson,
  ProofResponseJsonReaderOptions,
} from "./proof-response-json.js";
export { ProofResponseJsonReader } from "./proof-response-json.js";
export type { ProofResponseProtoReaderOptions } from "./proof-response-proto.js";
export { ProofResponseProtoReader } from "./proof-response-proto.js";
export type { PoetJsonWriteOptions } from "./protojson.js";
export {
  dateToTimestamp,
  durationToMs,
  msToDuration,
  parsePoetJson,
  poetToJson,
  timestampToDate,
} from "./protojson.js";
export { MAX_U64, ScaleReader, ScaleWriter } from "./scale.js";
