import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  fiatShamirIndices,
  JsPoswHasher,
  labelInputs,
  poswNodeHash,
  validatePartialTree,
} from "../src/verify/index.js";
import {
  CHUNK_NOT_PUBLISHED,
  createLabelJob,
  createStagedLabelJob,
  NO_CHUNK,
} from "../src/verify/pool/label-job.js";
import { StagedTree } from "../src/verify/staged-tree.js";
import { sharedPoswHasher } from "../src/verify/wasm/index.js";
import { fromHex, loadProofVectors, type ProofVector } from "./helpers/proof-vectors.js";

const valid = loadProofVectors("test/fixtures/poet-proofs.json");
const hasher = sharedPoswHasher();

function parts(vector: ProofVector) {
  const statement = fromHex(vector.statement);
  const leaves = vector.proven_leaves.map(fromHex);
  const nodes = vector.proof_nodes.map(fromHex);
  const indices = fiatShamirIndices(
    fromHex(vector.root),
    BigInt(vector.leaves_decimal),
    vector.security_param,
  );
  return { statement, leaves, nodes, indices };
}

describe("the staged partial tree", () => {
  it("completes every snapshot by readyAfter, and ends at the sequential root", () => {
    for (const vector of valid) {
      const { statement, leaves, nodes, indices } = parts(vector);
      const expected = labelInputs(
        indices,
        validatePartialTree(indices, leaves, nodes, poswNodeHash(hasher, statement)).snapshots,
      );
      const tree = StagedTree.create(indices, leaves, nodes, statement, hasher);
      assert.ok(tree !== undefined, vector.name);
      let previous = 0;
      for (let j = 0; j < indices.length; j++) {
        const needed: number = tree.readyAfter(j);
        assert.ok(needed >= previous && needed <= tree.opCount, `${vector.name}: leaf ${j}`);
        previous = needed;
        tree.hashTo(needed);
        const input: Uint8Array = new Uint8Array(tree.inputLength(j));
        tree.writeInput(j, indices[j]!, input);
        assert.deepEqual(input, expected[j], `${vector.name}: input ${j} after ${needed} parents`);
      }
      tree.hashTo(tree.opCount);
      assert.equal(tree.hashed, tree.opCount);
      assert.deepEqual(tree.root(), fromHex(vector.root), vector.name);
    }
  });

  it("declines proofs of another shape, for the sequential checks to name", () => {
    const { statement, leaves, nodes, indices } = parts(
      valid.find((v) => v.name === "leaves-1048576-T-150")!,
    );
    const create = (l = leaves, n = nodes, i = indices, h = hasher) =>
      StagedTree.create(i, l, n, statement, h);
    assert.ok(create() !== undefined);
    assert.equal(create(leaves, [nodes[0]!.subarray(0, 31), ...nodes.slice(1)]), undefined);
    assert.equal(create([leaves[0]!.subarray(0, 31), ...leaves.slice(1)]), undefined);
    assert.equal(create(leaves, nodes.slice(0, 10)), undefined, "leaves the walk never reaches");
    assert.equal(create(leaves, nodes, [...indices].reverse()), undefined, "unsorted indices");
    assert.equal(create(leaves, nodes, indices, new JsPoswHasher()), undefined, "no batch hasher");
  });
});

describe("a staged label job", () => {
  it("hands out only published chunks, and none once cancelled", () => {
    const job = createStagedLabelJob(new Uint8Array(32), [8, 40, 8, 72, 8], 2);
    assert.equal(job.chunks, 3);
    assert.equal(job.claim(), CHUNK_NOT_PUBLISHED);
    job.publish(1);
    assert.equal(job.claim(), 0);
    assert.equal(job.claim(), CHUNK_NOT_PUBLISHED);
    job.publish(3);
    assert.equal(job.claim(), 1);
    job.cancel();
    assert.equal(job.claim(), NO_CHUNK);
  });

  it("lays out the same inputs and labels as a job built at once", () => {
    const vector = valid.find((v) => v.name === "leaves-1048576-T-150")!;
    const { statement, leaves, nodes, indices } = parts(vector);
    const snapshots = validatePartialTree(
      indices,
      leaves,
      nodes,
      poswNodeHash(hasher, statement),
    ).snapshots;
    const whole = createLabelJob(statement, indices, snapshots, 4);
    const tree = StagedTree.create(indices, leaves, nodes, statement, hasher)!;
    tree.hashTo(tree.opCount);
    const staged = createStagedLabelJob(
      statement,
      indices.map((_, j) => tree.inputLength(j)),
      4,
    );
    for (let j = 0; j < indices.length; j++) tree.writeInput(j, indices[j]!, staged.input(j));
    for (let j = 0; j < indices.length; j++) assert.deepEqual(staged.input(j), whole.input(j));
    staged.publish(staged.chunks);
    assert.equal(staged.work(hasher), staged.chunks);
    assert.equal(whole.work(hasher), whole.chunks);
    assert.deepEqual(staged.labels(), whole.labels());
    assert.deepEqual(staged.labels().subarray(0, 32), leaves[0], "the first label is the leaf");
  });
});
