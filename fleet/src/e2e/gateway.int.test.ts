/**
 * Issue 14, end to end with real processes: the upstream simulator (`twilight-gateway sim`), the model gateway run by a
 * harness fleet (`hermes-admin gateway up`), and profiles in `custom` mode on both tiers answering through it.
 * - gw-a (prefab, basic): rpm limit; gw-b (container, pro): monthly spend cap; gw-c (prefab, dedicated_pro): the
 *   neighbour whose latency is measured while the others are refused.
 * - No profile file, process env, log, CLI output or `docker inspect` holds the upstream key.
 * - Streaming passes through token by token; metered usage equals the simulator's own count; rm revokes the key.
 * Ports 20101-20199, uids 63000-63999 (this branch's ranges). The container part needs the profile image already built.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { parseEnv } from "@twilight/core";
import { APP_DIR } from "../config.js";
import { dockerClient } from "../docker/client.js";
import { imageRefs, projectVersion } from "../images/refs.js";
import { eventually, type FleetHarness, fleetHarness } from "../testing/harness.js";

const SIM_PORT = 20191;
const GW_PORT = 20190;
const UPSTREAM_KEY = `upstream-${Math.random().toString(36).slice(2)}${Date.now().toString(36)}XyZ`;

interface Row {
  name: string;
  tier: string;
  profile_path: string;
  container_id: string | null;
}
interface UsageRow {
  profile: string;
  requests: number;
  prompt_tokens: number;
  completion_tokens: number;
  spend_fen: number;
  limited: number;
}

const p50 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

/** Every regular file under `dir` (bounded), skipping `skip`. */
function filesUnder(dir: string, skip: (p: string) => boolean, out: string[] = [], depth = 0): string[] {
  if (depth > 8 || out.length > 5_000) return out;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (skip(p)) continue;
    if (e.isDirectory()) filesUnder(p, skip, out, depth + 1);
    else if (e.isFile() && statSync(p).size < 64 << 20) out.push(p);
  }
  return out;
}

