/**
 * @module testing/gateway-json
 *
 * Request and response JSON as the PoET's REST gateway handles it (docs/protocol.md §1.2), with
 * the gateway's own error texts so that a client sees the same 400 messages from the mock as from
 * the real server.
 *
 * The gateway reads a request body in two passes, and so does this module:
 *
 * 1. A plain JSON scan of the first value in the body (Go's `encoding/json`). A body that ends
 *    inside a value gives `unexpected EOF`; a bad character gives `invalid character 'x' …`; an
 *    empty body is an empty request; anything after the first value is ignored.
 * 2. A protojson pass over that value against the message schema: field names in lowerCamelCase
 *    or snake_case, unknown fields ignored, `null` meaning "unset", bytes in standard or URL-safe
 *    base64 with or without padding, 64-bit integers as strings or numbers. A value of the wrong
 *    type gives `proto: (line L:C): invalid value for <kind> field <name>: <token>`.
 *
 * The checked value is normalised (canonical base64, integer strings, RFC 3339 in UTC) and handed
 * to `fromJson` of `@bufbuild/protobuf`. Responses use `toJson` with every implicit field emitted,
 * which is the gateway's `EmitUnpopulated` output: empty bytes `""`, empty lists `[]`, zero 64-bit
 * numbers `"0"`.
 */
import {
  type DescField,
  type DescMessage,
  fromJson,
  type JsonValue,
  type MessageShape,
  ScalarType,
  toJsonString,
} from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";

type Node =
  | { kind: "object"; pos: number; entries: { key: string; value: Node }[] }
  | { kind: "array"; pos: number; items: Node[] }
  | { kind: "string"; pos: number; value: string; raw: string }
  | { kind: "number"; pos: number; raw: string }
  | { kind: "literal"; pos: number; raw: "true" | "false" | "null" };

class SyntaxFailure extends Error {}

/** Go's `quoteChar` of `encoding/json`. */
function quoteChar(c: string): string {
  if (c === "'") return "'\\''";
  if (c === '"') return "'\"'";
  const quoted = JSON.stringify(c);
  return `'${quoted.slice(1, -1)}'`;
}

/** A small JSON reader that keeps positions and fails with `encoding/json`'s messages. */
class Scanner {
  pos = 0;
  constructor(readonly text: string) {}

