/**
 * @module transport/rest-route
 *
 * How each `PoetService` method maps to HTTP on the PoET's grpc-gateway (docs/protocol.md §1.1,
 * §1.2), read from the `google.api.http` options in the generated descriptors rather than written
 * down a second time: `GET /v1/info`, `GET /v1/pow_params`, `POST /v1/submit` with the whole
 * request as body, `GET /v1/proofs/{round_id}`. Path variables are filled from the request field
 * of that (proto) name and percent-encoded, because the PoET uses the round id verbatim as a
 * database key.
 */
import { type DescMethod, getOption } from "@bufbuild/protobuf";
import { ConfigError } from "../errors.js";
import { http } from "../gen/google/api/annotations_pb.js";

/** The HTTP form of one method. */
export interface RestRoute {
  verb: string;
  /** Path template, for example `/v1/proofs/{round_id}`. */
  template: string;
  /** `"*"` when the whole request is the JSON body; `""` when there is no body. */
  body: string;
}

/**
 * The HTTP verb, path template and body mapping of `method`.
 *
 * @throws {ConfigError} when the method carries no usable `google.api.http` option.
 * @example
 * ```ts
 * restRoute(PoetService.method.proof); // { verb: "GET", template: "/v1/proofs/{round_id}", body: "" }
 * ```
 */
export function restRoute(method: DescMethod): RestRoute {
  const rule = getOption(method, http);
  const { pattern } = rule;
  switch (pattern.case) {
    case "get":
    case "put":
    case "post":
    case "delete":
    case "patch":
      return { verb: pattern.case.toUpperCase(), template: pattern.value, body: rule.body };
    case "custom":
      return { verb: pattern.value.kind, template: pattern.value.path, body: rule.body };
    default:
      throw new ConfigError(method.name, "the method has no google.api.http annotation");
  }
}

/**
 * Fills the `{field}` variables of a path template from `values` (proto field name → string).
 *
 * @throws {ConfigError} when a variable has no value.
 * @example
 * ```ts
 * expandPath("/v1/proofs/{round_id}", { round_id: "30" }); // "/v1/proofs/30"
 * ```
 */
export function expandPath(template: string, values: Record<string, string>): string {
  return template.replace(/\{([A-Za-z_][\w.]*)(?:=[^}]*)?\}/g, (_, name: string) => {
    const value = values[name];
    if (value === undefined) throw new ConfigError(name, "no value for a path variable");
    return encodeURIComponent(value);
  });
}
