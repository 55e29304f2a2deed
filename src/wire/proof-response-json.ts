/**
 * @module wire/proof-response-json
 *
 * Reads a PoET's `GET /v1/proofs/{round}` JSON answer (docs/protocol.md §1.2, §3.4) as it
 * arrives, chunk by chunk, without ever holding the body as one string or building a string or
 * array per member. A mainnet round has millions of members (47 bytes of JSON each, `"<44 base64
 * characters>",`); parsing such a body with `JSON.parse` costs about 0.9 KB of memory per member
 * and one event-loop block of seconds.
 *
 * How: a small byte-level JSON lexer follows the nesting of objects, arrays and strings. Every
 * byte outside `proof.members` is kept as it is (the "rest": the proof itself, the key, the leaf
 * count, any unknown fields), and `proof.members` is written there as `[]`; its elements are
 * base64-decoded straight into one growing buffer of 32-byte members. At the end the rest is
 * parsed by the ordinary protobuf JSON reader ({@link parsePoetJson}), so everything but the
 * members follows exactly the rules of the gateway's JSON (both name spellings, unknown fields
 * ignored), and the members come back as a {@link PackedMembers}. Each chunk costs time linear in
 * its size and the state carries over, so a chunk may end anywhere: inside a base64 group, an
 * escape, a key or a number.
 *
 * Members are decoded like protobuf JSON decodes bytes: standard or URL-safe alphabet, with or
 * without padding, `\/` and `\u00XX` escapes allowed. A member that does not decode to 32 bytes
 * is counted, not kept: the caller refuses such a round (`bad-members`, §4.2).
 */
import { WireFormatError } from "../errors.js";
import { type ProofResponse, ProofResponseSchema } from "../gen/rpc/api/v1/api_pb.js";
import { MemberBuffer } from "./member-buffer.js";
import { MEMBER_BYTES, type PackedMembers } from "./packed-members.js";
import { parsePoetJson } from "./protojson.js";

/** What {@link ProofResponseJsonReader.finish} returns. */
export interface ProofResponseJson {
  /** The answer with an empty `proof.members`: the members are in {@link members}. */
  response: ProofResponse;
  /** The 32-byte members, in the PoET's order. */
  members: PackedMembers;
  /** Set when some members did not decode to 32 bytes (they are not in {@link members}). */
  oddMembers?: {
    /** How many members were not 32 bytes. */
    count: number;
    /** How many members the answer listed in all. */
    total: number;
    /** Position of the first such member among all, and its size. */
    first: number;
    firstLength: number;
  };
}

/** Options of {@link ProofResponseJsonReader}. */
export interface ProofResponseJsonReaderOptions {
  /** The body's size when known (`Content-Length`), to size the member buffer once. */
  expectedBytes?: number | undefined;
  /** Most bytes of JSON outside `proof.members` (default 16 MiB; a real proof needs < 1 MiB). */
  maxOtherBytes?: number | undefined;
}

const FIELD = "rpc.api.v1.ProofResponse";
const MAX_DEPTH = 128;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const EQUALS = 0x3d;
/** Shortest JSON of one 32-byte member: 43 base64 characters, quotes and a comma. */
const MIN_MEMBER_JSON = 46;

/** base64 character → sextet (both alphabets); 64 for `=`; 255 for anything else. */
const SEXTET = new Uint8Array(256).fill(255);
"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".split("").forEach((c, i) => {
  SEXTET[c.charCodeAt(0)] = i;
});
SEXTET["-".charCodeAt(0)] = 62;
SEXTET["_".charCodeAt(0)] = 63;
SEXTET[EQUALS] = 64;

const isSpace = (b: number) => b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09;

/** Where the lexer is outside the members. */
enum Lex {
  Value,
  String,
  StringEscape,
}

/** Where the lexer is inside `proof.members`. */
enum Members {
  /** Not inside the members array. */
  Off,
  /** After `[`: a member or `]`. */
  First,
  /** After `,`: a member. */
  Next,
  /** After a member: `,` or `]`. */
  After,
  /** Inside a member's string. */
  Str,
  /** After `\` in a member. */
  Escape,
  /** Inside `\uXXXX` in a member. */
  Unicode,
}

interface Frame {
  object: boolean;
  /** Objects: whether the next string is a key. */
  expectKey: boolean;
  /** Objects: the last key read. */
  key: string;
  /** The key this container is the value of in its parent object ("" otherwise). */
  parentKey: string;
  /** Objects: whether `members` was already read here as an array. */
  sawMembers: boolean;
}

