import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { pathToFileURL } from "node:url";
import { blake3 } from "@noble/hashes/blake3.js";
import { membershipRoot } from "../src/membership/index.js";
import { fiatShamirIndices, JsPoswHasher } from "../src/verify/index.js";
import {
  createMembershipHasher,
  createPoswHasher,
  createWasmMembershipHasher,
  createWasmPoswHasher,
  sharedMembershipHasher,
  sharedPoswHasher,
  wasmSimdSupported,
} from "../src/verify/wasm/index.js";
import { nodeModule } from "./helpers/node-script.js";
import { fromHex, loadProofVectors } from "./helpers/proof-vectors.js";

/** A small deterministic generator, so a failure can be replayed. */
function randomBytes(seed: number): (length: number) => Uint8Array {
  let state = seed >>> 0;
  return (length) => {
    const out = new Uint8Array(length);
    for (let i = 0; i < length; i++) {
      state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
      out[i] = state >>> 24;
    }
    return out;
  };
}

const sha256 = (data: Uint8Array): Uint8Array => createHash("sha256").update(data).digest();

function chained(data: Uint8Array, depth: number): Uint8Array {
  let x = sha256(data);
  for (let k = 1; k < depth; k++) x = sha256(x);
  return x;
}

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString("hex");

describe("the WebAssembly SHA-256 kernel", () => {
  it("is available on this engine", () => {
    assert.equal(wasmSimdSupported(), true);
    assert.equal(createPoswHasher().name, "wasm-simd");
    assert.equal(sharedPoswHasher(), sharedPoswHasher());
  });

  it("agrees with node:crypto on every length from 0 to 300 bytes", () => {
    const hasher = createWasmPoswHasher();
    const random = randomBytes(1);
    const out = new Uint8Array(32);
    for (let length = 0; length <= 300; length++) {
      const data = random(length);
      hasher.sha256(data, out);
      assert.equal(hex(out), hex(sha256(data)), `length ${length}`);
    }
  });

  it("hashes salted Merkle nodes of any part lengths", () => {
    const hasher = createWasmPoswHasher();
    const random = randomBytes(2);
    const out = new Uint8Array(32);
    for (const [s, l, r] of [
      [32, 32, 32],
      [0, 0, 0],
      [32, 31, 32],
      [7, 64, 100],
    ] as const) {
      const statement = random(s);
      const left = random(l);
      const right = random(r);
      hasher.merkle(statement, left, right, out);
      assert.equal(hex(out), hex(sha256(Buffer.concat([statement, left, right]))));
    }
  });

  it("computes 400-deep labels of inputs of many lengths, four chains at a time", () => {
    const hasher = createWasmPoswHasher();
    const js = new JsPoswHasher();
    const random = randomBytes(3);
    const statement = random(32);
    for (const count of [0, 1, 3, 4, 5, 9]) {
      const inputs = Array.from({ length: count }, (_, j) => random(8 + ((j * 37) % 300)));
      const fast = new Uint8Array(32 * count);
      const slow = new Uint8Array(32 * count);
      hasher.labels(statement, inputs, fast);
      js.labels(statement, inputs, slow);
      assert.equal(hex(fast), hex(slow), `${count} labels`);
    }
    const one = random(8 + 32 * 5);
    const out = new Uint8Array(32);
    hasher.labels(statement, [one], out);
    assert.equal(hex(out), hex(chained(Buffer.concat([statement, one]), 400)));
  });

  it("hashes batches of independent messages across block boundaries", () => {
    const hasher = createWasmPoswHasher();
    const random = randomBytes(4);
    const messages = Array.from({ length: 301 }, (_, length) => random(length));
    const out = new Uint8Array(32 * messages.length);
    hasher.sha256Many(messages, out);
    messages.forEach((message, j) => {
      assert.equal(hex(out.subarray(32 * j, 32 * j + 32)), hex(sha256(message)), `length ${j}`);
    });
  });

  it("hashes a level of Merkle nodes in one call", () => {
    const hasher = createWasmPoswHasher();
    const random = randomBytes(5);
    const statement = random(32);
    for (const count of [1, 2, 4, 7, 64]) {
      const children = random(64 * count);
      const out = new Uint8Array(32 * count);
      hasher.merkleMany(statement, children, count, out);
      for (let i = 0; i < count; i++) {
        const expected = sha256(Buffer.concat([statement, children.subarray(64 * i, 64 * i + 64)]));
        assert.equal(hex(out.subarray(32 * i, 32 * i + 32)), hex(expected));
      }
    }
  });

  it("derives the Fiat–Shamir indices of every vector like the reference", () => {
    const hasher = createWasmPoswHasher();
    for (const vector of loadProofVectors("test/fixtures/poet-proofs.json")) {
      const indices = fiatShamirIndices(
        fromHex(vector.root),
        BigInt(vector.leaves_decimal),
        vector.security_param,
        hasher,
      );
      assert.deepEqual(indices, vector.fiat_shamir_indices!.map(BigInt));
    }
    const random = randomBytes(6);
    for (const leaves of [150n, 151n, 1000n, 2n ** 64n - 1n, 3n]) {
      const root = random(32);
      assert.deepEqual(
        fiatShamirIndices(root, leaves, 150, hasher),
        fiatShamirIndices(root, leaves, 150, new JsPoswHasher()),
      );
    }
  });

  it("runs a planned partial tree a level per call like one parent at a time", () => {
    const hasher = createWasmPoswHasher();
    const random = randomBytes(8);
    for (const statementLength of [32, 0, 40]) {
      const statement = random(statementLength);
      // 6 given nodes, parents 6..11 in three levels; level 2 has more than four lanes' worth
      const arena = new Uint8Array(32 * 12);
      arena.set(random(32 * 6));
      const ops = Int32Array.from([0, 1, 6, 2, 3, 7, 4, 5, 8, 1, 0, 9, 6, 7, 10, 10, 8, 11]);
      const plan = { ops, levelEnds: [4, 5, 6] };
      const expected = arena.slice();
      for (let k = 0; k < 6; k++) {
        const [l, r, p] = [ops[3 * k]!, ops[3 * k + 1]!, ops[3 * k + 2]!];
        const node = sha256(
          Buffer.concat([
            statement,
            expected.subarray(32 * l, 32 * l + 32),
            expected.subarray(32 * r, 32 * r + 32),
          ]),
        );
        expected.set(node, 32 * p);
      }
      hasher.merklePlan(statement, arena, plan);
      assert.equal(hex(arena), hex(expected), `statement of ${statementLength} bytes`);
    }
  });

  it("keeps working after its memory grows", () => {
    const hasher = createWasmPoswHasher();
    const random = randomBytes(7);
    const big = random(300_000);
    const out = new Uint8Array(32);
    hasher.sha256(big, out);
    assert.equal(hex(out), hex(sha256(big)));
    const inputs = Array.from({ length: 40 }, () => random(5_000));
    const labels = new Uint8Array(32 * inputs.length);
    hasher.labels(random(32), inputs, labels);
    hasher.merkle(new Uint8Array(32), out, out, out);
    assert.equal(
      hex(out),
      hex(sha256(Buffer.concat([new Uint8Array(32), sha256(big), sha256(big)]))),
    );
  });
});

