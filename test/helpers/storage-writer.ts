/**
 * A child process for the storage durability test: writes one step after another to the node
 * state at `argv[2]`, each step a transaction of two rows (a registration and a member list of the
 * same index), and reports `committed <i>` on stdout after each commit. The parent kills it with
 * SIGKILL at an arbitrary point.
 */
import { openNodeState } from "../../src/storage/index.js";

const file = process.argv[2];
if (file === undefined) throw new Error("usage: storage-writer.ts <db>");
const state = await openNodeState(file, { create: true });
const nodeId = new Uint8Array(32).fill(0x77);
// Large enough that a kill often lands inside a write.
const members = Array.from({ length: 2000 }, (_, i) => new Uint8Array(32).fill(i & 0xff));
process.stdout.write("ready\n");
for (let i = 0; ; i++) {
  await state.transaction(async (tx) => {
    await tx.registrations.add({
      nodeId,
      hash: new Uint8Array(32).fill(1),
      address: `https://poet-${i}`,
      roundId: String(i),
      roundEnd: new Date(i * 1000),
    });
    await tx.members.put({
      address: `https://poet-${i}`,
      roundId: String(i),
      members,
      fetchedAt: new Date(i),
    });
  });
  process.stdout.write(`committed ${i}\n`);
}
