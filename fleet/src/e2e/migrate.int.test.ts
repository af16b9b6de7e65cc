/**
 * Issue 6, end to end: live migration prefab -> container under a steady request stream and in the middle of a
 * conversation, a migration forced to fail at its health step (rolled back, still serving), streaming chat and stable
 * URLs through the front door. Real daemon, real Docker, real data service container.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { buildImages } from "../images/index.js";
import { McpService } from "../mcp-service/index.js";
import { eventually, type FleetHarness, fleetHarness } from "../testing/harness.js";
import { ProfileClient, steadyLoad } from "../verify/profile-client.js";
import { allocatePort } from "../workload/allocate.js";

interface P {
  name: string;
  tier: string;
  status: string;
  generation: number;
  port: number;
  profile_path: string;
  status_url: string;
}

describe("live migration through the front door", () => {
  let h: FleetHarness;
  let mcp: McpService;
  let client: ProfileClient;
  const name = "mig-1";
  const svc = `twilight-mcp-it-mig-${process.pid}`;
  const row = () => h.cliJson<{ profiles: P[] }>(["list", "--no-stats"]).profiles.find((p) => p.name === name) as P;

  before(async () => {
    await buildImages({ only: ["profile", "mcp"] });
    const port = await allocatePort({ low: 19500, high: 19999 }, new Set());
    h = await fleetHarness({
      FLEET_MCP_URL_PREFAB: `http://127.0.0.1:${port}/mcp`,
      FLEET_MCP_URL_CONTAINER: `http://${svc}:9100/mcp`,
      FLEET_PORT_RANGE: "19000-19400",
    });
    mcp = new McpService({ name: svc, hostPort: port, dataDir: join(h.ops, "mcp"), socketDir: join(h.ops, "mcp-run") });
    await mcp.up();
    await eventually(
      async () => {
        const r = await fetch(`http://127.0.0.1:${port}/health`).catch(() => undefined);
        const b = (await r?.json().catch(() => undefined)) as { scheduler?: { last_success_at?: string } } | undefined;
        return Boolean(b?.scheduler?.last_success_at);
      },
      60_000,
      "data service seeded",
    );
    await h.startDaemon();
    const r = h.cli(["spawn", name, "--tier", "prefab"]);
    assert.equal(r.code, 0, r.stderr);
    client = new ProfileClient(name, h.url, row().profile_path);
  });
  after(async () => {
    if (h) {
      h.cli(["rm", name, "--force"]);
      await h.cleanup();
    }
    await mcp?.down().catch(() => undefined);
  });

  test("a migration forced to fail at its health step rolls back: still prefab, still serving, no request failed", async () => {
    const before = row();
    const load = steadyLoad(client, 20);
    const r = await h.cliAsync(["migrate", name, "--to", "container", "--health-timeout", "1"]);
    const l = await load.stop();
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /rolled back; mig-1 still runs as prefab/);
    const after = row();
    assert.equal(after.tier, "prefab");
    assert.equal(after.status, "running");
    assert.equal(after.generation, before.generation);
    assert.equal(l.failed, 0, `statuses ${l.statuses}`);
    assert.ok(l.sent >= 5, `only ${l.sent} requests were sent during the attempt`);
    assert.equal((await fetch(after.status_url)).status, 200);
    const events = h.cliJson<{ events: Array<{ action: string; result: string }> }>(["events", name]).events;
    assert.equal(events.find((e) => e.action === "migrate")?.result, "error");
  });

  test("prefab -> container mid-conversation at 20 requests/s: zero failures, turn 3 continues turn 1-2", async (t) => {
    const t1 = await client.chat("What is the latest close of 600519?");
    assert.equal(t1.status, 200, t1.error);
    const t2 = await client.chat("And its fundamentals for 2024?", t1.sessionId);
    assert.equal(t2.status, 200, t2.error);
    const url = row().status_url;
    const load = steadyLoad(client, 20);
    const mr = await h.cliAsync(["migrate", name, "--to", "container", "--json"]);
    assert.equal(mr.code, 0, mr.stderr);
    const m = JSON.parse(mr.stdout) as { outcome: string; held_ms: number; pause_ms: number; total_ms: number };
    const l = await load.stop();
    t.diagnostic(
      `migration: pause ${m.pause_ms} ms, longest held ${m.held_ms} ms, total ${m.total_ms} ms; load ${l.sent} sent, slowest ${Math.round(l.maxMs)} ms`,
    );
    assert.equal(m.outcome, "migrated");
    assert.equal(l.failed, 0, `statuses ${l.statuses}`);
    assert.ok(l.sent >= 10);
    const cur = row();
    assert.equal(cur.tier, "container");
    assert.equal(cur.status_url, url, "the profile's URL does not change");
    const t3 = await client.chat("What was its close on 20241231?", t1.sessionId);
    assert.equal(t3.status, 200, t3.error);
    assert.match(t3.content.replace(/,/g, ""), /1524\.00/);
    const users = ((await client.session(t1.sessionId))?.messages ?? []).filter((x) => x.role === "user");
    assert.equal(users.length, 3);
    const id = h.cli(["exec", name, "--", "id", "-u"]);
    assert.equal(Number(id.stdout.trim()) >= 30000, true, id.stdout);
  });

  test("the front door streams chat, and the URL survives a restart", async () => {
    const res = await fetch(`${h.url}/p/${name}/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${client.apiKey}`, "content-type": "application/json" },
      body: JSON.stringify({ stream: true, messages: [{ role: "user", content: "latest close of 000858?" }] }),
    });
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /text\/event-stream/);
    const text = await res.text();
    assert.match(text, /^data: /m);
    assert.match(text, /data: \[DONE\]/);
    assert.equal(h.cli(["restart", name]).code, 0);
    assert.equal((await fetch(row().status_url)).status, 200);
  });

  test("migrating to the tier it already has says so and changes nothing", () => {
    const before = row();
    const r = h.cliJson<{ outcome: string; message: string }>(["migrate", name, "--to", "container"]);
    assert.equal(r.outcome, "noop");
    assert.match(r.message, /already runs as container/);
    assert.equal(row().generation, before.generation);
  });
});
