import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { blake3 } from "@noble/hashes/blake3.js";
import {
  buildSubmitRequest,
  createEd25519Signer,
  genesisId,
  poetSigningPrefix,
  verifyEd25519,
} from "../src/auth/index.js";
import { ConfigError } from "../src/errors.js";
import { SubmitRequestSchema } from "../src/proto.js";
import { parsePoetJson } from "../src/wire/index.js";
import {
  b64,
  hex,
  httpExchanges,
  seedOf,
  TRANSCRIPT_PREFIX,
  unhex,
  utf8,
} from "./helpers/client-fixtures.js";

const MAINNET_GENESIS = new Date("2023-07-14T08:00:00Z");
const MAINNET_EXTRA = "00000000000000000001a6bc150307b5c1998045752b3c87eccf3c013036f3cc";

describe("the genesis id and signing prefix", () => {
  it("computes the mainnet genesis id", () => {
    assert.equal(
      hex(genesisId(MAINNET_GENESIS, MAINNET_EXTRA)),
      "9eebff023abb17ccb775c602daade8ed708f0a50",
    );
  });

  it("appends the POET domain byte to make the mainnet prefix", () => {
    const prefix = poetSigningPrefix(genesisId(MAINNET_GENESIS, MAINNET_EXTRA));
    assert.equal(hex(prefix), "9eebff023abb17ccb775c602daade8ed708f0a5004");
    assert.equal(b64(prefix), "nuv/Ajq7F8y3dcYC2q3o7XCPClAE");
  });

  it("refuses a genesis time that is not a whole second and a genesis id that is not 20 bytes", () => {
    assert.throws(() => genesisId(new Date(1689321600500), MAINNET_EXTRA), ConfigError);
    assert.throws(() => genesisId(new Date(Number.NaN), MAINNET_EXTRA), ConfigError);
    assert.throws(() => poetSigningPrefix(new Uint8Array(32)), ConfigError);
  });
});

describe("the ed25519 signer", () => {
  const signer = createEd25519Signer(new Uint8Array(32).fill(1));

  it("derives the node id of the spec's test key", () => {
    assert.equal(
      hex(signer.nodeId),
      "8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c",
    );
  });

  it("signs prefix ‖ challenge exactly like the spec's vector", async () => {
    const prefix = poetSigningPrefix(genesisId(MAINNET_GENESIS, MAINNET_EXTRA));
    const challenge = blake3(utf8("example nipost challenge"));
    const request = await buildSubmitRequest({
      signer,
      prefix,
      challenge,
      authorization: {
        kind: "pow",
        nonce: 2664n,
        powParams: { challenge: new Uint8Array(32).fill(0x11), difficulty: 12 },
      },
    });
    assert.equal(
      hex(request.signature),
      "04da0bf77d01278b7b9f4a88b436f4ddcabc1422981c62ef84f8ef708d58a0222deb873138b8643ea05605fde8026275104ed947f6bc92a491719b5b12d8d809",
    );
    assert.equal(request.nonce, 2664n);
    assert.equal(request.certificate, undefined);
  });

  it("attaches a certificate with the 4-byte hint of the certifier key", async () => {
    const certifier = {
      url: "http://c",
      pubkey: unhex("8139770ea87d175f56a35466c34c7ecccb8d8a91b4ee37a25df60f5b8fc9b394"),
    };
    const request = await buildSubmitRequest({
      signer,
      prefix: new Uint8Array(0),
      challenge: new Uint8Array(32),
      deadline: new Date("2024-10-03T20:00:00Z"),
      authorization: {
        kind: "certificate",
        certificate: { data: new Uint8Array(34), signature: new Uint8Array(64) },
        certifier,
      },
    });
    assert.equal(hex(request.certificatePubkeyHint as Uint8Array), "8139770e");
    assert.equal(request.nonce, undefined);
    assert.equal(request.deadline?.toISOString(), "2024-10-03T20:00:00.000Z");
  });

  it("derives every node key of the captured exchanges from its seed", () => {
    assert.equal(
      hex(createEd25519Signer(seedOf("poet-transcripts:node:0")).nodeId),
      "5bb4a8e37d8e90aa478e40b35d0ac5ba236b9bc881edaa8e7ca2bba64c9bb162",
    );
    assert.equal(
      hex(createEd25519Signer(seedOf("poet-transcripts:node:200")).nodeId),
      "eab31d4efd8a2d11878dd1fe39979ff49f9bddfd438309befd8a4896b57e52a7",
    );
  });

  it("produces the same signatures as the nodes of the captured registrations", async () => {
    const accepted = httpExchanges.filter(
      (e) => e.request.path === "/v1/submit" && e.response.status === 200,
    );
    assert.ok(accepted.length > 15);
    for (const e of accepted) {
      const request = parsePoetJson(SubmitRequestSchema, e.request.body as string);
      assert.deepEqual(request.prefix, TRANSCRIPT_PREFIX, e.name);
      const message = new Uint8Array([...request.prefix, ...request.challenge]);
      assert.equal(verifyEd25519(request.pubkey, message, request.signature), true, e.name);
    }
    const node0 = createEd25519Signer(seedOf("poet-transcripts:node:0"));
    const ok0 = httpExchanges.find((e) => e.name === "A-submit-ok-round0-node0");
    const request = parsePoetJson(SubmitRequestSchema, ok0?.request.body as string);
    const signature = await node0.sign(new Uint8Array([...request.prefix, ...request.challenge]));
    assert.deepEqual(signature, request.signature);
  });

  it("does not verify the signatures the real server refused", () => {
    for (const name of ["A-submit-invalid-signature", "A-submit-signature-without-prefix"]) {
      const e = httpExchanges.find((x) => x.name === name);
      const request = parsePoetJson(SubmitRequestSchema, e?.request.body as string);
      const message = new Uint8Array([...request.prefix, ...request.challenge]);
      assert.equal(verifyEd25519(request.pubkey, message, request.signature), false, name);
    }
  });

  it("refuses a seed that is not 32 bytes", () => {
    assert.throws(() => createEd25519Signer(new Uint8Array(31)), ConfigError);
  });
});
