/**
 * @module wire/proof-response-proto
 *
 * Reads a PoET's `Proof` answer in the protobuf binary encoding (what gRPC and Connect carry,
 * docs/protocol.md §1.1, §3.4) as it arrives, chunk by chunk, the binary twin of
 * {@link ProofResponseJsonReader}. Decoded whole, a mainnet answer (millions of members) costs one
 * `Uint8Array` object per member and one event-loop block for the whole message; here every
 * member goes straight into one packed buffer and each chunk costs time linear in its size.
 *
 * How: a byte-level reader of protobuf fields follows `ProofResponse` and, inside its `proof`
 * (`PoetProof`, field 1), separates the `members` (field 2, one 32-byte `bytes` each) from
 * everything else. Every other field is kept as its encoded bytes — those of `ProofResponse` in
 * one place, those of `PoetProof` in another — and decoded at the end by the generated
 * `fromBinary`, so the merkle proof, the key, the leaf count and unknown fields follow exactly
 * the protobuf rules (a field given twice is merged: the kept bytes of several `proof` fields
 * are concatenated, which is protobuf's merge). A chunk may end anywhere: inside a tag, a length
 * or a member.
 *
 * A member that is not 32 bytes is counted, not kept: the caller refuses such a round
 * (`bad-members`, §4.2).
 */
import { fromBinary } from "@bufbuild/protobuf";
import { WireFormatError } from "../errors.js";
import {
  PoetProofSchema,
  type ProofResponse,
  ProofResponseSchema,
} from "../gen/rpc/api/v1/api_pb.js";
import { MemberBuffer } from "./member-buffer.js";
import { MEMBER_BYTES } from "./packed-members.js";
import type { ProofResponseJson } from "./proof-response-json.js";

/** Options of {@link ProofResponseProtoReader}. */
export interface ProofResponseProtoReaderOptions {
  /** The message's size when known (the gRPC envelope's length), to size the member buffer once. */
  expectedBytes?: number | undefined;
  /** Most bytes of the message outside `proof.members` (default 16 MiB; a real proof needs < 1 MiB). */
  maxOtherBytes?: number | undefined;
}

const FIELD = "rpc.api.v1.ProofResponse";
/** Encoded size of one member: tag `0x12`, length `0x20`, 32 bytes. */
const MEMBER_FIELD_BYTES = 2 + MEMBER_BYTES;
const MEMBER_TAG = 0x12;
/** Lengths above this are refused (no cap of ours lets a message be that long). */
const MAX_LENGTH = 2 ** 32;

enum WireType {
  Varint = 0,
  I64 = 1,
  Len = 2,
  I32 = 5,
}

/** What the reader expects next. */
enum State {
  /** A field's tag (a varint). */
  Tag,
  /** A length-delimited field's length (a varint). */
  Length,
  /** The rest of a varint field's value. */
  Varint,
  /** The bytes of a field's value. */
  Payload,
}

/** Where a field's bytes go. */
enum Sink {
  /** Kept in `ProofResponse`'s other fields. */
  Outer,
  /** Kept in `PoetProof`'s other fields. */
  Inner,
  /** A 32-byte member, into the packed buffer. */
  Member,
  /** A member of another size: counted, dropped. */
  Drop,
}

/** Encoded bytes kept as a list of copies. */
class Kept {
  parts: Uint8Array[] = [];
  bytes = 0;

  join(): Uint8Array {
    const all = new Uint8Array(this.bytes);
    let at = 0;
    for (const part of this.parts) {
      all.set(part, at);
      at += part.length;
    }
    this.parts = [];
    return all;
  }
}

/**
 * Streaming reader of one binary proof answer: {@link push} each chunk, then {@link finish}.
 *
 * @example
 * ```ts
 * const reader = new ProofResponseProtoReader({ expectedBytes: messageLength });
 * for await (const chunk of message) reader.push(chunk);
 * const { response, members } = reader.finish();
 * ```
 */
