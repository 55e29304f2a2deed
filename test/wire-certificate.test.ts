import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { decodeCertificate, encodeCertificate } from "../src/wire/index.js";
import { rejects } from "./helpers/wire-format-error.js";

const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");
const bytes = (h: string): Uint8Array => new Uint8Array(Buffer.from(h, "hex"));
const b64 = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, "base64"));

// Node key of docs/protocol.md Appendix A (ed25519 seed 32 × 0x01).
const nodeId = bytes("8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c");
const expiry = 1735689600n; // 2025-01-01T00:00:00Z

interface IssuedCertificate {
  data: string;
  expiration_unix: number | null;
}
const serverConfig: { certificates_issued_on_B: IssuedCertificate[] } = JSON.parse(
  readFileSync(new URL("./fixtures/real-server/server-config.json", import.meta.url), "utf8"),
);

describe("encodeCertificate / decodeCertificate", () => {
  it("encodes the reference certificate with expiry in 39 bytes", () => {
    const data = encodeCertificate({ pubkey: nodeId, expiration: expiry });
    assert.equal(hex(data), `80${hex(nodeId)}010380857467`);
    assert.equal(data.length, 39);
  });

  it("encodes the reference certificate without expiry in 34 bytes", () => {
    const data = encodeCertificate({ pubkey: nodeId });
    assert.equal(hex(data), `80${hex(nodeId)}00`);
    assert.equal(data.length, 34);
  });

  it("decodes the certificate data of the submit example to the node key and its expiry", () => {
    const cert = decodeCertificate(b64("gIqI4910CfGV/VLbLTy6XXLKZwm/HZQSG/N0iAG0D29cAQOAhXRn"));
    assert.deepEqual(cert.pubkey, nodeId);
    assert.deepEqual(cert.pubkey, b64("iojj3XQJ8ZX9UtstPLpdcspnCb8dlBIb83SIAbQPb1w="));
    assert.equal(cert.expiration, expiry);
    assert.equal(
      new Date(Number(cert.expiration) * 1000).toISOString(),
      "2025-01-01T00:00:00.000Z",
    );
  });

  it("decodes a certificate without expiry with no expiration property", () => {
    const cert = decodeCertificate(bytes(`80${hex(nodeId)}00`));
    assert.deepEqual(cert, { pubkey: nodeId });
    assert.equal("expiration" in cert, false);
  });

  it("decodes and re-encodes the certificates a real certifier issued", () => {
    const issued = serverConfig.certificates_issued_on_B;
    assert.ok(issued.length >= 3);
    for (const c of issued) {
      const cert = decodeCertificate(bytes(c.data));
      assert.equal(cert.pubkey.length, 32);
      assert.equal(
        cert.expiration,
        c.expiration_unix === null ? undefined : BigInt(c.expiration_unix),
      );
      assert.equal(hex(encodeCertificate(cert)), c.data);
    }
  });

  it("reads an option tag other than 1 as no expiry, as the server does", () => {
    const cert = decodeCertificate(bytes(`80${hex(nodeId)}020380857467`));
    assert.deepEqual(cert, { pubkey: nodeId });
  });

  it("ignores trailing bytes, as the server does", () => {
    const cert = decodeCertificate(bytes(`80${hex(nodeId)}010380857467ffff`));
    assert.equal(cert.expiration, expiry);
  });

  it("rejects the data the server could not decode", () => {
    // One byte that announces a two-byte compact length (the server says "decoding: EOF").
    rejects(() => decodeCertificate(b64("gQ==")), "Certificate.pubkey", /truncated/);
    // A 33-byte pubkey (the server says "(33 > 32)").
    rejects(
      () => decodeCertificate(b64("hAcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwA=")),
      "Certificate.pubkey",
      /33 exceeds the limit of 32/,
    );
    rejects(
      () => decodeCertificate(bytes(`80${hex(nodeId)}`)),
      "Certificate.expiration",
      /truncated/,
    );
    rejects(
      () => decodeCertificate(bytes(`80${hex(nodeId)}0103808574`)),
      "Certificate.expiration",
      /truncated/,
    );
    rejects(
      () => decodeCertificate(bytes(`80${hex(nodeId)}010300000001`)),
      "Certificate.expiration",
      /non-canonical/,
    );
  });

  it("refuses to encode a pubkey over 32 bytes or an expiry outside u64", () => {
    rejects(
      () => encodeCertificate({ pubkey: new Uint8Array(33) }),
      "Certificate.pubkey",
      /33 exceeds/,
    );
    rejects(
      () => encodeCertificate({ pubkey: nodeId, expiration: -1n }),
      "Certificate.expiration",
      /u64 range/,
    );
  });
});
