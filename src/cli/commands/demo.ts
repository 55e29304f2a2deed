/**
 * @module cli/commands/demo
 *
 * `poet-client demo` (what `npm start` runs): the whole job of the library in about a minute on
 * loopback. Three mock PoETs of one phase with different speeds, one of them failing for a while;
 * a {@link RegistrationManager} for several identities on a SQLite node state in a temporary
 * directory; registration → round end → proof download → verification → best-proof selection →
 * NiPoST with a stand-in PoST provider; a live view on a terminal and plain progress lines
 * elsewhere; a table of the chosen proofs and their ticks at the end (docs/node-client.md §1,
 * §5, §8; docs/concepts.md). Everything runs on the command's clock — the real one for `npm start`,
 * a `ManualClock` in the test — on a compressed calendar whose epoch `--epoch` sets (40 s by
 * default), with the command's random source for keys, challenges and jitter.
 */

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { genesisId } from "../../auth/genesis.js";
import { createEd25519Signer, type Signer } from "../../auth/signer.js";
import { toHex } from "../../bytes.js";
import { createPoetClient } from "../../client/index.js";
import type { Clock } from "../../clock.js";
import { AbortedError, ConfigError } from "../../errors.js";
import {
  type NiPostOutcome,
  type PostProvider,
  RegistrationManager,
} from "../../registration/index.js";
import { type NodeState, openNodeState } from "../../storage/index.js";
import { nipostChallengeHash } from "../../wire/index.js";
import { type Command, flag, NO_ARGUMENTS, startCommand, stringOption } from "../command.js";
import {
  type DemoPoet,
  type DemoTimings,
  demoTimings,
  runFaultScript,
  startDemoPoets,
} from "../demo/demo-scenario.js";
import {
  DemoView,
  inspectCommand,
  keptStateHelp,
  stagedFailuresNotice,
} from "../demo/demo-view.js";
import { parseCount, parseDuration } from "../duration.js";
import { EXIT_FAILURE, EXIT_OK } from "../exit-codes.js";
import { formatDuration, jsonText, table } from "../format.js";

const OPTIONS = {
  identities: { type: "string" },
  epoch: { type: "string" },
  keep: { type: "boolean" },
} as const;

/** Leaves per tick in the demo: the mocks prove thousands of leaves, not billions. */
const DEMO_TICK_SIZE = 100n;

/** `n` random bytes from `uniform` when given, else from the operating system. */
function randomBytes(uniform: (() => number) | undefined): (n: number) => Uint8Array {
  if (uniform === undefined) return (n) => crypto.getRandomValues(new Uint8Array(n));
  return (n) => Uint8Array.from({ length: n }, () => Math.floor(uniform() * 256));
}

/** A stand-in for the node's PoST service: waits a moment and returns a plausible result. */
function standInPost(
  timings: DemoTimings,
  clock: Clock,
  random: (n: number) => Uint8Array,
): PostProvider {
  return async (request, { signal }) => {
    await clock.sleep(timings.postMs, { signal });
    return {
      post: { nonce: request.challenge[0] ?? 0, indices: random(16), pow: 42n },
      numUnits: 4,
      vrfNonce: BigInt(request.challenge[1] ?? 0) + 1n,
      labelsPerUnit: 1024n,
    };
  };
}

/** One identity's result row. */
interface ResultRow {
  identity: string;
  outcome: NiPostOutcome["kind"];
  poet: string | undefined;
  roundId: string | undefined;
  leaves: bigint | undefined;
  ticks: bigint | undefined;
  ref: Uint8Array | undefined;
  error: string | undefined;
}

