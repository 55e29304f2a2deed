import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type DescMessage, equals, type JsonObject } from "@bufbuild/protobuf";
import { DurationSchema } from "@bufbuild/protobuf/wkt";
import { WireFormatError } from "../src/errors.js";
import {
  InfoResponseSchema,
  PowParamsResponseSchema,
  ProofResponseSchema,
  SubmitRequestSchema,
  SubmitResponseSchema,
} from "../src/proto.js";
import {
  dateToTimestamp,
  decodeCertificate,
  durationToMs,
  encodeMerkleProof,
  msToDuration,
  parsePoetJson,
  poetToJson,
  timestampToDate,
} from "../src/wire/index.js";
import {
  type HttpExchange,
  hex,
  httpExchanges,
  realServerProofs,
} from "./helpers/client-fixtures.js";
import { rejects } from "./helpers/wire-format-error.js";

/** Parses, serialises, parses again: the two messages must be equal (JSON text is never compared). */
function roundTrip<Desc extends DescMessage>(schema: Desc, json: string): JsonObject {
  const first = parsePoetJson(schema, json);
  const out = poetToJson(schema, first) as JsonObject;
  const second = parsePoetJson(schema, JSON.stringify(out));
  assert.ok(equals(schema, first, second), `${schema.typeName} changed in a JSON round trip`);
  const compact = poetToJson(schema, first, { emitDefaults: false });
  assert.ok(equals(schema, first, parsePoetJson(schema, compact)));
  return out;
}

// The examples of docs/protocol.md §1.3.
const infoJson =
  '{"servicePubkey":"cFnqCS5oER7GOX576oPtahlxB/1y95aDibdK7RHQFVg=","phaseShift":"864000s","cycleGap":"43200s","certifier":null}';
const infoWithCertifierJson =
  '{"servicePubkey":"cFnqCS5oER7GOX576oPtahlxB/1y95aDibdK7RHQFVg=", "phaseShift": "864000s","cycleGap":"43200s","certifier":{"url":"https://certifier.example","pubkey":"gTl3Dqh9F19Wo1Rmw0x+zMuNipG07jeiXfYPW4/Js5Q="}}';
const powParamsJson =
  '{"powParams":{"difficulty":20,"challenge":"ERERERERERERERERERERERERERERERERERERERERERE="}}';
const submitCertJson = `{
  "prefix": "nuv/Ajq7F8y3dcYC2q3o7XCPClAE",
  "challenge": "Yd1E/APL/vdqtbfVFc4/Kkiq5dY3GWXuE3FbBtN3s6E=",
  "pubkey": "iojj3XQJ8ZX9UtstPLpdcspnCb8dlBIb83SIAbQPb1w=",
  "signature": "BNoL930BJ4t7n0qItDb03cq8FCKYHGLvhPjvcI1YoCIt64cxOLhkPqBWBf3oAmJ1EE7ZR/a8kqSRcZtbEtjYCQ==",
  "deadline": "2024-10-03T20:00:00Z",
  "certificate": {
    "data": "gIqI4910CfGV/VLbLTy6XXLKZwm/HZQSG/N0iAG0D29cAQOAhXRn",
    "signature": "2NVQl4QZ0FBfoGY35oMgIJnQvUR48KEenSOIO+Zj7Y27pkd7d2bahtreBSsJd0RmF9FWDNfD9FTgTBGQEhNMDQ=="
  },
  "certificatePubkeyHint": "gTl3Dg=="
}`;
const submitPowJson = `{
  "prefix": "nuv/Ajq7F8y3dcYC2q3o7XCPClAE",
  "challenge": "Yd1E/APL/vdqtbfVFc4/Kkiq5dY3GWXuE3FbBtN3s6E=",
  "pubkey": "iojj3XQJ8ZX9UtstPLpdcspnCb8dlBIb83SIAbQPb1w=",
  "signature": "BNoL930BJ4t7n0qItDb03cq8FCKYHGLvhPjvcI1YoCIt64cxOLhkPqBWBf3oAmJ1EE7ZR/a8kqSRcZtbEtjYCQ==",
  "deadline": "2024-10-03T20:00:00Z",
  "nonce": "2664",
  "powParams": {"difficulty": 12, "challenge": "ERERERERERERERERERERERERERERERERERERERERERE="}
}`;
const submitResponseJson = '{"roundId":"30","roundEnd":"1166400.523146812s"}';