const decoder = new TextDecoder("utf-8", { fatal: true });

/**
 * Streaming reader of one proof answer: {@link push} each chunk, then {@link finish}.
 *
 * @example
 * ```ts
 * const reader = new ProofResponseJsonReader({ expectedBytes: contentLength });
 * for await (const chunk of response) reader.push(chunk);
 * const { response, members } = reader.finish();
 * ```
 */
export class ProofResponseJsonReader {
  readonly #maxOther: number;
  #other: Uint8Array[] = [];
  #otherBytes = 0;
  #lex = Lex.Value;
  #frames: Frame[] = [];
  #keyBytes: number[] | undefined;
  /** Set after `"members":` in the proof object, until the value's first byte. */
  #membersNext = false;
  #mode = Members.Off;
  /** Where the members go; {@link #out} is its current view. */
  readonly #room: MemberBuffer;
  #out: Uint8Array;
  /** Whole 32-byte members written. */
  #count = 0;
  /** Members read, whatever their size. */
  #total = 0;
  #odd = 0;
  #firstOdd = -1;
  #firstOddLength = 0;
  // The member being decoded.
  #len = 0;
  #quad = 0;
  #sextets = 0;
  #padding = 0;
  #unicode = 0;
  #unicodeDigits = 0;
  #finished = false;
  #bytesRead = 0;

