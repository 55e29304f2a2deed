/**
 * @module wire/nipost-challenge
 *
 * The NiPoST challenge a node registers with its PoETs, and the hash that is registered
 * (docs/node-client.md §1.2; go-spacemesh v1.7 `activation/wire`, `NIPostChallengeV1` and
 * `NIPostChallengeV2`). The node never sends the challenge itself, only its hash: the 32 bytes a
 * PoET puts among the round's members and that the node later looks for in the member list.
 *
 * SCALE layout of version 1, the one go-spacemesh builds for its v1 ATXs and stores in its
 * `challenge` table:
 *
 * ```
 * compact32(publishEpoch) ‖ compact64(sequence) ‖ prevAtx[32] ‖ positioningAtx[32]
 *   ‖ option(commitmentAtx[32]) ‖ option(initialPost)
 * initialPost = compact32(nonce) ‖ compact(len indices) ‖ indices (≤ 800 bytes) ‖ compact64(pow)
 * ```
 *
 * Version 2 (the challenge of v2 ATXs) drops the sequence number and the commitment ATX:
 * `compact32(publishEpoch) ‖ prevAtx[32] ‖ positioningAtx[32] ‖ option(initialPost)`.
 *
 * Every integer is a SCALE compact integer, not fixed-width, and an option is a tag byte (`0x00`
 * absent, `0x01` present) followed by the value. The hash is BLAKE3 over a `0x00` byte followed by
 * those bytes: the prefix keeps a challenge from ever being read as an inner node of the PoET's
 * membership tree (second-preimage resistance), so it is part of what the PoET must receive.
 *
 * Decoding is strict, like the other layouts here: a non-canonical compact integer, an option tag
 * other than 0 or 1, a value outside u32 where Go has a u32, or trailing bytes are errors.
 */
import { blake3 } from "@noble/hashes/blake3.js";
import { WireFormatError } from "../errors.js";
import { ScaleReader, ScaleWriter } from "./scale.js";

/** Bytes in an ATX id. */
export const ATX_ID_BYTES = 32;
/** Most bytes in the initial PoST's `indices` (go-spacemesh's `scale:"max=800"`). */
export const POST_INDICES_MAX_BYTES = 800;
/** The byte BLAKE3 hashes before the encoded challenge. */
export const NIPOST_CHALLENGE_HASH_PREFIX = 0x00;

const MAX_U32 = 0xffff_ffff;

/** The initial PoST embedded in an identity's first challenge (go-spacemesh `PostV1`). */
export interface InitialPost {
  /** u32 nonce. */
  nonce: number;
  /** The proven label indices, bit-packed (at most 800 bytes). */
  indices: Uint8Array;
  /** u64 k2 proof of work. */
  pow: bigint;
}

/** A NiPoST challenge, version 1 (go-spacemesh `NIPostChallengeV1`, docs/node-client.md §1.2). */
export interface NipostChallenge {
  /** The epoch the ATX will be published in (u32). */
  publishEpoch: number;
  /** u64 sequence number (previous ATX's + 1, 0 for the initial ATX). */
  sequence: bigint;
  /** Previous ATX id (32 bytes; zeros for the initial ATX). */
  prevAtx: Uint8Array;
  /** Positioning ATX id (32 bytes). */
  positioningAtx: Uint8Array;
  /** Commitment ATX id, only for the initial ATX. */
  commitmentAtx?: Uint8Array | undefined;
  /** Initial PoST, only for the initial ATX. */
  initialPost?: InitialPost | undefined;
}

/** A NiPoST challenge, version 2 (go-spacemesh `NIPostChallengeV2`): no sequence, no commitment. */
export interface NipostChallengeV2 {
  /** The epoch the ATX will be published in (u32). */
  publishEpoch: number;
  /** Previous ATX id (32 bytes; zeros for the initial ATX). */
  prevAtx: Uint8Array;
  /** Positioning ATX id (32 bytes). */
  positioningAtx: Uint8Array;
  /** Initial PoST, only for the initial ATX. */
  initialPost?: InitialPost | undefined;
}

