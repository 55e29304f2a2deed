import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ed25519 } from "@noble/curves/ed25519.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { ManualClock } from "../src/testing/index.js";
import { startMockCertifier } from "../src/testing/mock-certifier.js";
import { startMockPoet } from "../src/testing/mock-poet.js";
import { decodeCertificate } from "../src/wire/index.js";

const NOW = Date.parse("2033-03-03T00:00:00Z");
const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString("base64");
const unb64 = (text: string) => new Uint8Array(Buffer.from(text, "base64"));
const bytesOf = (label: string) => sha256(new TextEncoder().encode(label));

function certifyBody(nodeId: Uint8Array, numUnits = 4) {
  return {
    proof: { nonce: 7, indices: b64(new Uint8Array([1, 2, 3, 4])), pow: 12345 },
    metadata: {
      node_id: b64(nodeId),
      commitment_atx_id: b64(new Uint8Array(32).fill(9)),
      challenge: b64(new Uint8Array(32)),
      num_units: numUnits,
    },
  };
}

function post(url: string, body: unknown, type = "application/json") {
  return fetch(url, {
    method: "POST",
    headers: { "content-type": type },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
}

describe("the mock certifier", () => {
  it("issues a signed certificate with an expiry that a mock PoET accepts", async () => {
    const clock = new ManualClock(NOW);
    await using certifier = await startMockCertifier({
      clock,
      certificateExpirationMs: 14 * 86_400_000,
      signingKey: bytesOf("certifier"),
    });
    await using poet = await startMockPoet({
      clock,
      certifier: { url: certifier.url, pubkey: certifier.pubkey },
    });
    const seed = bytesOf("node");
    const nodeId = ed25519.getPublicKey(seed);
    const res = await post(certifier.certifyUrl, certifyBody(nodeId));
    assert.equal(res.status, 200);
    const { certificate, signature, pub_key } = (await res.json()) as Record<string, string>;
    assert.ok(certificate && signature && pub_key);
    assert.deepEqual(unb64(pub_key), certifier.pubkey);
    const data = unb64(certificate);
    assert.ok(ed25519.verify(unb64(signature), data, certifier.pubkey));
    assert.deepEqual(decodeCertificate(data), {
      pubkey: nodeId,
      expiration: BigInt(NOW / 1000 + 14 * 86_400),
    });
    assert.equal(certifier.requests.length, 1);
    assert.equal(certifier.requests[0]?.metadata.numUnits, 4);

    const challenge = bytesOf("challenge");
    const submit = await post(`${poet.url}/v1/submit`, {
      challenge: b64(challenge),
      pubkey: b64(nodeId),
      signature: b64(ed25519.sign(challenge, seed)),
      certificate: { data: certificate, signature },
      certificatePubkeyHint: b64(certifier.pubkey.subarray(0, 4)),
    });
    assert.equal(submit.status, 200, await submit.clone().text());
    assert.equal(((await submit.json()) as { roundId: string }).roundId, "0");
  });

  it("issues certificates without expiry by default", async () => {
    await using certifier = await startMockCertifier();
    const nodeId = ed25519.getPublicKey(bytesOf("no-expiry"));
    const res = await post(certifier.certifyUrl, certifyBody(nodeId));
    const { certificate } = (await res.json()) as Record<string, string>;
    assert.deepEqual(decodeCertificate(unb64(certificate ?? "")), { pubkey: nodeId });
  });

  it("refuses proofs its rule rejects with 403 and the reason", async () => {
    await using certifier = await startMockCertifier({
      rule: (request) => request.metadata.numUnits >= 4 || "too few units",
    });
    const nodeId = ed25519.getPublicKey(bytesOf("small"));
    const res = await post(certifier.certifyUrl, certifyBody(nodeId, 1));
    assert.equal(res.status, 403);
    assert.equal(await res.text(), "invalid proof: too few units");
  });

  it("answers malformed requests with the service's statuses", async () => {
    await using certifier = await startMockCertifier({ maxBodySize: 1024 });
    const nodeId = ed25519.getPublicKey(bytesOf("bad"));
    assert.equal((await post(certifier.certifyUrl, "{not json")).status, 400);
    assert.equal((await post(certifier.certifyUrl, { proof: {} })).status, 422);
    assert.equal(
      (await post(certifier.certifyUrl, { ...certifyBody(nodeId), metadata: { node_id: "AA==" } }))
        .status,
      422,
    );
    assert.equal((await post(certifier.certifyUrl, certifyBody(nodeId), "text/plain")).status, 415);
    assert.equal((await post(certifier.certifyUrl, "x".repeat(2048))).status, 413);
    assert.equal((await post(`${certifier.url}/other`, certifyBody(nodeId))).status, 404);
    assert.equal(certifier.requests.length, 0);
  });

  it("can be switched to overloaded (429) or failing (500)", async () => {
    await using certifier = await startMockCertifier();
    const body = certifyBody(ed25519.getPublicKey(bytesOf("busy")));
    certifier.faults.failNext(1, 429);
    assert.equal((await post(certifier.certifyUrl, body)).status, 429);
    certifier.faults.status = 500;
    assert.equal((await post(certifier.certifyUrl, body)).status, 500);
    certifier.faults.status = undefined;
    assert.equal((await post(certifier.certifyUrl, body)).status, 200);
  });
});
