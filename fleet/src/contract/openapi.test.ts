import assert from "node:assert/strict";
import { test } from "node:test";
import { Validator } from "@seriousme/openapi-schema-validator";
import { openApiDocument } from "./openapi.js";
import { ROUTES } from "./routes.js";

/** Validates an OpenAPI document with a maintained validator; returns the errors (none when valid). */
export async function openApiErrors(doc: unknown): Promise<unknown> {
  const v = new Validator();
  const r = await v.validate(doc as Record<string, unknown>);
  return r.valid ? undefined : (r.errors ?? "invalid");
}

test("the generated document is valid OpenAPI 3.1", async () => {
  const doc = openApiDocument("0.0.0-test");
  assert.equal(doc.openapi, "3.1.0");
  assert.equal(await openApiErrors(doc), undefined);
});

test("the document lists every route of the table, with its method, auth and schemas", () => {
  const doc = openApiDocument("0.0.0-test") as { paths: Record<string, Record<string, Record<string, unknown>>> };
  for (const [id, def] of Object.entries(ROUTES)) {
    const op = doc.paths[def.path.replace(/:(\w+)/g, "{$1}")]?.[def.method.toLowerCase()];
    assert.ok(op, `${id}: ${def.method} ${def.path} missing`);
    assert.equal(op.operationId, id);
    assert.deepEqual(
      op.security,
      def.auth === "none" ? [] : def.auth === "admin" ? [{ admin: [] }] : [{ admin: [] }, { provision: [] }],
    );
    if (def.body) assert.ok(op.requestBody, `${id} has a body schema`);
  }
  const count = Object.values(doc.paths).reduce((n, p) => n + Object.keys(p).length, 0);
  assert.equal(count, Object.keys(ROUTES).length);
});

test("a request the contract refuses names the field", async () => {
  const r = ROUTES.spawnProfile.body.safeParse({ tier: "mainframe" });
  assert.ok(!r.success);
  assert.deepEqual(r.error.issues[0]?.path, ["tier"]);
  assert.ok(!ROUTES.spawnProfile.params.safeParse({ name: "../x" }).success);
});