function writeU32(writer: ScaleWriter, field: string, value: number): void {
  if (!Number.isInteger(value) || value < 0 || value > MAX_U32) {
    throw new WireFormatError(field, `${value} is not a u32`);
  }
  writer.compact(field, value);
}

function readU32(reader: ScaleReader, field: string): number {
  const v = reader.compact(field);
  if (v > BigInt(MAX_U32)) throw new WireFormatError(field, `${v} does not fit in a u32`);
  return Number(v);
}

function writeInitialPost(writer: ScaleWriter, post: InitialPost, field: string): void {
  writeU32(writer, `${field}.nonce`, post.nonce);
  writer.bytes(`${field}.indices`, post.indices, POST_INDICES_MAX_BYTES);
  writer.compact(`${field}.pow`, post.pow);
}

function readInitialPost(reader: ScaleReader, field: string): InitialPost {
  const nonce = readU32(reader, `${field}.nonce`);
  const indices = reader.bytes(`${field}.indices`, POST_INDICES_MAX_BYTES);
  const pow = reader.compact(`${field}.pow`);
  return { nonce, indices, pow };
}

function hashEncoded(encoded: Uint8Array): Uint8Array {
  const input = new Uint8Array(encoded.length + 1);
  input[0] = NIPOST_CHALLENGE_HASH_PREFIX;
  input.set(encoded, 1);
  return blake3(input);
}

/**
 * SCALE-encodes a NiPoST challenge (version 1) exactly as go-spacemesh does.
 *
 * @throws {WireFormatError} naming the field when an ATX id is not 32 bytes, the publish epoch or
 *   nonce is not a u32, the sequence or pow is outside u64, or the indices are over 800 bytes.
 * @example
 * ```ts
 * const bytes = encodeNipostChallenge({
 *   publishEpoch: 42,
 *   sequence: 7n,
 *   prevAtx,
 *   positioningAtx,
 * }); // 68 bytes: 0xa8 0x1c ‖ prevAtx ‖ positioningAtx ‖ 0x00 0x00
 * ```
 */
export function encodeNipostChallenge(challenge: NipostChallenge): Uint8Array {
  const writer = new ScaleWriter(128);
  writeU32(writer, "NipostChallenge.publishEpoch", challenge.publishEpoch);
  writer.compact("NipostChallenge.sequence", challenge.sequence);
  writer.fixedBytes("NipostChallenge.prevAtx", challenge.prevAtx, ATX_ID_BYTES);
  writer.fixedBytes("NipostChallenge.positioningAtx", challenge.positioningAtx, ATX_ID_BYTES);
  writer.option("NipostChallenge.commitmentAtx", challenge.commitmentAtx, (w, v, f) =>
    w.fixedBytes(f, v, ATX_ID_BYTES),
  );
  writer.option("NipostChallenge.initialPost", challenge.initialPost, writeInitialPost);
  return writer.finish();
}

/**
 * Decodes the SCALE bytes of a NiPoST challenge (version 1) strictly: the whole input must be one
 * challenge.
 *
 * @throws {WireFormatError} naming the field on truncated input, a non-canonical compact integer,
 *   a u32 field over 2^32−1, an option tag other than 0 or 1, indices over 800 bytes or trailing
 *   bytes.
 * @example
 * ```ts
 * const challenge = decodeNipostChallenge(bytes);
 * console.log(challenge.publishEpoch, challenge.sequence);
 * ```
 */
