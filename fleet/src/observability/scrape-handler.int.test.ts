import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { newScrapeToken } from "./scrape-auth.js";
import { handleScrape } from "./scrape-handler.js";

const listen = async (s: Server) => {
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", () => r()));
  return (s.address() as AddressInfo).port;
};

describe("the daemon's scrape path (loopback servers)", () => {
  const token = newScrapeToken();
  const seen: string[] = [];
  let profile: Server;
  let fleet: Server;
  let base = "";
  let profilePort = 0;

  before(async () => {
    // A profile's /metrics, which wants its own API key (as agent/src/server.ts does).
    profile = createServer((req, res) => {
      seen.push(req.headers.authorization ?? "");
      if (req.headers.authorization !== "Bearer profile-key") return void res.writeHead(401).end();
      if (req.url === "/metrics")
        return void res.writeHead(200, { "content-type": "text/plain; version=0.0.4" }).end("hermes_query_total 3\n");
      res.writeHead(404).end();
    });
    profilePort = await listen(profile);
    fleet = createServer((req, res) => {
      void (async () => {
        const handled = await handleScrape(req, res, {
          scrapeToken: token,
          fleetMetrics: async () => ({ contentType: "text/plain; version=0.0.4", body: "twilight_profiles 1\n" }),
          profileTarget: async (name) =>
            name === "alice"
              ? { port: profilePort, apiKey: "profile-key" }
              : name === "hung"
                ? { port: 9, apiKey: "k" }
                : undefined,
          timeoutMs: 1000,
        });
        if (!handled) res.writeHead(418).end("admin rules");
      })();
    });
    base = `http://127.0.0.1:${await listen(fleet)}`;
  });
  after(async () => {
    await new Promise<void>((r) => fleet.close(() => r()));
    await new Promise<void>((r) => profile.close(() => r()));
  });

  const get = (path: string, auth: string | null = `Bearer ${token}`, method = "GET") =>
    fetch(base + path, { method, headers: auth ? { authorization: auth } : {} });

  it("serves the fleet registry and a profile's metrics with the profile's key, never forwarding the scrape token", async () => {
    const f = await get("/metrics");
    assert.equal(f.status, 200);
    assert.equal(await f.text(), "twilight_profiles 1\n");
    const p = await get("/p/alice/metrics");
    assert.equal(p.status, 200);
    assert.equal(await p.text(), "hermes_query_total 3\n");
    assert.match(p.headers.get("content-type") ?? "", /version=0\.0\.4/);
    assert.deepEqual(seen, ["Bearer profile-key"]);
  });

  it("503 for a profile that is not serving, 503/504 when it does not answer; nothing leaks the token", async () => {
    const r = await get("/p/bob/metrics");
    assert.equal(r.status, 503);
    const body = await r.text();
    assert.doesNotMatch(body, new RegExp(token));
    const hung = await get("/p/hung/metrics");
    assert.ok([503, 504].includes(hung.status), String(hung.status));
  });

  it("403 for the scrape token anywhere else; other credentials fall through to the admin rules", async () => {
    assert.equal((await get("/v1/profiles")).status, 403);
    assert.equal((await get("/p/alice/v1/chat/completions")).status, 403);
    assert.equal((await get("/metrics", `Bearer ${token}`, "POST")).status, 403);
    assert.equal((await get("/metrics", "Bearer admin")).status, 418);
    assert.equal((await get("/metrics", null)).status, 418);
  });
});
