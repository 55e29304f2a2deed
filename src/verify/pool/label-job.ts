/**
 * @module verify/pool/label-job
 *
 * The labels of one proof as shared work (docs/protocol.md §5.5 step 5): the statement, the label
 * inputs and room for the labels, laid out in one `SharedArrayBuffer` that the calling thread and
 * every worker see. The labels are cut into chunks of a few labels each; whoever is free claims
 * the next chunk with an atomic increment, computes it, flags it done and counts it. Claiming
 * instead of assigning fixed shares keeps every core busy to the end even when one of them (the
 * calling thread, which also serves its event loop) runs slower, and lets a worker that is still
 * starting up simply find nothing left to do.
 *
 * The inputs (`BE64(index) ‖ parked nodes`) are written straight from the parking snapshots into
 * the shared buffer, so a proof's label inputs are copied once, not built as arrays first. The
 * count of finished chunks is a word that `Atomics.wait` can sleep on: the calling thread waits
 * for the last chunks a worker is still computing without a message round trip.
 *
 * A job can also be handed out before all its inputs exist ({@link createStagedLabelJob}): the
 * calling thread writes the inputs of a prefix of the labels as the proof's tree is hashed and
 * publishes the chunks they fill; a worker that finds the next chunk unpublished sleeps on the
 * published count (`Atomics.wait`), so it starts on the first chunk the moment it is published.
 *
 * Layout (byte offsets): a header of sixteen i32 (next chunk, chunk count, label count, chunk
 * size, statement length, finished chunks, output start, cancelled, published chunks, then
 * spare), then one i32 flag per chunk, then `count + 1` i32 input offsets, then the statement and
 * the inputs back to back, then 32 bytes per label.
 */
import type { PoswHasher } from "../hasher.js";
import { labelInputLength, writeLabelInput } from "../labels.js";
import type { ParkingSnapshot } from "../partial-tree.js";

const NEXT = 0;
const CHUNKS = 1;
const COUNT = 2;
const CHUNK_SIZE = 3;
const STATEMENT_LENGTH = 4;
const FINISHED = 5;
const OUTPUT_START = 6;
const CANCELLED = 7;
const PUBLISHED = 8;
const HEADER_WORDS = 16;
const HEADER_BYTES = 4 * HEADER_WORDS;
/** {@link LabelJob.claim}: every chunk is claimed, or the job was cancelled. */
export const NO_CHUNK = -1;
/** {@link LabelJob.claim}: the next chunk is not published yet. */
export const CHUNK_NOT_PUBLISHED = -2;
/** Longest single sleep of a worker waiting for the next chunk to be published. */
const PUBLISH_WAIT_MS = 5;

/** One proof's labels, shared between threads. */
export class LabelJob {
  /** The shared memory; send it to workers, which wrap it in their own {@link LabelJob}. */
  readonly buffer: SharedArrayBuffer;
  readonly #header: Int32Array;
  readonly #flags: Int32Array;
  readonly #offsets: Int32Array;
  readonly #statement: Uint8Array;

  /** Wraps a buffer laid out by {@link createLabelJob} (on this or another thread). */
  constructor(buffer: SharedArrayBuffer) {
    this.buffer = buffer;
    this.#header = new Int32Array(buffer, 0, HEADER_WORDS);
    const chunks = this.#header[CHUNKS]!;
    const count = this.#header[COUNT]!;
    this.#flags = new Int32Array(buffer, HEADER_BYTES, chunks);
    this.#offsets = new Int32Array(buffer, HEADER_BYTES + 4 * chunks, count + 1);
    const statementStart = HEADER_BYTES + 4 * chunks + 4 * (count + 1);
    this.#statement = new Uint8Array(buffer, statementStart, this.#header[STATEMENT_LENGTH]!);
  }

  /** Number of chunks. */
  get chunks(): number {
    return this.#header[CHUNKS]!;
  }

  /**
   * Claims the next chunk: its number, {@link NO_CHUNK} when every chunk is claimed or the job was
   * cancelled, or {@link CHUNK_NOT_PUBLISHED} when the next one is not published yet.
   */
  claim(): number {
    const header = this.#header;
    for (;;) {
      if (Atomics.load(header, CANCELLED) !== 0) return NO_CHUNK;
      const next = Atomics.load(header, NEXT);
      if (next >= header[CHUNKS]!) return NO_CHUNK;
      if (next >= Atomics.load(header, PUBLISHED)) return CHUNK_NOT_PUBLISHED;
      if (Atomics.compareExchange(header, NEXT, next, next + 1) === next) return next;
    }
  }