describe("model gateway through the fleet: virtual keys, limits, streaming, metering", () => {
  let h: FleetHarness;
  let sim: ChildProcess;
  let container = false;
  const rows = new Map<string, Row>();
  const vkey = (n: string) =>
    parseEnv(readFileSync(join((rows.get(n) as Row).profile_path, ".env"), "utf8")).SILICONFLOW_API_KEY as string;
  const apiKey = (n: string) =>
    parseEnv(readFileSync(join((rows.get(n) as Row).profile_path, ".env"), "utf8")).API_SERVER_KEY as string;
  const gw = `http://127.0.0.1:${GW_PORT}/v1`;

  async function direct(key: string, o: { model?: string; words?: number; stream?: boolean } = {}) {
    const t0 = performance.now();
    const res = await fetch(`${gw}/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
      body: JSON.stringify({
        model: o.model ?? "sim-model",
        stream: o.stream === true,
        messages: [{ role: "user", content: Array.from({ length: o.words ?? 4 }, (_, i) => `q${i}`).join(" ") }],
      }),
    });
    const body = await res.text();
    return { status: res.status, retryAfter: res.headers.get("retry-after"), body, ms: performance.now() - t0 };
  }

  async function viaProfile(n: string, stream: boolean) {
    const res = await fetch(`${h.url}/p/${n}/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${apiKey(n)}`, "content-type": "application/json" },
      body: JSON.stringify({ stream, messages: [{ role: "user", content: `hello from ${n}, what is the weather` }] }),
    });
    return { status: res.status, text: await res.text() };
  }

  before(async () => {
    const dir = mkdtempSync(join(tmpdir(), "gw-e2e-"));
    writeFileSync(join(dir, "sim.key"), UPSTREAM_KEY, { mode: 0o600 });
    writeFileSync(
      join(dir, "upstream.env"),
      `UPSTREAM_BASE_URL=http://127.0.0.1:${SIM_PORT}/v1\nUPSTREAM_API_KEY=${UPSTREAM_KEY}\n`,
      {
        mode: 0o600,
      },
    );
    sim = spawn(
      process.execPath,
      [
        join(APP_DIR, "gateway/dist/main.js"),
        "sim",
        "--port",
        String(SIM_PORT),
        "--key-file",
        join(dir, "sim.key"),
        "--token-delay-ms",
        "20",
      ],
      { stdio: "ignore" },
    );
    await eventually(() => fetch(`http://127.0.0.1:${SIM_PORT}/sim/stats`).then((r) => r.ok), 15_000, "the simulator");
    try {
      await dockerClient()
        .getImage(imageRefs(await projectVersion()).profile)
        .inspect();
      container = true;
    } catch {
      container = false;
    }
    h = await fleetHarness({
      FLEET_PORT_RANGE: "20101-20150",
      FLEET_UID_RANGE: "63000-63099",
      FLEET_GATEWAY_UID: "63999",
      FLEET_GATEWAY_PORT: String(GW_PORT),
      FLEET_MODEL_PROVIDER: "custom",
      FLEET_MODEL_DEFAULT: "sim-model",
      GATEWAY_LIMITS: JSON.stringify({ basic: { rpm: 6 }, pro: { monthlyFen: 100 } }),
      GATEWAY_PRICES: JSON.stringify({
        "sim-model": { inFenPerM: 0, outFenPerM: 0 },
        "sim-pricey": { inFenPerM: 1e6, outFenPerM: 1e6 },
      }),
    });
    await h.startDaemon();
    const up = h.cli(["gateway", "up", "--upstream-env", join(dir, "upstream.env"), "--json"]);
    assert.equal(up.code, 0, up.stderr);
    const specs: [string, string, string][] = [
      ["gw-a", "prefab", "basic"],
      ["gw-b", container ? "container" : "prefab", "pro"],
      ["gw-c", "prefab", "dedicated_pro"],
    ];
    for (const [n, tier, plan] of specs) {
      const r = h.cli(["spawn", n, "--tier", tier, "--plan", plan]);
      assert.equal(r.code, 0, r.stderr);
    }
    for (const p of h.cliJson<{ profiles: Row[] }>(["list", "--no-stats"]).profiles) rows.set(p.name, p);
    process.stdout.write(`# tiers: ${[...rows.values()].map((r) => `${r.name}=${r.tier}`).join(" ")}\n`);
    if (container) assert.equal(rows.get("gw-b")?.tier, "container");
  });

  after(async () => {
    h?.cli(["gateway", "down"]);
    await h?.cleanup();
    sim?.kill("SIGTERM");
  });

  test("gateway status: running, healthy, one virtual key per profile, upstream set", () => {
    const s = h.cliJson<{
      running: boolean;
      health: { ok: boolean };
      keys: number;
      upstream_configured: boolean;
      url_container?: string;
    }>(["gateway", "status"]);
    assert.equal(s.running, true);
    assert.equal(s.health.ok, true);
    assert.equal(s.keys, 3);
    assert.equal(s.upstream_configured, true);
    if (container) assert.match(s.url_container ?? "", /^http:\/\/\d+\.\d+\.\d+\.\d+:20190\/v1$/);
  });

  test("profiles in custom mode answer through the gateway on both tiers (JSON and streamed)", async () => {
    for (const n of ["gw-a", "gw-b"]) {
      const row = rows.get(n) as Row;
      const cfg = readFileSync(join(row.profile_path, "config.yaml"), "utf8");
      assert.match(cfg, /provider: custom/);
      assert.match(cfg, new RegExp(`base_url: http://[\\d.]+:${GW_PORT}/v1`));
      const j = await viaProfile(n, false);
      assert.equal(j.status, 200, j.text);
      assert.match(j.text, /Simulated answer/);
      const s = await viaProfile(n, true);
      assert.equal(s.status, 200, s.text);
      assert.match(s.text, /Simulated/);
      assert.match(s.text, /data: \[DONE\]/);
    }
  });

  test("streaming passes through token by token (chunks arrive as the upstream sends them)", async () => {
    const res = await fetch(`${gw}/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${vkey("gw-c")}`, "content-type": "application/json" },
      body: JSON.stringify({ model: "sim-model", stream: true, messages: [{ role: "user", content: "stream please" }] }),
    });
    assert.equal(res.status, 200);
    const arrivals: number[] = [];
    const dec = new TextDecoder();
    let text = "";
    for await (const c of res.body as unknown as AsyncIterable<Uint8Array>) {
      const s = dec.decode(c, { stream: true });
      text += s;
      const n = (s.match(/"content":"[^"]+"/g) ?? []).length;
      for (let i = 0; i < n; i++) arrivals.push(performance.now());
    }
    const words = (text.match(/"content":"[^"]+"/g) ?? []).length;
    assert.ok(words >= 10, `only ${words} content chunks`);
    const gaps = arrivals.slice(1).map((t, i) => t - (arrivals[i] as number));
    const spread = gaps.filter((g) => g >= 8).length;
    process.stdout.write(
      `# streaming: ${words} content chunks, ${spread} arrived >= 8 ms after the previous (sim: 20 ms/token)\n`,
    );
    assert.ok(spread >= words / 2, `chunks were buffered, not passed through: gaps ${gaps.map((g) => g.toFixed(0)).join(",")}`);
    assert.doesNotMatch(text, /"usage"/, "the usage chunk the gateway asked for is not passed to a caller who did not");
  });

  test("rpm: gw-a over its plan's requests/minute gets 429 + Retry-After naming rpm; gw-c keeps its latency", async () => {
    const base: number[] = [];
    for (let i = 0; i < 7; i++) base.push((await direct(vkey("gw-c"))).ms);
    let refused: Awaited<ReturnType<typeof direct>> | undefined;
    for (let i = 0; i < 10 && !refused; i++) {
      const r = await direct(vkey("gw-a"));
      if (r.status === 429) refused = r;
      else assert.equal(r.status, 200, r.body);
    }
    assert.ok(refused, "gw-a was never refused");
    assert.ok(Number(refused.retryAfter) >= 1 && Number(refused.retryAfter) <= 60, `Retry-After ${refused.retryAfter}`);
    const err = JSON.parse(refused.body).error as { details: { limit: string } };
    assert.equal(err.details.limit, "rpm");
    // gw-a hammers (all refused) while gw-c is measured
    const during: number[] = [];
    const storm = Promise.all(Array.from({ length: 40 }, () => direct(vkey("gw-a"))));
    for (let i = 0; i < 7; i++) {
      const r = await direct(vkey("gw-c"));
      assert.equal(r.status, 200, r.body);
      during.push(r.ms);
    }
    assert.ok((await storm).every((r) => r.status === 429));
    process.stdout.write(
      `# neighbour gw-c p50: ${p50(base).toFixed(1)} ms alone, ${p50(during).toFixed(1)} ms while gw-a is refused\n`,
    );
    assert.ok(p50(during) < p50(base) * 2 + 50, "the neighbour slowed down");
  });

  test("spend cap: gw-b over its monthly fen gets 429 + Retry-After naming spend; gw-c keeps answering", async () => {
    let refused: Awaited<ReturnType<typeof direct>> | undefined;
    for (let i = 0; i < 6 && !refused; i++) {
      const r = await direct(vkey("gw-b"), { model: "sim-pricey", words: 40 });
      if (r.status === 429) refused = r;
      else assert.equal(r.status, 200, r.body);
      const c = await direct(vkey("gw-c"));
      assert.equal(c.status, 200, c.body);
    }
    assert.ok(refused, "gw-b was never refused");
    assert.ok(Number(refused.retryAfter) >= 1);
    assert.equal((JSON.parse(refused.body).error as { details: { limit: string } }).details.limit, "spend");
    const j = await viaProfile("gw-b", false);
    assert.doesNotMatch(j.text, /Simulated answer/, "the profile itself is refused too");
  });

  test("usage equals the simulator's own count; the refusals are counted", async () => {
    const usage = h.cliJson<{ usage: UsageRow[] }>(["usage"]).usage;
    const stats = (await (await fetch(`http://127.0.0.1:${SIM_PORT}/sim/stats`)).json()) as {
      requests: number;
      prompt_tokens: number;
      completion_tokens: number;
    };
    const sum = (k: keyof UsageRow) => usage.reduce((a, u) => a + Number(u[k]), 0);
    process.stdout.write(`# usage ${JSON.stringify(usage)}\n# simulator ${JSON.stringify(stats)}\n`);
    assert.equal(sum("requests"), stats.requests);
    assert.equal(sum("prompt_tokens"), stats.prompt_tokens);
    assert.equal(sum("completion_tokens"), stats.completion_tokens);
    assert.ok((usage.find((u) => u.profile === "gw-a")?.limited ?? 0) >= 41);
    assert.ok((usage.find((u) => u.profile === "gw-b")?.spend_fen ?? 0) >= 100);
    const one = h.cliJson<{ usage: UsageRow[] }>(["usage", "gw-c"]).usage;
    assert.deepEqual([...new Set(one.map((u) => u.profile))], ["gw-c"]);
  });

  test("the upstream key is in no profile file, process env, log, CLI output or docker inspect", async () => {
    const hits: string[] = [];
    const secretFile = join(h.ops, "gateway", "upstream.env");
    for (const f of filesUnder(h.ops, (p) => p === secretFile)) if (readFileSync(f).includes(UPSTREAM_KEY)) hits.push(f);
    for (const [n, pids] of await h.profilePids())
      for (const pid of pids) if (readFileSync(`/proc/${pid}/environ`).includes(UPSTREAM_KEY)) hits.push(`env of ${n} (${pid})`);
    for (const o of h.outputs) if (o.text.includes(UPSTREAM_KEY)) hits.push(`hermes-admin ${o.args.join(" ")}`);
    const b = rows.get("gw-b") as Row;
    if (container && b.container_id) {
      const info = await dockerClient().getContainer(b.container_id).inspect();
      if (JSON.stringify(info).includes(UPSTREAM_KEY)) hits.push("docker inspect gw-b");
    }
    assert.deepEqual(hits, []);
    assert.equal(statSync(secretFile).mode & 0o077, 0, "the secret file is the gateway's alone");
    assert.ok(
      readFileSync(join(h.ops, "logs", "gateway.log"), "utf8").includes("model gateway listening"),
      "the log was scanned",
    );
  });

  test("rotate-key --model: the old key is refused within a second, the profile answers with its new one", async () => {
    const old = vkey("gw-c");
    const r = h.cliJson<{ rotated: string[]; restarted: boolean }>(["rotate-key", "gw-c", "--model"]);
    assert.deepEqual(r.rotated, ["SILICONFLOW_API_KEY"]);
    assert.equal(r.restarted, true);
    const fresh = vkey("gw-c");
    assert.notEqual(fresh, old);
    await eventually(async () => (await direct(old)).status === 401, 5_000, "the old key refused");
    assert.equal((await direct(fresh)).status, 200);
    const answer = await viaProfile("gw-c", false);
    assert.equal(answer.status, 200, answer.text);
    for (const o of h.outputs) assert.ok(!o.text.includes(fresh), `the new key is in the output of ${o.args.join(" ")}`);
  });

  test("stop revokes the key (billing stops a profile whose period ended: its key must not spend); start restores it", async () => {
    const key = vkey("gw-c");
    assert.equal(h.cli(["stop", "gw-c"]).code, 0);
    await eventually(async () => (await direct(key)).status === 401, 5_000, "a stopped profile's key refused");
    assert.equal((await direct(vkey("gw-b"))).status === 401, false, "another profile's key still works");
    assert.equal(h.cli(["start", "gw-c"]).code, 0);
    await eventually(async () => (await direct(key)).status === 200, 5_000, "the key works again after start");
    assert.equal((await viaProfile("gw-c", false)).status, 200);
  });

  test("rm revokes the profile's virtual key: the gateway refuses it", async () => {
    const key = vkey("gw-a");
    assert.equal(h.cli(["rm", "gw-a", "--force"]).code, 0);
    await eventually(async () => (await direct(key)).status === 401, 10_000, "gw-a's key refused");
    assert.equal((await direct(vkey("gw-c"))).status, 200);
  });

  test("the upstream key rotates without touching a profile: same pids, same .env, answers from the new upstream", async () => {
    const NEW_KEY = `upstream2-${Math.random().toString(36).slice(2)}XyZ`;
    const dir = mkdtempSync(join(tmpdir(), "gw-rot-"));
    writeFileSync(join(dir, "sim.key"), NEW_KEY, { mode: 0o600 });
    writeFileSync(
      join(dir, "upstream.env"),
      `UPSTREAM_BASE_URL=http://127.0.0.1:${SIM_PORT + 1}/v1\nUPSTREAM_API_KEY=${NEW_KEY}\n`,
      { mode: 0o600 },
    );
    const sim2 = spawn(
      process.execPath,
      [join(APP_DIR, "gateway/dist/main.js"), "sim", "--port", String(SIM_PORT + 1), "--key-file", join(dir, "sim.key")],
      { stdio: "ignore" },
    );
    try {
      await eventually(
        () => fetch(`http://127.0.0.1:${SIM_PORT + 1}/sim/stats`).then((r) => r.ok),
        15_000,
        "the second simulator",
      );
      const pids = await h.profilePids();
      const live = ["gw-b", "gw-c"]; // gw-a was removed above
      const envs = live.map((n) => readFileSync(join((rows.get(n) as Row).profile_path, ".env"), "utf8"));
      const up = h.cli(["gateway", "up", "--upstream-env", join(dir, "upstream.env"), "--json"]);
      assert.equal(up.code, 0, up.stderr);
      const served = async () =>
        ((await (await fetch(`http://127.0.0.1:${SIM_PORT + 1}/sim/stats`)).json()) as { requests?: number }).requests ?? 0;
      await eventually(
        async () => (await direct(vkey("gw-c"))).status === 200 && (await served()) > 0,
        10_000,
        "answers from the new upstream",
      );
      assert.equal((await viaProfile("gw-c", false)).status, 200);
      assert.deepEqual(await h.profilePids(), pids, "no profile restarted");
      assert.deepEqual(
        live.map((n) => readFileSync(join((rows.get(n) as Row).profile_path, ".env"), "utf8")),
        envs,
        "no profile file changed",
      );
      for (const o of h.outputs) assert.ok(!o.text.includes(NEW_KEY), `the upstream key in the output of ${o.args.join(" ")}`);
    } finally {
      sim2.kill("SIGTERM");
    }
  });
});
