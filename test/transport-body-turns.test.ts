/**
 * Streamed bodies share one budget of bytes per event-loop turn (transport/body-turns.ts): however
 * many downloads run and however fast the link, one turn hands the body readers about
 * `BODY_BYTES_PER_TURN`, plus at most one chunk per download. Counted in turns and bytes, never
 * in time.
 */
import assert from "node:assert/strict";
import * as http from "node:http";
import { after, before, describe, it } from "node:test";
import { BODY_BYTES_PER_TURN } from "../src/transport/body-turns.js";
import { httpExchange } from "../src/transport/http-exchange.js";
import { type BodyServer, startBodyServer } from "./helpers/body-server.js";
import { turnCounter } from "./helpers/turn-counter.js";

const BODY_BYTES = 8 * 1024 * 1024;
/** The largest chunk a socket read hands over (libuv reads 64 KiB at a time). */
const MAX_CHUNK = 64 * 1024;

describe("streamed bodies: one byte budget per turn for all downloads", () => {
  let server: BodyServer;
  let url: URL;
  const body = Buffer.alloc(BODY_BYTES, 0x61);

  before(async () => {
    server = await startBodyServer(body);
    url = server.url;
  });

  after(async () => {
    await server.close();
  });

  it("hands three concurrent bodies to their sinks in turns of the shared budget, every byte in order", async () => {
    const counter = turnCounter();
    const perTurn = new Map<number, number>();
    const downloads = 3;
    const received = Array.from({ length: downloads }, () => [] as Buffer[]);
    const agent = new http.Agent({ keepAlive: false });
    try {
      await Promise.all(
        received.map((parts) =>
          httpExchange(
            { url, method: "GET" },
            {
              maxResponseBytes: 2 * BODY_BYTES,
              agent,
              target: { server: url.origin, method: "GET /v1/proofs/1" },
              onResponse: () => (chunk) => {
                parts.push(Buffer.from(chunk));
                perTurn.set(counter.turn, (perTurn.get(counter.turn) ?? 0) + chunk.length);
              },
            },
          ),
        ),
      );
    } finally {
      counter.stop();
      agent.destroy();
    }
    for (const parts of received) assert.ok(Buffer.concat(parts).equals(body));
    const most = Math.max(...perTurn.values());
    // The budget is whole again once per turn and a turn grants chunks until it is spent (the
    // last may overshoot by one chunk); a counted turn may hold the end of one budget and the
    // start of the next.
    const bound = 2 * (BODY_BYTES_PER_TURN + MAX_CHUNK);
    assert.ok(most <= bound, `${most} bytes in one turn`);
    assert.ok(perTurn.size >= (downloads * BODY_BYTES) / bound);
  });
});
