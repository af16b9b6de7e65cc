/**
 * The idle collector in a real profile process: the fleet's health probe (every 5 s) and metric scrapes are not
 * activity, so an idle profile that is only probed never runs a full GC; a chat request is, and one runs after it.
 * (Before: every probe armed a full GC 5 s later, and 200 idle profiles kept a third of a 2-core host busy.)
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { isProbe } from "./server.js";
import { chat, exitOf, freePort, makeProfileDir, removeDir, spawnAgent } from "./testing/harness.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const gcRuns = (out: string) => out.split("\n").filter((l) => l.includes("idle: memory given back")).length;

let dir = "";
let agent: Awaited<ReturnType<typeof spawnAgent>>;
before(async () => {
  dir = makeProfileDir({ name: "idlegc", mcpUrl: "http://127.0.0.1:9/mcp", pinnedKeys: [] });
  agent = await spawnAgent(dir, { API_SERVER_PORT: String(await freePort()), LOG_LEVEL: "debug", AGENT_IDLE_GC_MS: "150" });
});
after(async () => {
  agent?.child.kill("SIGTERM");
  if (agent) await exitOf(agent.child).catch(() => undefined);
  removeDir(dir);
});

test("probes are not activity: GET /health and /metrics (with a query) are probes, anything else is not", () => {
  assert.equal(isProbe("GET", "/health"), true);
  assert.equal(isProbe("GET", "/metrics?x=1"), true);
  assert.equal(isProbe("POST", "/health"), false);
  assert.equal(isProbe("GET", "/v1/models"), false);
  assert.equal(isProbe("GET", "/healthz"), false);
  assert.equal(isProbe(undefined, undefined), false);
});

test("health probes and scrapes never arm the idle GC; a chat request does, once", async () => {
  await sleep(400); // the start-up probes of spawnAgent are behind us
  const before0 = gcRuns(agent.output());
  for (let i = 0; i < 6; i++) {
    await fetch(`${agent.url}/health`).then((r) => r.text());
    await sleep(200); // longer than AGENT_IDLE_GC_MS: a probe that counted would have run a GC here
  }
  assert.equal(gcRuns(agent.output()), before0, "a health probe armed the idle GC");
  const r = await chat({ url: agent.url, apiKey: "hk_test_idlegc_key" }, { messages: [{ role: "user", content: "hello" }] });
  assert.ok(r.status < 500, `chat answered ${r.status}`);
  for (let i = 0; i < 20 && gcRuns(agent.output()) === before0; i++) await sleep(100);
  assert.equal(gcRuns(agent.output()), before0 + 1, "the idle GC did not run after a chat request");
});
