/**
 * @module registration/apply-poet-switch
 *
 * Applies the one rule for changing PoETs ({@link planPoetSwitch}, `schedule/poet-switch.ts`) on
 * the node state; used by `RegistrationManager.switchPoets` and by the CLI's `switch-phase`
 * (docs/node-client.md §4, §7 item 2).
 *
 * Each identity's deletions run in a transaction of their own, in which that identity's rows are
 * read again and planned again, so a row written by a running cycle since the first read is judged
 * as it is when deleted. Every delete names its identity, so a manager that holds the identity's
 * lease writes it fenced (`storage/store-connection.ts`): an identity whose lease was lost is left
 * to its new holder and reported in {@link AppliedPoetSwitch.skipped}. The transactions are issued
 * together and the store commits them in shared group commits, each in a savepoint of its own: an
 * identity is switched entirely or not at all, and one refused identity does not undo the others.
 */
import type { AbortOptions } from "../abort-options.js";
import { toHex } from "../bytes.js";
import { LeaseLostError } from "../errors.js";
import {
  type PoetSwitchIdentityPlan,
  type PoetSwitchIdentityRows,
  type PoetSwitchInput,
  type PoetSwitchPlan,
  planPoetSwitch,
} from "../schedule/index.js";
import type { NodeState, NodeStateRepositories } from "../storage/index.js";

/** A PoET switch to apply: {@link PoetSwitchInput} without the rows, which are read here. */
export type PoetSwitchTarget = Omit<PoetSwitchInput, "identities">;

/** What {@link applyPoetSwitch} did. */
export interface AppliedPoetSwitch {
  /** The plan, with each switched identity's part as applied. */
  plan: PoetSwitchPlan;
  /** Identities some of whose rows were deleted. */
  cleared: Uint8Array[];
  /** Identities left alone because this process lost their lease meanwhile. */
  skipped: { nodeId: Uint8Array; error: LeaseLostError }[];
  registrationsDeleted: number;
  /** Write-ahead submit intents deleted with the registrations they could stand for. */
  intentsDeleted: number;
  nipostsDeleted: number;
}

/**
 * Reads every identity's rows that {@link planPoetSwitch} judges (challenges, registrations,
 * write-ahead submit intents and NiPoST rows), as plain data.
 *
 * @example
 * ```ts
 * const plan = planPoetSwitch({ ...target, identities: await readPoetSwitchRows(state) });
 * ```
 */
export async function readPoetSwitchRows(
  state: NodeStateRepositories,
  options: AbortOptions = {},
): Promise<PoetSwitchIdentityRows[]> {
  const opts = options.signal === undefined ? {} : { signal: options.signal };
  const rows = new Map<
    string,
    PoetSwitchIdentityRows & { registrations: PoetSwitchRow[]; intents: PoetSwitchRow[] }
  >();
  const of = (nodeId: Uint8Array) => {
    const key = toHex(nodeId);
    let entry = rows.get(key);
    if (entry === undefined) {
      entry = { nodeId, registrations: [], intents: [] };
      rows.set(key, entry);
    }
    return entry;
  };
  for (const c of await state.challenges.list(opts)) {
    of(c.nodeId).challenge = {
      publishEpoch: c.challenge.publishEpoch,
      poetProofRef: c.poetProofRef,
    };
  }
  for (const r of await state.registrations.list(opts)) {
    of(r.nodeId).registrations.push({ address: r.address, roundId: r.roundId });
  }
  for (const i of await state.intents.list(opts)) {
    of(i.nodeId).intents.push({ address: i.address, roundId: i.roundId });
  }
  for (const n of await state.nipost.list(opts)) {
    of(n.nodeId).nipost = { poetProofRef: n.poetProofRef };
  }
  return [...rows.values()];
}

type PoetSwitchRow = PoetSwitchIdentityRows["registrations"][number];

