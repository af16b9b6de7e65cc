/**
 * MCP over HTTP with real engines: the SDK client and raw JSON-RPC list and call every tool; tokens (tokens.json,
 * reloaded on change) decide who calls; every result is a {data, cite} envelope that verifies for its profile only.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import {
  type CiteEnvelope,
  type DailyBar,
  generateSigningKey,
  keyMap,
  type PublicCiteKey,
  publicCiteKey,
  TOOLS,
  verifyCite,
} from "@twilight/core";
import type { ManualClock } from "../clock.js";
import type { Service } from "../service.js";
import { startTestService, tempDir, writeTokens } from "../testkit.js";

const ALICE = "alice-token-0123456789";
const BOB = "bob-token-0123456789";

async function sdkClient(url: string, token?: string): Promise<Client> {
  const client = new Client({ name: "int-test", version: "1.0.0" });
  const transport = new StreamableHTTPClientTransport(new URL("/mcp", url), {
    requestInit: { headers: token ? { authorization: `Bearer ${token}` } : {} },
  });
  await client.connect(transport);
  return client;
}

async function rpc(url: string, token: string | undefined, body: unknown): Promise<{ status: number; json: unknown }> {
  const res = await fetch(new URL("/mcp", url), {
    method: "POST",
    headers: {
      "content-type": "application/json",
      accept: "application/json, text/event-stream",
      "mcp-protocol-version": "2025-06-18",
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : null };
}

const CALLS: [string, Record<string, unknown>][] = [
  [TOOLS.dailyPrices, { ts_code: "600519", start_date: "20241225", end_date: "20241231" }],
  [TOOLS.latestPrice, { ts_code: "sh600519", as_of: "20241231" }],
  [TOOLS.fundamentals, { ts_code: "000858", period: "20241231" }],
  [TOOLS.tradeCalendar, { start_date: "20241228", end_date: "20250105" }],
  [TOOLS.searchStocks, { query: "茅台" }],
];

describe("MCP endpoint", () => {
  const tmp = tempDir();
  let svc: Service & { clock: ManualClock };
  let keys: Map<string, import("node:crypto").KeyObject>;
  const verify = (env: unknown, profile = "alice") => verifyCite(env, { keys, profile, now: () => svc.clock.now() });

  before(async () => {
    svc = (await startTestService({ dataDir: tmp.dir, tokens: { alice: ALICE, bob: BOB } })) as typeof svc;
    await svc.scheduler.runOnce("test");
    const res = await fetch(new URL("/.well-known/cite-keys", svc.url));
    keys = keyMap(((await res.json()) as { keys: PublicCiteKey[] }).keys);
  });
  after(async () => {
    await svc.close();
    tmp.remove();
  });

  it("reused servers never cross profiles: 40 concurrent calls of two profiles each get their own cite", async () => {
    const [a, b] = await Promise.all([sdkClient(svc.url, ALICE), sdkClient(svc.url, BOB)]);
    try {
      const calls = Array.from({ length: 40 }, (_, i) => {
        const [who, c] = i % 2 ? (["bob", b] as const) : (["alice", a] as const);
        return c
          .callTool({ name: TOOLS.latestPrice, arguments: { ts_code: "600519.SH", as_of: "20241231" } })
          .then((r) => ({ who, env: r.structuredContent as unknown as CiteEnvelope }));
      });
      for (const { who, env } of await Promise.all(calls)) {
        assert.equal(env.cite.profile, who);
        assert.equal(verify(env, who).ok, true);
      }
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it("SDK client: lists the five tools with input and output schemas, and calls each with a verifiable envelope", async () => {
    const client = await sdkClient(svc.url, ALICE);
    try {
      const { tools } = await client.listTools();
      assert.deepEqual(tools.map((t) => t.name).sort(), Object.values(TOOLS).sort());
      for (const t of tools) {
        assert.equal(t.inputSchema.type, "object", t.name);
        assert.equal(t.outputSchema?.type, "object", t.name);
        assert.ok(t.outputSchema?.properties?.cite, t.name);
      }
      const ids = new Set<string>();
      for (const [name, args] of CALLS) {
        const r = await client.callTool({ name, arguments: args });
        assert.notEqual(r.isError, true, `${name}: ${JSON.stringify(r.content)}`);
        const env = r.structuredContent as unknown as CiteEnvelope;
        assert.deepEqual(JSON.parse((r.content as { text: string }[])[0]?.text ?? ""), env, "text content is the same JSON");
        const v = verify(env);
        assert.equal(v.ok, true, `${name}: ${JSON.stringify(v)}`);
        assert.equal(env.cite.profile, "alice");
        ids.add(env.cite.request_id);
      }
      assert.equal(ids.size, CALLS.length, "request ids are unique per call");
    } finally {
      await client.close();
    }
  });

  it("get_latest_price 600519 as of 20241231 is the 1524.00 close, in every code spelling", async () => {
    const client = await sdkClient(svc.url, BOB);
    try {
      for (const code of ["600519", "600519.SH", "sh600519"]) {
        const r = await client.callTool({ name: TOOLS.latestPrice, arguments: { ts_code: code, as_of: "20241231" } });
        const env = r.structuredContent as unknown as CiteEnvelope<DailyBar>;
        assert.equal(env.data.ts_code, "600519.SH");
        assert.equal(env.data.trade_date, "20241231");
        assert.equal(env.data.close, 1524.0);
        assert.equal(env.cite.as_of, "20241231");
        assert.equal(env.cite.api, "daily");
        assert.equal(env.cite.profile, "bob");
        assert.equal(verify(env, "bob").ok, true);
      }
      const weekend = await client.callTool({ name: TOOLS.latestPrice, arguments: { ts_code: "000858", as_of: "20241229" } });
      assert.equal((weekend.structuredContent as unknown as CiteEnvelope<DailyBar>).data.trade_date, "20241227");
    } finally {
      await client.close();
    }
  });

  it("a code that does not exist, a malformed code and missing data are tool errors, not empty successes", async () => {
    const client = await sdkClient(svc.url, ALICE);
    try {
      const cases: [string, Record<string, unknown>, RegExp][] = [
        [TOOLS.latestPrice, { ts_code: "600000" }, /600000\.SH.*not found/],
        [TOOLS.dailyPrices, { ts_code: "abc" }, /not a valid A-share code/],
        [TOOLS.fundamentals, { ts_code: "600519", period: "20200331" }, /no fundamentals for 600519\.SH for period 20200331/],
        [TOOLS.dailyPrices, { ts_code: "600519", start_date: "20241228", end_date: "20241229" }, /no daily bars/],
        [TOOLS.searchStocks, { query: "不存在的公司" }, /not found/],
        [TOOLS.tradeCalendar, { exchange: "SZSE", start_date: "20241201", end_date: "20241231" }, /no SZSE calendar/],
        [TOOLS.latestPrice, { ts_code: "600519", as_of: "2024-12-31" }, /YYYYMMDD/],
      ];
      for (const [name, args, re] of cases) {
        const r = await client.callTool({ name, arguments: args });
        assert.equal(r.isError, true, `${name} ${JSON.stringify(args)}`);
        assert.match((r.content as { text: string }[])[0]?.text ?? "", re);
      }
    } finally {
      await client.close();
    }
  });

  it("raw JSON-RPC over HTTP: initialize, tools/list and tools/call for each tool", async () => {
    const init = await rpc(svc.url, ALICE, {
      jsonrpc: "2.0",
      id: 1,
      method: "initialize",
      params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "raw", version: "1" } },
    });
    assert.equal(init.status, 200);
    assert.equal((init.json as { result: { serverInfo: { name: string } } }).result.serverInfo.name, "twilight-mcp-tushare");
    const note = await rpc(svc.url, ALICE, { jsonrpc: "2.0", method: "notifications/initialized" });
    assert.equal(note.status, 202);
    const list = await rpc(svc.url, ALICE, { jsonrpc: "2.0", id: 2, method: "tools/list" });
    const tools = (list.json as { result: { tools: { name: string }[] } }).result.tools;
    assert.equal(tools.length, 5);
    let id = 3;
    for (const [name, args] of CALLS) {
      const r = await rpc(svc.url, ALICE, { jsonrpc: "2.0", id: id++, method: "tools/call", params: { name, arguments: args } });
      const result = (r.json as { result: { structuredContent: CiteEnvelope; isError?: boolean } }).result;
      assert.notEqual(result.isError, true, name);
      assert.equal(verify(result.structuredContent).ok, true, name);
    }
  });

  it("a missing or wrong token is refused with 401, for raw HTTP and the SDK client", async () => {
    const body = { jsonrpc: "2.0", id: 1, method: "tools/list" };
    assert.equal((await rpc(svc.url, undefined, body)).status, 401);
    assert.equal((await rpc(svc.url, "not-a-token", body)).status, 401);
    await assert.rejects(sdkClient(svc.url, "wrong-token-123"), /401|Unauthorized|unknown bearer/i);
  });

  it("reloads tokens.json when the fleet rewrites it", async () => {
    const body = { jsonrpc: "2.0", id: 1, method: "tools/list" };
    writeTokens(tmp.dir, { bob: BOB, carol: "carol-token-0123456789" });
    assert.equal((await rpc(svc.url, "carol-token-0123456789", body)).status, 200);
    assert.equal((await rpc(svc.url, ALICE, body)).status, 401, "alice's token was withdrawn");
    writeTokens(tmp.dir, { alice: ALICE, bob: BOB });
    assert.equal((await rpc(svc.url, ALICE, body)).status, 200);
  });

  it("records every tool call; /admin/requests filters by profile and request_id and needs the admin token", async () => {
    const client = await sdkClient(svc.url, BOB);
    let requestId: string;
    try {
      const r = await client.callTool({ name: TOOLS.latestPrice, arguments: { ts_code: "000858" } });
      requestId = (r.structuredContent as unknown as CiteEnvelope).cite.request_id;
      await client.callTool({ name: TOOLS.latestPrice, arguments: { ts_code: "999999" } });
      await client.callTool({ name: TOOLS.latestPrice, arguments: { nope: 1 } });
    } finally {
      await client.close();
    }
    const get = (qs: string, token = svc.adminToken) =>
      fetch(new URL(`/admin/requests?${qs}`, svc.url), { headers: { authorization: `Bearer ${token}` } });
    assert.equal((await get("profile=bob", BOB)).status, 401);
    const one = (await (await get(`request_id=${requestId}`)).json()) as { requests: Record<string, unknown>[] };
    assert.equal(one.requests.length, 1);
    assert.equal(one.requests[0]?.profile, "bob");
    assert.equal(one.requests[0]?.tool, TOOLS.latestPrice);
    assert.equal(one.requests[0]?.ok, true);
    assert.deepEqual(one.requests[0]?.params, { ts_code: "000858" });
    const bobs = (await (await get("profile=bob&limit=3")).json()) as { requests: Record<string, unknown>[] };
    assert.equal(bobs.requests.length, 3);
    assert.ok(bobs.requests.every((r) => r.profile === "bob"));
    const errors = bobs.requests.filter((r) => r.ok === false).map((r) => String(r.error));
    assert.equal(errors.length, 2);
    assert.ok(errors.some((e) => /999999/.test(e)));
    assert.ok(errors.some((e) => /rejected before the tool ran/.test(e)));
    assert.equal((await get("limit=0")).status, 400);
  });

  it("verification fails with the right reason for each kind of tampering", async () => {
    const client = await sdkClient(svc.url, ALICE);
    let env: CiteEnvelope<DailyBar>;
    try {
      const r = await client.callTool({ name: TOOLS.latestPrice, arguments: { ts_code: "600519", as_of: "20241231" } });
      env = r.structuredContent as unknown as CiteEnvelope<DailyBar>;
    } finally {
      await client.close();
    }
    const copy = () => JSON.parse(JSON.stringify(env)) as CiteEnvelope<DailyBar>;
    assert.equal(verify(env).ok, true);
    const reason = (e: unknown, profile = "alice", k = keys, now = svc.clock.now()) => {
      const v = verifyCite(e, { keys: k, profile, now: () => now });
      return v.ok ? "ok" : v.reason;
    };
    const data = copy();
    data.data.close = 1600;
    assert.equal(reason(data), "data_mismatch");
    for (const field of ["as_of", "api", "request_id", "retrieved_at", "profile", "data_sha256"] as const) {
      const c = copy();
      (c.cite as Record<string, unknown>)[field] =
        field === "as_of"
          ? "20241230"
          : field === "retrieved_at"
            ? new Date(svc.clock.now() - 1000).toISOString()
            : field === "data_sha256"
              ? "0".repeat(64)
              : "x";
      assert.equal(reason(c, field === "profile" ? "x" : "alice"), "bad_signature", field);
    }
    const params = copy();
    params.cite.params = { ts_code: "000858.SZ" };
    assert.equal(reason(params), "bad_signature");
    assert.equal(reason(env, "bob"), "wrong_profile");
    assert.equal(reason(env, "alice", keyMap([publicCiteKey(generateSigningKey())])), "unknown_key");
    assert.equal(reason(env, "alice", keys, svc.clock.now() + 11 * 60_000), "stale");
    const { sig: _sig, ...unsigned } = env.cite;
    assert.equal(reason({ data: env.data, cite: unsigned }), "malformed");
  });
});
