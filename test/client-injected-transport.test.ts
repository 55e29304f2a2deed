import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createPoetClient, type PoetSubmitRequest } from "../src/client/index.js";
import { ManualClock } from "../src/clock.js";
import { PoetRpcError } from "../src/errors.js";
import {
  DEFAULT_ATTEMPT_TIMEOUT_MS,
  type PoetTransport,
  type UnaryCallOptions,
} from "../src/transport/index.js";

describe("the client's timeoutMs with an injected transport", () => {
  const REQUEST: PoetSubmitRequest = {
    prefix: new Uint8Array(21),
    challenge: new Uint8Array(32).fill(1),
    pubkey: new Uint8Array(32).fill(2),
    signature: new Uint8Array(64).fill(3),
  };

  /** A transport that records each call's options and refuses it for good. */
  function recordingTransport(calls: Map<string, UnaryCallOptions | undefined>): PoetTransport {
    const close = async () => {};
    return {
      url: "http://127.0.0.1:1",
      protocol: "rest",
      async unary(method, _request, options) {
        calls.set(method.name, options);
        throw new PoetRpcError("refused", {
          server: "http://127.0.0.1:1",
          method: method.name,
          kind: "invalid-request",
          retriable: false,
        });
      },
      close,
      [Symbol.asyncDispose]: close,
    };
  }

  async function callAll(timeoutMs: number | undefined) {
    const calls = new Map<string, UnaryCallOptions | undefined>();
    const client = createPoetClient({
      url: "http://127.0.0.1:1",
      clock: new ManualClock(0),
      transport: recordingTransport(calls),
      timeoutMs,
      proofTimeoutMs: 90_000,
    });
    await assert.rejects(client.info(), PoetRpcError);
    await assert.rejects(client.powParams(), PoetRpcError);
    await assert.rejects(client.submit(REQUEST), PoetRpcError);
    await assert.rejects(client.proof("3"), PoetRpcError);
    return calls;
  }

  it("passes timeoutMs to every info, powParams and submit attempt", async () => {
    const calls = await callAll(5_000);
    assert.equal(calls.get("Info")?.timeoutMs, 5_000);
    assert.equal(calls.get("PowParams")?.timeoutMs, 5_000);
    assert.equal(calls.get("Submit")?.timeoutMs, 5_000);
    assert.equal(calls.get("Proof")?.timeoutMs, 90_000);
  });

  it("passes the default attempt time limit when timeoutMs is not set", async () => {
    const calls = await callAll(undefined);
    assert.equal(DEFAULT_ATTEMPT_TIMEOUT_MS, 30_000);
    assert.equal(calls.get("Info")?.timeoutMs, DEFAULT_ATTEMPT_TIMEOUT_MS);
    assert.equal(calls.get("PowParams")?.timeoutMs, DEFAULT_ATTEMPT_TIMEOUT_MS);
    assert.equal(calls.get("Submit")?.timeoutMs, DEFAULT_ATTEMPT_TIMEOUT_MS);
  });
});