  #eof(): never {
    throw new SyntaxFailure("unexpected EOF");
  }

  #bad(context: string): never {
    const c = this.text[this.pos] as string;
    throw new SyntaxFailure(`invalid character ${quoteChar(c)} ${context}`);
  }

  skipSpace(): void {
    while (this.pos < this.text.length && " \t\r\n".includes(this.text[this.pos] as string)) {
      this.pos++;
    }
  }

  #peek(): string {
    this.skipSpace();
    if (this.pos >= this.text.length) this.#eof();
    return this.text[this.pos] as string;
  }

  value(): Node {
    const c = this.#peek();
    const pos = this.pos;
    if (c === "{") return this.#object(pos);
    if (c === "[") return this.#array(pos);
    if (c === '"') {
      const raw = this.#string();
      return { kind: "string", pos, raw, value: JSON.parse(raw) as string };
    }
    if (c === "-" || (c >= "0" && c <= "9")) return { kind: "number", pos, raw: this.#number() };
    for (const word of ["true", "false", "null"] as const) {
      if (c === word[0]) {
        for (let i = 0; i < word.length; i++) {
          if (this.pos >= this.text.length) this.#eof();
          if (this.text[this.pos] !== word[i]) {
            this.#bad(`in literal ${word} (expecting ${quoteChar(word[i] as string)})`);
          }
          this.pos++;
        }
        return { kind: "literal", pos, raw: word };
      }
    }
    return this.#bad("looking for beginning of value");
  }

  #object(pos: number): Node {
    this.pos++;
    const entries: { key: string; value: Node }[] = [];
    if (this.#peek() === "}") {
      this.pos++;
      return { kind: "object", pos, entries };
    }
    for (;;) {
      if (this.#peek() !== '"') this.#bad("looking for beginning of object key string");
      const key = JSON.parse(this.#string()) as string;
      if (this.#peek() !== ":") this.#bad("after object key");
      this.pos++;
      entries.push({ key, value: this.value() });
      const next = this.#peek();
      this.pos++;
      if (next === "}") return { kind: "object", pos, entries };
      if (next !== ",") {
        this.pos--;
        this.#bad("after object key:value pair");
      }
    }
  }

  #array(pos: number): Node {
    this.pos++;
    const items: Node[] = [];
    if (this.#peek() === "]") {
      this.pos++;
      return { kind: "array", pos, items };
    }
    for (;;) {
      items.push(this.value());
      const next = this.#peek();
      this.pos++;
      if (next === "]") return { kind: "array", pos, items };
      if (next !== ",") {
        this.pos--;
        this.#bad("after array element");
      }
    }
  }

  #string(): string {
    const start = this.pos;
    this.pos++;
    for (;;) {
      if (this.pos >= this.text.length) this.#eof();
      const c = this.text[this.pos] as string;
      if (c === '"') {
        this.pos++;
        return this.text.slice(start, this.pos);
      }
      if (c < " ") this.#bad("in string literal");
      if (c === "\\") {
        this.pos++;
        if (this.pos >= this.text.length) this.#eof();
        const e = this.text[this.pos] as string;
        if (e === "u") {
          for (let i = 1; i <= 4; i++) {
            this.pos++;
            if (this.pos >= this.text.length) this.#eof();
            if (!/[0-9a-fA-F]/.test(this.text[this.pos] as string)) {
              this.#bad("in \\u hexadecimal character escape");
            }
          }
        } else if (!'"\\/bfnrt'.includes(e)) {
          this.#bad("in string escape code");
        }
      }
      this.pos++;
    }
  }

  #number(): string {
    const match = /^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/.exec(this.text.slice(this.pos));
    const raw = match?.[0] ?? "";
    if (raw === "" || raw === "-") {
      this.pos += raw.length;
      if (this.pos >= this.text.length) this.#eof();
      this.#bad("in numeric literal");
    }
    this.pos += raw.length;
    return raw;
  }
}

function lineCol(text: string, pos: number): string {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < pos; i++) {
    if (text[i] === "\n") {
      line++;
      lineStart = i + 1;
    }
  }
  return `line ${line}:${pos - lineStart + 1}`;
}

function rawToken(node: Node): string {
  switch (node.kind) {
    case "object":
      return "{";
    case "array":
      return "[";
    default:
      return node.raw;
  }
}

const SCALAR_NAMES: Partial<Record<ScalarType, string>> = {
  [ScalarType.BYTES]: "bytes",
  [ScalarType.STRING]: "string",
  [ScalarType.BOOL]: "bool",
  [ScalarType.UINT64]: "uint64",
  [ScalarType.INT64]: "int64",
  [ScalarType.FIXED64]: "fixed64",
  [ScalarType.SFIXED64]: "sfixed64",
  [ScalarType.SINT64]: "sint64",
  [ScalarType.UINT32]: "uint32",
  [ScalarType.INT32]: "int32",
  [ScalarType.FIXED32]: "fixed32",
  [ScalarType.SFIXED32]: "sfixed32",
  [ScalarType.SINT32]: "sint32",
  [ScalarType.DOUBLE]: "double",
  [ScalarType.FLOAT]: "float",
};

