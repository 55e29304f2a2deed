/**
 * A go-spacemesh local database (`local.sql`) built by hand for the storage tests: go-spacemesh
 * v1.7.x's whole layout — the 9 tables and the index of its `sql/localsql/schema/schema.sql`, with
 * the DDL text SQLite keeps for a file the Go node migrated, and `user_version` 9
 * (docs/node-client.md §1.4, §1.8, §2.6) — and rows inserted the way the Go writers bind them (ids
 * as BLOBs, u64 as int64, round_end in seconds). This copy of the layout is the tests' own, kept
 * apart from the library's, so that the tests check the library against it.
 *
 * {@link goSchemaCheck} rebuilds the Go node's open-time schema check (`sql/database.go`
 * `prepareDB` → `LoadDBSchemaScript`, compared with the embedded script, whitespace ignored) in its
 * two orderings: v1.7.0–v1.7.4 (`order by tbl_name, type desc, name`) and v1.7.5 on (tables first,
 * `tbl_name LIKE 'sqlite_%'` skipped).
 */
import Database from "better-sqlite3";

/** go-spacemesh v1.7.x's local schema version. */
export const GO_USER_VERSION = 9;

// `challenge` and `post` got columns through ALTER TABLE, hence the odd layout SQLite keeps.
const GO_TABLES_DDL: Record<string, string> = {
  atx_sync_requests: `CREATE TABLE atx_sync_requests
(
    epoch     INT NOT NULL,
    timestamp INT NOT NULL, total INTEGER, downloaded INTEGER,
    PRIMARY KEY (epoch)
) WITHOUT ROWID`,
  atx_sync_state: `CREATE TABLE atx_sync_state
(
    epoch     INT NOT NULL,
    id        CHAR(32) NOT NULL,
    requests  INT NOT NULL DEFAULT 0,
    PRIMARY KEY (epoch, id)
) WITHOUT ROWID`,
  challenge: `CREATE TABLE "challenge"
(
    id            CHAR(32) PRIMARY KEY,
    epoch         UNSIGNED INT NOT NULL,
    sequence      UNSIGNED INT NOT NULL,
    prev_atx      CHAR(32) NOT NULL,
    pos_atx       CHAR(32) NOT NULL,
    commit_atx    CHAR(32),
    post_nonce    UNSIGNED INT,
    post_indices  VARCHAR,
    post_pow      UNSIGNED LONG INT
, poet_proof_ref        CHAR(32), poet_proof_membership VARCHAR) WITHOUT ROWID`,
  malfeasance_sync_state: `CREATE TABLE malfeasance_sync_state
(
  id INT NOT NULL PRIMARY KEY,
  timestamp INT NOT NULL
)`,
  nipost: `CREATE TABLE nipost
(
    id            CHAR(32) PRIMARY KEY,
    post_nonce    UNSIGNED INT NOT NULL,
    post_indices  VARCHAR NOT NULL,
    post_pow      UNSIGNED LONG INT NOT NULL,

    num_units UNSIGNED INT NOT NULL,
    vrf_nonce UNSIGNED LONG INT NOT NULL,

    poet_proof_membership VARCHAR NOT NULL,
    poet_proof_ref        CHAR(32) NOT NULL,
    labels_per_unit       UNSIGNED INT NOT NULL
) WITHOUT ROWID`,
  poet_certificates: `CREATE TABLE poet_certificates
(
    node_id      BLOB NOT NULL,
    certifier_id BLOB NOT NULL,
    certificate  BLOB NOT NULL,
    signature    BLOB NOT NULL
)`,
  poet_registration: `CREATE TABLE poet_registration
(
    id            CHAR(32) NOT NULL,
    hash          CHAR(32) NOT NULL,
    address       VARCHAR NOT NULL,
    round_id      VARCHAR NOT NULL,
    round_end     INT NOT NULL,

    PRIMARY KEY (id, address)
) WITHOUT ROWID`,
  post: `CREATE TABLE "post"
(
    id            CHAR(32) PRIMARY KEY,
    post_nonce    UNSIGNED INT NOT NULL,
    post_indices  VARCHAR NOT NULL,
    post_pow      UNSIGNED LONG INT NOT NULL,

    num_units     UNSIGNED INT NOT NULL,
    commit_atx    CHAR(32) NOT NULL,
    vrf_nonce     UNSIGNED LONG INT NOT NULL
, challenge BLOB NOT NULL DEFAULT x'0000000000000000000000000000000000000000000000000000000000000000')`,
  prepared_activeset: `CREATE TABLE prepared_activeset
(
    kind          UNSIGNED INT NOT NULL,
    epoch         UNSIGNED INT NOT NULL,
    id            CHAR(32) NOT NULL,
    weight        UNSIGNED INT NOT NULL,
    data          BLOB NOT NULL,
    PRIMARY KEY (kind, epoch)
) WITHOUT ROWID`,
};
const GO_INDEX =
  "CREATE UNIQUE INDEX idx_poet_certificates ON poet_certificates (node_id, certifier_id)";
