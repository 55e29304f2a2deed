/**
 * @module storage/copy-node-state
 *
 * Moving a node state from one store to another — typically a node's SQLite `local.sql` into the
 * PostgreSQL state of a fleet (docs/operator-guide.md, "Running a fleet") — and proving the copy.
 *
 * {@link copyNodeState} reads every row through the source's repositories (so a row that does not
 * decode stops the copy with a `"corrupt"` {@link StorageError} naming it: repair the source
 * first) and writes it through the target's, in one transaction of the target: the copy is all or
 * nothing. The target must hold no identity rows yet, so two states are never merged by accident.
 * {@link compareNodeStates} then reads both again and lists every difference; an empty list means
 * the target holds exactly what the source does.
 *
 * What is copied: each identity's challenge (with the challenge hash we recorded for it and the
 * selected proof), its registrations, NiPoST and certificates, and the caches of verified proofs
 * and member lists. Leases and proof-download claims are not: they belong to the processes running
 * now.
 */
import type { AbortOptions } from "../abort-options.js";
import { equalBytes, toHex } from "../bytes.js";
import { StorageError, throwIfAborted } from "../errors.js";
import type { NodeState } from "./open-node-state.js";

/** How many rows of each kind {@link copyNodeState} copied. */
export interface NodeStateCopyReport {
  challenges: number;
  registrations: number;
  niposts: number;
  certificates: number;
  proofs: number;
  memberLists: number;
}

/**
 * Copies every row of `from` into `to`, in one transaction of `to`. Rejects with a
 * {@link StorageError} of kind `"duplicate"` when `to` already has identity rows.
 *
 * @example
 * ```ts
 * await using from = await openNodeState("node_data", { readonly: true });
 * await using to = await openPostgresState({ connection: "postgres://poet@db/fleet" });
 * const copied = await copyNodeState(from, to, { signal });
 * const differences = await compareNodeStates(from, to, { signal });
 * if (differences.length > 0) throw new Error(differences.join("\n"));
 * ```
 */
export async function copyNodeState(
  from: NodeState,
  to: NodeState,
  options: AbortOptions = {},
): Promise<NodeStateCopyReport> {
  const { signal } = options;
  throwIfAborted(signal);
  const challenges = await from.challenges.list({ signal });
  const registrations = await from.registrations.list({ signal });
  const niposts = await from.nipost.list({ signal });
  const certificates = await from.certificates.list({ signal });
  const refs = await from.proofs.refs({ signal });
  const rounds = await from.members.rounds({ signal });
  return to.transaction(
    async (tx) => {
      const present =
        (await tx.challenges.list({ signal })).length +
        (await tx.registrations.list({ signal })).length +
        (await tx.nipost.list({ signal })).length;
      if (present > 0) {
        throw new StorageError(
          "the target node state already holds identities: copy only into an empty state",
          { kind: "duplicate" },
        );
      }
      for (const c of challenges) {
        await tx.challenges.add(c.nodeId, c.challenge, { hash: c.hash, signal });
        if (c.poetProofRef !== undefined && c.membership !== undefined) {
          await tx.challenges.setPoetProof(c.nodeId, c.poetProofRef, c.membership, { signal });
        }
      }
      if (registrations.length > 0) await tx.registrations.addMany(registrations, { signal });
      for (const { nodeId, ...nipost } of niposts) await tx.nipost.add(nodeId, nipost, { signal });
      for (const certificate of certificates) await tx.certificates.put(certificate, { signal });
      // One cached proof or member list at a time: they are the big rows.
      let proofs = 0;
      for (const ref of refs) {
        const proof = await from.proofs.get(ref, { signal });
        if (proof === undefined) continue;
        const { ref: _ref, ...input } = proof;
        await tx.proofs.put(input, { signal });
        proofs++;
      }
      let memberLists = 0;
      for (const { address, roundId } of rounds) {
        // Packed, in chunks: a mainnet round's list is read and written without an array per member.
        const list = await from.members.read(address, roundId, { signal });
        if (list === undefined) continue;
        await tx.members.put(list, { signal });
        memberLists++;
      }
      return {
        challenges: challenges.length,
        registrations: registrations.length,
        niposts: niposts.length,
        certificates: certificates.length,
        proofs,
        memberLists,
      };
    },
    { signal },
  );
}