const INT_RANGES: Partial<Record<ScalarType, [bigint, bigint]>> = {
  [ScalarType.UINT64]: [0n, (1n << 64n) - 1n],
  [ScalarType.FIXED64]: [0n, (1n << 64n) - 1n],
  [ScalarType.INT64]: [-(1n << 63n), (1n << 63n) - 1n],
  [ScalarType.SFIXED64]: [-(1n << 63n), (1n << 63n) - 1n],
  [ScalarType.SINT64]: [-(1n << 63n), (1n << 63n) - 1n],
  [ScalarType.UINT32]: [0n, (1n << 32n) - 1n],
  [ScalarType.FIXED32]: [0n, (1n << 32n) - 1n],
  [ScalarType.INT32]: [-(1n << 31n), (1n << 31n) - 1n],
  [ScalarType.SFIXED32]: [-(1n << 31n), (1n << 31n) - 1n],
  [ScalarType.SINT32]: [-(1n << 31n), (1n << 31n) - 1n],
};

/** Exact integer value of a JSON number text (also `1e3`, `5.0`), or undefined. */
function integerOf(text: string): bigint | undefined {
  const m = /^(-?)([0-9]+)(?:\.([0-9]+))?(?:[eE]([+-]?[0-9]+))?$/.exec(text);
  if (!m) return undefined;
  const digits = (m[2] ?? "") + (m[3] ?? "");
  const exponent = Number(m[4] ?? "0") - (m[3]?.length ?? 0);
  if (exponent > 40) return undefined;
  let value: bigint;
  if (exponent >= 0) value = BigInt(digits) * 10n ** BigInt(exponent);
  else {
    const scale = 10n ** BigInt(-exponent);
    const big = BigInt(digits);
    if (big % scale !== 0n) return undefined;
    value = big / scale;
  }
  return m[1] === "-" ? -value : value;
}

/** Go's lenient base64 for proto bytes: standard or URL-safe alphabet, padding optional. */
export function decodeLenientBase64(text: string): Uint8Array | undefined {
  let s = text;
  if (/[-_]/.test(s)) s = s.replace(/-/g, "+").replace(/_/g, "/");
  if (s.length % 4 !== 0) {
    if (s.includes("=")) return undefined;
    if (s.length % 4 === 1) return undefined;
    s += "=".repeat(4 - (s.length % 4));
  }
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(s)) return undefined;
  const out = Buffer.from(s, "base64");
  if (out.toString("base64") !== s) return undefined;
  return new Uint8Array(out);
}

const RFC3339 =
  /^([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt]([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]{1,9}))?([Zz]|[+-][0-9]{2}:[0-9]{2})$/;

/** RFC 3339 text to canonical UTC text with 9 fractional digits, or undefined. */
function normaliseTimestamp(text: string): string | undefined {
  const m = RFC3339.exec(text);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s, frac, zone] = m;
  const base = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s));
  if (Number.isNaN(base) || Number(mo) > 12 || Number(d) > 31 || Number(h) > 23) return undefined;
  let offsetMs = 0;
  if (zone !== undefined && zone !== "Z" && zone !== "z") {
    const sign = zone.startsWith("-") ? -1 : 1;
    offsetMs = sign * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(4, 6))) * 60_000;
  }
  const iso = new Date(base - offsetMs).toISOString();
  return `${iso.slice(0, 19)}.${(frac ?? "").padEnd(9, "0")}Z`;
}

const DURATION = /^(-?)([0-9]+)(?:\.([0-9]{1,9}))?s$/;

class ProtoFailure extends Error {}

class Checker {
  constructor(readonly text: string) {}