/** `poet-client demo`. */
export const demoCommand: Command = {
  name: "demo",
  help: `Usage: poet-client demo [--identities <n>] [--epoch <duration>] [--keep] [--json]

Runs the whole PoET cycle on loopback: three mock PoETs of one phase with different speeds (the
fastest is down when registration opens and fails a few proof requests), a RegistrationManager for
several identities on a SQLite node state in a temporary directory, on a compressed calendar:
registration, round end, proof download, verification, best-proof selection, and the NiPoST from a
stand-in PoST provider. On a terminal it shows a live view; otherwise one line per event. It ends
with a table of the chosen proofs and their ticks (tick size ${DEMO_TICK_SIZE} leaves here).

Options:
  --identities <n>       identities to run (default 3, at most 50)
  --epoch <duration>     length of the compressed epoch (default 40s; the run takes about 1.2 epochs)
  --keep                 keep the temporary directory with the node state, and print the
                         "poet-client status" command (with the demo's calendar) that inspects it
  --json                 print only a JSON summary at the end
  -h, --help             this help

Example:
  npm start
  poet-client demo --identities 5 --epoch 20s`,

  async run(argv, context) {
    const start = startCommand(this, argv, context, OPTIONS, NO_ARGUMENTS);
    if (typeof start === "number") return start;
    const { parsed, json, io, style } = start;
    const identitiesText = stringOption(parsed, "identities");
    const count = identitiesText === undefined ? 3 : parseCount("--identities", identitiesText, 50);
    if (count < 1) throw new ConfigError("--identities", "must be at least 1");
    const epochText = stringOption(parsed, "epoch");
    const epochMs = epochText === undefined ? 40_000 : parseDuration("--epoch", epochText);
    if (epochMs < 4000 || epochMs > 3_600_000) {
      throw new ConfigError("--epoch", `must be between 4s and 1h, got ${formatDuration(epochMs)}`);
    }
    const clock = io.clock;
    const random = randomBytes(io.random);
    const genesisMs = Math.ceil((clock.now() + 500) / 1000) * 1000;
    const timings = demoTimings(epochMs, genesisMs);
    const { schedule } = timings;
    const dir = mkdtempSync(join(tmpdir(), "poet-client-demo-"));
    const dbPath = join(dir, "local.sql");
    const stop = new AbortController();
    const onAbort = () => stop.abort(io.signal?.reason);
    io.signal?.addEventListener("abort", onAbort, { once: true });

    // Everything below is undone in the `finally`, as far as it got.
    let poets: DemoPoet[] = [];
    let state: NodeState | undefined;
    let view: DemoView | undefined;
    let manager: RegistrationManager | undefined;
    const background: Promise<void>[] = [];
    const results: ResultRow[] = [];
    let aborted = false;
    try {
      poets = await startDemoPoets(timings, clock, stop.signal);
      state = await openNodeState(dbPath, { create: true });
      const signers: Signer[] = Array.from({ length: count }, () =>
        createEd25519Signer(random(32)),
      );
      const live = new DemoView({
        out: io.stdout,
        style,
        clock,
        schedule,
        poets,
        identities: signers.map((s) => s.nodeId),
        live: io.stdout.isTTY === true,
        quiet: json,
      });
      view = live;
      const running = new RegistrationManager({
        schedule,
        poets: poets.map((p) => ({ url: p.mock.url, pubkey: p.mock.info.servicePubkey })),
        state,
        genesisId: genesisId(schedule.genesis, "poet-client demo"),
        signers,
        post: standInPost(timings, clock, random),
        clock,
        random: io.random,
        onEvent: (event) => live.onEvent(event),
        tickSize: DEMO_TICK_SIZE,
        proofCutoffMs: timings.proofCutoffMs,
        submitRetryDelayMs: timings.retryDelayMs,
        proofPollIntervalMs: timings.pollIntervalMs,
        maxProofPollIntervalMs: timings.maxPollIntervalMs,
        requestTimeoutMs: timings.requestTimeoutMs,
        createClient: (poet) =>
          createPoetClient({
            url: poet.address,
            servicePubkey: poet.pubkey,
            clock,
            timeoutMs: timings.requestTimeoutMs,
            proofTimeoutMs: timings.requestTimeoutMs,
            retryDelayMs: timings.retryDelayMs,
            random: io.random,
          }),
      });
      manager = running;

      live.message(
        `${style.bold("poet-client demo")}: ${count} identities, 3 mock PoETs, an epoch of ${formatDuration(epochMs)} ` +
          `(phase shift ${formatDuration(schedule.phaseShiftMs)}, cycle gap ${formatDuration(schedule.cycleGapMs)}); ` +
          `node state in ${dbPath}`,
      );
      live.message(stagedFailuresNotice(poets.at(-1)?.name ?? "poet-c", timings.downMs));
      background.push(runFaultScript(poets, timings, clock, stop.signal));
      background.push(
        (async () => {
          while (!stop.signal.aborted) {
            live.draw();
            try {
              await clock.sleep(200, { signal: stop.signal });
            } catch {
              return;
            }
          }
        })(),
      );

      try {
        const outcomes = await Promise.all(
          signers.map((signer) => {
            const challenge = {
              publishEpoch: 1,
              sequence: 0n,
              prevAtx: new Uint8Array(32),
              positioningAtx: random(32),
              commitmentAtx: random(32),
            };
            const hash = nipostChallengeHash(challenge);
            return running.buildNiPost(
              { nodeId: signer.nodeId, challenge: { challenge, hash } },
              { signal: stop.signal },
            );
          }),
        );
        outcomes.forEach((outcome, i) => {
          const nodeId = signers[i]?.nodeId as Uint8Array;
          const row: ResultRow = {
            identity: toHex(nodeId),
            outcome: outcome.kind,
            poet: undefined,
            roundId: undefined,
            leaves: undefined,
            ticks: undefined,
            ref: undefined,
            error: undefined,
          };
          if (outcome.kind === "ready") {
            const n = outcome.nipost;
            row.poet = n.poet === undefined ? undefined : live.poetName(n.poet);
            row.roundId = n.roundId;
            row.leaves = n.leaves;
            row.ticks = n.ticks;
            row.ref = n.proofRef;
          } else {
            row.error = outcome.error.message;
          }
          results.push(row);
        });
      } catch (err) {
        if (!(err instanceof AbortedError)) throw err;
        aborted = true;
      }
    } finally {
      stop.abort();
      await Promise.allSettled(background);
      view?.finish();
      io.signal?.removeEventListener("abort", onAbort);
      await manager?.close();
      await state?.close();
      await Promise.allSettled(poets.map((p) => p.mock.stop()));
      if (!flag(parsed, "keep")) rmSync(dir, { recursive: true, force: true });
    }

    const ok = !aborted && results.length === count && results.every((r) => r.outcome === "ready");
    const elapsedMs = clock.now() - (genesisMs - 500);
    if (json) {
      io.stdout.write(
        jsonText({
          ok,
          aborted,
          elapsedMs,
          epochMs,
          tickSize: DEMO_TICK_SIZE,
          nodeState: flag(parsed, "keep") ? dbPath : undefined,
          inspect: flag(parsed, "keep")
            ? inspectCommand(dbPath, schedule, DEMO_TICK_SIZE).join(" ")
            : undefined,
          poets: poets.map((p) => ({
            name: p.name,
            url: p.mock.url,
            leavesPerRound: p.leavesPerRound,
          })),
          identities: results,
        }),
      );
      return ok ? EXIT_OK : EXIT_FAILURE;
    }
    if (aborted) {
      io.stdout.write("\ninterrupted\n");
      return EXIT_FAILURE;
    }
    const header = ["identity", "result", "poet", "round", "leaves", "ticks", "proof ref"].map(
      style.bold,
    );
    const rows = results.map((r) => [
      `${r.identity.slice(0, 8)}…`,
      r.outcome === "ready" ? style.green("NiPoST ready") : style.red(r.outcome),
      r.poet ?? "-",
      r.roundId ?? "-",
      r.leaves?.toString() ?? "-",
      r.ticks === undefined ? "-" : style.bold(r.ticks.toString()),
      r.ref === undefined ? (r.error ?? "-") : `${toHex(r.ref).slice(0, 16)}…`,
    ]);
    io.stdout.write(`\n${style.bold("chosen proofs")}\n${table([header, ...rows])}\n\n`);
    io.stdout.write(
      ok
        ? `${style.green("done")}: every identity has a NiPoST, in ${formatDuration(elapsedMs)}.\n`
        : `${style.red("not every identity got a NiPoST")}\n`,
    );
    if (flag(parsed, "keep")) {
      io.stdout.write(`${keptStateHelp(dbPath, schedule, DEMO_TICK_SIZE)}\n`);
    }
    return ok ? EXIT_OK : EXIT_FAILURE;
  },
};
