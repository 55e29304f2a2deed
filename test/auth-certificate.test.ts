import assert from "node:assert/strict";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import {
  CertificateCache,
  type CertificateStore,
  certificateHint,
  certify,
  certifyEndpoint,
  checkCertificate,
  createEd25519Signer,
  type StoredCertificate,
} from "../src/auth/index.js";
import { ManualClock } from "../src/clock.js";
import { AbortedError, PoetRpcError } from "../src/errors.js";
import { SubmitRequestSchema } from "../src/proto.js";
import { encodeCertificate, parsePoetJson } from "../src/wire/index.js";
import { hex, httpExchange, KEYS, seedOf, unhex } from "./helpers/client-fixtures.js";

const node = createEd25519Signer(new Uint8Array(32).fill(1));
const certifierSigner = createEd25519Signer(new Uint8Array(32).fill(2));
const certifierPubkey = certifierSigner.nodeId;
const JAN_2025 = 1735689600;

async function issue(nodeId: Uint8Array, expiration?: bigint) {
  const data = encodeCertificate(
    expiration === undefined ? { pubkey: nodeId } : { pubkey: nodeId, expiration },
  );
  return { data, signature: await certifierSigner.sign(data) };
}

describe("certificate checks", () => {
  it("accepts the spec's certificate vector and reads its expiry", async () => {
    assert.equal(
      hex(certifierPubkey),
      "8139770ea87d175f56a35466c34c7ecccb8d8a91b4ee37a25df60f5b8fc9b394",
    );
    assert.equal(hex(certificateHint(certifierPubkey)), "8139770e");
    const cert = await issue(node.nodeId, BigInt(JAN_2025));
    assert.equal(hex(cert.data), `80${hex(node.nodeId)}010380857467`);
    assert.equal(
      hex(cert.signature),
      "d8d550978419d0505fa06637e683202099d0bd4478f0a11e9d23883be663ed8dbba6477b7766da86dade052b0977446617d1560cd7c3f454e04c119012134c0d",
    );
    const check = checkCertificate(cert, {
      certifierPubkey,
      nodeId: node.nodeId,
      nowMs: Date.parse("2024-06-01T00:00:00Z"),
    });
    assert.deepEqual(check, { ok: true, expiresAt: new Date(JAN_2025 * 1000) });
  });

  it("reports expired and soon-expiring certificates", async () => {
    const cert = await issue(node.nodeId, BigInt(JAN_2025));
    const base = { certifierPubkey, nodeId: node.nodeId };
    const expired = checkCertificate(cert, { ...base, nowMs: JAN_2025 * 1000 + 1 });
    assert.equal(expired.ok ? "ok" : expired.problem, "expired");
    const expiring = checkCertificate(cert, {
      ...base,
      nowMs: JAN_2025 * 1000 - 60_000,
      renewBeforeMs: 3_600_000,
    });
    assert.equal(expiring.ok ? "ok" : expiring.problem, "expiring");
  });

  it("reports a foreign signer, another node and undecodable data", async () => {
    const cert = await issue(node.nodeId);
    const other = createEd25519Signer(new Uint8Array(32).fill(3)).nodeId;
    const at = { nowMs: 0 };
    const wrongKey = checkCertificate(cert, { ...at, certifierPubkey: other, nodeId: node.nodeId });
    assert.equal(wrongKey.ok ? "ok" : wrongKey.problem, "signature-mismatch");
    const wrongNode = checkCertificate(cert, { ...at, certifierPubkey, nodeId: other });
    assert.equal(wrongNode.ok ? "ok" : wrongNode.problem, "pubkey-mismatch");
    const junk = Uint8Array.of(0x80, 1, 2);
    const malformed = checkCertificate(
      { data: junk, signature: await certifierSigner.sign(junk) },
      { ...at, certifierPubkey, nodeId: node.nodeId },
    );
    assert.equal(malformed.ok ? "ok" : malformed.problem, "malformed");
  });

  it("judges the captured certificates as the real server did", () => {
    const cases: [string, string, string][] = [
      ["B-submit-cert-ok-no-hint-no-expiry", KEYS.certifier1, "ok"],
      ["B-submit-cert-ok-hint-trusted-dir-key", KEYS.certifier2, "ok"],
      ["B-submit-cert-ok-hint-configured-key", KEYS.certifier1, "ok"],
      ["B-submit-cert-rogue-signer", KEYS.certifier1, "signature-mismatch"],
      ["B-submit-cert-other-pubkey", KEYS.certifier1, "pubkey-mismatch"],
      ["B-submit-cert-expired", KEYS.certifier1, "expired"],
      ["B-submit-cert-undecodable-data", KEYS.certifier1, "malformed"],
      ["B-submit-cert-pubkey-too-long", KEYS.certifier1, "malformed"],
    ];
    for (const [name, key, expected] of cases) {
      const e = httpExchange(name);
      const request = parsePoetJson(SubmitRequestSchema, e.request.body as string);
      assert.ok(request.certificate, name);
      const check = checkCertificate(request.certificate, {
        certifierPubkey: unhex(key),
        nodeId: request.pubkey,
        nowMs: Date.parse(e.sent_at_utc),
      });
      assert.equal(check.ok ? "ok" : check.problem, expected, name);
    }
  });

  it("matches the rogue key of the captures to its seed", () => {
    assert.equal(
      hex(createEd25519Signer(seedOf("poet-transcripts:certifier:rogue")).nodeId),
      KEYS.rogue,
    );
  });
});

