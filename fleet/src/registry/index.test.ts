import assert from "node:assert/strict";
import { test } from "node:test";
import { defaultRegistryUrl, describeRegistryUrl, parseRegistryUrl } from "./index.js";

test("sqlite: URLs and plain paths open SQLite", () => {
  const cases: [string, string][] = [
    ["sqlite:ops/profiles.db", "ops/profiles.db"],
    ["sqlite:/var/lib/twilight/profiles.db", "/var/lib/twilight/profiles.db"],
    ["sqlite:///var/lib/twilight/profiles.db", "/var/lib/twilight/profiles.db"],
    ["SQLite:ops/x.db", "ops/x.db"],
    ["sqlite::memory:", ":memory:"],
    ["ops/profiles.db", "ops/profiles.db"],
    ["./profiles.db", "./profiles.db"],
    ["/abs/profiles.db", "/abs/profiles.db"],
    ["  /abs/padded.db  ", "/abs/padded.db"],
    ["a:b.db", "a:b.db"],
    ["file:///var/lib/twilight/profiles.db", "/var/lib/twilight/profiles.db"],
  ];
  for (const [url, path] of cases) assert.deepEqual(parseRegistryUrl(url), { backend: "sqlite", path }, url);
});

test("postgres:// and postgresql:// open PostgreSQL, the URL passed on untouched", () => {
  for (const url of [
    "postgres://fleet:pw@db.internal:5432/twilight",
    "postgresql://fleet@127.0.0.1/twilight?sslmode=require",
    "POSTGRES://u@h/d",
    "postgres:///twilight?host=/var/run/postgresql",
  ]) {
    assert.deepEqual(parseRegistryUrl(url), { backend: "postgres", url }, url);
  }
});

test("empty, unsupported or malformed URLs are refused with a hint, without echoing a password", () => {
  const bad = [
    "",
    "   ",
    "sqlite:",
    "sqlite://",
    "mysql://u:p@h/d",
    "http://example.com/x.db",
    "postgres:twilight",
    "postgres://u:s3cret@[bad/d",
  ];
  for (const url of bad) {
    assert.throws(
      () => parseRegistryUrl(url),
      (e: Error & { code?: string; hint?: string }) => {
        assert.equal(e.code, "CONFIG_INVALID", url);
        assert.match(e.hint ?? "", /sqlite:<path>/);
        assert.equal(e.message.includes("s3cret"), false, e.message);
        return true;
      },
      url,
    );
  }
});

test("describeRegistryUrl hides passwords", () => {
  assert.equal(describeRegistryUrl("postgres://fleet:hunter2@db:5432/twilight"), "postgres://fleet:***@db:5432/twilight");
  assert.equal(describeRegistryUrl("postgres://u@h/d?password=hunter2"), "postgres://u@h/d?password=***");
  assert.equal(describeRegistryUrl("postgres://u:hunter2@[bad/d").includes("hunter2"), false);
  assert.equal(describeRegistryUrl("sqlite:ops/profiles.db"), "sqlite:ops/profiles.db");
});

test("the default registry is ops/profiles.db under the repository", () => {
  assert.deepEqual(parseRegistryUrl(defaultRegistryUrl("/srv/twilight")), {
    backend: "sqlite",
    path: "/srv/twilight/ops/profiles.db",
  });
});
