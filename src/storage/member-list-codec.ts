/**
 * @module storage/member-list-codec
 *
 * The storage formats of a PoET round's member list (`poet_client_members` and its chunks in
 * `poet_client_member_chunk`, see `member-list-repository.ts`). The stored bytes are one of:
 *
 * - **packed** (`member_size` 32): the members back to back, 32 bytes each, exactly the layout of
 *   `PackedMembers`, so that a list of millions of members is read into one buffer with no
 *   object per member. Every list whose members are all 32-byte challenges is stored so.
 * - **length-prefixed** (`member_size` `NULL`): each member preceded by its length as a 4-byte
 *   big-endian integer. Members are normally 32-byte challenges, but a PoET does not enforce that
 *   (docs/protocol.md §4.2), and the statement must be recomputed from the raw bytes the PoET
 *   hashed, so a list with another member length keeps each member's own length. Rows written by
 *   earlier releases are all in this format.
 *
 * The format is private to our tables (go-spacemesh keeps member lists only in memory,
 * docs/node-client.md §1.11).
 */

/** The length of a member in the packed format. */
export const PACKED_MEMBER_BYTES = 32;

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

/**
 * The members of length-prefixed `bytes` packed back to back, without an object per member, when
 * they are `count` members of 32 bytes; `undefined` when they decode but some member has another
 * length. Throws a plain `Error` describing the damage, as {@link decodeMemberList}.
 */
export function packLengthPrefixed(bytes: Uint8Array, count: number): Uint8Array | undefined {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length !== count * (4 + PACKED_MEMBER_BYTES)) {
    // Not all 32 bytes long (or damaged): the full decoder says which.
    decodeMemberList(bytes, count);
    return undefined;
  }
  const out = new Uint8Array(count * PACKED_MEMBER_BYTES);
  for (let i = 0; i < count; i++) {
    const at = i * (4 + PACKED_MEMBER_BYTES);
    if (view.getUint32(at) !== PACKED_MEMBER_BYTES) {
      decodeMemberList(bytes, count);
      return undefined;
    }
    out.set(bytes.subarray(at + 4, at + 4 + PACKED_MEMBER_BYTES), i * PACKED_MEMBER_BYTES);
  }
  return out;
}
