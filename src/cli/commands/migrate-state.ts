/**
 * @module cli/commands/migrate-state
 *
 * `poet-client migrate-state --db <local.sql> --to postgres://…`: moves a node's state into the
 * PostgreSQL state of a fleet (docs/operator-guide.md, "Running a fleet"). The source is opened
 * read-only and never changed; the copy is one transaction of the target, which must be empty; then
 * both are read again and compared row by row, and any difference is reported (exit code 5).
 */
import {
  compareNodeStates,
  copyNodeState,
  type NodeState,
  openNodeState,
  openPostgresState,
} from "../../storage/index.js";
import { type Command, NO_ARGUMENTS, startCommand, stringOption } from "../command.js";
import { EXIT_ATTENTION, EXIT_OK } from "../exit-codes.js";
import { fields, jsonText } from "../format.js";
import {
  displayTarget,
  isPostgresUrl,
  nodeStateTarget,
  openExistingNodeState,
  postgresTarget,
} from "../node-state-file.js";
import { UsageError } from "../usage-error.js";

const OPTIONS = {
  db: { type: "string" },
  "data-dir": { type: "string" },
  to: { type: "string" },
} as const;

/** `poet-client migrate-state`. */
export const migrateStateCommand: Command = {
  name: "migrate-state",
  help: `Usage: poet-client migrate-state --db <local.sql> | --data-dir <dir> --to <target> [--json]

Copies a node state — every identity's challenge, registrations, NiPoST and certificates, and the
caches of verified proofs and member lists — into another store, typically the PostgreSQL state of
a fleet, then reads both again and compares them row by row. The source is only read. The copy is
one transaction: all of it or nothing. The target must hold no identities yet.

Stop the node (or the worker) that uses the source first: what it writes during the copy is not
copied.

Options:
  --db <file>            the node-state SQLite file to copy (local.sql)
  --data-dir <dir>       or the node's data directory (local.sql, else node_state.sql, in it)
  --to <target>          postgres://user@host/db?schema=poet_client (created and migrated if
                         needed), or a new SQLite file
  --json                 machine-readable output
  -h, --help             this help

Exit code 5 when the copy differs from the source.

Example:
  poet-client migrate-state --data-dir ~/spacemesh/node_data --to postgres://poet@db.internal/fleet`,

  async run(argv, context) {
    const start = startCommand(this, argv, context, OPTIONS, NO_ARGUMENTS);
    if (typeof start === "number") return start;
    const { parsed, json, io, style } = start;
    const source = nodeStateTarget(stringOption(parsed, "db"), stringOption(parsed, "data-dir"));
    const target = stringOption(parsed, "to");
    if (target === undefined) throw new UsageError("--to", "is required");
    const signal = io.signal;
    const from = await openExistingNodeState(source, signal, { readonly: true });
    let to: NodeState | undefined;
    try {
      if (isPostgresUrl(target)) {
        to = await openPostgresState({
          ...postgresTarget(target),
          maxConnections: 2,
          ...(signal === undefined ? {} : { signal }),
        });
      } else {
        to = await openNodeState(target, {
          create: true,
          ...(signal === undefined ? {} : { signal }),
        });
      }
      const copied = await copyNodeState(from, to, { signal });
      const differences = await compareNodeStates(from, to, { signal });
      if (json) {
        io.stdout.write(
          jsonText({
            ok: differences.length === 0,
            from: displayTarget(source),
            to: displayTarget(target),
            copied,
            differences,
          }),
        );
      } else {
        io.stdout.write(
          `${fields([
            ["from", displayTarget(source)],
            ["to", displayTarget(target)],
            ["challenges", String(copied.challenges)],
            ["registrations", String(copied.registrations)],
            ["NiPoSTs", String(copied.niposts)],
            ["certificates", String(copied.certificates)],
            ["verified proofs", String(copied.proofs)],
            ["member lists", String(copied.memberLists)],
          ])}\n`,
        );
        if (differences.length === 0) {
          io.stdout.write(`${style.green("verified:")} the copy holds exactly the source's rows\n`);
        } else {
          for (const d of differences) io.stdout.write(`${style.red("differs:")} ${d}\n`);
        }
      }
      return differences.length === 0 ? EXIT_OK : EXIT_ATTENTION;
    } finally {
      await to?.close();
      await from.close();
    }
  },
};
