/**
 * @module verify/pool/parallel-verifier
 *
 * PoET proof verification spread over the cores (docs/protocol.md §5.5), for a node that must
 * keep its event loop responsive while it verifies, and one verifier the whole library can share.
 *
 * The steps are the verifier's: shape checks, Fiat–Shamir indices, the partial Merkle tree and
 * its parking snapshots (a few thousand hashes, batched a tree level at a time into the SIMD
 * kernel, on the calling thread), then the 150 labels of 400 chained SHA-256 each, which are
 * independent and are nearly all of the work. The label inputs are written straight into a
 * {@link LabelJob} in shared memory, and the calling thread and `cores − 1` worker threads claim
 * chunks of it until none is left.
 *
 * The workers do not wait for the whole tree: it is hashed in stages, the subtrees of the leftmost
 * leaves first ({@link StagedTree}), and each stage publishes the label chunks whose snapshots it
 * completed, so the workers start on the first labels while the calling thread still hashes the
 * rest of the tree. The root is checked once the tree is done; a proof whose root is wrong is
 * rejected then, with the sequential verifier's error, and the labels already computed for it are
 * wasted work, nothing more. Proofs of unusual shape (nodes that are not 32 bytes, leaves the
 * walk never reaches) take the sequential steps, which name what is wrong.
 *
 * What keeps the per-verification overhead small: the workers are started, and their kernels
 * compiled and warmed up, when the verifier is created, not when a proof arrives. The calling
 * thread's own share is warmed too: V8 optimises JavaScript only after it has run for a while, and
 * a node verifies a handful of proofs per round, so without a warm-up every real verification
 * would run the Fiat–Shamir, tree and job code cold (two to five times slower than warm). The
 * verifier therefore runs those steps on a few synthetic proofs of network size in the background,
 * one per turn of the event loop, and {@link ParallelVerifier.ready} waits for them. Between jobs
 * they sleep in `Atomics.wait` on a shared word, so handing over a job is a post of the buffer
 * and a futex wake-up, with no turn of either event loop; and the calling thread learns that the
 * workers' last chunks are done by sleeping on the job's finished-chunk counter for at most a
 * millisecond at a time, not by waiting for a message. The calling thread gives its event loop a
 * turn after every few chunks (about half a millisecond of work), so it never blocks for long,
 * and since work is claimed rather than assigned, the workers simply take more of it meanwhile.
 *
 * Verdicts are remembered by proof reference and statement: every node of a round gets the same
 * proof from a PoET, and verifying it again would only repeat the answer. A worker that dies or
 * stalls mid-job costs nothing but time: the calling thread computes whatever was left unfinished,
 * so the verdict is always the sequential verifier's.
 */

import { availableParallelism } from "node:os";
import { setImmediate as yieldToEventLoop } from "node:timers/promises";
import { Worker } from "node:worker_threads";
import type { AbortOptions } from "../../abort-options.js";
import { raceAbort } from "../../abortable.js";
import { equalBytes, toHex } from "../../bytes.js";
import {
  AbortedError,
  abortedError,
  PoetError,
  ProofVerificationError,
  throwIfAborted,
} from "../../errors.js";
import type { PoetProof } from "../../wire/index.js";
import { fiatShamirIndices } from "../fiat-shamir.js";
import type { PoswHasher } from "../hasher.js";
import { compareLabels } from "../labels.js";
import { resolveSecurityParam } from "../params.js";
import { type ParkingSnapshot, validatePartialTree } from "../partial-tree.js";
import { partialTreeProofPositions, treeHeight } from "../partial-tree-proof.js";
import { proofRef } from "../proof-ref.js";
import { checkProofStructure } from "../proof-structure.js";
import { StagedTree } from "../staged-tree.js";
import { checkProofTree, poswNodeHash } from "../verify-poet-proof.js";
import {
  createPoswHasher,
  type HasherKernel,
  sharedMembershipHasher,
  sharedPoswHasher,
} from "../wasm/index.js";
import { createLabelJob, createStagedLabelJob, type LabelJob } from "./label-job.js";
import {
  CONTROL_SEQUENCE,
  CONTROL_STOP,
  type LabelWorkerData,
  type LabelWorkerMessage,
} from "./label-worker.js";

