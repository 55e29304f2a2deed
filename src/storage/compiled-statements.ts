/**
 * @module storage/compiled-statements
 *
 * The hot statements of a registration, built and compiled once per statement shape. Kysely
 * builds a tree of frozen nodes for every query and compiles it to SQL text each time it runs:
 * with ten thousand identities running the same few statements (reading an identity's
 * registrations and intents, writing its registration rows) that was the largest source of
 * garbage of a registration. A repository keeps one {@link CompiledStatements}; each shape is
 * built with the query builder the first time, as before, and then runs as its SQL text with the
 * caller's parameters (the SQLite connection prepares each text once: `open-node-state.ts`).
 */
import { type Compilable, CompiledQuery, type Kysely, type QueryResult } from "kysely";
import { PoetError } from "../errors.js";
import type { NodeStateTables } from "./schema.js";

/**
 * The SQL text of each statement shape a repository runs often.
 *
 * @example
 * ```ts
 * const shapes = new CompiledStatements();
 * const { rows } = await shapes.run<RegistrationRow>(db, "listFor", [nodeId], (db) =>
 *   db.selectFrom("poet_registration").selectAll().where("id", "=", nodeId).orderBy("address"),
 * );
 * ```
 */
export class CompiledStatements {
  readonly #texts = new Map<string, string>();

  /**
   * Runs the statement of `shape` on `db` with `parameters`; the first time, builds it with
   * `build` and checks that its parameters are `parameters`, in that order (a shape whose
   * parameters are listed out of order fails at once, not with wrong rows later).
   */
  run<R>(
    db: Kysely<NodeStateTables>,
    shape: string,
    parameters: readonly unknown[],
    build: (db: Kysely<NodeStateTables>) => Compilable<unknown>,
  ): Promise<QueryResult<R>> {
    let text = this.#texts.get(shape);
    if (text === undefined) {
      const compiled = build(db).compile();
      if (
        compiled.parameters.length !== parameters.length ||
        compiled.parameters.some((p, i) => !Object.is(p, parameters[i]))
      ) {
        throw new PoetError("internal", `the parameters of statement ${shape} are out of order`);
      }
      text = compiled.sql;
      this.#texts.set(shape, text);
    }
    return db.executeQuery<R>(CompiledQuery.raw(text, parameters as unknown[]));
  }
}