describe("the WebAssembly BLAKE3 kernel", () => {
  const node = (input: Uint8Array): Uint8Array => blake3(Buffer.concat([Buffer.from([1]), input]));

  it("agrees with @noble/hashes on membership-tree nodes, four lanes or fewer", () => {
    const hasher = createWasmMembershipHasher();
    const random = randomBytes(8);
    for (let pairs = 0; pairs <= 13; pairs++) {
      const input = random(64 * pairs);
      const out = new Uint8Array(32 * pairs);
      hasher.hashPairs(input, pairs, out);
      for (let i = 0; i < pairs; i++) {
        assert.equal(
          hex(out.subarray(32 * i, 32 * i + 32)),
          hex(node(input.subarray(64 * i, 64 * i + 64))),
          `${pairs} pairs, node ${i}`,
        );
      }
    }
  });

  it("builds the membership roots of the vectors", () => {
    const hasher = createWasmMembershipHasher();
    const file = JSON.parse(readFileSync("test/fixtures/membership.json", "utf8")) as {
      trees: { members: string[]; root: string }[];
    };
    for (const tree of file.trees) {
      const members = tree.members.map(fromHex);
      assert.equal(hex(hasher.root(members)), tree.root, `${members.length} members`);
      assert.equal(
        hex(membershipRoot(members, { hasher: createMembershipHasher() })),
        tree.root,
        `${members.length} members through the tree code`,
      );
    }
  });

  it("agrees with the JavaScript tree on every size up to 70 and on 100,000 members", () => {
    const hasher = sharedMembershipHasher() as ReturnType<typeof createWasmMembershipHasher>;
    const random = randomBytes(9);
    for (let count = 0; count <= 70; count++) {
      const members = Array.from({ length: count }, () => random(32));
      const js = membershipRoot(members, { hasher: createMembershipHasher("js") });
      assert.equal(hex(hasher.root(members)), hex(js), `${count} members`);
    }
    const many = Array.from({ length: 100_000 }, () => random(32));
    assert.equal(
      hex(hasher.root(many)),
      hex(membershipRoot(many, { hasher: createMembershipHasher("js") })),
    );
  });

  it("hashes messages of any length like @noble/hashes, across chunk boundaries", () => {
    const hasher = createWasmMembershipHasher();
    const random = randomBytes(9);
    const lengths = [
      0, 1, 63, 64, 65, 1023, 1024, 1025, 2048, 3073, 4096, 4097, 7169, 8192, 66_000,
    ];
    for (let length = 0; length < 2200; length += 37) lengths.push(length);
    for (const length of lengths) {
      const message = random(length);
      assert.equal(hex(hasher.blake3(message)), hex(blake3(message)), `length ${length}`);
    }
  });

  it("rejects members that are not 32 bytes", () => {
    const hasher = createWasmMembershipHasher();
    assert.throws(() => hasher.root([new Uint8Array(32), new Uint8Array(31)]), {
      name: "WireFormatError",
      field: "members[1]",
    });
  });
});

describe("the hasher selection", () => {
  it("gives the JavaScript hashers when asked", () => {
    assert.equal(createPoswHasher("js").name, "js");
    assert.equal(createMembershipHasher("js").name, "js-blake3");
  });

  it("falls back to JavaScript when the engine has no WebAssembly SIMD", () => {
    const { loader, file } = nodeModule("../src/verify/wasm/index.ts", import.meta.url);
    const script = [
      "WebAssembly.validate = () => false;",
      `const m = await import(${JSON.stringify(pathToFileURL(file).href)});`,
      "const out = new Uint8Array(32);",
      "const h = m.createPoswHasher();",
      'h.sha256(new TextEncoder().encode("abc"), out);',
      "process.stdout.write(JSON.stringify([m.wasmSimdSupported(), h.name,",
      '  m.createMembershipHasher().name, Buffer.from(out).toString("hex")]));',
    ].join("\n");
    const output = execFileSync(
      process.execPath,
      [...loader, "--input-type=module", "--eval", script],
      { encoding: "utf8" },
    );
    assert.deepEqual(JSON.parse(output), [
      false,
      "js",
      "js-blake3",
      "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
    ]);
    assert.throws(() => createPoswHasher("fast" as "js"), { name: "ConfigError" });
  });
});