const GO_DDL = [...Object.values(GO_TABLES_DDL), GO_INDEX];

/** The two orderings of go-spacemesh's schema check. */
export type GoSchemaCheckVersion = "v1.7.0-v1.7.4" | "v1.7.5+";

/** The schema script go-spacemesh embeds (`schema.sql`), in the order of its `version`. */
function embeddedScript(version: GoSchemaCheckVersion): string {
  const names = Object.keys(GO_TABLES_DDL).sort();
  const statements: string[] = [];
  for (const name of names) {
    statements.push(GO_TABLES_DDL[name] as string);
    if (version === "v1.7.0-v1.7.4" && name === "poet_certificates") statements.push(GO_INDEX);
  }
  if (version === "v1.7.5+") statements.push(GO_INDEX);
  return `PRAGMA user_version = ${GO_USER_VERSION};\n${statements.map((s) => `${s};`).join("\n")}\n`;
}

/**
 * The Go node's open-time schema check on `file`, as go-spacemesh `version` runs it with its
 * default configuration (schema drift not allowed): "" when it accepts the file, else a
 * description of the difference (what the node would print after "schema drift detected").
 */
export function goSchemaCheck(file: string, version: GoSchemaCheckVersion): string {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    const userVersion = db.pragma("user_version", { simple: true });
    const query =
      version === "v1.7.0-v1.7.4"
        ? `select tbl_name, sql || ';' as s from sqlite_master
             where sql is not null
             order by tbl_name, type desc, name`
        : `select tbl_name, sql || ';' as s from sqlite_master
             where sql is not null and tbl_name not like 'sqlite_%'
             order by case when type = 'table' then 1 else 2 end, tbl_name, name`;
    const rows = db.prepare(query).all() as { s: string }[];
    const loaded = `PRAGMA user_version = ${userVersion};\n${rows.map((r) => r.s).join("\n")}\n`;
    const words = (text: string) => text.split(/\s+/).filter(Boolean).join(" ");
    const expected = words(embeddedScript(version));
    const actual = words(loaded.replaceAll("\r", ""));
    if (expected === actual) return "";
    let at = 0;
    while (at < expected.length && expected[at] === actual[at]) at++;
    return `schema drift at character ${at}: expected …${expected.slice(at, at + 80)}… got …${actual.slice(at, at + 80)}…`;
  } finally {
    db.close();
  }
}

/** Creates a go-spacemesh-style local database at `file` and returns it open (caller closes). */
export function createGoDatabase(file: string, userVersion = GO_USER_VERSION): Database.Database {
  const db = new Database(file);
  db.pragma("journal_mode = wal");
  db.defaultSafeIntegers(true);
  db.transaction(() => {
    for (const ddl of GO_DDL) db.exec(ddl);
    db.pragma(`user_version = ${userVersion}`);
  })();
  return db;
}

/** Go binds a u64 with `BindInt64(int64(v))`. */
export function goInt64(value: bigint): bigint {
  return BigInt.asIntN(64, value);
}

