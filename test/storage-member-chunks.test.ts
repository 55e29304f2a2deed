/**
 * Member lists of mainnet size in the node state (`storage/member-list-repository.ts`), one suite
 * that every store passes: SQLite and PostgreSQL (`helpers/node-state-stores.ts`). A list is
 * packed, cut into chunk rows of at most `MEMBER_CHUNK_BYTES`, read back into one buffer with a
 * turn of the event loop between chunks; a chunk that is missing, extra or cut short makes the list
 * corrupt (a typed `StorageError`, reported by `check()`, deleted by `repair()`), never a crash.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import Database from "better-sqlite3";
import { Kysely, SqliteDialect } from "kysely";
import { StorageError } from "../src/errors.js";
import {
  compareNodeStates,
  copyNodeState,
  MEMBER_CHUNK_BYTES,
  type NodeState,
  openNodeState,
} from "../src/storage/index.js";
import type { NodeStateTables } from "../src/storage/schema.js";
import { PackedMembers } from "../src/wire/index.js";
import { NODE_STATE_STORES, type OpenedStore } from "./helpers/node-state-stores.js";
import { prng, prngWords } from "./helpers/prng.js";
import { filled } from "./helpers/storage-go-db.js";
import { tempDir } from "./helpers/temp-dir.js";
import { turnCounter } from "./helpers/turn-counter.js";

const tmp = tempDir("storage-member-chunks-");

const POET = "https://poet-a";

const generated = new Map<string, PackedMembers>();

/**
 * `count` seeded 32-byte members, packed; made once per count and seed, so that the SQLite and
 * PostgreSQL halves round-trip the same mainnet-size list (8 million draws, a tenth of a CPU-second).
 */
function seededMembers(count: number, seed: number): PackedMembers {
  const key = `${count}:${seed}`;
  const known = generated.get(key);
  if (known !== undefined) return known;
  const words = prngWords(seed, count * 8);
  const members = new PackedMembers(new Uint8Array(words.buffer));
  generated.set(key, members);
  return members;
}

/** The longest gap between two event-loop turns while `work` runs, in ms (reported, not asserted). */
async function longestBlock<T>(work: () => Promise<T>): Promise<{ value: T; blockMs: number }> {
  let last = performance.now();
  let longest = 0;
  let running = true;
  const tick = () => {
    // Not after the work: the next gap would be the caller's.
    if (!running) return;
    const now = performance.now();
    longest = Math.max(longest, now - last);
    last = now;
    setImmediate(tick);
  };
  setImmediate(tick);
  try {
    const value = await work();
    return { value, blockMs: longest };
  } finally {
    running = false;
  }
}

function isCorrupt(table?: string) {
  return (err: unknown) => {
    assert.ok(err instanceof StorageError, String(err));
    assert.equal(err.kind, "corrupt");
    if (table !== undefined) assert.equal(err.table, table);
    return true;
  };
}