export class ProofResponseProtoReader {
  readonly #maxOther: number;
  readonly #outer = new Kept();
  readonly #inner = new Kept();
  #state = State.Tag;
  /** Inside the `proof` field: bytes of it still to come; −1 outside. */
  #innerLeft = -1;
  #sawProof = false;
  /** The encoded tag and length of the field being read, until we know where it goes. */
  #head: number[] = [];
  /** The varint being read: its value so far and its bytes so far. */
  #varint = 0;
  #varintBytes = 0;
  #wireType = 0;
  #field = 0;
  #sink = Sink.Outer;
  #payloadLeft = 0;
  /** Bytes of the current member written so far. */
  #memberAt = 0;
  /** Where the members go; {@link #out} is its current view. */
  readonly #room: MemberBuffer;
  #out: Uint8Array;
  #count = 0;
  #total = 0;
  #odd = 0;
  #firstOdd = -1;
  #firstOddLength = 0;
  #bytesRead = 0;
  #finished = false;

  constructor(options: ProofResponseProtoReaderOptions = {}) {
    this.#maxOther = options.maxOtherBytes ?? 16 * 1024 * 1024;
    const expected = options.expectedBytes ?? 0;
    // The announced size bounds the members (address space only: memory is committed a slab at
    // a time as members arrive, so a server that announces gigabytes must send them).
    this.#room = new MemberBuffer(
      Number.isSafeInteger(expected) && expected > 0
        ? Math.ceil(expected / MEMBER_FIELD_BYTES) + 1
        : undefined,
    );
    this.#out = this.#room.room(0);
  }

  /** Bytes pushed so far. */
  get bytesRead(): number {
    return this.#bytesRead;
  }

  /** Members read so far. */
  get membersRead(): number {
    return this.#total;
  }

  /**
   * Reads the next chunk of the message.
   *
   * @throws {WireFormatError} as soon as the bytes cannot be a proof answer (a field that runs
   *   past the `proof` it is in, a group, field number 0, more than `maxOtherBytes` outside the
   *   members).
   */
  push(chunk: Uint8Array): void {
    if (this.#finished) throw new WireFormatError(FIELD, "data after the end of the answer");
    this.#bytesRead += chunk.length;
    const n = chunk.length;
    let i = 0;
    while (i < n) {
      const from = i;
      // Bytes of this chunk that belong to the current level.
      const end = this.#innerLeft >= 0 ? Math.min(n, i + this.#innerLeft) : n;
      if (this.#state === State.Payload) {
        i = this.#payload(chunk, i, end);
      } else if (
        this.#state === State.Tag &&
        this.#innerLeft >= 0 &&
        this.#varintBytes === 0 &&
        chunk[i] === MEMBER_TAG &&
        chunk[i + 1] === MEMBER_BYTES &&
        end - i >= MEMBER_FIELD_BYTES
      ) {
        // The common case in one step: a whole 32-byte member inside this chunk.
        this.#grow();
        this.#out.set(chunk.subarray(i + 2, i + MEMBER_FIELD_BYTES), MEMBER_BYTES * this.#count);
        this.#count++;
        this.#total++;
        i += MEMBER_FIELD_BYTES;
      } else {
        this.#byte(chunk[i] as number);
        i++;
      }
      if (this.#innerLeft >= 0) {
        this.#innerLeft -= i - from;
        if (this.#innerLeft === 0) {
          if (this.#state !== State.Tag) {
            throw new WireFormatError(`${FIELD}.proof`, "a field runs past the end of the proof");
          }
          this.#innerLeft = -1;
        }
      }
    }
  }

  /**
   * The answer, once every chunk was pushed.
   *
   * @throws {WireFormatError} when the message ended early or is not a valid proof answer.
   */
  finish(): ProofResponseJson {
    this.#finished = true;
    if (this.#state !== State.Tag || this.#innerLeft >= 0) {
      throw new WireFormatError(FIELD, `the message ends early (after ${this.#bytesRead} bytes)`);
    }
    let response: ProofResponse;
    try {
      response = fromBinary(ProofResponseSchema, this.#outer.join());
      if (this.#sawProof) {
        const proof = fromBinary(PoetProofSchema, this.#inner.join());
        proof.members = [];
        response.proof = proof;
      }
    } catch (err) {
      throw new WireFormatError(FIELD, `not a valid message: ${String(err)}`, { cause: err });
    }
    const members = this.#room.take(this.#count);
    this.#out = new Uint8Array(0);
    return {
      response,
      members,
      ...(this.#odd === 0
        ? {}
        : {
            oddMembers: {
              count: this.#odd,
              total: this.#total,
              first: this.#firstOdd,
              firstLength: this.#firstOddLength,
            },
          }),
    };
  }

  /** One byte of a tag, a length or a varint value. */
  #byte(b: number): void {
    this.#head.push(b);
    if (this.#varintBytes === 10) throw new WireFormatError(FIELD, "a varint longer than 10 bytes");
    this.#varint += (b & 0x7f) * 2 ** (7 * this.#varintBytes);
    this.#varintBytes++;
    if (b >= 0x80) return;
    const value = this.#varint;
    this.#varint = 0;
    this.#varintBytes = 0;
    if (this.#state === State.Varint) this.#endField();
    else if (this.#state === State.Tag) this.#tag(value);
    else this.#length(value);
  }

  #tag(tag: number): void {
    this.#field = Math.floor(tag / 8);
    this.#wireType = tag % 8;
    if (this.#field === 0) throw new WireFormatError(FIELD, "field number 0");
    const inner = this.#innerLeft >= 0;
    switch (this.#wireType) {
      case WireType.Varint:
        this.#sink = inner ? Sink.Inner : Sink.Outer;
        this.#keepHead();
        this.#state = State.Varint;
        return;
      case WireType.I64:
      case WireType.I32:
        this.#sink = inner ? Sink.Inner : Sink.Outer;
        this.#keepHead();
        this.#payloadLeft = this.#wireType === WireType.I64 ? 8 : 4;
        this.#state = State.Payload;
        return;
      case WireType.Len:
        this.#state = State.Length;
        return;
      default:
        throw new WireFormatError(FIELD, `wire type ${this.#wireType} (field ${this.#field})`);
    }
  }

  #length(length: number): void {
    if (length > MAX_LENGTH) throw new WireFormatError(FIELD, `a field of ${length} bytes`);
    const inner = this.#innerLeft >= 0;
    if (!inner && this.#field === 1) {
      // `proof`: its fields are read one by one.
      this.#head.length = 0;
      this.#sawProof = true;
      this.#state = State.Tag;
      if (length > 0) this.#innerLeft = length + 1; // the caller counts the byte just read
      return;
    }
    if (inner && length > this.#innerLeft - 1) {
      throw new WireFormatError(`${FIELD}.proof`, "a field runs past the end of the proof");
    }
    if (inner && this.#field === 2) {
      this.#head.length = 0;
      this.#memberAt = 0;
      this.#sink = length === MEMBER_BYTES ? Sink.Member : Sink.Drop;
      if (this.#sink === Sink.Member) this.#grow();
      else {
        if (this.#odd === 0) {
          this.#firstOdd = this.#total;
          this.#firstOddLength = length;
        }
        this.#odd++;
      }
      this.#total++;
    } else {
      this.#sink = inner ? Sink.Inner : Sink.Outer;
      this.#keepHead();
    }
    this.#payloadLeft = length;
    this.#state = State.Payload;
    if (length === 0) this.#endField();
  }

  /** Reads payload bytes of the current field from `chunk[i]` up to `end`; returns where it stopped. */
  #payload(chunk: Uint8Array, i: number, end: number): number {
    const take = Math.min(end - i, this.#payloadLeft);
    const part = chunk.subarray(i, i + take);
    switch (this.#sink) {
      case Sink.Member:
        this.#out.set(part, MEMBER_BYTES * this.#count + this.#memberAt);
        this.#memberAt += take;
        break;
      case Sink.Drop:
        break;
      default:
        this.#keepBytes(part);
    }
    this.#payloadLeft -= take;
    if (this.#payloadLeft === 0) {
      if (this.#sink === Sink.Member) this.#count++;
      this.#endField();
    }
    return i + take;
  }

  #endField(): void {
    if (this.#state === State.Varint) this.#keepHead();
    this.#head.length = 0;
    this.#state = State.Tag;
  }

  /** Keeps the bytes of the field's head read so far (its tag, and its length if any). */
  #keepHead(): void {
    if (this.#head.length > 0) this.#keepBytes(Uint8Array.from(this.#head));
    this.#head.length = 0;
  }

  #keepBytes(part: Uint8Array): void {
    if (part.length === 0) return;
    const kept = this.#sink === Sink.Inner ? this.#inner : this.#outer;
    if (this.#outer.bytes + this.#inner.bytes + part.length > this.#maxOther) {
      throw new WireFormatError(FIELD, `more than ${this.#maxOther} bytes outside proof.members`);
    }
    kept.parts.push(part.slice());
    kept.bytes += part.length;
  }

  #grow(): void {
    if (MEMBER_BYTES * (this.#count + 1) > this.#out.length) {
      this.#out = this.#room.room(this.#count);
    }
  }
}
