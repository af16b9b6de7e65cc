/**
 * The gateway as a real process in front of the simulator: streaming token by token, usage equal to the simulator's
 * own count, rpm and spend caps (429 + Retry-After naming the limit) while another profile keeps its latency, upstream
 * 429 retried after its Retry-After, a revoked key refused, metrics, and no plaintext key on disk or in the logs.
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { UpstreamSimulator } from "./simulator.js";
import { type GatewayProc, startGatewayProcess, writeKeys } from "./testing.js";

const UPSTREAM_KEY = "sk-upstream-REAL-0123456789abcdefghijklmnopqrstuvwxyz";
const KEYS = {
  alice: `sk-${"A1".repeat(22)}a`,
  bob: `sk-${"B2".repeat(22)}b`,
  carol: `sk-${"C3".repeat(22)}c`,
  dave: `sk-${"D4".repeat(22)}d`,
};
let sim: UpstreamSimulator;
let gw: GatewayProc;

const chat = (key: string, content: string, extra: Record<string, unknown> = {}) =>
  fetch(`${gw.url}/v1/chat/completions`, {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: JSON.stringify({ model: "sim-model", messages: [{ role: "user", content }], ...extra }),
  });

async function timed(key: string): Promise<number> {
  const t = performance.now();
  const r = await chat(key, "how is 600519.SH doing");
  await r.arrayBuffer();
  assert.equal(r.status, 200);
  return performance.now() - t;
}
const p50 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

before(async () => {
  sim = new UpstreamSimulator({ apiKey: UPSTREAM_KEY, latencyMs: 5, slowMs: 1500 });
  const upstreamUrl = await sim.start();
  gw = await startGatewayProcess({
    upstreamUrl,
    upstreamKey: UPSTREAM_KEY,
    env: {
      GATEWAY_LIMITS: JSON.stringify({
        basic: { rpm: 5 },
        pro: { rpm: 1000, concurrency: 2, queue: 4 },
        dedicated_pro: { monthlyFen: 30 },
      }),
      GATEWAY_UPSTREAM_SLOTS: "4",
      GATEWAY_PRICES: JSON.stringify({ "sim-model": { inFenPerM: 1_000_000, outFenPerM: 1_000_000 } }),
      GATEWAY_RETRY_BASE_MS: "20",
    },
  });
  writeKeys(gw.dataDir, [
    { key: KEYS.alice, profile: "alice", plan: "basic" },
    { key: KEYS.bob, profile: "bob", plan: "pro" },
    { key: KEYS.carol, profile: "carol", plan: "dedicated_pro" },
    { key: KEYS.dave, profile: "dave", plan: "pro" },
  ]);
  await new Promise((r) => setTimeout(r, 600));
});

after(async () => {
  await gw?.stop();
  await sim?.close();
});

test("an unknown key is refused (401) and /v1/models answers a known one", async () => {
  const r = await chat("sk-nope", "hi");
  assert.equal(r.status, 401);
  const m = await fetch(`${gw.url}/v1/models`, { headers: { authorization: `Bearer ${KEYS.bob}` } });
  assert.equal(m.status, 200);
  assert.ok(((await m.json()) as { data: { id: string }[] }).data.some((x) => x.id === "sim-model"));
});

test("streaming passes through token by token; the usage chunk the gateway asked for is not forwarded", async () => {
  sim.o.tokenDelayMs = 40;
  try {
    const t0 = performance.now();
    const r = await chat(KEYS.bob, "stream please", { stream: true });
    assert.equal(r.status, 200);
    assert.match(r.headers.get("content-type") ?? "", /event-stream/);
    const arrivals: number[] = [];
    let text = "";
    const dec = new TextDecoder();
    for await (const c of r.body as unknown as AsyncIterable<Uint8Array>) {
      arrivals.push(performance.now() - t0);
      text += dec.decode(c);
    }
    const events = text.split("\n\n").filter(Boolean);
    assert.ok(events.at(-1)?.includes("[DONE]"));
    assert.ok(!text.includes('"usage"'), "the caller did not ask for usage");
    assert.ok(arrivals.length >= 10, `chunks arrived separately (${arrivals.length})`);
    assert.ok((arrivals.at(-1) as number) - (arrivals[0] as number) > 300, "spread over the upstream's token delay");
  } finally {
    sim.o.tokenDelayMs = 0;
  }
});

test("rpm: the profile over its limit gets 429 + Retry-After naming the limit; another profile still answers", async () => {
  for (let i = 0; i < 5; i++) assert.equal((await chat(KEYS.alice, "one two")).status, 200);
  const r = await chat(KEYS.alice, "one two");
  assert.equal(r.status, 429);
  assert.ok(Number(r.headers.get("retry-after")) >= 1);
  const body = (await r.json()) as { error: { code: string; details: { limit: string } } };
  assert.equal(body.error.code, "RATE_LIMITED");
  assert.equal(body.error.details.limit, "rpm");
  assert.equal((await chat(KEYS.bob, "fine")).status, 200);
});

test("fairness: one profile at its concurrency limit (slow answers, queue full) does not slow another (measured)", async () => {
  const base: number[] = [];
  for (let i = 0; i < 15; i++) base.push(await timed(KEYS.bob));
  // dave: 2 in flight + 4 queued (his plan's cap), all slow; the upstream has 4 slots in all
  const held = Array.from({ length: 6 }, () =>
    chat(KEYS.dave, "[slow] long report").then(async (x) => {
      await x.arrayBuffer();
      return x.status;
    }),
  );
  await new Promise((r) => setTimeout(r, 100));
  const over = await chat(KEYS.dave, "[slow] one more");
  assert.equal(over.status, 429);
  assert.equal(((await over.json()) as { error: { details: { limit: string } } }).error.details.limit, "concurrency");
  const during: number[] = [];
  for (let i = 0; i < 15; i++) during.push(await timed(KEYS.bob));
  console.log(
    `fairness: bob p50 ${p50(base).toFixed(1)} ms alone, ${p50(during).toFixed(1)} ms while dave holds his 2 slots + 4 queued (upstream 5 ms, dave's answers 1.5 s)`,
  );
  assert.ok(p50(during) < 1000 && p50(during) < p50(base) * 2 + 20, "bob never waits behind dave");
  assert.deepEqual(await Promise.all(held), [200, 200, 200, 200, 200, 200]);
});

test("spend cap: 429 naming the spend limit once the month's cap in fen is reached", async () => {
  // 1 fen per token: the first answer (~20 tokens) passes the 30 fen cap after the second
  assert.equal((await chat(KEYS.carol, "a b c")).status, 200);
  assert.equal((await chat(KEYS.carol, "a b c")).status, 200);
  const r = await chat(KEYS.carol, "a b c");
  assert.equal(r.status, 429);
  const b = (await r.json()) as { error: { details: { limit: string } } };
  assert.equal(b.error.details.limit, "spend");
  assert.ok(Number(r.headers.get("retry-after")) > 60);
  assert.equal((await chat(KEYS.bob, "still fine")).status, 200);
});

test("upstream 429 with Retry-After: the gateway waits and retries; 5xx past the retries: a clear 502", async () => {
  sim.fail(429, 1, 1);
  const t = performance.now();
  const r = await chat(KEYS.bob, "retry me");
  assert.equal(r.status, 200);
  assert.ok(performance.now() - t >= 900, "waited for Retry-After");
  sim.fail(500, 4);
  const f = await chat(KEYS.bob, "fail me");
  assert.equal(f.status, 502);
  const b = (await f.json()) as { error: { code: string; message: string } };
  assert.equal(b.error.code, "UPSTREAM");
  assert.match(b.error.message, /500/);
});

test("metering: usage per profile equals the simulator's own count; metrics carry tokens, spend, refusals", async () => {
  const token = readFileSync(join(gw.dataDir, "admin-token"), "utf8").trim();
  const u = (await (await fetch(`${gw.url}/admin/usage`, { headers: { authorization: `Bearer ${token}` } })).json()) as {
    usage: { profile: string; prompt_tokens: number; completion_tokens: number; limited: number }[];
  };
  const sum = (k: "prompt_tokens" | "completion_tokens") => u.usage.reduce((a, x) => a + x[k], 0);
  assert.equal(sum("prompt_tokens"), sim.stats.prompt_tokens);
  assert.equal(sum("completion_tokens"), sim.stats.completion_tokens);
  assert.ok((u.usage.find((x) => x.profile === "alice")?.limited ?? 0) > 0);
  const m = await (await fetch(`${gw.url}/metrics`, { headers: { authorization: `Bearer ${token}` } })).text();
  assert.match(m, /twilight_model_tokens_total\{profile="bob",direction="completion"\} \d+/);
  assert.match(m, /twilight_model_spend_fen_total\{profile="carol"\} \d+/);
  assert.match(m, /twilight_model_limited_total\{profile="alice",limit="rpm"\} \d+/);
  assert.match(m, /twilight_model_limited_total\{profile="carol",limit="spend"\} 1/);
  assert.equal((await fetch(`${gw.url}/metrics`)).status, 401);
});

test("a revoked key is refused; no plaintext key on the gateway's disk or in its logs", async () => {
  writeKeys(gw.dataDir, [{ key: KEYS.bob, profile: "bob", plan: "pro" }]);
  await new Promise((r) => setTimeout(r, 700));
  assert.equal((await chat(KEYS.alice, "hello")).status, 401);
  assert.equal((await chat(KEYS.bob, "hello")).status, 200);
  for (const f of readdirSync(gw.dataDir)) {
    const text = readFileSync(join(gw.dataDir, f)).toString("latin1");
    for (const k of Object.values(KEYS)) assert.ok(!text.includes(k), `${f} holds a virtual key`);
    if (f !== "upstream.env") assert.ok(!text.includes(UPSTREAM_KEY), `${f} holds the upstream key`);
  }
  const logs = gw.logs();
  assert.ok(logs.length > 0);
  for (const k of [...Object.values(KEYS), UPSTREAM_KEY]) assert.ok(!logs.includes(k), "a key reached the log");
});
