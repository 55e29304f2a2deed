import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { blake3 } from "@noble/hashes/blake3.js";
import {
  checkPow,
  createEd25519Signer,
  hasLeadingZeroBits,
  powMessage,
  ripemd256,
  solvePow,
} from "../src/auth/index.js";
import { AbortedError, ConfigError } from "../src/errors.js";
import { SubmitRequestSchema } from "../src/proto.js";
import { parsePoetJson } from "../src/wire/index.js";
import { hex, httpExchanges, utf8 } from "./helpers/client-fixtures.js";

const nodeId = createEd25519Signer(new Uint8Array(32).fill(1)).nodeId;
const poetChallenge = blake3(utf8("example nipost challenge"));
const powChallenge = new Uint8Array(32).fill(0x11);
const input = { powChallenge, nodeId, poetChallenge };

describe("the proof of work", () => {
  it("hashes powChallenge ‖ nodeId ‖ poetChallenge ‖ LE64(nonce) like the spec's vector", () => {
    const message = powMessage(input, 2664n);
    assert.equal(message.length, 104);
    assert.deepEqual([...message.subarray(96)], [0x68, 0x0a, 0, 0, 0, 0, 0, 0]);
    assert.equal(
      hex(ripemd256(powMessage(input, 0n))),
      "deb5250e7e7f48bfd021c6625eed9b3a7777e9e1225782a5bae039579e8314de",
    );
    assert.equal(
      hex(ripemd256(message)),
      "000c86602e8cb8aaf6a7fb56ab4a21ea52e9b2efb9ee0da1f19a2aee239136f0",
    );
  });

  it("finds the spec's nonce 2664 at difficulty 12", async () => {
    assert.equal(await solvePow({ ...input, difficulty: 12 }), 2664n);
    assert.equal(checkPow(input, 12, 2664n), true);
    assert.equal(checkPow(input, 12, 2663n), false);
  });

  it("finds the same nonce as a plain search for other input lengths and start nonces", async () => {
    const shortChallenge = { ...input, poetChallenge: utf8("poet challenge") };
    const nonce = await solvePow({ ...shortChallenge, difficulty: 8, startNonce: 5n });
    let expected = 5n;
    while (!checkPow(shortChallenge, 8, expected)) expected++;
    assert.equal(nonce, expected);
  });

  it("accepts every nonce at difficulty 0", async () => {
    assert.equal(await solvePow({ ...input, difficulty: 0 }), 0n);
  });

  it("counts leading zero bits across byte boundaries", () => {
    assert.equal(hasLeadingZeroBits(Uint8Array.of(0x00, 0x0f, 0xff), 12), true);
    assert.equal(hasLeadingZeroBits(Uint8Array.of(0x00, 0x10, 0xff), 12), false);
    assert.equal(hasLeadingZeroBits(Uint8Array.of(0x00, 0x00), 16), true);
    assert.equal(hasLeadingZeroBits(Uint8Array.of(0x01), 7), true);
    assert.equal(hasLeadingZeroBits(Uint8Array.of(0x01), 8), false);
  });

  it("refuses a difficulty above the maximum before searching", async () => {
    await assert.rejects(solvePow({ ...input, difficulty: 40 }), ConfigError);
    await assert.rejects(solvePow({ ...input, difficulty: -1 }), ConfigError);
    await assert.rejects(solvePow({ ...input, difficulty: 1.5 }), ConfigError);
  });

  it("stops with AbortedError when its signal fires during the search", async () => {
    const controller = new AbortController();
    const search = solvePow({
      ...input,
      difficulty: 32,
      yieldEvery: 256,
      signal: controller.signal,
    });
    setImmediate(() => controller.abort());
    await assert.rejects(search, AbortedError);
  });

  it("rejects at once when the signal has already fired", async () => {
    await assert.rejects(
      solvePow({ ...input, difficulty: 1, signal: AbortSignal.abort() }),
      AbortedError,
    );
  });

  it("accepts every PoW nonce the real server accepted", () => {
    const accepted = httpExchanges.filter(
      (e) =>
        e.request.path === "/v1/submit" &&
        e.response.status === 200 &&
        e.request.body?.includes("nonce"),
    );
    assert.ok(accepted.length >= 10);
    for (const e of accepted) {
      const request = parsePoetJson(SubmitRequestSchema, e.request.body as string);
      const params = request.powParams;
      assert.ok(params, e.name);
      const ok = checkPow(
        {
          powChallenge: params.challenge,
          nodeId: request.pubkey,
          poetChallenge: request.challenge,
        },
        params.difficulty,
        request.nonce,
      );
      assert.equal(ok, true, e.name);
    }
  });

  it("rejects the nonce the real server refused for too few zero bits", () => {
    const e = httpExchanges.find((x) => x.name === "A-submit-invalid-pow-nonce");
    assert.ok(e?.request.body);
    const request = parsePoetJson(SubmitRequestSchema, e.request.body);
    const params = request.powParams;
    assert.ok(params);
    assert.equal(
      checkPow(
        {
          powChallenge: params.challenge,
          nodeId: request.pubkey,
          poetChallenge: request.challenge,
        },
        params.difficulty,
        request.nonce,
      ),
      false,
    );
  });
});
