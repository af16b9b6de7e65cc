import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { createLogger } from "@twilight/core";
import type { Registry } from "../registry/types.js";
import { Dashboard } from "./ui.js";

const TOKEN = "a".repeat(43);

describe("dashboard sessions: sign-in, cookie, CSRF, SSE", () => {
  let server: Server;
  let url = "";
  let now = Date.now();
  const rows = [{ name: "p-1", tier: "prefab", status: "running", desired_state: "running", restart_count: 0 }];
  const dash = new Dashboard({
    adminToken: TOKEN,
    registry: { list: async () => rows, watch: () => () => undefined } as unknown as Registry,
    log: createLogger("test", { level: "silent" }),
    streamIntervalMs: 50,
    now: () => now,
  });

  before(async () => {
    server = createServer((req, res) => {
      void (async () => {
        if (await dash.handle(req, res)) return;
        try {
          const who = dash.sessionAuth(req);
          res.writeHead(who ? 200 : 401).end(who ?? "");
        } catch (e) {
          res.writeHead((e as { code?: string }).code === "FORBIDDEN" ? 403 : 401).end();
        }
      })();
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    dash.close();
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  });

  const login = (token: string) =>
    fetch(`${url}/ui/login`, {
      method: "POST",
      body: JSON.stringify({ token }),
      headers: { "content-type": "application/json" },
    });

  it("refuses a wrong token and sets no cookie", async () => {
    const res = await login("b".repeat(43));
    assert.equal(res.status, 401);
    assert.equal(res.headers.get("set-cookie"), null);
  });

  it("signs in: HttpOnly SameSite=Strict cookie; reads need the session, writes also the CSRF header", async () => {
    const res = await login(TOKEN);
    assert.equal(res.status, 204);
    const set = res.headers.get("set-cookie") ?? "";
    assert.match(set, /^twilight_session=[\w-]{43}; Path=\/; HttpOnly; SameSite=Strict; Max-Age=43200$/);
    const cookie = set.split(";")[0] as string;
    const s = await fetch(`${url}/ui/session`, { headers: { cookie } });
    const { csrf } = (await s.json()) as { csrf: string };
    assert.match(csrf, /^[\w-]{43}$/);
    assert.equal((await fetch(`${url}/v1/profiles`, { headers: { cookie } })).status, 200);
    assert.equal((await fetch(`${url}/v1/x`, { method: "POST", headers: { cookie } })).status, 403);
    assert.equal((await fetch(`${url}/v1/x`, { method: "POST", headers: { cookie, "x-csrf-token": "nope" } })).status, 403);
    assert.equal((await fetch(`${url}/v1/x`, { method: "POST", headers: { cookie, "x-csrf-token": csrf } })).status, 200);
    assert.equal((await fetch(`${url}/v1/x`, { headers: { cookie: "twilight_session=forged" } })).status, 401);
    assert.equal((await fetch(`${url}/v1/x`)).status, 401, "no cookie: left to the bearer check");
    // the stream sends the fleet's statuses
    const ac = new AbortController();
    const ev = await fetch(`${url}/ui/events`, { headers: { cookie }, signal: ac.signal });
    assert.equal(ev.headers.get("content-type"), "text/event-stream; charset=utf-8");
    const reader = ev.body?.getReader();
    let text = "";
    while (!text.includes("event: profiles")) text += new TextDecoder().decode((await reader?.read())?.value);
    assert.match(text, /"name":"p-1","tier":"prefab","status":"running"/);
    ac.abort();
    // sessions expire
    now += 13 * 3600_000;
    assert.equal((await fetch(`${url}/v1/profiles`, { headers: { cookie } })).status, 401);
  });

  it("serves the page with a strict CSP and 404s unknown assets", async () => {
    const page = await fetch(`${url}/ui/`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get("content-security-policy") ?? "", /script-src 'self'/);
    assert.match(await page.text(), /<section id="detail" hidden/);
    assert.equal((await fetch(`${url}/ui/detail.js`)).status, 200);
    assert.equal((await fetch(`${url}/ui/nope.js`)).status, 404);
    assert.equal((await fetch(`${url}/ui/..%2f..%2fadmin-token`)).status, 404); // fetch would normalise a bare ../
    assert.equal((await fetch(`${url}/ui`, { redirect: "manual" })).status, 308);
  });
});