/** Labels per chunk: one four-lane group of the SIMD kernel, about 110 microseconds. */
const CHUNK_LABELS = 4;
/** Chunks the calling thread computes between two turns of its event loop. */
const CHUNKS_PER_TURN = 4;
/** Longest single sleep of the calling thread while workers finish their last chunks. */
const WAIT_SLICE_MS = 1;
/** Sleeps after which the calling thread computes a stalled worker's chunks itself. */
const MAX_WAIT_SLICES = 20;
/** Workers that fail before they ever start are not replaced more often than this. */
const MAX_START_FAILURES = 3;
/** Synthetic proofs the calling thread's steps run on at start-up: about 60 ms, in turns. */
const WARM_UP_PROOFS = 20;
/** Leaf count of the synthetic proofs: the height of a short round's tree. */
const WARM_UP_LEAVES = 1n << 20n;

/** Options of {@link createParallelVerifier}. */
export interface ParallelVerifierOptions {
  /** Worker threads; one fewer than the available cores by default. `0` uses the calling thread only. */
  workers?: number | undefined;
  /** The hashing kernel of every thread: the fastest available (`"auto"`) by default. */
  kernel?: HasherKernel | undefined;
  /** `T`, the number of proven leaves; 150 (the network's value) by default. */
  securityParam?: number | undefined;
  /**
   * Verdicts remembered, by proof reference and statement; 64 by default, `0` for none. This is
   * for callers that use the verifier on its own; the registration manager also shares
   * verifications in flight and keeps successes in the node state (see `SharedVerifier`).
   */
  cacheSize?: number | undefined;
}

/** Options of {@link ParallelVerifier.verify}. */
export interface ParallelVerifyOptions extends AbortOptions {
  /** The proof's reference when the caller has it already; saves hashing the proof again. */
  proofRef?: Uint8Array | undefined;
}

interface WorkerSlot {
  readonly worker: Worker;
  ready: boolean;
}

/**
 * Verifies PoET proofs with every core, without blocking the event loop for more than about a
 * millisecond at a time. Create one per process and share it; close it when done.
 *
 * @example
 * ```ts
 * await using verifier = createParallelVerifier();
 * await verifier.verify(proof, membershipRoot(members), { signal });
 * ```
 */
export class ParallelVerifier {
  readonly #hasher: PoswHasher;
  readonly #kernel: HasherKernel;
  readonly #securityParam: number;
  readonly #cacheSize: number;
  readonly #targetWorkers: number;
  readonly #slots = new Set<WorkerSlot>();
  readonly #jobs = new Set<LabelJob>();
  readonly #control = new Int32Array(new SharedArrayBuffer(8));
  readonly #cache = new Map<string, true | ProofVerificationError>();
  readonly #readyWaiters = new Set<() => void>();
  readonly #warmUp: Promise<void>;
  #startFailures = 0;
  #closed = false;