describe("parsePoetJson / poetToJson on the documented examples", () => {
  it("reads GET /v1/info with a null certifier", () => {
    const info = parsePoetJson(InfoResponseSchema, infoJson);
    assert.equal(
      Buffer.from(info.servicePubkey).toString("base64"),
      "cFnqCS5oER7GOX576oPtahlxB/1y95aDibdK7RHQFVg=",
    );
    assert.equal(info.servicePubkey.length, 32);
    assert.equal(durationToMs(info.phaseShift!), 240 * 3_600_000);
    assert.equal(durationToMs(info.cycleGap!), 12 * 3_600_000);
    assert.equal(info.certifier, undefined);
    const out = roundTrip(InfoResponseSchema, infoJson);
    assert.equal(out.phaseShift, "864000s");
    assert.equal(out.servicePubkey, "cFnqCS5oER7GOX576oPtahlxB/1y95aDibdK7RHQFVg=");
  });

  it("reads the certifier object, whether configured or empty", () => {
    const info = parsePoetJson(InfoResponseSchema, infoWithCertifierJson);
    assert.equal(info.certifier?.url, "https://certifier.example");
    assert.equal(
      hex(info.certifier!.pubkey),
      "8139770ea87d175f56a35466c34c7ecccb8d8a91b4ee37a25df60f5b8fc9b394",
    );
    const out = roundTrip(InfoResponseSchema, infoWithCertifierJson);
    assert.deepEqual(out.certifier, {
      url: "https://certifier.example",
      pubkey: "gTl3Dqh9F19Wo1Rmw0x+zMuNipG07jeiXfYPW4/Js5Q=",
    });
    const empty = parsePoetJson(InfoResponseSchema, {
      servicePubkey: "",
      certifier: { url: "", pubkey: "" },
    });
    assert.equal(empty.certifier?.url, "");
    assert.equal(empty.certifier?.pubkey.length, 0);
    // Like the server, empty fields are written rather than left out.
    assert.deepEqual((poetToJson(InfoResponseSchema, empty) as JsonObject).certifier, {
      url: "",
      pubkey: "",
    });
  });

  it("reads GET /v1/pow_params", () => {
    const res = parsePoetJson(PowParamsResponseSchema, powParamsJson);
    assert.equal(res.powParams?.difficulty, 20);
    assert.equal(hex(res.powParams!.challenge), "11".repeat(32));
    const out = roundTrip(PowParamsResponseSchema, powParamsJson);
    assert.deepEqual(out.powParams, {
      difficulty: 20,
      challenge: "ERERERERERERERERERERERERERERERERERERERERERE=",
    });
  });

  it("reads the certificate variant of POST /v1/submit", () => {
    const req = parsePoetJson(SubmitRequestSchema, submitCertJson);
    assert.equal(
      hex(req.pubkey),
      "8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c",
    );
    assert.equal(req.signature.length, 64);
    assert.equal(hex(req.certificatePubkeyHint), "8139770e");
    assert.equal(timestampToDate(req.deadline!).toISOString(), "2024-10-03T20:00:00.000Z");
    const cert = decodeCertificate(req.certificate!.data);
    assert.deepEqual(cert.pubkey, req.pubkey);
    assert.equal(cert.expiration, 1735689600n);
    const out = roundTrip(SubmitRequestSchema, submitCertJson);
    assert.equal(out.signature, JSON.parse(submitCertJson).signature);
    assert.equal(out.certificatePubkeyHint, "gTl3Dg==");
    assert.equal(out.deadline, "2024-10-03T20:00:00Z");
  });

  it("reads the proof-of-work variant with the u64 nonce as a string", () => {
    const req = parsePoetJson(SubmitRequestSchema, submitPowJson);
    assert.equal(req.nonce, 2664n);
    assert.equal(req.powParams?.difficulty, 12);
    assert.equal(req.certificate, undefined);
    const out = roundTrip(SubmitRequestSchema, submitPowJson);
    assert.equal(out.nonce, "2664");
  });

  it("round-trips the Submit answer's Duration to the nanosecond", () => {
    const res = parsePoetJson(SubmitResponseSchema, submitResponseJson);
    assert.equal(res.roundId, "30");
    assert.equal(res.roundEnd?.seconds, 1166400n);
    assert.equal(res.roundEnd?.nanos, 523146812);
    const out = roundTrip(SubmitResponseSchema, submitResponseJson);
    assert.equal(out.roundEnd, "1166400.523146812s");
    const ms = durationToMs(res.roundEnd!);
    assert.ok(Math.abs(ms - 1166400523.146812) < 1e-6);
    assert.ok(equals(DurationSchema, msToDuration(ms), res.roundEnd!));
  });
});

