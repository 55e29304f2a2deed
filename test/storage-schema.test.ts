import assert from "node:assert/strict";
import path from "node:path";
import { describe, it } from "node:test";
import Database from "better-sqlite3";
import { Kysely, SqliteDialect } from "kysely";
import { AbortedError, ConfigError, StorageError } from "../src/errors.js";
import { companionPath } from "../src/storage/companion-file.js";
import { MIGRATION_TABLE, NODE_STATE_SCHEMA_VERSION, openNodeState } from "../src/storage/index.js";
import { filled } from "./helpers/storage-go-db.js";
import { tempDir } from "./helpers/temp-dir.js";

const { dir, file: dbFile } = tempDir("storage-schema-");

const challenge = {
  publishEpoch: 5,
  sequence: 1n,
  prevAtx: filled(32, 1),
  positioningAtx: filled(32, 2),
};

describe("openNodeState", () => {
  it("creates a new file with go-spacemesh v1.7's tables, WAL and user_version 9, ours in the companion", async () => {
    const file = dbFile();
    const state = await openNodeState(file, { create: true });
    assert.equal(state.goSchemaVersion, 9);
    assert.equal(state.schemaVersion, NODE_STATE_SCHEMA_VERSION);
    await state.close();
    const db = new Database(file, { readonly: true });
    const tables = (
      db.prepare("select name from sqlite_master where type = 'table' order by name").all() as {
        name: string;
      }[]
    ).map((t) => t.name);
    assert.deepEqual(tables, [
      "atx_sync_requests",
      "atx_sync_state",
      "challenge",
      "malfeasance_sync_state",
      "nipost",
      "poet_certificates",
      "poet_registration",
      "post",
      "prepared_activeset",
    ]);
    assert.equal(db.pragma("user_version", { simple: true }), 9);
    assert.equal(db.pragma("journal_mode", { simple: true }), "wal");
    db.close();
    const companion = new Database(companionPath(file), { readonly: true });
    const ours = (
      companion.prepare("select name from sqlite_master where type = 'table'").all() as {
        name: string;
      }[]
    ).map((t) => t.name);
    assert.ok(ours.includes(MIGRATION_TABLE));
    assert.equal(companion.pragma("journal_mode", { simple: true }), "wal");
    companion.close();
  });

  it("reopens an existing file without migrating again and keeps its rows", async () => {
    const file = dbFile();
    {
      await using state = await openNodeState(file, { create: true });
      await state.challenges.add(filled(32, 1), challenge);
    }
    const messages: string[] = [];
    const logger = {
      debug: () => {},
      info: (_f: Record<string, unknown>, m: string) => messages.push(m),
      warn: () => {},
      error: () => {},
    };
    await using state = await openNodeState(file, { logger, create: true });
    assert.deepEqual(messages, []);
    assert.deepEqual((await state.challenges.get(filled(32, 1)))?.challenge, challenge);
  });

  it("refuses a database migrated by a newer release with kind schema-too-new", async () => {
    const file = dbFile();
    await (await openNodeState(file, { create: true })).close();
    const db = new Database(companionPath(file));
    db.prepare(`insert into ${MIGRATION_TABLE} (name, timestamp) values (?, ?)`).run(
      "9999_from_the_future",
      "2030-01-01T00:00:00.000Z",
    );
    db.close();
    await assert.rejects(openNodeState(file, { create: true }), (err: unknown) => {
      assert.ok(err instanceof StorageError);
      assert.equal(err.kind, "schema-too-new");
      assert.match(err.message, /9999_from_the_future/);
      return true;
    });
  });

  it("works on a caller's Database and leaves it open on close", async () => {
    const db = new Database(dbFile());
    const state = await openNodeState(db, { create: true });
    await state.challenges.add(filled(32, 1), challenge);
    await state.close();
    assert.equal(db.open, true);
    assert.equal((db.prepare("select count(*) c from challenge").get() as { c: number }).c, 1);
    // The caller's default integer mode is not changed.
    assert.equal(typeof (db.prepare("select 1 v").get() as { v: unknown }).v, "number");
    // Nor its attached databases: the companion is detached again.
    assert.deepEqual(
      (db.pragma("database_list") as { name: string }[]).map((d) => d.name),
      ["main"],
    );
    db.close();
  });

  it("works on a caller's Kysely that returns bigint, and refuses one that does not", async () => {
    const safe = new Database(dbFile());
    safe.defaultSafeIntegers(true);
    const kysely = new Kysely<unknown>({ dialect: new SqliteDialect({ database: safe }) });
    {
      await using state = await openNodeState(kysely, { create: true });
      await state.challenges.add(filled(32, 1), { ...challenge, sequence: (1n << 64n) - 1n });
      assert.equal(
        (await state.challenges.get(filled(32, 1)))?.challenge.sequence,
        (1n << 64n) - 1n,
      );
    }
    assert.equal(safe.open, true);
    await kysely.destroy();

    const unsafe = new Kysely<unknown>({
      dialect: new SqliteDialect({ database: new Database(dbFile()) }),
    });
    await assert.rejects(openNodeState(unsafe, { create: true }), ConfigError);
    await unsafe.destroy();
  });

  it("works in memory", async () => {
    await using state = await openNodeState(":memory:");
    await state.challenges.add(filled(32, 1), challenge);
    assert.ok(await state.challenges.get(filled(32, 1)));
  });

  it("fails with kind closed after close and with AbortedError on an aborted signal", async () => {
    const state = await openNodeState(dbFile(), { create: true });
    const controller = new AbortController();
    controller.abort();
    await assert.rejects(
      state.challenges.get(filled(32, 1), { signal: controller.signal }),
      AbortedError,
    );
    await state.close();
    await state.close();
    await assert.rejects(state.challenges.get(filled(32, 1)), (err: unknown) => {
      assert.ok(err instanceof StorageError);
      assert.equal(err.kind, "closed");
      return true;
    });
    await assert.rejects(openNodeState(dbFile(), { signal: controller.signal }), AbortedError);
  });

  it("reports a file that cannot be opened as an io StorageError", async () => {
    await assert.rejects(
      openNodeState(path.join(dir, "missing-dir", "x.sql"), { create: true }),
      (err: unknown) => {
        assert.ok(err instanceof StorageError);
        assert.equal(err.kind, "io");
        return true;
      },
    );
  });
});
