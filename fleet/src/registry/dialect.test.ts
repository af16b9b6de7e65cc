import assert from "node:assert/strict";
import { test } from "node:test";
import { numberPlaceholders, postgresDialect, resolveDdl, sqliteDialect } from "./dialect.js";
import { MIGRATIONS, migrationChecksum, resolveSteps } from "./migrations.js";
import { PROFILE_STATUSES } from "./types.js";
import { parseNewEvent, redactSecrets } from "./validate.js";

test("placeholders: ? becomes $n outside quotes; SQLite keeps ?", () => {
  const sql = "SELECT a FROM t WHERE b = ? AND c = '?' AND \"d?\" = ? AND e = 'it''s ?' AND f = ?";
  assert.equal(numberPlaceholders(sql), "SELECT a FROM t WHERE b = $1 AND c = '?' AND \"d?\" = $2 AND e = 'it''s ?' AND f = $3");
  assert.equal(postgresDialect.placeholders(sql), numberPlaceholders(sql));
  assert.equal(sqliteDialect.placeholders(sql), sql);
});

test("DDL tokens resolve per engine; an unknown token is an error", () => {
  assert.equal(resolveDdl(sqliteDialect, "x {{TIMESTAMP}}, y {{JSON}}){{STRICT}}"), "x TEXT, y TEXT) STRICT");
  assert.equal(resolveDdl(postgresDialect, "x {{TIMESTAMP}}, y {{JSON}}){{STRICT}}"), "x TIMESTAMPTZ, y JSONB)");
  assert.throws(() => resolveDdl(sqliteDialect, "{{NOPE}}"), /unknown DDL token/);
});

test("migrations: versions ascend from 1, every step resolves on both engines, checksums are stable", () => {
  assert.deepEqual(
    MIGRATIONS.map((m) => m.version),
    MIGRATIONS.map((_, i) => i + 1),
  );
  for (const m of MIGRATIONS) {
    for (const d of [sqliteDialect, postgresDialect]) {
      const steps = resolveSteps(m, d);
      assert.ok(steps.length > 0);
      for (const s of steps) assert.doesNotMatch(s, /\{\{/);
      assert.equal(migrationChecksum(m, d), migrationChecksum(m, d));
    }
    // engine-specific steps or type tokens make the engines' checksums differ; plain shared SQL (migration 6) may not
    if (m.steps.some((s) => typeof s !== "string" || s.includes("{{")))
      assert.notEqual(migrationChecksum(m, sqliteDialect), migrationChecksum(m, postgresDialect));
  }
  // the newest CHECK on status lists exactly the statuses of the row type, for both engines
  for (const d of [sqliteDialect, postgresDialect]) {
    const ddl = MIGRATIONS.flatMap((m) => resolveSteps(m, d)).filter((x) => /status IN \(/.test(x));
    const listed = /status IN \(([^)]*)\)/
      .exec(ddl.at(-1) ?? "")?.[1]
      ?.split(",")
      .map((s) => s.trim().replace(/'/g, ""));
    assert.deepEqual(listed, [...PROFILE_STATUSES], d.name);
  }
});

test("driver errors are classified the same way for both engines", () => {
  const sqliteUnique = Object.assign(new Error("UNIQUE constraint failed: hermes_profiles.port"), {
    code: "SQLITE_CONSTRAINT_UNIQUE",
  });
  assert.deepEqual(sqliteDialect.classify(sqliteUnique), { kind: "unique", table: "hermes_profiles", column: "port" });
  const pgUnique = Object.assign(new Error("duplicate key"), {
    code: "23505",
    table: "hermes_profiles",
    detail: "Key (order_id)=(wx-1) already exists.",
  });
  assert.deepEqual(postgresDialect.classify(pgUnique), { kind: "unique", table: "hermes_profiles", column: "order_id" });
  assert.equal(sqliteDialect.classify(Object.assign(new Error("x"), { code: "SQLITE_CONSTRAINT_CHECK" }))?.kind, "invalid");
  assert.equal(postgresDialect.classify(Object.assign(new Error("x"), { code: "23514" }))?.kind, "invalid");
  assert.equal(sqliteDialect.classify(Object.assign(new Error("x"), { code: "SQLITE_BUSY" }))?.kind, "unavailable");
  assert.equal(postgresDialect.classify(Object.assign(new Error("x"), { code: "ECONNREFUSED" }))?.kind, "unavailable");
  assert.equal(postgresDialect.classify(new Error("plain")), undefined);
  assert.equal(sqliteDialect.classify("not an error"), undefined);
});

test("event details: secret-looking keys are redacted at any depth, fingerprints kept", () => {
  const fp = "b".repeat(64);
  assert.deepEqual(
    redactSecrets({
      apiKey: "k",
      API_SERVER_KEY: "k",
      headers: { Authorization: "Bearer k" },
      a: [{ db_password: "p" }],
      secrets_fingerprint: fp,
      port: 1,
    }),
    {
      apiKey: "[redacted]",
      API_SERVER_KEY: "[redacted]",
      headers: { Authorization: "[redacted]" },
      a: [{ db_password: "[redacted]" }],
      secrets_fingerprint: fp,
      port: 1,
    },
  );
  const e = parseNewEvent({ profile: "p", actor: "a", action: "spawn", result: "ok", detail: { token: "t" } });
  assert.deepEqual(e.detail, { token: "[redacted]" });
  assert.throws(
    () => parseNewEvent({ profile: "p", actor: "a", action: "x", result: "ok", detail: { big: "x".repeat(70_000) } }),
    /larger than/,
  );
});