/**
 * Reads both states and describes every difference between them (empty when they hold the same
 * rows): identities, registrations, NiPoSTs, certificates, verified proofs and member lists.
 *
 * @example
 * ```ts
 * const differences = await compareNodeStates(sqliteState, postgresState);
 * for (const d of differences) console.log(d); // "challenge 0a0a…: only in the first state"
 * ```
 */
export async function compareNodeStates(
  a: NodeState,
  b: NodeState,
  options: AbortOptions = {},
): Promise<string[]> {
  const { signal } = options;
  const differences: string[] = [];
  const compare = <T>(
    kind: string,
    left: readonly T[],
    right: readonly T[],
    key: (row: T) => string,
  ) => {
    const byKey = new Map(right.map((r) => [key(r), r]));
    for (const row of left) {
      const k = key(row);
      const other = byKey.get(k);
      byKey.delete(k);
      if (other === undefined) differences.push(`${kind} ${k}: only in the first state`);
      else if (!sameValue(row, other)) differences.push(`${kind} ${k}: differs`);
    }
    for (const k of byKey.keys()) differences.push(`${kind} ${k}: only in the second state`);
  };
  compare(
    "challenge",
    await a.challenges.list({ signal }),
    await b.challenges.list({ signal }),
    (c) => toHex(c.nodeId),
  );
  compare(
    "registration",
    await a.registrations.list({ signal }),
    await b.registrations.list({ signal }),
    (r) => `${toHex(r.nodeId)} ${r.address}`,
  );
  compare("nipost", await a.nipost.list({ signal }), await b.nipost.list({ signal }), (n) =>
    toHex(n.nodeId),
  );
  compare(
    "certificate",
    await a.certificates.list({ signal }),
    await b.certificates.list({ signal }),
    (c) => `${toHex(c.nodeId)} ${toHex(c.certifierId)}`,
  );
  // The big rows one at a time.
  const otherRefs = new Set((await b.proofs.refs({ signal })).map(toHex));
  for (const bytes of await a.proofs.refs({ signal })) {
    const ref = toHex(bytes);
    if (!otherRefs.delete(ref)) {
      differences.push(`proof ${ref}: only in the first state`);
      continue;
    }
    const left = await a.proofs.get(bytes, { signal });
    const right = await b.proofs.get(bytes, { signal });
    if (!sameValue(left, right)) differences.push(`proof ${ref}: differs`);
  }
  for (const ref of otherRefs) differences.push(`proof ${ref}: only in the second state`);
  const key = (r: { address: string; roundId: string }) => `${r.address} round ${r.roundId}`;
  const rounds = await a.members.rounds({ signal });
  const otherRounds = new Set((await b.members.rounds({ signal })).map(key));
  for (const round of rounds) {
    if (!otherRounds.delete(key(round))) {
      differences.push(`member list ${key(round)}: only in the first state`);
      continue;
    }
    const left = await a.members.read(round.address, round.roundId, { signal });
    const right = await b.members.read(round.address, round.roundId, { signal });
    if (!sameValue(left, right)) differences.push(`member list ${key(round)}: differs`);
  }
  for (const k of otherRounds) differences.push(`member list ${k}: only in the second state`);
  return differences;
}

/** Deep equality of decoded rows: bytes by content, dates by instant, bigints by value. */
function sameValue(x: unknown, y: unknown): boolean {
  if (x === y) return true;
  if (x instanceof Uint8Array || y instanceof Uint8Array) {
    return x instanceof Uint8Array && y instanceof Uint8Array && equalBytes(x, y);
  }
  if (x instanceof Date || y instanceof Date) {
    return x instanceof Date && y instanceof Date && x.getTime() === y.getTime();
  }
  if (Array.isArray(x) || Array.isArray(y)) {
    return (
      Array.isArray(x) &&
      Array.isArray(y) &&
      x.length === y.length &&
      x.every((v, i) => sameValue(v, y[i]))
    );
  }
  if (typeof x === "object" && typeof y === "object" && x !== null && y !== null) {
    const keys = new Set([...Object.keys(x), ...Object.keys(y)]);
    for (const k of keys) {
      const a = (x as Record<string, unknown>)[k];
      const b = (y as Record<string, unknown>)[k];
      if (!sameValue(a, b)) return false;
    }
    return true;
  }
  return false;
}