describe("parsePoetJson on a real server's answers", () => {
  const schemaFor = (t: HttpExchange): DescMessage | undefined => {
    const path = t.request.path;
    if (path === "/v1/info") return InfoResponseSchema;
    if (path === "/v1/pow_params") return PowParamsResponseSchema;
    if (path === "/v1/submit") return SubmitResponseSchema;
    if (path.startsWith("/v1/proofs/")) return ProofResponseSchema;
    return undefined;
  };
  const ok = httpExchanges.filter((t) => t.response.status === 200);

  it("parses and round-trips every successful REST exchange, request and response", () => {
    assert.ok(ok.length > 30);
    for (const t of ok) {
      const schema = schemaFor(t);
      assert.ok(schema, t.name);
      roundTrip(schema, t.response.body!);
      if (t.request.path === "/v1/submit") roundTrip(SubmitRequestSchema, t.request.body!);
    }
  });

  it("accepts snake_case names, a numeric nonce and unknown fields in requests", () => {
    const t = ok.find((x) => x.name === "A-submit-ok-round1-node2-snake-case")!;
    const req = parsePoetJson(SubmitRequestSchema, t.request.body!);
    assert.equal(req.nonce, 4622n);
    assert.equal(req.powParams?.difficulty, 12);
  });

  it("reads served proofs whose Merkle part encodes to the vectors' SCALE bytes", () => {
    for (const v of realServerProofs) {
      const t = ok.find(
        (x) => x.name.startsWith(`${v.server}-proof-${v.round_id}`) && x.response.body,
      );
      assert.ok(t, `transcript of ${v.server}/${v.round_id}`);
      const res = parsePoetJson(ProofResponseSchema, t.response.body!);
      const merkle = res.proof!.proof!;
      assert.equal(hex(encodeMerkleProof(merkle)), v.scale_merkle_proof);
      assert.equal(res.proof!.leaves, BigInt(v.leaves_decimal));
      const out = poetToJson(ProofResponseSchema, res) as { proof: { leaves: unknown } };
      assert.equal(out.proof.leaves, v.leaves_decimal);
    }
  });
});

describe("parsePoetJson failures", () => {
  it("turns invalid JSON into a WireFormatError naming the message", () => {
    rejects(
      () => parsePoetJson(SubmitResponseSchema, "{not json"),
      "rpc.api.v1.SubmitResponse",
      /invalid JSON/,
    );
  });

  it("names the field of a value of the wrong type", () => {
    rejects(
      () => parsePoetJson(SubmitResponseSchema, '{"roundId":5}'),
      "rpc.api.v1.SubmitResponse.round_id",
      /cannot decode/,
    );
    rejects(
      () => parsePoetJson(SubmitResponseSchema, '{"roundEnd":"soon"}'),
      "google.protobuf.Duration",
      /cannot decode/,
    );
    rejects(
      () => parsePoetJson(InfoResponseSchema, '{"servicePubkey":"***"}'),
      "rpc.api.v1.InfoResponse.service_pubkey",
      /cannot decode/,
    );
  });

  it("rejects a body that is not an object", () => {
    assert.throws(() => parsePoetJson(InfoResponseSchema, "[1,2]"), WireFormatError);
    assert.throws(() => parsePoetJson(InfoResponseSchema, "null"), WireFormatError);
  });
});

describe("time helpers", () => {
  it("converts milliseconds to Durations and back", () => {
    assert.equal(durationToMs(msToDuration(0)), 0);
    assert.equal(durationToMs(msToDuration(864_000_000)), 864_000_000);
    assert.equal(durationToMs(msToDuration(1500)), 1500);
    assert.equal(durationToMs(msToDuration(-1500)), -1500);
    const d = msToDuration(1500.25);
    assert.equal(d.seconds, 1n);
    assert.equal(d.nanos, 500_250_000);
    assert.equal(poetToJson(DurationSchema, msToDuration(864_000_000)), "864000s");
    assert.throws(() => msToDuration(Number.NaN), WireFormatError);
  });

  it("converts Dates to Timestamps and back", () => {
    const at = new Date("2024-10-03T20:00:00.123Z");
    assert.equal(timestampToDate(dateToTimestamp(at)).getTime(), at.getTime());
    assert.throws(() => dateToTimestamp(new Date(Number.NaN)), WireFormatError);
  });
});