export function decodeNipostChallenge(bytes: Uint8Array): NipostChallenge {
  const reader = new ScaleReader(bytes);
  const publishEpoch = readU32(reader, "NipostChallenge.publishEpoch");
  const sequence = reader.compact("NipostChallenge.sequence");
  const prevAtx = reader.fixedBytes("NipostChallenge.prevAtx", ATX_ID_BYTES);
  const positioningAtx = reader.fixedBytes("NipostChallenge.positioningAtx", ATX_ID_BYTES);
  const commitmentAtx = reader.option("NipostChallenge.commitmentAtx", (r, f) =>
    r.fixedBytes(f, ATX_ID_BYTES),
  );
  const initialPost = reader.option("NipostChallenge.initialPost", readInitialPost);
  reader.end("NipostChallenge");
  const out: NipostChallenge = { publishEpoch, sequence, prevAtx, positioningAtx };
  if (commitmentAtx !== undefined) out.commitmentAtx = commitmentAtx;
  if (initialPost !== undefined) out.initialPost = initialPost;
  return out;
}

/**
 * The challenge hash a node registers with its PoETs: BLAKE3(0x00 ‖ SCALE(challenge)), as
 * go-spacemesh's `NIPostChallengeV1.Hash()` computes it. Pass it with the challenge to
 * `RegistrationManager.buildNiPost`.
 *
 * @throws {WireFormatError} as {@link encodeNipostChallenge}.
 * @example
 * ```ts
 * const hash = nipostChallengeHash(challenge); // 32 bytes
 * const outcome = await manager.buildNiPost({ nodeId, challenge: { challenge, hash } });
 * ```
 */
export function nipostChallengeHash(challenge: NipostChallenge): Uint8Array {
  return hashEncoded(encodeNipostChallenge(challenge));
}

/**
 * SCALE-encodes a NiPoST challenge of version 2 (go-spacemesh `NIPostChallengeV2`).
 *
 * @throws {WireFormatError} as {@link encodeNipostChallenge}.
 * @example
 * ```ts
 * const bytes = encodeNipostChallengeV2({ publishEpoch: 42, prevAtx, positioningAtx });
 * ```
 */
export function encodeNipostChallengeV2(challenge: NipostChallengeV2): Uint8Array {
  const writer = new ScaleWriter(128);
  writeU32(writer, "NipostChallengeV2.publishEpoch", challenge.publishEpoch);
  writer.fixedBytes("NipostChallengeV2.prevAtx", challenge.prevAtx, ATX_ID_BYTES);
  writer.fixedBytes("NipostChallengeV2.positioningAtx", challenge.positioningAtx, ATX_ID_BYTES);
  writer.option("NipostChallengeV2.initialPost", challenge.initialPost, writeInitialPost);
  return writer.finish();
}

/**
 * Decodes the SCALE bytes of a NiPoST challenge of version 2 strictly.
 *
 * @throws {WireFormatError} as {@link decodeNipostChallenge}.
 * @example
 * ```ts
 * const { publishEpoch } = decodeNipostChallengeV2(bytes);
 * ```
 */
export function decodeNipostChallengeV2(bytes: Uint8Array): NipostChallengeV2 {
  const reader = new ScaleReader(bytes);
  const publishEpoch = readU32(reader, "NipostChallengeV2.publishEpoch");
  const prevAtx = reader.fixedBytes("NipostChallengeV2.prevAtx", ATX_ID_BYTES);
  const positioningAtx = reader.fixedBytes("NipostChallengeV2.positioningAtx", ATX_ID_BYTES);
  const initialPost = reader.option("NipostChallengeV2.initialPost", readInitialPost);
  reader.end("NipostChallengeV2");
  const out: NipostChallengeV2 = { publishEpoch, prevAtx, positioningAtx };
  if (initialPost !== undefined) out.initialPost = initialPost;
  return out;
}

/**
 * The challenge hash of a version-2 challenge: BLAKE3(0x00 ‖ SCALE(challenge)), as
 * go-spacemesh's `NIPostChallengeV2.Hash()` computes it.
 *
 * @throws {WireFormatError} as {@link encodeNipostChallengeV2}.
 * @example
 * ```ts
 * const hash = nipostChallengeV2Hash({ publishEpoch: 42, prevAtx, positioningAtx });
 * ```
 */
export function nipostChallengeV2Hash(challenge: NipostChallengeV2): Uint8Array {
  return hashEncoded(encodeNipostChallengeV2(challenge));
}
