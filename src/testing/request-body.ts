/**
 * @module testing/request-body
 *
 * Reading a request body with a size limit, for the mock servers. The whole body is drained even
 * past the limit, so the client gets its answer rather than a reset connection, but nothing past
 * the limit is kept.
 */
import type { NodeServerRequest } from "./single-port-server.js";

/** The body was larger than the limit. */
export class RequestBodyTooLarge extends Error {
  constructor(readonly size: number) {
    super(`request body of ${size} bytes is over the limit`);
    this.name = "RequestBodyTooLarge";
  }
}

/**
 * The request body as UTF-8 text; rejects with {@link RequestBodyTooLarge} past `limit` bytes.
 *
 * @example
 * ```ts
 * const text = await readRequestBody(req, 4 * 1024 * 1024);
 * ```
 */
export async function readRequestBody(req: NodeServerRequest, limit: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer | string>) {
    const buffer = typeof chunk === "string" ? Buffer.from(chunk) : chunk;
    size += buffer.length;
    if (size <= limit) chunks.push(buffer);
  }
  if (size > limit) throw new RequestBodyTooLarge(size);
  return Buffer.concat(chunks).toString("utf8");
}