/** One identity's rows, read inside its transaction. */
async function readIdentityRows(
  tx: NodeStateRepositories,
  nodeId: Uint8Array,
): Promise<PoetSwitchIdentityRows> {
  const challenge = await tx.challenges.get(nodeId);
  const registrations = await tx.registrations.listFor(nodeId);
  const intents = await tx.intents.listFor(nodeId);
  const nipost = await tx.nipost.get(nodeId);
  return {
    nodeId,
    challenge:
      challenge === undefined
        ? undefined
        : { publishEpoch: challenge.challenge.publishEpoch, poetProofRef: challenge.poetProofRef },
    registrations: registrations.map((r) => ({ address: r.address, roundId: r.roundId })),
    intents: intents.map((i) => ({ address: i.address, roundId: i.roundId })),
    nipost: nipost === undefined ? undefined : { poetProofRef: nipost.poetProofRef },
  };
}

function deletes(plan: PoetSwitchIdentityPlan): boolean {
  return (
    plan.deleteRegistrations.length > 0 ||
    plan.deleteIntents.length > 0 ||
    plan.deleteNipost !== undefined
  );
}

/**
 * Plans the switch on the node state's rows ({@link planPoetSwitch}) and deletes what the plan
 * deletes, one transaction per identity (see the module notes). Rejects with the first error
 * other than a lost lease, after every identity's transaction has ended (those that committed
 * stay committed: each identity is whole).
 *
 * @example
 * ```ts
 * const done = await applyPoetSwitch(state, { from, to, poets: ["https://poet-x.example"], at: new Date() });
 * console.log(`${done.registrationsDeleted} registrations deleted`);
 * ```
 */
export async function applyPoetSwitch(
  state: NodeState,
  target: PoetSwitchTarget,
  options: AbortOptions = {},
): Promise<AppliedPoetSwitch> {
  const signal = options.signal;
  const plan = planPoetSwitch({ ...target, identities: await readPoetSwitchRows(state, options) });
  const work = plan.identities.filter(deletes).map((first) =>
    state.transaction(
      async (tx) => {
        // Planned again on the rows as they are now (a transaction may also run twice).
        const rows = await readIdentityRows(tx, first.nodeId);
        const [again] = planPoetSwitch({ ...target, identities: [rows] }).identities;
        if (again === undefined) return { plan: first, registrations: 0, intents: 0, nipost: 0 };
        let registrations = 0;
        for (const r of again.deleteRegistrations) {
          if (await tx.registrations.delete(again.nodeId, r.address)) registrations++;
        }
        let intents = 0;
        for (const i of again.deleteIntents) {
          if (await tx.intents.delete(again.nodeId, i.address)) intents++;
        }
        const nipost =
          again.deleteNipost !== undefined && (await tx.nipost.delete(again.nodeId)) ? 1 : 0;
        return { plan: again, registrations, intents, nipost };
      },
      { signal },
    ),
  );
  const results = await Promise.allSettled(work);
  const applied = new Map<string, PoetSwitchIdentityPlan>();
  const cleared: Uint8Array[] = [];
  const skipped: AppliedPoetSwitch["skipped"] = [];
  let registrationsDeleted = 0;
  let intentsDeleted = 0;
  let nipostsDeleted = 0;
  let failure: { error: unknown } | undefined;
  const planned = plan.identities.filter(deletes);
  for (const [i, result] of results.entries()) {
    const nodeId = (planned[i] as PoetSwitchIdentityPlan).nodeId;
    if (result.status === "rejected") {
      if (result.reason instanceof LeaseLostError) skipped.push({ nodeId, error: result.reason });
      else failure ??= { error: result.reason };
      continue;
    }
    applied.set(toHex(nodeId), result.value.plan);
    registrationsDeleted += result.value.registrations;
    intentsDeleted += result.value.intents;
    nipostsDeleted += result.value.nipost;
    if (result.value.registrations + result.value.intents + result.value.nipost > 0)
      cleared.push(nodeId);
  }
  if (failure !== undefined) throw failure.error;
  return {
    plan: {
      ...plan,
      identities: plan.identities.map((p) => applied.get(toHex(p.nodeId)) ?? p),
    },
    cleared,
    skipped,
    registrationsDeleted,
    intentsDeleted,
    nipostsDeleted,
  };
}