for (const store of NODE_STATE_STORES) {
  describe(`member lists in chunks on ${store.name}`, () => {
    async function withState(fn: (state: NodeState, raw: OpenedStore) => Promise<void>) {
      const opened = await store.open();
      try {
        await fn(opened.state, opened);
      } finally {
        await opened.close();
      }
    }
    const chunkRows = async (raw: OpenedStore) =>
      Number(
        (await raw.query("select count(*) as n from poet_client_member_chunk"))[0]?.n ?? Number.NaN,
      );

    it("round-trips 1,000,000 members packed in chunks, read into one buffer with a turn between chunks", (t) =>
      withState(async (state, raw) => {
        const COUNT = 1_000_000;
        const members = seededMembers(COUNT, 1);
        const chunks = Math.ceil((COUNT * 32) / MEMBER_CHUNK_BYTES);
        const writeTurns = turnCounter();
        const written = await longestBlock(() =>
          state.members.put({
            address: POET,
            roundId: "7",
            members,
            statement: filled(32, 9),
            fetchedAt: new Date(5000),
          }),
        );
        writeTurns.stop();
        assert.equal(await chunkRows(raw), chunks);
        // Structural: each chunk was written in a turn of the event loop of its own.
        assert.ok(writeTurns.turn >= chunks, `${writeTurns.turn} turns for ${chunks} chunks`);
        const turns = turnCounter();
        const read = await longestBlock(() => state.members.read(POET, "7"));
        turns.stop();
        const list = read.value;
        assert.ok(list !== undefined);
        assert.ok(list.members instanceof PackedMembers);
        assert.equal(list.members.length, COUNT);
        assert.ok(Buffer.from(list.members.bytes).equals(members.bytes), "the bytes read back");
        assert.deepEqual(list.statement, filled(32, 9));
        assert.equal(list.fetchedAt.getTime(), 5000);
        // Structural: the read gave the event loop a turn after every chunk.
        assert.ok(turns.turn >= chunks, `${turns.turn} turns for ${chunks} chunks`);
        t.diagnostic(
          `${store.name}: ${chunks} chunks; longest event-loop block: write ${written.blockMs.toFixed(1)} ms, read ${read.blockMs.toFixed(1)} ms (informative, shared machine)`,
        );

        // Replaced by a smaller list: the old chunks go.
        await state.members.put({
          address: POET,
          roundId: "7",
          members: seededMembers(40_000, 2),
          fetchedAt: new Date(6000),
        });
        assert.equal(await chunkRows(raw), 2);
        assert.equal((await state.members.read(POET, "7"))?.members.length, 40_000);
        // Pruned with its round, chunks and all.
        assert.equal(await state.members.pruneFetchedBefore(new Date(6001)), 1);
        assert.equal(await chunkRows(raw), 0);
        assert.equal(await state.members.read(POET, "7"), undefined);
      }));

    it("keeps members of other lengths (length-prefixed) across chunks", () =>
      withState(async (state, raw) => {
        const random = prng(3);
        const members = Array.from({ length: 30_000 }, (_, i) =>
          filled(i % 7 === 0 ? 33 : 40, Math.floor(random() * 256)),
        );
        await state.members.put({ address: POET, roundId: "8", members, fetchedAt: new Date(1) });
        assert.equal(await chunkRows(raw), 2);
        const list = await state.members.read(POET, "8");
        assert.ok(Array.isArray(list?.members));
        assert.deepEqual((await state.members.get(POET, "8"))?.members, members);
        assert.equal(await state.members.delete(POET, "8"), true);
        assert.equal(await chunkRows(raw), 0);
      }));

    it("a missing, short or long chunk, or a wrong chunk count, is a corrupt list: a StorageError, reported by check() and deleted by repair()", () =>
      withState(async (state, raw) => {
        const members = seededMembers(100_000, 4); // 3.2 MB: 4 chunks
        const put = () =>
          state.members.put({ address: POET, roundId: "9", members, fetchedAt: new Date(1) });
        await put();
        assert.equal(await chunkRows(raw), 4);
        const damages: Array<[string, unknown[]]> = [
          ["delete from poet_client_member_chunk where chunk = 2", []],
          ["update poet_client_member_chunk set bytes = $1 where chunk = 1", [filled(100, 1)]],
          ["update poet_client_member_chunk set chunk = 7 where chunk = 3", []],
          [
            "update poet_client_member_chunk set bytes = $1 where chunk = 3",
            [filled(MEMBER_CHUNK_BYTES, 1)],
          ],
          ["update poet_client_members set chunk_count = 3", []],
        ];
        for (const [statement, params] of damages) {
          await raw.exec(statement, params);
          await assert.rejects(state.members.read(POET, "9"), isCorrupt(), statement);
          const found = await state.check();
          assert.deepEqual(
            found.map((f) => [f.kind, f.table, f.address]),
            [["corrupt-row", "poet_client_members", POET]],
            statement,
          );
          assert.equal(await state.repair(found), 1);
          assert.equal(await state.members.read(POET, "9"), undefined);
          assert.equal(await chunkRows(raw), 0);
          assert.deepEqual(await state.check(), []);
          await put();
        }
        // A write that never finished (chunks, no list row) is no list, and pruning removes it.
        await raw.exec("delete from poet_client_members");
        assert.equal(await state.members.read(POET, "9"), undefined);
        assert.deepEqual(await state.check(), []);
        assert.equal(await state.members.pruneFetchedBefore(new Date(2)), 0);
        assert.equal(await chunkRows(raw), 0);
      }));
  });
}