  constructor(options: ProofResponseJsonReaderOptions = {}) {
    this.#maxOther = options.maxOtherBytes ?? 16 * 1024 * 1024;
    const expected = options.expectedBytes;
    // The announced length bounds the members (address space only: memory is committed a slab
    // at a time as members arrive, so a server that announces gigabytes must send them).
    this.#room = new MemberBuffer(
      expected !== undefined && Number.isSafeInteger(expected) && expected > 0
        ? Math.ceil(expected / MIN_MEMBER_JSON) + 1
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
   * Reads the next chunk of the body.
   *
   * @throws {WireFormatError} as soon as the JSON cannot be a proof answer (broken structure,
   *   a member that is not a base64 string, more than `maxOtherBytes` outside the members).
   */
  push(chunk: Uint8Array): void {
    if (this.#finished) throw new WireFormatError(FIELD, "data after the end of the answer");
    this.#bytesRead += chunk.length;
    let copyFrom = this.#mode === Members.Off ? 0 : -1;
    let i = 0;
    const n = chunk.length;
    while (i < n) {
      if (this.#mode !== Members.Off) {
        i = this.#members(chunk, i);
        if ((this.#mode as Members) === Members.Off) copyFrom = i - 1; // keep the closing `]`
        continue;
      }
      const b = chunk[i] as number;
      switch (this.#lex) {
        case Lex.String:
          if (b === BACKSLASH) this.#lex = Lex.StringEscape;
          else if (b === QUOTE) this.#endString();
          else this.#keyBytes?.push(b);
          break;
        case Lex.StringEscape:
          this.#keyBytes?.push(BACKSLASH, b);
          this.#lex = Lex.String;
          break;
        default:
          if (this.#membersNext && !isSpace(b)) {
            this.#membersNext = false;
            if (b === OPEN_ARRAY) {
              const frame = this.#frames.at(-1) as Frame;
              if (frame.sawMembers)
                throw new WireFormatError(`${FIELD}.proof.members`, "given twice");
              frame.sawMembers = true;
              this.#keep(chunk.subarray(copyFrom, i + 1));
              this.#mode = Members.First;
              i++;
              continue;
            }
          }
          this.#structure(b);
      }
      i++;
    }
    if (this.#mode === Members.Off && copyFrom >= 0) this.#keep(chunk.subarray(copyFrom));
  }

  /**
   * The answer, once every chunk was pushed.
   *
   * @throws {WireFormatError} when the body ended early or is not a valid proof answer.
   */
  finish(): ProofResponseJson {
    this.#finished = true;
    if (this.#mode !== Members.Off || this.#lex !== Lex.Value || this.#frames.length > 0) {
      throw new WireFormatError(FIELD, `the JSON ends early (after ${this.#bytesRead} bytes)`);
    }
    const other = new Uint8Array(this.#otherBytes);
    let at = 0;
    for (const part of this.#other) {
      other.set(part, at);
      at += part.length;
    }
    this.#other = [];
    let text: string;
    try {
      text = decoder.decode(other);
    } catch (err) {
      throw new WireFormatError(FIELD, "the body is not UTF-8", { cause: err });
    }
    const response = parsePoetJson(ProofResponseSchema, text);
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

  #keep(part: Uint8Array): void {
    if (part.length === 0) return;
    this.#otherBytes += part.length;
    if (this.#otherBytes > this.#maxOther) {
      throw new WireFormatError(FIELD, `more than ${this.#maxOther} bytes outside proof.members`);
    }
    this.#other.push(part.slice());
  }

  /** One byte of structure outside strings. */
  #structure(b: number): void {
    const frame = this.#frames.at(-1);
    switch (b) {
      case QUOTE:
        this.#lex = Lex.String;
        this.#keyBytes = frame?.object === true && frame.expectKey ? [] : undefined;
        return;
      case OPEN_OBJECT:
      case OPEN_ARRAY:
        if (this.#frames.length >= MAX_DEPTH) {
          throw new WireFormatError(FIELD, `nested deeper than ${MAX_DEPTH} levels`);
        }
        this.#frames.push({
          object: b === OPEN_OBJECT,
          expectKey: b === OPEN_OBJECT,
          key: "",
          parentKey: frame?.object === true ? frame.key : "",
          sawMembers: false,
        });
        return;
      case CLOSE_OBJECT:
      case CLOSE_ARRAY:
        if (frame === undefined || frame.object !== (b === CLOSE_OBJECT)) {
          throw new WireFormatError(FIELD, `unexpected '${String.fromCharCode(b)}'`);
        }
        this.#frames.pop();
        return;
      case COMMA:
        if (frame?.object === true) frame.expectKey = true;
        return;
      case COLON:
        if (frame?.object === true) {
          frame.expectKey = false;
          // `proof.members` of the answer: the second frame, the value of the root's `proof`.
          this.#membersNext =
            frame.key === "members" &&
            this.#frames.length === 2 &&
            this.#frames[0]?.object === true &&
            frame.parentKey === "proof";
        }
        return;
      default:
        return;
    }
  }

  #endString(): void {
    this.#lex = Lex.Value;
    const key = this.#keyBytes;
    if (key === undefined) return;
    this.#keyBytes = undefined;
    const frame = this.#frames.at(-1) as Frame;
    // Keys are short; an escaped one is unescaped by JSON itself (it fails later if broken).
    try {
      frame.key = JSON.parse(`"${String.fromCharCode(...key.slice(0, 256))}"`) as string;
    } catch {
      frame.key = "";
    }
  }

  /** Reads members from `chunk[i]` on; returns where it stopped (the end, or past `]`). */
  #members(chunk: Uint8Array, start: number): number {
    let i = start;
    const n = chunk.length;
    while (i < n) {
      const b = chunk[i] as number;
      switch (this.#mode) {
        case Members.First:
        case Members.Next:
          if (isSpace(b)) break;
          if (b === QUOTE) {
            this.#startMember();
            const end = this.#fastMember(chunk, i);
            if (end >= 0) {
              i = end;
              continue;
            }
            this.#mode = Members.Str;
            break;
          }
          if (b === CLOSE_ARRAY && this.#mode === Members.First) {
            this.#mode = Members.Off;
            return i + 1;
          }
          throw this.#unexpected(b, "a base64 string");
        case Members.After:
          if (isSpace(b)) break;
          if (b === COMMA) this.#mode = Members.Next;
          else if (b === CLOSE_ARRAY) {
            this.#mode = Members.Off;
            return i + 1;
          } else throw this.#unexpected(b, "',' or ']'");
          break;
        case Members.Str:
          if (b === QUOTE) this.#endMember();
          else if (b === BACKSLASH) this.#mode = Members.Escape;
          else this.#char(b);
          break;
        case Members.Escape:
          if (b === 0x2f) {
            this.#char(b);
            this.#mode = Members.Str;
          } else if (b === 0x75) {
            this.#unicode = 0;
            this.#unicodeDigits = 0;
            this.#mode = Members.Unicode;
          } else throw this.#unexpected(b, "an escape of a base64 character");
          break;
        case Members.Unicode: {
          const digit = Number.parseInt(String.fromCharCode(b), 16);
          if (Number.isNaN(digit)) throw this.#unexpected(b, "a hex digit");
          this.#unicode = this.#unicode * 16 + digit;
          if (++this.#unicodeDigits === 4) {
            if (this.#unicode > 0x7f) throw this.#badMember("a non-ASCII character");
            this.#char(this.#unicode);
            this.#mode = Members.Str;
          }
          break;
        }
        default:
          return i;
      }
      i++;
    }
    return i;
  }

  #startMember(): void {
    this.#len = 0;
    this.#quad = 0;
    this.#sextets = 0;
    this.#padding = 0;
    if (MEMBER_BYTES * (this.#count + 1) > this.#out.length) {
      this.#out = this.#room.room(this.#count);
    }
  }

  /**
   * The common case in one step: a whole 43-character member (`=`-padded or not) inside this
   * chunk, written straight into the buffer. Returns the index after the closing quote, or −1
   * to let the byte-by-byte path take it (chunk boundary, escapes, other sizes).
   */
  #fastMember(chunk: Uint8Array, quote: number): number {
    const from = quote + 1;
    let close: number;
    if (chunk[from + 43] === QUOTE) close = from + 43;
    else if (chunk[from + 43] === EQUALS && chunk[from + 44] === QUOTE) close = from + 44;
    else return -1;
    const out = this.#out;
    let o = MEMBER_BYTES * this.#count;
    let bad = 0;
    let c = from;
    for (let q = 0; q < 10; q++, c += 4) {
      const s0 = SEXTET[chunk[c] as number] as number;
      const s1 = SEXTET[chunk[c + 1] as number] as number;
      const s2 = SEXTET[chunk[c + 2] as number] as number;
      const s3 = SEXTET[chunk[c + 3] as number] as number;
      bad |= s0 | s1 | s2 | s3;
      const v = (s0 << 18) | (s1 << 12) | (s2 << 6) | s3;
      out[o++] = v >>> 16;
      out[o++] = (v >>> 8) & 0xff;
      out[o++] = v & 0xff;
    }
    const s0 = SEXTET[chunk[c] as number] as number;
    const s1 = SEXTET[chunk[c + 1] as number] as number;
    const s2 = SEXTET[chunk[c + 2] as number] as number;
    bad |= s0 | s1 | s2;
    // Any invalid character or `=` (64 or 255) sets a bit above the sextets.
    if (bad > 63) return -1;
    const v = (s0 << 12) | (s1 << 6) | s2;
    out[o++] = v >>> 10;
    out[o] = (v >>> 2) & 0xff;
    this.#len = MEMBER_BYTES;
    this.#endMember();
    return close + 1;
  }

  /** One character of a member's base64. */
  #char(b: number): void {
    const s = SEXTET[b] as number;
    if (s === 255) throw this.#badMember(`the character ${JSON.stringify(String.fromCharCode(b))}`);
    if (s === 64) {
      this.#padding++;
      return;
    }
    if (this.#padding > 0) throw this.#badMember("data after '=' padding");
    this.#quad = (this.#quad << 6) | s;
    if (++this.#sextets === 4) {
      this.#byte(this.#quad >>> 16);
      this.#byte((this.#quad >>> 8) & 0xff);
      this.#byte(this.#quad & 0xff);
      this.#quad = 0;
      this.#sextets = 0;
    }
  }

  #byte(value: number): void {
    if (this.#len < MEMBER_BYTES) this.#out[MEMBER_BYTES * this.#count + this.#len] = value;
    this.#len++;
  }

  #endMember(): void {
    if (this.#sextets === 1) throw this.#badMember("a base64 length that is not possible");
    if (this.#padding > 0 && (this.#padding > 2 || this.#sextets + this.#padding !== 4)) {
      throw this.#badMember("wrong '=' padding");
    }
    if (this.#sextets === 2) this.#byte((this.#quad >>> 4) & 0xff);
    else if (this.#sextets === 3) {
      this.#byte((this.#quad >>> 10) & 0xff);
      this.#byte((this.#quad >>> 2) & 0xff);
    }
    if (this.#len === MEMBER_BYTES) this.#count++;
    else {
      if (this.#odd === 0) {
        this.#firstOdd = this.#total;
        this.#firstOddLength = this.#len;
      }
      this.#odd++;
    }
    this.#total++;
    this.#mode = Members.After;
  }

  #badMember(what: string): WireFormatError {
    return new WireFormatError(`${FIELD}.proof.members[${this.#total}]`, `is not base64: ${what}`);
  }

  #unexpected(b: number, expected: string): WireFormatError {
    return new WireFormatError(
      `${FIELD}.proof.members`,
      `expected ${expected} after member ${this.#total}, got ${JSON.stringify(String.fromCharCode(b))}`,
    );
  }
}
