/**
 * @module verify/pool/label-worker
 *
 * The body of a {@link ParallelVerifier} worker thread (docs/protocol.md §5.5 step 5). It builds
 * its own hasher (the WebAssembly kernel warms up here, once), says it is ready, and then for each
 * {@link LabelJob} it is sent claims and computes chunks of labels until none is left, and reports
 * back. Everything it computes goes through the job's shared memory; the messages carry no data.
 */
import { parentPort, workerData } from "node:worker_threads";
import { createPoswHasher, type HasherKernel } from "../wasm/index.js";
import { LabelJob } from "./label-job.js";

/** What the parent passes as `workerData`. */
export interface LabelWorkerData {
  kernel: HasherKernel;
}

/** Messages from a worker to its parent. */
export type LabelWorkerMessage = { type: "ready" } | { type: "done"; chunks: number };

const port = parentPort;
if (port !== null) {
  const hasher = createPoswHasher((workerData as LabelWorkerData).kernel);
  port.on("message", (buffer: SharedArrayBuffer) => {
    const chunks = new LabelJob(buffer).work(hasher);
    port.postMessage({ type: "done", chunks } satisfies LabelWorkerMessage);
  });
  port.postMessage({ type: "ready" } satisfies LabelWorkerMessage);
}
