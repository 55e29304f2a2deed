/**
 * The node state on a real PostgreSQL server (started by `npm test`, or by the helper when this
 * file runs alone): opening and migrating, the u64 encoding, schemas, a caller's pool, savepoints
 * and the group commit. The repositories' behaviour itself is the shared suite's
 * (`storage-repositories.test.ts` runs it on both stores).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import pg from "pg";
import { ConfigError, StorageError } from "../src/errors.js";
import { DEFAULT_POSTGRES_SCHEMA, openPostgresState } from "../src/storage/index.js";
import { POSTGRES_MIGRATION_NAMES } from "../src/storage/postgres/postgres-migrations.js";
import { postgresDatabase } from "./helpers/postgres-database.js";
import { filled } from "./helpers/storage-go-db.js";

/** [u64 value, what the bigint column holds]: Go's signed int64 two's complement. */
const EDGES: ReadonlyArray<[bigint, bigint]> = [
  [0n, 0n],
  [(1n << 63n) - 1n, 9223372036854775807n],
  [1n << 63n, -9223372036854775808n],
  [(1n << 64n) - 1n, -1n],
];

async function raw<T>(url: string, text: string, values: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(text, values)).rows as T[];
  } finally {
    await client.end();
  }
}

describe("openPostgresState", () => {
  it("creates the schema and its tables once; a second open applies nothing", async () => {
    const url = await postgresDatabase();
    const first = await openPostgresState({ connection: url });
    assert.equal(first.schemaVersion, POSTGRES_MIGRATION_NAMES.length);
    assert.equal(first.goSchemaVersion, 9);
    assert.equal(first.readonly, false);
    await first.close();
    const tables = await raw<{ table_name: string }>(
      url,
      "select table_name from information_schema.tables where table_schema = $1 order by 1",
      [DEFAULT_POSTGRES_SCHEMA],
    );
    assert.deepEqual(
      tables.map((t) => t.table_name),
      [
        "challenge",
        "nipost",
        "poet_certificates",
        "poet_client_challenge",
        "poet_client_lease",
        "poet_client_member_chunk",
        "poet_client_members",
        "poet_client_migration",
        "poet_client_proof",
        "poet_client_proof_claim",
        "poet_client_submit_intent",
        "poet_registration",
      ],
    );
    await using second = await openPostgresState({ connection: url });
    assert.equal(second.schemaVersion, POSTGRES_MIGRATION_NAMES.length);
  });

  it("lets workers that start together migrate once", async () => {
    const url = await postgresDatabase();
    const states = await Promise.all(
      Array.from({ length: 4 }, () => openPostgresState({ connection: url, schema: "fleet" })),
    );
    const rows = await raw<{ n: string }>(
      url,
      "select count(*) as n from fleet.poet_client_migration",
    );
    assert.equal(rows[0]?.n, String(POSTGRES_MIGRATION_NAMES.length));
    await Promise.all(states.map((s) => s.close()));
  });

  it("keeps schemas apart", async () => {
    const url = await postgresDatabase();
    await using a = await openPostgresState({ connection: url, schema: "worker_a" });
    await using b = await openPostgresState({ connection: url, schema: "worker_b" });
    await a.challenges.add(filled(32, 1), {
      publishEpoch: 1,
      sequence: 0n,
      prevAtx: filled(32, 2),
      positioningAtx: filled(32, 3),
    });
    assert.equal((await a.challenges.list()).length, 1);
    assert.deepEqual(await b.challenges.list(), []);
  });

  it("refuses a schema migrated by a newer release, before writing anything", async () => {
    const url = await postgresDatabase();
    await (await openPostgresState({ connection: url })).close();
    await raw(
      url,
      `insert into ${DEFAULT_POSTGRES_SCHEMA}.poet_client_migration values ('9999_future', '')`,
    );
    await assert.rejects(openPostgresState({ connection: url }), (err) => {
      assert.ok(err instanceof StorageError);
      assert.equal(err.kind, "schema-too-new");
      assert.match(err.message, /9999_future/);
      return true;
    });
  });

  it("opens read-only without creating anything, and refuses every write", async () => {
    const url = await postgresDatabase();
    await assert.rejects(openPostgresState({ connection: url, readonly: true }), (err) => {
      assert.ok(err instanceof StorageError);
      assert.equal(err.kind, "missing");
      return true;
    });
    const schemas = await raw(url, "select 1 from pg_namespace where nspname = 'poet_client'");
    assert.deepEqual(schemas, [], "a read-only open creates no schema");
    {
      await using writable = await openPostgresState({ connection: url });
      await writable.challenges.add(filled(32, 1), {
        publishEpoch: 1,
        sequence: 2n,
        prevAtx: filled(32, 2),
        positioningAtx: filled(32, 3),
      });
    }
    await using view = await openPostgresState({ connection: url, readonly: true });
    assert.equal(view.readonly, true);
    assert.equal((await view.challenges.list()).length, 1);
    assert.deepEqual(await view.check(), []);
    await assert.rejects(view.challenges.delete(filled(32, 1)), (err) => {
      assert.ok(err instanceof StorageError);
      assert.equal(err.kind, "readonly");
      return true;
    });
  });

  it("refuses bad options with a ConfigError", async () => {
    for (const schema of ["Fleet", "a-b", "x;drop", "", "a".repeat(64)]) {
      await assert.rejects(openPostgresState({ connection: "postgres://x", schema }), ConfigError);
    }
    await assert.rejects(
      openPostgresState({ connection: "postgres://x", maxConnections: 1 }),
      ConfigError,
    );
    await assert.rejects(
      openPostgresState({ connection: 42 as unknown as string }),
      (err) => err instanceof ConfigError && err.setting === "connection",
    );
  });

  it("reports a server it cannot reach as an io StorageError", async () => {
    const url = new URL(await postgresDatabase());
    url.port = "1"; // nothing listens on port 1 of the loopback
    await assert.rejects(openPostgresState({ connection: url.toString() }), (err) => {
      assert.ok(err instanceof StorageError, String(err));
      assert.equal(err.kind, "io");
      return true;
    });
  });

  it("uses a caller's pg.Pool as it is, without ending it or changing its type parsers", async () => {
    const url = await postgresDatabase();
    const pool = new pg.Pool({ connectionString: url, max: 3 });
    try {
      const state = await openPostgresState({ connection: pool, schema: "mine" });
      await state.challenges.add(filled(32, 1), {
        publishEpoch: 1,
        sequence: (1n << 64n) - 1n,
        prevAtx: filled(32, 2),
        positioningAtx: filled(32, 3),
      });
      assert.equal(
        (await state.challenges.get(filled(32, 1)))?.challenge.sequence,
        (1n << 64n) - 1n,
      );
      await state.close();
      // The pool still works, and int8 still reads as node-postgres's default (a string).
      const { rows } = await pool.query("select sequence from mine.challenge");
      assert.deepEqual(rows, [{ sequence: "-1" }]);
    } finally {
      await pool.end();
    }
  });
});

