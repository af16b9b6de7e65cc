import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { isScrapeToken, newScrapeToken, scrapeAccess } from "./scrape-auth.js";

const token = newScrapeToken();
const bearer = `Bearer ${token}`;
const req = (method: string, url: string, authorization: string | null = bearer) => ({
  method,
  url,
  authorization: authorization ?? undefined,
});

describe("scrape credential", () => {
  it("reads the fleet's and each profile's metrics", () => {
    assert.deepEqual(scrapeAccess(req("GET", "/metrics"), token), { kind: "fleet" });
    assert.deepEqual(scrapeAccess(req("GET", "/p/alice-2/metrics"), token), { kind: "profile", profile: "alice-2" });
  });

  it("and nothing else: other paths, verbs, query strings, bad names are forbidden", () => {
    for (const [m, u] of [
      ["POST", "/metrics"],
      ["GET", "/v1/profiles"],
      ["GET", "/p/alice/v1/chat/completions"],
      ["GET", "/p/alice/metrics?x=1"],
      ["GET", "/p/alice/metrics/"],
      ["GET", "/p/a--b/metrics"],
      ["GET", "/p/../metrics"],
      ["POST", "/p/alice/admin/activate"],
    ] as const)
      assert.deepEqual(scrapeAccess(req(m, u), token), { kind: "forbidden" }, `${m} ${u}`);
  });

  it("any other credential passes through to the normal rules", () => {
    assert.deepEqual(scrapeAccess(req("GET", "/metrics", null), token), { kind: "pass" });
    assert.deepEqual(scrapeAccess(req("GET", "/metrics", "Bearer admin-token-xyz"), token), { kind: "pass" });
    assert.deepEqual(scrapeAccess(req("GET", "/metrics", `Basic ${token}`), token), { kind: "pass" });
  });

  it("compares whole tokens and refuses a short configured token", () => {
    assert.equal(isScrapeToken(`Bearer ${token}x`, token), false);
    assert.equal(isScrapeToken(`Bearer ${token.slice(0, -1)}`, token), false);
    assert.equal(isScrapeToken("Bearer short", "short"), false);
    assert.match(token, /^[A-Za-z0-9_-]{43}$/);
  });
});
