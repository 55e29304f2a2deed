/**
 * What the crash-test child's bundle (./child-bundle.ts) gets for `pg`: the real module, loaded on
 * first use. node-postgres and what it pulls in (undici among them) are a sixth of a child's
 * start, and the children on SQLite never use it.
 */
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
let pg: Record<PropertyKey, unknown> | undefined;

export default new Proxy(
  {},
  {
    get(_target, key) {
      pg ??= require("pg") as Record<PropertyKey, unknown>;
      return pg[key];
    },
  },
);