describe("member lists in chunks copied between stores", () => {
  it("copyNodeState moves a chunked list from SQLite to PostgreSQL and compareNodeStates proves it", async () => {
    const [sqlite, postgres] = NODE_STATE_STORES;
    assert.ok(sqlite !== undefined && postgres !== undefined);
    const from = await sqlite.open();
    const to = await postgres.open();
    try {
      const members = seededMembers(200_000, 5); // 6.4 MB: 7 chunks
      await from.state.members.put({
        address: POET,
        roundId: "11",
        members,
        statement: filled(32, 4),
        fetchedAt: new Date(77),
      });
      const copied = await copyNodeState(from.state, to.state);
      assert.equal(copied.memberLists, 1);
      assert.deepEqual(await compareNodeStates(from.state, to.state), []);
      const list = await to.state.members.read(POET, "11");
      assert.ok(list?.members instanceof PackedMembers);
      assert.ok(Buffer.from(list.members.bytes).equals(members.bytes));
      assert.equal(
        Number((await to.query("select count(*) as n from poet_client_member_chunk"))[0]?.n),
        7,
      );
      // One byte changed in one chunk of the copy: a difference.
      await to.exec("update poet_client_member_chunk set bytes = $1 where chunk = 6", [
        members.bytes.slice(6 * MEMBER_CHUNK_BYTES).map((b, i) => (i === 0 ? b ^ 1 : b)),
      ]);
      assert.deepEqual(await compareNodeStates(from.state, to.state), [
        `member list ${POET} round 11: differs`,
      ]);
    } finally {
      await from.close();
      await to.close();
    }
  });
});

describe("member lists of several rounds stored at once", () => {
  it("writes one chunk per event-loop turn, each committed in a later turn, whatever the number of lists", async () => {
    // Five PoETs' rounds end together and their lists are stored at once: the chunks used to be
    // committed together, five megabytes in one turn (70 ms of the 3,000,000 × 5 bench).
    const database = new Database(tmp.file());
    database.defaultSafeIntegers(true);
    let counter: ReturnType<typeof turnCounter> | undefined;
    /** Each statement with the turn it ran in. */
    const statements: Array<{ sql: string; turn: number }> = [];
    const kysely = new Kysely<NodeStateTables>({
      dialect: new SqliteDialect({ database }),
      log: (event) => {
        if (counter !== undefined) statements.push({ sql: event.query.sql, turn: counter.turn });
      },
    });
    const state = await openNodeState(kysely);
    try {
      // 3.5 chunks each: the last half-megabyte chunk is heavy too (a quarter megabyte or more).
      const COUNT = 3.5 * (MEMBER_CHUNK_BYTES / 32);
      const lists = Array.from({ length: 5 }, (_, i) => seededMembers(COUNT, 20 + i));
      const chunksEach = Math.ceil((COUNT * 32) / MEMBER_CHUNK_BYTES);
      counter = turnCounter();
      await Promise.all(
        lists.map((members, i) =>
          state.members.put({
            address: `${POET}-${i}`,
            roundId: "3",
            members,
            fetchedAt: new Date(1000),
          }),
        ),
      );
      counter.stop();
      const chunkInserts = statements.filter((s) =>
        /^insert into "poet_client_member_chunk"/.test(s.sql),
      );
      assert.equal(chunkInserts.length, 5 * chunksEach);
      const perTurn = new Map<number, number>();
      for (const s of chunkInserts) perTurn.set(s.turn, (perTurn.get(s.turn) ?? 0) + 1);
      assert.equal(
        Math.max(...perTurn.values()),
        1,
        `at most one chunk per turn (${[...perTurn.values()].join(",")})`,
      );
      // The commit of a chunk's transaction (the next commit after its insert) runs in a later turn.
      for (const insert of chunkInserts) {
        const at = statements.indexOf(insert);
        const commit = statements.slice(at).find((s) => s.sql === "commit");
        assert.ok(commit !== undefined && commit.turn > insert.turn, "commit in a later turn");
      }
      for (const [i, members] of lists.entries()) {
        const list = await state.members.read(`${POET}-${i}`, "3");
        assert.ok(list?.members instanceof PackedMembers);
        assert.ok(Buffer.from(list.members.bytes).equals(members.bytes));
      }
    } finally {
      await state.close();
      await kysely.destroy();
    }
  });
});