  /** Computes the labels of `chunk` with `hasher`, writes them and flags the chunk done. */
  compute(chunk: number, hasher: PoswHasher): void {
    const header = this.#header;
    const size = header[CHUNK_SIZE]!;
    const first = chunk * size;
    const end = Math.min(header[COUNT]!, first + size);
    const inputs: Uint8Array[] = [];
    for (let j = first; j < end; j++) {
      const start = this.#offsets[j]!;
      inputs.push(new Uint8Array(this.buffer, start, this.#offsets[j + 1]! - start));
    }
    const out = new Uint8Array(this.buffer, header[OUTPUT_START]! + 32 * first, 32 * (end - first));
    hasher.labels(this.#statement, inputs, out);
    if (Atomics.exchange(this.#flags, chunk, 1) === 0) {
      Atomics.add(header, FINISHED, 1);
      Atomics.notify(header, FINISHED);
    }
  }

  /**
   * Claims and computes chunks until none is left (or none is published yet) or `budget` chunks
   * are done; returns how many.
   */
  work(hasher: PoswHasher, budget = Number.POSITIVE_INFINITY): number {
    let done = 0;
    while (done < budget) {
      const chunk = this.claim();
      if (chunk < 0) break;
      this.compute(chunk, hasher);
      done++;
    }
    return done;
  }

  /**
   * A worker's share: claims and computes chunks until every chunk is claimed or the job is
   * cancelled, sleeping while the next chunk is not published yet. Blocks the calling thread, so
   * it is for worker threads only.
   */
  serve(hasher: PoswHasher): void {
    const header = this.#header;
    for (;;) {
      const published = Atomics.load(header, PUBLISHED);
      const chunk = this.claim();
      if (chunk === NO_CHUNK) return;
      if (chunk === CHUNK_NOT_PUBLISHED) {
        Atomics.wait(header, PUBLISHED, published, PUBLISH_WAIT_MS);
        continue;
      }
      this.compute(chunk, hasher);
    }
  }

  /** Label input `j`, written before its chunk is published ({@link createStagedLabelJob}). */
  input(j: number): Uint8Array {
    const start = this.#offsets[j]!;
    return new Uint8Array(this.buffer, start, this.#offsets[j + 1]! - start);
  }

  /** Publishes the first `chunks` chunks (their inputs written) and wakes waiting workers. */
  publish(chunks: number): void {
    const header = this.#header;
    Atomics.store(header, PUBLISHED, Math.min(chunks, header[CHUNKS]!));
    Atomics.notify(header, PUBLISHED);
  }

  /** Computes every chunk not flagged done, whoever claimed it (recovery after a lost worker). */
  completeAll(hasher: PoswHasher): void {
    Atomics.store(this.#header, NEXT, this.#header[CHUNKS]!);
    for (let chunk = 0; chunk < this.#flags.length; chunk++) {
      if (Atomics.load(this.#flags, chunk) === 0) this.compute(chunk, hasher);
    }
  }

  /**
   * Sleeps until every chunk is done or `timeoutMs` has passed (a bounded block of the calling
   * thread, for the last chunks another thread is computing); returns whether every chunk is done.
   */
  waitComplete(timeoutMs: number): boolean {
    const header = this.#header;
    const chunks = header[CHUNKS]!;
    let finished = Atomics.load(header, FINISHED);
    if (finished === chunks) return true;
    Atomics.wait(header, FINISHED, finished, timeoutMs);
    finished = Atomics.load(header, FINISHED);
    return finished === chunks;
  }

  /** Stops further claims; chunks already being computed finish and are ignored. */
  cancel(): void {
    Atomics.store(this.#header, CANCELLED, 1);
    Atomics.notify(this.#header, PUBLISHED);
  }

  /** The labels, 32 bytes each in input order (complete once {@link waitComplete} says so). */
  labels(): Uint8Array {
    const start = this.#header[OUTPUT_START]!;
    return new Uint8Array(this.buffer, start, 32 * this.#header[COUNT]!);
  }
}

/**
 * Lays out the labels of the proven leaves at `indices`, whose parked nodes are in `snapshots`,
 * under `statement` as a {@link LabelJob}, in chunks of `chunkSize` labels, every chunk published.
 * Label input `j` is `BE64(indices[j]) ‖ parked nodes of snapshots[j]` (docs/protocol.md §5.1).
 *
 * @example
 * ```ts
 * const job = createLabelJob(statement, indices, snapshots, 4);
 * worker.postMessage(job.buffer);
 * job.work(hasher);
 * ```
 */
export function createLabelJob(
  statement: Uint8Array,
  indices: readonly bigint[],
  snapshots: readonly ParkingSnapshot[],
  chunkSize: number,
): LabelJob {
  const job = createStagedLabelJob(statement, snapshots.map(labelInputLength), chunkSize);
  for (let j = 0; j < snapshots.length; j++)
    writeLabelInput(indices[j]!, snapshots[j]!, job.input(j));
  job.publish(job.chunks);
  return job;
}

/**
 * Lays out a {@link LabelJob} whose inputs are written later: `lengths[j]` bytes for label input
 * `j`, in chunks of `chunkSize` labels, none published. Write inputs with {@link LabelJob.input},
 * then {@link LabelJob.publish} the chunks they complete; workers may be handed the job at once.
 *
 * @example
 * ```ts
 * const job = createStagedLabelJob(statement, lengths, 4);
 * worker.postMessage(job.buffer);
 * tree.writeInput(0, indices[0], job.input(0)); // … inputs 1 to 3
 * job.publish(1);
 * ```
 */
export function createStagedLabelJob(
  statement: Uint8Array,
  lengths: readonly number[],
  chunkSize: number,
): LabelJob {
  const count = lengths.length;
  const chunks = Math.ceil(count / chunkSize);
  const offsetsStart = HEADER_BYTES + 4 * chunks;
  const dataStart = offsetsStart + 4 * (count + 1);
  let dataLength = statement.length;
  for (const length of lengths) dataLength += length;
  // labels start on a word boundary; views of them are byte views, but it keeps copies fast
  const outputStart = Math.ceil((dataStart + dataLength) / 8) * 8;
  const buffer = new SharedArrayBuffer(outputStart + 32 * count);
  const header = new Int32Array(buffer, 0, HEADER_WORDS);
  header[CHUNKS] = chunks;
  header[COUNT] = count;
  header[CHUNK_SIZE] = chunkSize;
  header[STATEMENT_LENGTH] = statement.length;
  header[OUTPUT_START] = outputStart;
  const offsets = new Int32Array(buffer, offsetsStart, count + 1);
  new Uint8Array(buffer).set(statement, dataStart);
  let cursor = dataStart + statement.length;
  for (let j = 0; j < count; j++) {
    offsets[j] = cursor;
    cursor += lengths[j]!;
  }
  offsets[count] = cursor;
  return new LabelJob(buffer);
}