class MemoryStore implements CertificateStore {
  rows = new Map<string, StoredCertificate>();
  async get(nodeId: Uint8Array, certifierId: Uint8Array) {
    return this.rows.get(hex(nodeId) + hex(certifierId));
  }
  async put(cert: StoredCertificate) {
    this.rows.set(hex(cert.nodeId) + hex(cert.certifierId), cert);
  }
  async delete(nodeId: Uint8Array, certifierId: Uint8Array) {
    return this.rows.delete(hex(nodeId) + hex(certifierId));
  }
}

describe("the certificate cache", () => {
  const certifier = { url: "http://127.0.0.1:1", pubkey: certifierPubkey };

  it("certifies once and serves the stored certificate afterwards, also to concurrent callers", async () => {
    const clock = new ManualClock(JAN_2025 * 1000 - 30 * 86_400_000);
    const store = new MemoryStore();
    let calls = 0;
    const obtain = async () => {
      calls++;
      return { ...(await issue(node.nodeId, BigInt(JAN_2025))), pubkey: certifierPubkey };
    };
    const cache = new CertificateCache({ clock, store });
    const [a, b] = await Promise.all([
      cache.get(node.nodeId, certifier, obtain),
      cache.get(node.nodeId, certifier, obtain),
    ]);
    assert.deepEqual(a, b);
    assert.equal(calls, 1);
    assert.equal(store.rows.size, 1);
    const restarted = new CertificateCache({ clock, store });
    await restarted.get(node.nodeId, certifier, obtain);
    assert.equal(calls, 1);
  });

  it("renews a certificate that expires within the margin before using it", async () => {
    const clock = new ManualClock(JAN_2025 * 1000 - 2 * 3_600_000);
    let expiration = BigInt(JAN_2025);
    const obtain = async () => issue(node.nodeId, expiration);
    const cache = new CertificateCache({ clock, renewBeforeMs: 3_600_000 });
    const first = await cache.get(node.nodeId, certifier, obtain);
    await clock.advance(90 * 60_000);
    expiration += 14n * 86_400n;
    const second = await cache.get(node.nodeId, certifier, obtain);
    assert.notDeepEqual(first.data, second.data);
  });

  it("refuses a certificate signed with a key other than the advertised one", async () => {
    const cache = new CertificateCache({ clock: new ManualClock(0) });
    const rogue = createEd25519Signer(new Uint8Array(32).fill(9));
    const obtain = async () => {
      const data = encodeCertificate({ pubkey: node.nodeId });
      return { data, signature: await rogue.sign(data), pubkey: rogue.nodeId };
    };
    await assert.rejects(cache.get(node.nodeId, certifier, obtain), (err: unknown) => {
      assert.ok(err instanceof PoetRpcError);
      assert.equal(err.kind, "bad-response");
      return true;
    });
  });

  it("forgets a certificate on invalidate, also in the store", async () => {
    const store = new MemoryStore();
    const cache = new CertificateCache({ clock: new ManualClock(0), store });
    await cache.get(node.nodeId, certifier, async () => issue(node.nodeId));
    await cache.invalidate(node.nodeId, certifierPubkey);
    assert.equal(store.rows.size, 0);
  });
});