  /** Prefer {@link createParallelVerifier}. */
  constructor(options: ParallelVerifierOptions = {}) {
    this.#kernel = options.kernel ?? "auto";
    this.#hasher = this.#kernel === "auto" ? sharedPoswHasher() : createPoswHasher(this.#kernel);
    this.#securityParam = resolveSecurityParam(options.securityParam);
    this.#cacheSize = Math.max(0, Math.floor(options.cacheSize ?? 64));
    // the cache key's BLAKE3 kernel (the proof reference), compiled and warmed now rather than on
    // the first proof
    if (this.#cacheSize > 0) sharedMembershipHasher();
    this.#targetWorkers = Math.max(0, Math.floor(options.workers ?? availableParallelism() - 1));
    this.#startWorkers();
    this.#warmUp = this.#runWarmUp();
  }

  /** Worker threads currently running. */
  get workers(): number {
    return this.#slots.size;
  }

  /**
   * Resolves once every worker has started and warmed up its kernel, and the calling thread has
   * warmed up its own steps (verification does not need this: it starts at once, runs slower
   * until then, and workers join in as they come up).
   */
  async ready(options: AbortOptions = {}): Promise<void> {
    const { signal } = options;
    throwIfAborted(signal);
    await raceAbort(this.#warmUp, signal);
    while (!this.#closed && [...this.#slots].some((slot) => !slot.ready)) {
      await new Promise<void>((resolve, reject) => {
        const onAbort = (): void => {
          this.#readyWaiters.delete(wake);
          reject(abortedError(signal as AbortSignal));
        };
        const wake = (): void => {
          signal?.removeEventListener("abort", onAbort);
          this.#readyWaiters.delete(wake);
          resolve();
        };
        this.#readyWaiters.add(wake);
        signal?.addEventListener("abort", onAbort, { once: true });
      });
    }
  }

  /**
   * Verifies a PoET proof against its statement (the round's membership root); resolves when the
   * proof is valid, with the same verdicts as `verifyPoetProof`.
   *
   * @throws {ProofVerificationError} with the `reason` of the first check that failed.
   * @throws {AbortedError} when `signal` aborts or the verifier is closed.
   * @example
   * ```ts
   * try {
   *   await verifier.verify(proof, statement, { signal });
   * } catch (err) {
   *   if (err instanceof ProofVerificationError) console.warn(err.reason, err.message);
   * }
   * ```
   */
  async verify(
    proof: PoetProof,
    statement: Uint8Array,
    options: ParallelVerifyOptions = {},
  ): Promise<void> {
    const { signal } = options;
    throwIfAborted(signal);
    this.#assertOpen();
    checkProofStructure(proof, this.#securityParam);
    const key = this.#cacheSize > 0 ? this.#cacheKey(proof, statement, options.proofRef) : "";
    const known = this.#cache.get(key);
    if (known !== undefined) {
      this.#remember(key, known);
      if (known === true) return;
      throw known;
    }
    try {
      await this.#verify(proof, statement, signal);
      this.#remember(key, true);
    } catch (err) {
      if (err instanceof ProofVerificationError) this.#remember(key, err);
      throw err;
    }
  }

  /** Stops the workers; verifications still running reject with {@link AbortedError}. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const job of this.#jobs) job.cancel();
    Atomics.store(this.#control, CONTROL_STOP, 1);
    Atomics.notify(this.#control, CONTROL_SEQUENCE);
    this.#wakeReadyWaiters();
    const slots = [...this.#slots];
    this.#slots.clear();
    this.#cache.clear();
    await Promise.all(slots.map((slot) => slot.worker.terminate()));
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  async #verify(
    proof: PoetProof,
    statement: Uint8Array,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    const hasher = this.#hasher;
    const indices = fiatShamirIndices(proof.root, proof.leaves, this.#securityParam, hasher);
    this.#startWorkers();
    const { job, tree } = this.#labelJob(
      indices,
      proof.provenLeaves,
      proof.proofNodes,
      statement,
      () => checkProofTree(proof, statement, indices, hasher),
      true,
    );
    if (tree !== undefined && !equalBytes(tree.root(), proof.root)) {
      job.cancel();
      // the sequential check throws the same error, worded as the reference words it
      checkProofTree(proof, statement, indices, hasher);
      throw new PoetError("internal", "the staged and the sequential tree checks disagree");
    }
    const labels = await this.#labels(job, signal);
    compareLabels(labels, indices, proof.provenLeaves);
  }

  /**
   * The label job of a proof's leaves. When there are workers and the proof has the usual shape,
   * the tree is staged: the job goes to the workers empty (with `dispatch`), its chunks are
   * published here as the tree is hashed, and the returned `tree` still has its root to be
   * checked. Otherwise the job is built at once from `snapshots()`, which checks the tree itself.
   */
  #labelJob(
    indices: readonly bigint[],
    leaves: readonly Uint8Array[],
    nodes: readonly Uint8Array[],
    statement: Uint8Array,
    snapshots: () => readonly ParkingSnapshot[],
    dispatch: boolean,
  ): { job: LabelJob; tree: StagedTree | undefined } {
    const tree =
      this.#slots.size > 0
        ? StagedTree.create(indices, leaves, nodes, statement, this.#hasher)
        : undefined;
    if (tree === undefined) {
      const job = createLabelJob(statement, indices, snapshots(), CHUNK_LABELS);
      if (dispatch) this.#dispatch(job);
      return { job, tree };
    }
    const lengths = indices.map((_, j) => tree.inputLength(j));
    const job = createStagedLabelJob(statement, lengths, CHUNK_LABELS);
    if (dispatch) this.#dispatch(job);
    try {
      this.#stage(tree, job, indices);
    } catch (err) {
      job.cancel();
      throw err;
    }
    return { job, tree };
  }

  /**
   * Hashes `tree` in stages and publishes the label chunks each stage completes: one chunk, then
   * two, four and so on, so that the workers start after the first few dozen parents and the
   * later stages are still large enough to fill the SIMD lanes level by level.
   */
  #stage(tree: StagedTree, job: LabelJob, indices: readonly bigint[]): void {
    let written = 0;
    let step = 1;
    for (let chunks = 0; chunks < job.chunks; step *= 2) {
      chunks = Math.min(job.chunks, chunks + step);
      const last = Math.min(indices.length, chunks * CHUNK_LABELS) - 1;
      tree.hashTo(tree.readyAfter(last));
      for (; written <= last; written++)
        tree.writeInput(written, indices[written]!, job.input(written));
      job.publish(chunks);
    }
    tree.hashTo(tree.opCount);
  }

  /** Hands `job` to every worker; they compute its chunks as they are published. */
  #dispatch(job: LabelJob): void {
    if (this.#slots.size === 0) return;
    for (const slot of this.#slots) slot.worker.postMessage(job.buffer);
    Atomics.add(this.#control, CONTROL_SEQUENCE, 1);
    Atomics.notify(this.#control, CONTROL_SEQUENCE);
  }

  /**
   * Computes the chunks of `job` the workers leave (every chunk when there is no worker); resolves
   * with its labels.
   */
  async #labels(job: LabelJob, signal: AbortSignal | undefined): Promise<Uint8Array> {
    this.#jobs.add(job);
    const onAbort = (): void => job.cancel();
    signal?.addEventListener("abort", onAbort, { once: true });
    try {
      while (job.work(this.#hasher, CHUNKS_PER_TURN) > 0) {
        await yieldToEventLoop();
        throwIfAborted(signal);
        this.#assertOpen();
      }
      // the workers are finishing their last chunks: sleep on the job's counter, briefly
      for (let slices = 0; !job.waitComplete(WAIT_SLICE_MS); slices++) {
        if (this.#slots.size === 0 || slices >= MAX_WAIT_SLICES) {
          job.completeAll(this.#hasher);
          break;
        }
        await yieldToEventLoop();
        throwIfAborted(signal);
        this.#assertOpen();
      }
      return job.labels();
    } finally {
      signal?.removeEventListener("abort", onAbort);
      this.#jobs.delete(job);
      job.cancel();
    }
  }

  /**
   * Runs the calling thread's steps (Fiat–Shamir, the partial tree with its Merkle hashing, the
   * label job and one chunk of labels) on synthetic proofs until V8 has optimised them: zero leaves
   * and nodes in the shape of a proof of {@link WARM_UP_LEAVES} leaves, through the same
   * {@link #labelJob} as a verification but without handing the job to the workers. The root and
   * the labels are not checked, which is all that differs from a real verification. Stops early when the verifier closes; never rejects.
   */
  async #runWarmUp(): Promise<void> {
    const statement = new Uint8Array(32);
    const zero = new Uint8Array(32);
    const height = treeHeight(WARM_UP_LEAVES);
    const treeHasher = poswNodeHash(this.#hasher, statement);
    for (let round = 0; round < WARM_UP_PROOFS; round++) {
      await yieldToEventLoop();
      if (this.#closed) return;
      try {
        const seed = new Uint8Array(32);
        new DataView(seed.buffer).setUint32(0, round);
        const indices = fiatShamirIndices(seed, WARM_UP_LEAVES, this.#securityParam, this.#hasher);
        const leaves = indices.map(() => zero);
        const nodes = partialTreeProofPositions(indices, height).map(() => zero);
        const { job } = this.#labelJob(
          indices,
          leaves,
          nodes,
          statement,
          () => validatePartialTree(indices, leaves, nodes, treeHasher).snapshots,
          false,
        );
        job.work(this.#hasher, 1);
      } catch {
        // only a broken kernel gets here, and a failed warm-up merely leaves the code cold
        return;
      }
    }
  }

  #startWorkers(): void {
    while (
      !this.#closed &&
      this.#slots.size < this.#targetWorkers &&
      this.#startFailures < MAX_START_FAILURES
    ) {
      this.#spawn();
    }
  }

  #spawn(): void {
    const workerData: LabelWorkerData = {
      kernel: this.#kernel,
      control: this.#control.buffer as SharedArrayBuffer,
    };
    let worker: Worker;
    if (import.meta.url.endsWith(".ts")) {
      // From `src` under tsx. Node 20 does not apply `--import` loaders to a worker's entry
      // module, so a plain-JavaScript entry registers tsx first and then imports the worker.
      const tsx = import.meta.resolve("tsx/esm/api");
      const entry = new URL("./label-worker.ts", import.meta.url).href;
      const bootstrap =
        `import(${JSON.stringify(tsx)})` +
        `.then((tsx) => { tsx.register(); return import(${JSON.stringify(entry)}); });`;
      worker = new Worker(bootstrap, { eval: true, workerData });
    } else {
      worker = new Worker(new URL("./label-worker.js", import.meta.url), { workerData });
    }
    worker.unref();
    const slot: WorkerSlot = { worker, ready: false };
    this.#slots.add(slot);
    worker.on("message", (message: LabelWorkerMessage) => {
      if (message.type === "ready") {
        slot.ready = true;
        this.#wakeReadyWaiters();
      }
    });
    worker.on("error", () => this.#lost(slot));
    worker.on("exit", () => this.#lost(slot));
  }

  /** A worker died: the calling thread finishes whatever it had claimed (see {@link #labels}). */
  #lost(slot: WorkerSlot): void {
    if (!this.#slots.delete(slot)) return;
    if (!slot.ready) this.#startFailures++;
    this.#wakeReadyWaiters();
  }

  #cacheKey(proof: PoetProof, statement: Uint8Array, ref: Uint8Array | undefined): string {
    return `${toHex(ref ?? proofRef(proof))}:${toHex(statement)}`;
  }

  #wakeReadyWaiters(): void {
    for (const wake of [...this.#readyWaiters]) wake();
  }

  #remember(key: string, verdict: true | ProofVerificationError): void {
    if (this.#cacheSize === 0) return;
    this.#cache.delete(key);
    this.#cache.set(key, verdict);
    while (this.#cache.size > this.#cacheSize) {
      this.#cache.delete(this.#cache.keys().next().value as string);
    }
  }

  #assertOpen(): void {
    if (this.#closed) throw new AbortedError("the verifier is closed");
  }
}

/**
 * Creates a {@link ParallelVerifier} and starts its workers (one fewer than the cores by default).
 *
 * @example
 * ```ts
 * const verifier = createParallelVerifier({ workers: 1 });
 * try {
 *   await verifier.verify(proof, statement);
 * } finally {
 *   await verifier.close();
 * }
 * ```
 */
export function createParallelVerifier(options: ParallelVerifierOptions = {}): ParallelVerifier {
  return new ParallelVerifier(options);
}