  #fail(node: Node, what: string): never {
    throw new ProtoFailure(`proto: (${lineCol(this.text, node.pos)}): ${what}`);
  }

  message(desc: DescMessage, node: Node): JsonValue {
    if (desc.typeName === "google.protobuf.Timestamp") {
      const text = node.kind === "string" ? normaliseTimestamp(node.value) : undefined;
      if (text === undefined) this.#fail(node, `invalid ${desc.typeName} value ${rawToken(node)}`);
      return text;
    }
    if (desc.typeName === "google.protobuf.Duration") {
      if (node.kind !== "string" || !DURATION.test(node.value)) {
        this.#fail(node, `invalid ${desc.typeName} value ${rawToken(node)}`);
      }
      return node.value;
    }
    if (node.kind !== "object") this.#fail(node, `unexpected token ${rawToken(node)}`);
    const out: Record<string, JsonValue> = {};
    const seen = new Set<string>();
    for (const { key, value } of node.entries) {
      const field = desc.fields.find((f) => f.jsonName === key || f.name === key);
      if (field === undefined) continue;
      if (seen.has(field.name)) this.#fail(value, `duplicate field ${JSON.stringify(key)}`);
      seen.add(field.name);
      if (value.kind === "literal" && value.raw === "null") continue;
      out[field.jsonName] = this.field(field, value);
    }
    return out;
  }

  field(field: DescField, node: Node): JsonValue {
    switch (field.fieldKind) {
      case "scalar":
        return this.scalar(field, field.scalar, node);
      case "message":
        return this.message(field.message, node);
      case "list": {
        if (node.kind !== "array") this.#fail(node, `unexpected token ${rawToken(node)}`);
        return node.items.map((item) =>
          field.listKind === "message"
            ? this.message(field.message, item)
            : field.listKind === "scalar"
              ? this.scalar(field, field.scalar, item)
              : this.#fail(item, "unsupported list kind"),
        );
      }
      default:
        return this.#fail(node, `unsupported field ${field.name}`);
    }
  }

  scalar(field: DescField, type: ScalarType, node: Node): JsonValue {
    const invalid = (): never =>
      this.#fail(
        node,
        `invalid value for ${SCALAR_NAMES[type] ?? "scalar"} field ${field.jsonName}: ${rawToken(node)}`,
      );
    if (type === ScalarType.BYTES) {
      if (node.kind !== "string") return invalid();
      const bytes = decodeLenientBase64(node.value);
      if (bytes === undefined) return invalid();
      return Buffer.from(bytes).toString("base64");
    }
    if (type === ScalarType.STRING) return node.kind === "string" ? node.value : invalid();
    if (type === ScalarType.BOOL) {
      if (node.kind === "literal" && node.raw !== "null") return node.raw === "true";
      return invalid();
    }
    const range = INT_RANGES[type];
    if (range !== undefined) {
      const text = node.kind === "number" ? node.raw : node.kind === "string" ? node.value : "";
      const value = integerOf(text);
      if (value === undefined || value < range[0] || value > range[1]) return invalid();
      return range[1] > 1n << 32n ? value.toString() : Number(value);
    }
    if (node.kind === "number") return Number(node.raw);
    if (node.kind === "string" && /^(NaN|-?Infinity|-?[0-9.eE+-]+)$/.test(node.value)) {
      return node.value;
    }
    return invalid();
  }
}

/**
 * Decodes a REST request body like the gateway; any failure is a `ConnectError` with code
 * InvalidArgument carrying the gateway's message.
 *
 * @example
 * ```ts
 * const request = decodeGatewayJson(SubmitRequestSchema, body); // throws ConnectError(…, Code.InvalidArgument)
 * ```
 */
export function decodeGatewayJson<Desc extends DescMessage>(
  schema: Desc,
  text: string,
): MessageShape<Desc> {
  const scanner = new Scanner(text);
  scanner.skipSpace();
  if (scanner.pos >= text.length) return fromJson(schema, {});
  let tree: Node;
  try {
    tree = scanner.value();
  } catch (error) {
    if (error instanceof SyntaxFailure) throw new ConnectError(error.message, Code.InvalidArgument);
    throw error;
  }
  try {
    const json = new Checker(text).message(schema, tree);
    return fromJson(schema, json, { ignoreUnknownFields: true });
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw new ConnectError(message, Code.InvalidArgument);
  }
}

/**
 * Encodes a response message like the gateway: lowerCamelCase names, every field emitted.
 *
 * @example
 * ```ts
 * res.end(encodeGatewayJson(InfoResponseSchema, info));
 * ```
 */
export function encodeGatewayJson<Desc extends DescMessage>(
  schema: Desc,
  message: MessageShape<Desc>,
): string {
  return toJsonString(schema, message, { alwaysEmitImplicit: true });
}
