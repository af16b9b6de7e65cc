/** The OpenAPI 3.1 document of the admin API, generated from the route table (served at `/v1/openapi.json`). */
import { z } from "zod/v4";
import { ROUTES, type RouteDef } from "./routes.js";
import { ErrorBody, ProgressLine } from "./schemas.js";

type Json = Record<string, unknown>;

function schemaOf(s: z.ZodType, io: "input" | "output"): Json {
  const out = z.toJSONSchema(s, { target: "draft-2020-12", io, unrepresentable: "any" }) as Json;
  delete out.$schema;
  return out;
}

function parametersOf(def: RouteDef): Json[] {
  const out: Json[] = [];
  const params = schemaOf(def.params, "input") as { properties?: Record<string, Json> };
  for (const [name, schema] of Object.entries(params.properties ?? {})) out.push({ name, in: "path", required: true, schema });
  const query = schemaOf(def.query, "input") as { properties?: Record<string, Json>; required?: string[] };
  for (const [name, schema] of Object.entries(query.properties ?? {}))
    out.push({ name, in: "query", required: query.required?.includes(name) ?? false, schema });
  for (const [name, description] of Object.entries(def.headers ?? {}))
    out.push({ name, in: "header", required: false, description, schema: { type: "string" } });
  return out;
}

function successContent(def: RouteDef): Json {
  const body = schemaOf(def.response, "output");
  switch (def.kind) {
    case "json":
      return { "application/json": { schema: body } };
    case "op":
      return {
        "application/json": { schema: body },
        "application/x-ndjson": {
          schema: {
            description: "one JSON object per line: {progress}..., then {result, status} or {error, status}",
            oneOf: [
              { type: "object", properties: { progress: schemaOf(ProgressLine, "output") }, required: ["progress"] },
              { type: "object", properties: { result: body, status: { type: "integer" } }, required: ["result"] },
              { type: "object", properties: { error: schemaOf(ErrorBody, "output").properties ?? {} } },
            ],
          },
        },
      };
    case "ndjson":
      return { "application/x-ndjson": { schema: { description: "one JSON object per line", ...body } } };
    default:
      return { [def.contentType ?? "text/plain"]: { schema: { type: "string" } } };
  }
}

export function openApiDocument(version: string): Json {
  const paths: Record<string, Record<string, Json>> = {};
  for (const [id, def] of Object.entries(ROUTES) as Array<[string, RouteDef]>) {
    const path = def.path.replace(/:(\w+)/g, "{$1}");
    const responses: Json = {};
    for (const status of def.ok) responses[String(status)] = { description: "ok", content: successContent(def) };
    responses.default = {
      description: "an error: {error: {code, message, hint?, details?}}",
      content: { "application/json": { schema: { $ref: "#/components/schemas/ErrorBody" } } },
    };
    const op: Json = {
      operationId: id,
      summary: def.summary,
      tags: [def.tag],
      parameters: parametersOf(def),
      responses,
      security: def.auth === "none" ? [] : def.auth === "admin" ? [{ admin: [] }] : [{ admin: [] }, { provision: [] }],
    };
    if (def.body) op.requestBody = { required: true, content: { "application/json": { schema: schemaOf(def.body, "input") } } };
    paths[path] ??= {};
    (paths[path] as Record<string, Json>)[def.method.toLowerCase()] = op;
  }
  return {
    openapi: "3.1.0",
    info: {
      title: "Twilight fleet admin API",
      version,
      description:
        "The fleet daemon's admin API (hermes-admin is a client of it). Long operations stream NDJSON progress when asked with Accept: application/x-ndjson.",
    },
    servers: [{ url: "http://127.0.0.1:8700" }],
    paths,
    components: {
      schemas: { ErrorBody: schemaOf(ErrorBody, "output") },
      securitySchemes: {
        admin: { type: "http", scheme: "bearer", description: "the admin token in ops/admin-token" },
        provision: {
          type: "apiKey",
          in: "header",
          name: "Authorization",
          description:
            "TWILIGHT-HMAC-SHA256 Credential=<key id>, Signature=<hex>; with X-Twilight-Timestamp, X-Twilight-Nonce, X-Twilight-Content-SHA256 (provisioning only)",
        },
      },
    },
  };
}