/** Bytes filled with one value. */
export function filled(length: number, value: number): Uint8Array {
  return new Uint8Array(length).fill(value);
}

/** Inserts a challenge row the way `nipost.AddChallenge` does. */
export function goAddChallenge(
  db: Database.Database,
  row: {
    id: Uint8Array;
    epoch: number;
    sequence: bigint;
    prevAtx: Uint8Array;
    posAtx: Uint8Array;
    commitAtx?: Uint8Array;
    post?: { nonce: number; indices: Uint8Array; pow: bigint };
  },
): void {
  db.prepare(
    `insert into challenge (id, epoch, sequence, prev_atx, pos_atx, commit_atx,
       post_nonce, post_indices, post_pow) values (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  ).run(
    row.id,
    BigInt(row.epoch),
    goInt64(row.sequence),
    row.prevAtx,
    row.posAtx,
    row.commitAtx ?? null,
    row.post === undefined ? null : BigInt(row.post.nonce),
    row.post?.indices ?? null,
    row.post === undefined ? null : goInt64(row.post.pow),
  );
}

/** `nipost.UpdatePoetProofRef`. */
export function goUpdatePoetProofRef(
  db: Database.Database,
  id: Uint8Array,
  ref: Uint8Array,
  membershipScale: Uint8Array,
): void {
  db.prepare(
    "update challenge set poet_proof_ref = ?, poet_proof_membership = ? where id = ? returning id",
  ).all(ref, membershipScale, id);
}

/** `nipost.AddPoetRegistration`. */
export function goAddPoetRegistration(
  db: Database.Database,
  row: { id: Uint8Array; hash: Uint8Array; address: string; roundId: string; roundEndUnix: bigint },
): void {
  db.prepare(
    "insert into poet_registration (id, hash, address, round_id, round_end) values (?, ?, ?, ?, ?)",
  ).run(row.id, row.hash, row.address, row.roundId, row.roundEndUnix);
}

/** `nipost.AddNIPost`. */
export function goAddNipost(
  db: Database.Database,
  row: {
    id: Uint8Array;
    nonce: number;
    indices: Uint8Array;
    pow: bigint;
    numUnits: number;
    vrfNonce: bigint;
    membershipScale: Uint8Array;
    ref: Uint8Array;
    labelsPerUnit: bigint;
  },
): void {
  db.prepare(
    `insert into nipost (id, post_nonce, post_indices, post_pow, num_units, vrf_nonce,
       poet_proof_membership, poet_proof_ref, labels_per_unit)
     values (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  ).run(
    row.id,
    BigInt(row.nonce),
    row.indices,
    goInt64(row.pow),
    BigInt(row.numUnits),
    goInt64(row.vrfNonce),
    row.membershipScale,
    row.ref,
    goInt64(row.labelsPerUnit),
  );
}

/** `certifier.AddCertificate` (`REPLACE INTO`). */
export function goAddCertificate(
  db: Database.Database,
  row: {
    nodeId: Uint8Array;
    certifierId: Uint8Array;
    certificate: Uint8Array;
    signature: Uint8Array;
  },
): void {
  db.prepare(
    "REPLACE INTO poet_certificates (node_id, certifier_id, certificate, signature) VALUES (?, ?, ?, ?)",
  ).run(row.nodeId, row.certifierId, row.certificate, row.signature);
}

/** `typeof(col)` and `hex(col)` of every column of the rows of `table` where `key` = `id`. */
export function typesAndBytes(
  db: Database.Database,
  table: string,
  key: string,
  id: Uint8Array,
  columns: readonly string[],
): Record<string, string>[] {
  const select = columns.map((c) => `typeof(${c}) as "t_${c}", hex(${c}) as "h_${c}"`).join(", ");
  return db
    .prepare(`select ${select} from ${table} where ${key} = ? order by 1`)
    .all(id)
    .map((row) => {
      const out: Record<string, string> = {};
      for (const c of columns) {
        const r = row as Record<string, unknown>;
        out[c] = `${String(r[`t_${c}`])}:${String(r[`h_${c}`])}`;
      }
      return out;
    });
}
