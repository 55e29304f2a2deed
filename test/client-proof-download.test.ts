import assert from "node:assert/strict";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { createPoetClient } from "../src/client/index.js";
import { ManualClock } from "../src/clock.js";
import { PoetRpcError } from "../src/errors.js";
import { prng } from "./helpers/prng.js";

const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString("base64");
const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex");
const KEY = new Uint8Array(32).fill(7);

function proofBody(count: number): { body: Buffer; members: Uint8Array[] } {
  const random = prng(count);
  const members = Array.from({ length: count }, () =>
    Uint8Array.from({ length: 32 }, () => Math.floor(random() * 256)),
  );
  const body = Buffer.from(
    JSON.stringify({
      proof: {
        proof: { root: b64(new Uint8Array(32)), provenLeaves: [], proofNodes: [] },
        members: members.map(b64),
        leaves: "10",
      },
      pubkey: b64(KEY),
    }),
  );
  return { body, members };
}

/** Waits, turning the event loop, until `condition` holds. */
async function until(condition: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 100_000; i++) {
    if (condition()) return;
    await new Promise((r) => setImmediate(r));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe("proof downloads over REST", () => {
  let server: http.Server;
  let url: string;
  /** The response being served, written piece by piece by the test. */
  let response: http.ServerResponse | undefined;
  const sockets = new Set<import("node:net").Socket>();

  before(async () => {
    server = http.createServer((req, res) => {
      req.resume();
      response = res;
    });
    server.on("connection", (s) => {
      sockets.add(s);
      s.on("close", () => sockets.delete(s));
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  after(async () => {
    for (const s of sockets) s.destroy();
    await new Promise((r) => server.close(r));
  });

  it("finishes a slow transfer that keeps making progress, however long it takes", async () => {
    const clock = new ManualClock(0);
    const client = createPoetClient({ url, clock, proofTimeoutMs: 10_000, servicePubkey: KEY });
    const { body, members } = proofBody(300);
    let received = 0;
    response = undefined;
    const download = client.proof("1", { onProgress: (n) => (received = n) });
    await until(() => response !== undefined, "the request");
    const res = response as unknown as http.ServerResponse;
    res.writeHead(200, { "content-type": "application/json", "content-length": body.length });
    // 20 pieces, 7 s of clock apart: 140 s in all, 14 times the limit, never 10 s of silence.
    const pieces = 20;
    const size = Math.ceil(body.length / pieces);
    for (let i = 0; i < pieces; i++) {
      const end = Math.min(body.length, (i + 1) * size);
      res.write(body.subarray(i * size, end));
      await until(() => received >= end, `piece ${i}`);
      if (end < body.length) await clock.advance(7_000);
    }
    res.end();
    const round = await download;
    assert.equal(clock.now(), 19 * 7_000);
    assert.deepEqual(round.members.map(hex), members.map(hex));
    assert.equal(round.proof.leaves, 10n);
    await client.close();
  });

  it("fails with a retriable timeout when the server goes silent", async () => {
    const clock = new ManualClock(0);
    const client = createPoetClient({ url, clock, proofTimeoutMs: 10_000 });
    const { body } = proofBody(100);
    let received = 0;
    response = undefined;
    const download = client.proof("1", { onProgress: (n) => (received = n) });
    await until(() => response !== undefined, "the request");
    const res = response as unknown as http.ServerResponse;
    res.writeHead(200, { "content-type": "application/json", "content-length": body.length });
    res.write(body.subarray(0, 1000));
    await until(() => received >= 1000, "the first piece");
    await clock.advance(9_999);
    let settled = false;
    download.catch(() => {}).finally(() => (settled = true));
    await new Promise((r) => setImmediate(r));
    assert.equal(settled, false);
    await clock.advance(1);
    await assert.rejects(download, (err: unknown) => {
      assert.ok(err instanceof PoetRpcError, String(err));
      assert.equal(err.kind, "timeout");
      assert.equal(err.retriable, true);
      assert.match(err.message, /no data for 10000 ms/);
      return true;
    });
    await client.close();
  });

  it("also times out a server that never answers, and keeps the small cap for other calls", async () => {
    const clock = new ManualClock(0);
    const client = createPoetClient({ url, clock, proofTimeoutMs: 5_000, maxResponseBytes: 100 });
    response = undefined;
    const download = client.proof("1");
    await until(() => response !== undefined, "the request");
    await clock.advance(5_000);
    await assert.rejects(
      download,
      (err: unknown) => err instanceof PoetRpcError && err.kind === "timeout",
    );
    response = undefined;
    const info = client.info();
    await until(() => response !== undefined, "the info request");
    (response as unknown as http.ServerResponse).end(JSON.stringify({ padding: "x".repeat(200) }));
    await assert.rejects(
      info,
      (err: unknown) => err instanceof PoetRpcError && err.kind === "response-too-large",
    );
    await client.close();
  });

  it("refuses a malformed body as soon as it is seen, as a final bad response", async () => {
    const clock = new ManualClock(0);
    const client = createPoetClient({ url, clock });
    response = undefined;
    const download = client.proof("1");
    await until(() => response !== undefined, "the request");
    const res = response as unknown as http.ServerResponse;
    res.writeHead(200, { "content-type": "application/json", "content-length": 10_000_000 });
    res.write('{"proof":{"members":["AAAA",17');
    await assert.rejects(download, (err: unknown) => {
      assert.ok(err instanceof PoetRpcError, String(err));
      assert.equal(err.kind, "bad-response");
      assert.equal(err.retriable, false);
      assert.match(err.message, /expected ',' or '\]'|expected a base64 string/);
      return true;
    });
    await client.close();
  });
});
