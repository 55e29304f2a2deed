import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { proofRef, verifyPoetProofSync } from "../src/verify/index.js";
import { createParallelVerifier, type ParallelVerifier } from "../src/verify/pool/index.js";
import { fromHex, loadProofVectors, type ProofVector, proofOf } from "./helpers/proof-vectors.js";

function describeError(err: unknown): string {
  if (!(err instanceof Error)) throw err;
  return `${err.name} ${(err as Error & { reason?: string }).reason}: ${err.message}`;
}

function syncVerdict(vector: ProofVector): string {
  try {
    verifyPoetProofSync(proofOf(vector), fromHex(vector.statement), {
      securityParam: vector.security_param,
    });
    return "valid";
  } catch (err) {
    return describeError(err);
  }
}

async function parallelVerdict(verifier: ParallelVerifier, vector: ProofVector): Promise<string> {
  try {
    await verifier.verify(proofOf(vector), fromHex(vector.statement));
    return "valid";
  } catch (err) {
    return describeError(err);
  }
}

const vectors = [
  ...loadProofVectors("test/fixtures/poet-proofs.json"),
  ...loadProofVectors("test/fixtures/poet-proofs-invalid.json"),
  ...loadProofVectors("test/fixtures/real-server/poet-proofs-real-server.json"),
];
const production = vectors.filter((vector) => vector.security_param === 150);
const byName = (name: string): ProofVector => vectors.find((vector) => vector.name === name)!;

/** How many turns the event loop takes while `body` runs. */
async function turnsDuring(body: () => Promise<void>): Promise<number> {
  let turns = 0;
  let spinning = true;
  const spin = (): void => {
    turns++;
    if (spinning) setImmediate(spin);
  };
  setImmediate(spin);
  try {
    await body();
  } finally {
    spinning = false;
  }
  return turns;
}

describe("the parallel verifier", () => {
  let verifier: ParallelVerifier;

  before(async () => {
    verifier = createParallelVerifier({ workers: 1, cacheSize: 0 });
    await verifier.ready();
  });

  after(async () => {
    await verifier.close();
  });

  it("starts its workers", () => {
    assert.equal(verifier.workers, 1);
  });

  it("gives the sequential verifier's verdict on every vector", async () => {
    for (const vector of production) {
      assert.equal(await parallelVerdict(verifier, vector), syncVerdict(vector), vector.name);
    }
  });

  it("gives the same verdicts on the calling thread alone, with any security parameter", async () => {
    const reduced = vectors.filter((vector) => vector.security_param !== 150);
    assert.ok(reduced.length > 0);
    for (const vector of reduced) {
      await using alone = createParallelVerifier({
        workers: 0,
        securityParam: vector.security_param,
      });
      assert.equal(await parallelVerdict(alone, vector), syncVerdict(vector), vector.name);
    }
  });

  it("verifies several proofs at once, each with its own verdict", async () => {
    const picked = [
      byName("leaves-1048576-T-150"),
      byName("n1000-flip-proven-leaf-0"),
      byName("leaves-65537-T-150"),
    ];
    const verdicts = await Promise.all(picked.map((vector) => parallelVerdict(verifier, vector)));
    assert.deepEqual(verdicts, picked.map(syncVerdict));
  });

  it("lets the event loop run while it verifies", async () => {
    // With no worker the main thread computes every chunk of labels, so the number of turns it
    // yields is fixed by the work, not by how the threads happen to share it.
    await using verifier = createParallelVerifier({ workers: 0, cacheSize: 0 });
    const vector = byName("leaves-1048576-T-150");
    const turns = await turnsDuring(() =>
      verifier.verify(proofOf(vector), fromHex(vector.statement)),
    );
    assert.ok(turns >= 2, `the event loop turned ${turns} times`);
  });

  it("rejects with AbortedError when the signal aborts", async () => {
    const vector = byName("leaves-65537-T-150");
    await assert.rejects(
      verifier.verify(proofOf(vector), fromHex(vector.statement), {
        signal: AbortSignal.abort(),
      }),
      { name: "AbortedError" },
    );
    // An abort while a verification is under way: on the main thread alone, which computes four
    // chunks of labels per turn, so the 38 chunks of this proof take several turns whatever the
    // machine's speed. (With a worker, the worker may finish every chunk while the main thread
    // hashes the tree, and the call then completes before its first turn: no abort can come.)
    await using alone = createParallelVerifier({ workers: 0, cacheSize: 0 });
    const controller = new AbortController();
    const pending = alone.verify(proofOf(vector), fromHex(vector.statement), {
      signal: controller.signal,
    });
    controller.abort();
    await assert.rejects(pending, { name: "AbortedError" });
    await alone.verify(proofOf(vector), fromHex(vector.statement));
    await verifier.verify(proofOf(vector), fromHex(vector.statement));
  });
});

describe("the parallel verifier's cache", () => {
  it("remembers verdicts by proof reference and statement", async () => {
    await using verifier = createParallelVerifier({ workers: 0, cacheSize: 2 });
    const valid = byName("leaves-1000-T-150");
    const invalid = byName("n1000-flip-proven-leaf-0");
    const proof = proofOf(valid);
    await verifier.verify(proof, fromHex(valid.statement));
    await verifier.verify(proof, fromHex(valid.statement), { proofRef: proofRef(proof) });
    const first = await verifier.verify(proofOf(invalid), fromHex(invalid.statement)).then(
      () => assert.fail("an invalid proof verified"),
      (err: unknown) => err,
    );
    const second = await verifier.verify(proofOf(invalid), fromHex(invalid.statement)).then(
      () => assert.fail("an invalid proof verified"),
      (err: unknown) => err,
    );
    assert.equal(second, first, "the cached verdict is returned");
    const other = byName("leaves-65537-T-150");
    await assert.rejects(verifier.verify(proof, fromHex(other.statement)), {
      name: "ProofVerificationError",
    });
  });
});

describe("the parallel verifier's warm-up", () => {
  it("runs in turns of the event loop, and ready() waits for it", async () => {
    await using verifier = createParallelVerifier({ workers: 0, cacheSize: 0 });
    const turns = await turnsDuring(() => verifier.ready());
    // one synthetic proof per turn: the loop turned between them instead of blocking throughout
    assert.ok(turns >= 10, `the event loop turned ${turns} times during the warm-up`);
    const vector = byName("leaves-65537-T-150");
    await verifier.verify(proofOf(vector), fromHex(vector.statement));
  });

  it("stops when the verifier closes, and ready() honours its signal", async () => {
    const verifier = createParallelVerifier({ workers: 0 });
    await assert.rejects(verifier.ready({ signal: AbortSignal.abort() }), { name: "AbortedError" });
    const waiting = verifier.ready();
    await verifier.close();
    await waiting;
  });
});

describe("closing the parallel verifier", () => {
  it("rejects verifications in flight and later ones, and closes twice", async () => {
    const verifier = createParallelVerifier({ workers: 1 });
    const vector = byName("leaves-1048576-T-150");
    const pending = assert.rejects(verifier.verify(proofOf(vector), fromHex(vector.statement)), {
      name: "AbortedError",
    });
    await verifier.close();
    await pending;
    await assert.rejects(verifier.verify(proofOf(vector), fromHex(vector.statement)), {
      name: "AbortedError",
    });
    assert.equal(verifier.workers, 0);
    await verifier.close();
    await verifier[Symbol.asyncDispose]();
  });
});
