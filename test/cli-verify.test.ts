import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import { proofResponseJson } from "../src/cli/proof-file.js";
import { cli } from "./cli-helpers.js";
import { fromHex, loadProofVectors, type ProofVector, proofOf } from "./helpers/proof-vectors.js";
import { tempDir } from "./helpers/temp-dir.js";

const tmp = tempDir("poet-cli-verify-");
const fixtures = path.join(import.meta.dirname, "fixtures");

const valid = loadProofVectors("test/fixtures/poet-proofs.json");
const real = loadProofVectors("test/fixtures/real-server/poet-proofs-real-server.json");

/** Writes a real server's proof in the PoET answer format, as `fetch-proof --out` saves it. */
function saveAnswer(v: ProofVector, name: string, mutate?: (leaves: Uint8Array[]) => void): string {
  const proof = proofOf(v);
  mutate?.(proof.provenLeaves);
  const json = proofResponseJson(
    proof,
    (v.members ?? []).map(fromHex),
    fromHex(v.service_pubkey ?? ""),
  );
  const file = tmp.file(name);
  fs.writeFileSync(file, JSON.stringify(json));
  return file;
}

describe("poet-client verify", () => {
  const server = real.find((v) => (v.members?.length ?? 0) > 1) ?? (real[0] as ProofVector);

  it("verifies a proof saved from a real PoET and prints leaves, ticks and ref as JSON", async () => {
    const file = saveAnswer(server, "real.json");
    const r = await cli(["verify", file, "--tick-size", "1000", "--json"]);
    assert.equal(r.code, 0, r.err + r.out);
    const body = JSON.parse(r.out);
    assert.equal(body.ok, true);
    assert.equal(body.valid, true);
    assert.equal(body.leaves, server.leaves_decimal);
    assert.equal(body.ticks, (BigInt(server.leaves_decimal) / 1000n).toString());
    assert.equal(body.ref, server.proof_ref);
    assert.equal(body.members, server.members?.length);
    assert.equal(body.statement, server.statement);
  });

  it("checks that a challenge is a member and that its path verifies", async () => {
    const file = saveAnswer(server, "member.json");
    const member = server.members?.at(-1) as string;
    const r = await cli([
      "verify",
      file,
      "--challenge",
      member,
      "--pubkey",
      server.service_pubkey as string,
      "--json",
    ]);
    assert.equal(r.code, 0, r.err);
    const body = JSON.parse(r.out);
    assert.equal(body.membership.member, true);
    assert.equal(body.membership.leafIndex, (server.members?.length ?? 0) - 1);
    assert.equal(body.membership.valid, true);
    assert.equal(body.pubkeyMatches, true);

    const stranger = await cli(["verify", file, "--challenge", "ab".repeat(32), "--json"]);
    assert.equal(stranger.code, 3);
    assert.equal(JSON.parse(stranger.out).reason, "missing-member");
  });

  it("exits 3 for a proof with a flipped proven leaf, naming the failed check", async () => {
    const file = saveAnswer(server, "bad.json", (leaves) => {
      (leaves[0] as Uint8Array)[0]! ^= 1;
    });
    const r = await cli(["verify", file]);
    assert.equal(r.code, 3);
    assert.match(r.out, /INVALID \((merkle-root-mismatch|label-mismatch)\)/);
  });

  it("reads test-vector files and checks every outcome against the Go verifier's", async () => {
    const ok = await cli(["verify", path.join(fixtures, "poet-proofs-invalid.json"), "--json"]);
    assert.equal(ok.code, 0, ok.err);
    const body = JSON.parse(ok.out);
    assert.ok(body.proofs.length > 10);
    assert.ok(
      body.proofs.every(
        (p: { valid: boolean; matchesExpectation: boolean }) => !p.valid && p.matchesExpectation,
      ),
    );
  });

  it("verifies a single valid vector with its reduced security parameter", async () => {
    const v = valid.find((x) => x.name === "leaves-100-T-10") as ProofVector;
    const file = tmp.file("vector.json");
    fs.writeFileSync(file, JSON.stringify(v));
    const r = await cli(["verify", file, "--json"]);
    assert.equal(r.code, 0, r.err);
    assert.equal(JSON.parse(r.out).ref, v.proof_ref);
  });

  it("exits 1 for a missing file and 2 for a malformed challenge", async () => {
    const missing = await cli(["verify", tmp.file("none.json")]);
    assert.equal(missing.code, 1);
    assert.match(missing.err, /cannot read/);
    const file = saveAnswer(server, "args.json");
    const bad = await cli(["verify", file, "--challenge", "xyz"]);
    assert.equal(bad.code, 2);
    assert.match(bad.err, /--challenge/);
    assert.equal((await cli(["verify"])).code, 2);
  });

  it("exits 1 with a WireFormatError message for a file that is not a proof", async () => {
    const file = tmp.file("junk.json");
    fs.writeFileSync(file, '{"hello": 1}');
    const r = await cli(["verify", file]);
    assert.equal(r.code, 1);
    assert.match(r.err, /neither a PoET proof response/);
  });
});
