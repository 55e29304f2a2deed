/**
 * @module verify/pool/label-worker
 *
 * The body of a {@link ParallelVerifier} worker thread (docs/protocol.md §5.5 step 5). It builds
 * its own hasher and warms it up (the WebAssembly kernel is compiled by V8's optimizing tier
 * while the thread is idle, not during the first verification), says it is ready, and then sleeps
 * on a shared control word with `Atomics.wait`. To hand it a {@link LabelJob} the verifier posts
 * the job's buffer and bumps the word: the thread wakes at once (a futex wake-up, not a turn of an
 * event loop), takes the queued buffers with `receiveMessageOnPort`, claims and computes chunks
 * until none is left (sleeping on the job while the verifier is still publishing its chunks), and
 * sleeps again. Everything it computes goes through the job's shared
 * memory, and the job's own counter tells the verifier when it is done.
 */
import { parentPort, receiveMessageOnPort, workerData } from "node:worker_threads";
import { createPoswHasher, type HasherKernel } from "../wasm/index.js";
import { LabelJob } from "./label-job.js";

/** What the parent passes as `workerData`. */
export interface LabelWorkerData {
  kernel: HasherKernel;
  /** Two i32: the job sequence number (bumped for every job) and the stop flag. */
  control: SharedArrayBuffer;
}

/** Messages from a worker to its parent. */
export type LabelWorkerMessage = { type: "ready" };

/** Index of the job sequence number in the control words. */
export const CONTROL_SEQUENCE = 0;
/** Index of the stop flag in the control words. */
export const CONTROL_STOP = 1;

/** Label chains computed at start-up, so that the kernel is optimised before the first job. */
const WARM_UP_ROUNDS = 24;

const port = parentPort;
if (port !== null) {
  const data = workerData as LabelWorkerData;
  const control = new Int32Array(data.control);
  const hasher = createPoswHasher(data.kernel);
  const statement = new Uint8Array(32);
  const inputs = Array.from({ length: 4 }, (_, j) => new Uint8Array(8 + 32 * j));
  const out = new Uint8Array(32 * inputs.length);
  for (let round = 0; round < WARM_UP_ROUNDS; round++) hasher.labels(statement, inputs, out);
  port.postMessage({ type: "ready" } satisfies LabelWorkerMessage);
  let seen = 0;
  for (;;) {
    Atomics.wait(control, CONTROL_SEQUENCE, seen);
    if (Atomics.load(control, CONTROL_STOP) !== 0) break;
    seen = Atomics.load(control, CONTROL_SEQUENCE);
    for (let message = receiveMessageOnPort(port); message !== undefined; ) {
      new LabelJob(message.message as SharedArrayBuffer).serve(hasher);
      message = receiveMessageOnPort(port);
    }
  }
  port.close();
}
