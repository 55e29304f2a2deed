/**
 * @module storage/certificate-repository
 *
 * The `poet_certificates` table: the certificate a certifier issued to an identity, keyed by the
 * identity and the certifier's public key as the PoET advertises it (docs/node-client.md §2.6,
 * docs/protocol.md §2.8). Writing replaces an existing row (go-spacemesh's `REPLACE INTO`), so
 * recertification simply stores the new certificate. The certificate bytes (SCALE `CertOnWire`)
 * are opaque here; decoding and expiry checks belong to the client.
 */
import type { AbortOptions } from "../abort-options.js";
import { toHex } from "../bytes.js";
import { bytesParam, type ColumnPlace, hashParam, readBytes, readHash } from "./columns.js";
import type { StoreConnection } from "./store-connection.js";

/** A certificate issued to one identity by one certifier. */
export interface PoetCertificate {
  /** The identity (32 bytes). */
  nodeId: Uint8Array;
  /** The certifier's ed25519 public key, as advertised by the PoET (32 bytes). */
  certifierId: Uint8Array;
  /** SCALE `CertOnWire` bytes. */
  certificate: Uint8Array;
  /** The certifier's signature over `certificate`. */
  signature: Uint8Array;
}

const TABLE = "poet_certificates";

/** A raw row. */
export interface CertificateRow {
  node_id: unknown;
  certifier_id: unknown;
  certificate: unknown;
  signature: unknown;
}

/** Checks and decodes a raw row. */
export function decodeCertificateRow(row: CertificateRow): PoetCertificate {
  const nodeId = readHash(row.node_id, { table: TABLE, column: "node_id", nodeId: row.node_id });
  const at = (column: string): ColumnPlace => ({ table: TABLE, column, nodeId });
  return {
    nodeId,
    certifierId: readHash(row.certifier_id, at("certifier_id")),
    certificate: readBytes(row.certificate, at("certificate")),
    signature: readBytes(row.signature, at("signature")),
  };
}

/**
 * Certificates per identity and certifier.
 *
 * @example
 * ```ts
 * let cert = await state.certificates.get(nodeId, certifierPubkey);
 * if (!cert) {
 *   cert = await certify(nodeId);
 *   await state.certificates.put(cert);
 * }
 * ```
 */
export class CertificateRepository {
  readonly #conn: StoreConnection;

  constructor(conn: StoreConnection) {
    this.#conn = conn;
  }

  /** Stores the certificate, replacing the identity's previous one from the same certifier. */
  async put(certificate: PoetCertificate, options: AbortOptions = {}): Promise<void> {
    const row = {
      node_id: hashParam(certificate.nodeId, "certificate.nodeId"),
      certifier_id: hashParam(certificate.certifierId, "certificate.certifierId"),
      certificate: bytesParam(certificate.certificate, "certificate.certificate"),
      signature: bytesParam(certificate.signature, "certificate.signature"),
    };
    await this.#conn.write(
      options.signal,
      { table: TABLE, identity: toHex(row.node_id) },
      async (db) => {
        // go-spacemesh's REPLACE INTO, as an upsert on its unique index (the same on PostgreSQL).
        await db
          .insertInto(TABLE)
          .values(row)
          .onConflict((oc) =>
            oc
              .columns(["node_id", "certifier_id"])
              .doUpdateSet({ certificate: row.certificate, signature: row.signature }),
          )
          .execute();
      },
    );
  }

  /** The identity's certificate from one certifier, or `undefined`. */
  async get(
    nodeId: Uint8Array,
    certifierId: Uint8Array,
    options: AbortOptions = {},
  ): Promise<PoetCertificate | undefined> {
    hashParam(nodeId, "nodeId");
    hashParam(certifierId, "certifierId");
    return this.#conn.read(
      options.signal,
      { table: TABLE, identity: toHex(nodeId) },
      async (db) => {
        const row = await db
          .selectFrom(TABLE)
          .selectAll()
          .where("node_id", "=", nodeId)
          .where("certifier_id", "=", certifierId)
          .executeTakeFirst();
        return row === undefined ? undefined : decodeCertificateRow(row);
      },
    );
  }

  /** The identity's certificates, one per certifier. */
  async listFor(nodeId: Uint8Array, options: AbortOptions = {}): Promise<PoetCertificate[]> {
    hashParam(nodeId, "nodeId");
    return this.#conn.read(
      options.signal,
      { table: TABLE, identity: toHex(nodeId) },
      async (db) => {
        const rows = await db
          .selectFrom(TABLE)
          .selectAll()
          .where("node_id", "=", nodeId)
          .orderBy("certifier_id")
          .execute();
        return rows.map(decodeCertificateRow);
      },
    );
  }

  /** Deletes the identity's certificate from one certifier (for example after a 401). */
  async delete(
    nodeId: Uint8Array,
    certifierId: Uint8Array,
    options: AbortOptions = {},
  ): Promise<boolean> {
    hashParam(nodeId, "nodeId");
    hashParam(certifierId, "certifierId");
    return this.#conn.write(
      options.signal,
      { table: TABLE, identity: toHex(nodeId) },
      async (db) => {
        const result = await db
          .deleteFrom(TABLE)
          .where("node_id", "=", nodeId)
          .where("certifier_id", "=", certifierId)
          .executeTakeFirst();
        return result.numDeletedRows > 0n;
      },
    );
  }

  /** Deletes all of the identity's certificates. Returns how many there were. */
  async clear(nodeId: Uint8Array, options: AbortOptions = {}): Promise<number> {
    hashParam(nodeId, "nodeId");
    return this.#conn.write(
      options.signal,
      { table: TABLE, identity: toHex(nodeId) },
      async (db) => {
        const result = await db.deleteFrom(TABLE).where("node_id", "=", nodeId).executeTakeFirst();
        return Number(result.numDeletedRows);
      },
    );
  }

  /** Every certificate, ordered by identity and certifier. */
  async list(options: AbortOptions = {}): Promise<PoetCertificate[]> {
    return this.#conn.read(options.signal, { table: TABLE }, async (db) => {
      const rows = await db
        .selectFrom(TABLE)
        .selectAll()
        .orderBy("node_id")
        .orderBy("certifier_id")
        .execute();
      return rows.map(decodeCertificateRow);
    });
  }
}