describe("broken connections", () => {
  it("survive a server that drops every connection: one failed call at most, then it works", async () => {
    const url = await postgresDatabase();
    const warnings: string[] = [];
    const logger = {
      debug: () => {},
      info: () => {},
      warn: (_: Record<string, unknown>, message: string) => warnings.push(message),
      error: () => {},
    };
    await using state = await openPostgresState({ connection: url, logger });
    const add = (b: number) =>
      state.challenges.add(filled(32, b), {
        publishEpoch: 1,
        sequence: 0n,
        prevAtx: filled(32, 2),
        positioningAtx: filled(32, 3),
      });
    await add(1);
    await raw(
      url,
      "select pg_terminate_backend(pid) from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()",
    );
    // The pool's idle connections are gone: the first use may fail (kind io), never crash.
    const outcomes: string[] = [];
    for (let i = 0; i < 3; i++) {
      try {
        await add(10 + i);
        outcomes.push("ok");
      } catch (err) {
        assert.ok(err instanceof StorageError, String(err));
        assert.equal(err.kind, "io");
        outcomes.push("io");
      }
    }
    assert.equal(outcomes.at(-1), "ok");
    assert.ok((await state.challenges.list()).length >= 2);
  });
});

describe("u64 columns on PostgreSQL", () => {
  it("round-trip 0, 2^63−1, 2^63 and 2^64−1 as bigint, stored as Go's signed int64", async () => {
    const url = await postgresDatabase();
    {
      await using state = await openPostgresState({ connection: url });
      for (const [i, [value]] of EDGES.entries()) {
        const nodeId = filled(32, i + 1);
        await state.challenges.add(nodeId, {
          publishEpoch: 2 ** 32 - 1,
          sequence: value,
          prevAtx: filled(32, 0),
          positioningAtx: filled(32, 0),
          initialPost: { nonce: 2 ** 32 - 1, indices: new Uint8Array([1]), pow: value },
        });
        await state.nipost.add(nodeId, {
          post: { nonce: 2 ** 32 - 1, indices: new Uint8Array([1]), pow: value },
          numUnits: 2 ** 32 - 1,
          vrfNonce: value,
          membership: { nodes: [], leafIndex: value },
          poetProofRef: filled(32, 7),
          labelsPerUnit: value,
        });
      }
      for (const [i, [value]] of EDGES.entries()) {
        const nodeId = filled(32, i + 1);
        const challenge = await state.challenges.get(nodeId);
        assert.equal(challenge?.challenge.sequence, value);
        assert.equal(challenge?.challenge.initialPost?.pow, value);
        assert.equal(challenge?.challenge.initialPost?.nonce, 2 ** 32 - 1);
        assert.equal(challenge?.challenge.publishEpoch, 2 ** 32 - 1);
        const nipost = await state.nipost.get(nodeId);
        assert.equal(nipost?.post.pow, value);
        assert.equal(nipost?.vrfNonce, value);
        assert.equal(nipost?.labelsPerUnit, value);
        assert.equal(nipost?.membership.leafIndex, value);
        assert.equal(nipost?.numUnits, 2 ** 32 - 1);
      }
    }
    for (const [i, [, stored]] of EDGES.entries()) {
      const rows = await raw<Record<string, string>>(
        url,
        `select pg_typeof(n.post_pow)::text as t, n.post_pow::text, n.vrf_nonce::text,
           n.labels_per_unit::text, c.sequence::text, c.post_pow::text as c_pow
         from poet_client.nipost n join poet_client.challenge c using (id) where id = $1`,
        [Buffer.from(filled(32, i + 1))],
      );
      const s = String(stored);
      assert.deepEqual(rows, [
        { t: "bigint", post_pow: s, vrf_nonce: s, labels_per_unit: s, sequence: s, c_pow: s },
      ]);
    }
  });

  it("reads a value written by hand as the u64 it encodes, and a wrong type as corrupt", async () => {
    const url = await postgresDatabase();
    await using state = await openPostgresState({ connection: url });
    const id = filled(32, 5);
    await state.challenges.add(id, {
      publishEpoch: 1,
      sequence: 1n,
      prevAtx: filled(32, 2),
      positioningAtx: filled(32, 3),
    });
    await raw(url, "update poet_client.challenge set sequence = -2 where id = $1", [
      Buffer.from(id),
    ]);
    assert.equal((await state.challenges.get(id))?.challenge.sequence, (1n << 64n) - 2n);
    await raw(url, "update poet_client.challenge set prev_atx = '\\x0102' where id = $1", [
      Buffer.from(id),
    ]);
    await assert.rejects(state.challenges.get(id), (err) => {
      assert.ok(err instanceof StorageError);
      assert.equal(err.kind, "corrupt");
      assert.equal(err.column, "prev_atx");
      return true;
    });
  });
});

