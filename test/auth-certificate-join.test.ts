import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { CertificateCache, createEd25519Signer } from "../src/auth/index.js";
import { ManualClock } from "../src/clock.js";
import { AbortedError } from "../src/errors.js";
import { encodeCertificate } from "../src/wire/index.js";

describe("a caller joining a running certification", () => {
  it("stops waiting when its own signal fires, while the certification goes on", async () => {
    const node = createEd25519Signer(new Uint8Array(32).fill(1));
    const certifierSigner = createEd25519Signer(new Uint8Array(32).fill(2));
    const certifier = { url: "http://127.0.0.1:1", pubkey: certifierSigner.nodeId };
    const data = encodeCertificate({ pubkey: node.nodeId });
    const issued = { data, signature: await certifierSigner.sign(data) };
    let release: () => void = () => {};
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    let obtained = 0;
    const obtain = async () => {
      obtained++;
      await released;
      return issued;
    };
    const cache = new CertificateCache({ clock: new ManualClock(0) });
    const leader = cache.get(node.nodeId, certifier, obtain);
    const controller = new AbortController();
    let joinerSettled = false;
    const joiner = cache.get(node.nodeId, certifier, obtain, { signal: controller.signal });
    joiner.then(
      () => {
        joinerSettled = true;
      },
      () => {
        joinerSettled = true;
      },
    );
    controller.abort(new Error("gave up"));
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
    const joinerSettledBeforeRelease = joinerSettled;
    release();
    assert.ok(joinerSettledBeforeRelease, "the joiner still waits for the leader's certification");
    await assert.rejects(joiner, (err: unknown) => {
      assert.ok(err instanceof AbortedError);
      assert.equal((err.cause as Error).message, "gave up");
      return true;
    });
    assert.deepEqual(await leader, issued);
    assert.equal(obtained, 1);
  });
});
