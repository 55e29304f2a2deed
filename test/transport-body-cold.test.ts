/**
 * The first body bytes a process parses go in small pieces, one per turn (transport/body-turns.ts):
 * until the engine has compiled the body readers, a 64 KiB chunk would hold the event loop for
 * tens of milliseconds. Counted in turns and bytes, never in time. (Its own file: the cold bytes
 * are counted per process.)
 */
// npm test: a process of its own (the cold bytes are counted per process)
import assert from "node:assert/strict";
import * as http from "node:http";
import { after, before, describe, it } from "node:test";
import { COLD_BODY_BYTES, COLD_PIECE_BYTES } from "../src/transport/body-turns.js";
import { httpExchange } from "../src/transport/http-exchange.js";
import { type BodyServer, startBodyServer } from "./helpers/body-server.js";
import { turnCounter } from "./helpers/turn-counter.js";

const BODY_BYTES = 2 * COLD_BODY_BYTES;

describe("streamed bodies: the process's first bytes in small pieces", () => {
  let server: BodyServer;
  let url: URL;
  const body = Buffer.from(Array.from({ length: BODY_BYTES }, (_, i) => i % 251));

  before(async () => {
    server = await startBodyServer(body);
    url = server.url;
  });

  after(async () => {
    await server.close();
  });

  it("hands the first COLD_BODY_BYTES over in pieces of COLD_PIECE_BYTES, one per turn, every byte in order", async () => {
    const counter = turnCounter();
    const pieces: Array<{ bytes: number; turn: number }> = [];
    const parts: Buffer[] = [];
    const agent = new http.Agent({ keepAlive: false });
    try {
      await httpExchange(
        { url, method: "GET" },
        {
          maxResponseBytes: 2 * BODY_BYTES,
          agent,
          target: { server: url.origin, method: "GET /v1/proofs/1" },
          onResponse: () => (chunk) => {
            parts.push(Buffer.from(chunk));
            pieces.push({ bytes: chunk.length, turn: counter.turn });
          },
        },
      );
    } finally {
      counter.stop();
      agent.destroy();
    }
    assert.ok(Buffer.concat(parts).equals(body));
    let at = 0;
    const turns = new Set<number>();
    for (const piece of pieces) {
      if (at >= COLD_BODY_BYTES) break;
      assert.ok(piece.bytes <= COLD_PIECE_BYTES, `a piece of ${piece.bytes} bytes at ${at}`);
      turns.add(piece.turn);
      at += piece.bytes;
    }
    // One piece per turn of the budget; a counted turn may hold the end of one and the next.
    assert.ok(turns.size >= COLD_BODY_BYTES / COLD_PIECE_BYTES / 2, `${turns.size} turns`);
  });
});
