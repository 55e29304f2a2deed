import assert from "node:assert/strict";
import { describe, it } from "node:test";
import Database from "better-sqlite3";
import { Kysely, SqliteDialect } from "kysely";
import { CompiledStatements } from "../src/storage/compiled-statements.js";
import { openNodeState } from "../src/storage/index.js";
import type { NodeStateTables } from "../src/storage/schema.js";
import { createGoDatabase, filled } from "./helpers/storage-go-db.js";
import { tempDir } from "./helpers/temp-dir.js";

const tmp = tempDir("poet-storage-statements-");

describe("prepared statements", () => {
  it("are prepared once per SQL text, however often a query runs", async () => {
    const db = createGoDatabase(tmp.file("local.sql"));
    const prepared = new Map<string, number>();
    // The caller's Database, seen through a wrapper that counts what is prepared.
    const counting = {
      prepare: (source: string) => {
        prepared.set(source, (prepared.get(source) ?? 0) + 1);
        return db.prepare(source);
      },
      pragma: (source: string, options?: { simple?: boolean }) => db.pragma(source, options),
      close: () => db.close(),
    };
    const state = await openNodeState(counting);
    const roundEnd = new Date(Date.parse("2024-01-01T00:00:00Z"));
    for (let i = 0; i < 20; i++) {
      const nodeId = filled(32, i + 1);
      await state.registrations.add({
        nodeId,
        hash: filled(32, 0x50 + i),
        address: "https://poet-a.example",
        roundId: "30",
        roundEnd,
      });
      assert.equal((await state.registrations.listFor(nodeId)).length, 1);
    }
    const repeated = [...prepared].filter(([text]) => /poet_registration/.test(text));
    assert.ok(repeated.length >= 2, "the insert and the select were prepared");
    for (const [text, times] of repeated) assert.equal(times, 1, text);
    await state.close();
    db.close();
  });
});

describe("compiled statements", () => {
  it("build and compile a statement shape once, then run its SQL text with new parameters", async () => {
    const sqlite = new Database(":memory:");
    sqlite.exec("CREATE TABLE poet_registration (id BLOB, address TEXT)");
    sqlite.exec("INSERT INTO poet_registration VALUES (x'01', 'b'), (x'01', 'a'), (x'02', 'c')");
    const db = new Kysely<NodeStateTables>({
      dialect: new SqliteDialect({ database: sqlite }),
    });
    const shapes = new CompiledStatements();
    let built = 0;
    const list = (id: Uint8Array) =>
      shapes.run<{ address: string }>(db, "list", [id], (db) => {
        built++;
        return db
          .selectFrom("poet_registration")
          .select("address")
          .where("id", "=", id)
          .orderBy("address");
      });
    const first = await list(Uint8Array.of(1));
    const second = await list(Uint8Array.of(2));
    assert.deepEqual(
      first.rows.map((r) => r.address),
      ["a", "b"],
    );
    assert.deepEqual(
      second.rows.map((r) => r.address),
      ["c"],
    );
    assert.equal(built, 1, "built once per shape");
    // Parameters listed in another order than the query's are refused the first time.
    const id = Uint8Array.of(1);
    await assert.rejects(
      () =>
        Promise.resolve().then(() =>
          shapes.run(db, "two", ["a", id], (db) =>
            db
              .selectFrom("poet_registration")
              .select("address")
              .where("id", "=", id)
              .where("address", "=", "a"),
          ),
        ),
      /out of order/,
    );
    await db.destroy();
  });
});