describe("the certifier client", () => {
  let server: http.Server;
  let base: string;
  let respond: (req: http.IncomingMessage, body: string, res: http.ServerResponse) => void;
  const body = {
    proof: { nonce: 7, indices: Uint8Array.of(1, 2, 3), pow: 18446744073709551615n },
    metadata: {
      nodeId: node.nodeId,
      commitmentAtxId: new Uint8Array(32).fill(5),
      challenge: new Uint8Array(32),
      numUnits: 4,
    },
  };

  before(async () => {
    server = http.createServer((req, res) => {
      let text = "";
      req.on("data", (c: Buffer) => {
        text += c.toString();
      });
      req.on("end", () => respond(req, text, res));
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  it("posts the Go node's JSON to /certify and reads the certificate", async () => {
    const cert = await issue(node.nodeId, BigInt(JAN_2025));
    let seen: { url?: string | undefined; body?: string; type?: string | undefined } = {};
    respond = (req, text, res) => {
      seen = { url: req.url, body: text, type: req.headers["content-type"] };
      res.setHeader("content-type", "application/json");
      res.end(
        JSON.stringify({
          certificate: Buffer.from(cert.data).toString("base64"),
          signature: Buffer.from(cert.signature).toString("base64"),
          pub_key: Buffer.from(certifierPubkey).toString("base64"),
        }),
      );
    };
    const answer = await certify(base, body);
    assert.equal(seen.url, "/certify");
    assert.equal(seen.type, "application/json");
    assert.match(seen.body ?? "", /"pow":18446744073709551615\}/);
    const parsed = JSON.parse(seen.body ?? "{}");
    assert.equal(parsed.metadata.node_id, Buffer.from(node.nodeId).toString("base64"));
    assert.equal(parsed.metadata.num_units, 4);
    assert.equal(parsed.proof.indices, "AQID");
    assert.deepEqual(answer.certificate, cert.data);
    assert.deepEqual(answer.pubKey, certifierPubkey);
  });

  it("does not append /certify twice when the advertised URL already ends with it", () => {
    assert.equal(certifyEndpoint("http://127.0.0.1:18999/certify").pathname, "/certify");
    assert.equal(certifyEndpoint("https://c.example/api/").pathname, "/api/certify");
  });

  it("turns 403, 429 and 500 into typed errors", async () => {
    const cases: [number, string, boolean][] = [
      [403, "unauthorized", false],
      [429, "rate-limited", true],
      [500, "server-error", true],
      [413, "invalid-request", false],
    ];
    for (const [status, kind, retriable] of cases) {
      respond = (_req, _text, res) => {
        res.statusCode = status;
        if (status === 429) res.setHeader("retry-after", "7");
        res.end("invalid proof: nope");
      };
      await assert.rejects(certify(base, body), (err: unknown) => {
        assert.ok(err instanceof PoetRpcError);
        assert.equal(err.kind, kind);
        assert.equal(err.retriable, retriable);
        assert.equal(err.httpStatus, status);
        assert.equal(err.server, base);
        if (status === 429) assert.equal(err.retryAfterMs, 7000);
        return true;
      });
    }
  });

  it("reports malformed and oversize answers", async () => {
    respond = (_req, _text, res) => res.end('{"certificate":"!!","signature":"","pub_key":""}');
    await assert.rejects(certify(base, body), /not standard base64/);
    respond = (_req, _text, res) => res.end("not json");
    await assert.rejects(certify(base, body), /not JSON/);
    respond = (_req, _text, res) => res.end("x".repeat(100_000));
    await assert.rejects(certify(base, body), (err: unknown) => {
      assert.ok(err instanceof PoetRpcError);
      assert.equal(err.kind, "response-too-large");
      return true;
    });
  });

  it("times out on the given clock and stops on abort", async () => {
    respond = () => {};
    const clock = new ManualClock(0);
    const pending = certify(base, body, { clock, timeoutMs: 5000 });
    while (clock.pending === 0) await new Promise((r) => setImmediate(r));
    await clock.advance(5000);
    await assert.rejects(
      pending,
      (err: unknown) => err instanceof PoetRpcError && err.kind === "timeout",
    );
    const controller = new AbortController();
    const aborted = certify(base, body, { signal: controller.signal });
    setImmediate(() => controller.abort());
    await assert.rejects(aborted, AbortedError);
  });
});