describe("transactions on PostgreSQL", () => {
  const challenge = {
    publishEpoch: 1,
    sequence: 0n,
    prevAtx: filled(32, 2),
    positioningAtx: filled(32, 3),
  };
  const reg = {
    nodeId: filled(32, 1),
    hash: filled(32, 9),
    address: "https://poet-a",
    roundId: "3",
    roundEnd: new Date(1_750_000_000_000),
  };

  it("undoes only the failed write inside a transaction when the caller catches it", async () => {
    const url = await postgresDatabase();
    await using state = await openPostgresState({ connection: url });
    await state.registrations.add(reg);
    await state.transaction(async (tx) => {
      await tx.challenges.add(filled(32, 1), challenge);
      await assert.rejects(tx.registrations.add(reg), (err) => {
        assert.ok(err instanceof StorageError);
        assert.equal(err.kind, "duplicate");
        return true;
      });
      // A PostgreSQL transaction would be aborted here without the write's savepoint.
      await tx.registrations.add({ ...reg, address: "https://poet-b" });
    });
    assert.equal((await state.registrations.listFor(filled(32, 1))).length, 2);
    assert.ok(await state.challenges.get(filled(32, 1)));
  });

  it("confirms a submit intent: the row once, an existing row kept, the intent gone", async () => {
    const url = await postgresDatabase();
    await using state = await openPostgresState({ connection: url });
    const intent = {
      ...reg,
      proofDeadline: new Date(1_760_000_000_000),
      createdAt: new Date(1_740_000_000_000),
    };
    await state.intents.record(intent);
    assert.equal(await state.intents.confirm(reg), true);
    await state.intents.record(intent);
    assert.equal(await state.intents.confirm({ ...reg, roundId: "4" }), false);
    assert.deepEqual(await state.registrations.listFor(filled(32, 1)), [reg]);
    assert.deepEqual(await state.intents.listFor(filled(32, 1)), []);
  });

  it("rolls back everything a failed transaction wrote", async () => {
    const url = await postgresDatabase();
    await using state = await openPostgresState({ connection: url });
    await assert.rejects(
      state.transaction(async (tx) => {
        await tx.challenges.add(filled(32, 1), challenge);
        throw new Error("stop");
      }),
      /stop/,
    );
    assert.equal(await state.challenges.get(filled(32, 1)), undefined);
  });

  it("commits the concurrent writes of many identities, each failure alone", async () => {
    const url = await postgresDatabase();
    await using state = await openPostgresState({ connection: url });
    const n = 200;
    const results = await Promise.allSettled(
      Array.from({ length: n }, (_, i) =>
        state.challenges.add(filled(32, i % 256), challenge, { hash: filled(32, 7) }),
      ),
    );
    assert.equal(results.filter((r) => r.status === "fulfilled").length, n);
    assert.equal((await state.challenges.list()).length, n);
    // Each write in a savepoint of a shared transaction: one failure stays alone.
    const again = await Promise.allSettled([
      state.challenges.add(filled(32, 0), challenge),
      state.challenges.add(filled(32, 250), challenge),
    ]);
    assert.equal(again[0]?.status, "rejected");
    assert.equal(again[1]?.status, "fulfilled");
  });

  it("turns a row another process inserted first into a duplicate error", async () => {
    const url = await postgresDatabase();
    await using a = await openPostgresState({ connection: url });
    await using b = await openPostgresState({ connection: url });
    const results = await Promise.allSettled([
      a.nipost.add(filled(32, 1), nipost()),
      b.nipost.add(filled(32, 1), nipost()),
    ]);
    const rejected = results.filter((r) => r.status === "rejected");
    assert.equal(rejected.length, 1);
    const reason = (rejected[0] as PromiseRejectedResult).reason;
    assert.ok(reason instanceof StorageError);
    assert.equal(reason.kind, "duplicate");
  });
});

function nipost() {
  return {
    post: { nonce: 1, indices: new Uint8Array([1, 2]), pow: 3n },
    numUnits: 4,
    vrfNonce: 5n,
    membership: { nodes: [], leafIndex: 0n },
    poetProofRef: filled(32, 7),
    labelsPerUnit: 6n,
  };
}
