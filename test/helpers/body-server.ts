/**
 * A loopback HTTP/1.1 server that answers every request with one fixed JSON body (its length
 * announced), for the tests of how streamed bodies are handed to their readers.
 */
import * as http from "node:http";
import type { AddressInfo } from "node:net";

/** A started {@link startBodyServer}. */
export interface BodyServer {
  /** `/v1/proofs/1` on the server. */
  url: URL;
  close(): Promise<void>;
}

/**
 * Starts a server on `127.0.0.1:0` serving `body` to every request.
 *
 * @example
 * ```ts
 * const server = await startBodyServer(Buffer.alloc(1024, 0x61));
 * await httpExchange({ url: server.url, method: "GET" }, init);
 * await server.close();
 * ```
 */
export async function startBodyServer(body: Buffer): Promise<BodyServer> {
  const server = http.createServer((req, res) => {
    req.resume();
    res.writeHead(200, { "content-type": "application/json", "content-length": body.length });
    res.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: new URL(`http://127.0.0.1:${port}/v1/proofs/1`),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
