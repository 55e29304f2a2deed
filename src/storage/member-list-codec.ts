/**
 * @module storage/member-list-codec
 *
 * The storage format of a PoET round's member list in `poet_client_members.members`: the members
 * one after the other, each preceded by its length as a 4-byte big-endian integer.
 *
 * Members are normally 32-byte challenges, but a PoET does not enforce that (docs/protocol.md
 * §4.2), and the statement must be recomputed from the raw bytes the PoET hashed; so each member
 * keeps its own length instead of the list being cut into 32-byte pieces. The format is private to
 * this table (go-spacemesh keeps member lists only in memory, docs/node-client.md §1.11).
 */

/** Concatenates the members with their lengths. */
export function encodeMemberList(members: readonly Uint8Array[]): Uint8Array {
  let size = 0;
  for (const m of members) size += 4 + m.length;
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  let at = 0;
  for (const m of members) {
    view.setUint32(at, m.length);
    out.set(m, at + 4);
    at += 4 + m.length;
  }
  return out;
}

/**
 * Splits the stored bytes back into `count` members. Throws a plain `Error` describing the
 * damage; the repository turns it into a `"corrupt"` storage error.
 */
export function decodeMemberList(bytes: Uint8Array, count: number): Uint8Array[] {
  const members: Uint8Array[] = [];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 0;
  while (at < bytes.length) {
    if (at + 4 > bytes.length) throw new Error(`truncated length at byte ${at}`);
    const length = view.getUint32(at);
    at += 4;
    if (at + length > bytes.length) throw new Error(`member ${members.length} is truncated`);
    members.push(bytes.slice(at, at + length));
    at += length;
  }
  if (members.length !== count) {
    throw new Error(`holds ${members.length} members, the row says ${count}`);
  }
  return members;
}
