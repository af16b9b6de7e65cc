import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { ROUTES } from "../contract/routes.js";
import { APP_DIR } from "../lib/app-dir.js";
import { FleetClient } from "./client.js";
import { prefetch } from "./prefetch.js";

const TOKEN = `fa_${"t".repeat(43)}`;
const ROW = {
  id: "4f0c8a36-0d5e-4b4e-9d43-2a8f1f7f4c11",
  name: "alpha-1",
  tier: "prefab",
  user_id: null,
  status: "running",
  desired_state: "running",
  pid: 4242,
  container_id: null,
  profile_path: "/srv/profiles/alpha-1",
  node: null,
  port: 18701,
  uid: 20001,
  gid: 20001,
  generation: 1,
  image: null,
  plan: "basic",
  order_id: null,
  restart_count: 0,
  last_error: null,
  secrets_fingerprint: "f".repeat(64),
  created_at: "2026-12-03T10:00:00.000Z",
  updated_at: "2026-12-03T10:00:00.000Z",
  last_health_check: null,
  last_started_at: "2026-12-03T10:00:00.000Z",
  status_url: "http://127.0.0.1:8700/p/alpha-1/health",
  api_base: "http://127.0.0.1:8700/p/alpha-1/v1",
  runtime: { running: true, uptime_s: 5, cpu_percent: 0.1, memory_bytes: 60_000_000, stats_age_s: 1 },
};

/** A stand-in daemon that answers GET /v1/profiles and records every request it gets. */
let server: Server;
let url: string;
let ops: string;
const seen: Array<{ path: string; auth: string | undefined }> = [];

before(async () => {
  server = createServer((req: IncomingMessage, res) => {
    seen.push({ path: req.url ?? "", auth: req.headers.authorization });
    if (req.headers.authorization !== `Bearer ${TOKEN}`) {
      res.writeHead(401, { "content-type": "application/json" });
      return void res.end(JSON.stringify({ error: { code: "UNAUTHORIZED", message: "bad token" } }));
    }
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ profiles: [ROW] }));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  ops = mkdtempSync(join(tmpdir(), "prefetch-"));
  writeFileSync(join(ops, "fleet.pid"), `${JSON.stringify({ pid: process.pid, url })}\n`, { mode: 0o600 });
  writeFileSync(join(ops, "admin-token"), `${TOKEN}\n`, { mode: 0o600 });
});
after(() => {
  server.close();
  rmSync(ops, { recursive: true, force: true });
});

const env = () => ({ ...process.env, TWILIGHT_OPS_DIR: ops, FLEET_PID_FILE: join(ops, "fleet.pid") });

describe("client prefetch (a read sent while the CLI loads its contract)", () => {
  it("a call for the prefetched GET takes its answer: one request, parsed with the route's schema", async () => {
    seen.length = 0;
    prefetch("/v1/profiles?stats=1", env());
    const r = await new FleetClient(url, () => TOKEN).call(ROUTES.listProfiles, { query: { stats: "1" } });
    assert.equal(r.profiles[0]?.name, "alpha-1");
    assert.deepEqual(seen, [{ path: "/v1/profiles?stats=1", auth: `Bearer ${TOKEN}` }]);
  });

  it("is taken once, and only by the same URL with the same credentials", async () => {
    seen.length = 0;
    prefetch("/v1/profiles?stats=1", env());
    // another query: its own request
    await new FleetClient(url, () => TOKEN).call(ROUTES.listProfiles, {});
    // another token: never the prefetched answer (sent with the admin token), its own request and its own 401
    await assert.rejects(new FleetClient(url, () => "fa_other").call(ROUTES.listProfiles, { query: { stats: "1" } }), {
      code: "UNAUTHORIZED",
    });
    // the prefetched one, then a second call that goes out again
    await new FleetClient(url, () => TOKEN).call(ROUTES.listProfiles, { query: { stats: "1" } });
    await new FleetClient(url, () => TOKEN).call(ROUTES.listProfiles, { query: { stats: "1" } });
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(
      seen.map((s) => s.path),
      ["/v1/profiles?stats=1", "/v1/profiles", "/v1/profiles?stats=1", "/v1/profiles?stats=1"],
      "prefetch + own query + other token + second call",
    );
  });

  it("does nothing without a running daemon or a readable token, and a failed prefetch leaves the call its own error", async () => {
    seen.length = 0;
    const empty = mkdtempSync(join(tmpdir(), "prefetch-none-"));
    try {
      prefetch("/v1/profiles", { ...process.env, TWILIGHT_OPS_DIR: empty });
      writeFileSync(join(empty, "fleet.pid"), `${JSON.stringify({ pid: 1, url: "http://127.0.0.1:9" })}\n`);
      writeFileSync(join(empty, "admin-token"), `${TOKEN}\n`, { mode: 0o644 }); // readable by others: refused
      prefetch("/v1/profiles", { ...process.env, TWILIGHT_OPS_DIR: empty });
      assert.equal(seen.length, 0);
      chmodSync(join(empty, "admin-token"), 0o600);
      prefetch("/v1/profiles", { ...process.env, TWILIGHT_OPS_DIR: empty }); // port 9: refused
      await assert.rejects(new FleetClient("http://127.0.0.1:9", () => TOKEN).call(ROUTES.listProfiles, {}), {
        code: "UNAVAILABLE",
      });
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });
});

describe("hermes-admin list sends one request", () => {
  const cli = join(APP_DIR, "fleet", "bin", "hermes-admin.js");
  const run = (args: string[]) =>
    new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
      const p = spawn(process.execPath, [cli, ...args], { env: env() });
      let out = "";
      let err = "";
      p.stdout.on("data", (d) => {
        out += d;
      });
      p.stderr.on("data", (d) => {
        err += d;
      });
      p.on("close", (code) => resolve({ code, out, err }));
    });
  // the prefetch (sent while the contract loads) and the call must name the same GET, or the answer is fetched twice
  for (const [args, path] of [
    [["list", "--json"], "/v1/profiles?stats=1"],
    [["list", "--no-stats"], "/v1/profiles"],
    [["ls", "--names"], "/v1/profiles"],
  ] as const)
    it(`${args.join(" ")}: GET ${path} once`, async () => {
      seen.length = 0;
      const r = await run([...args]);
      assert.equal(r.code, 0, r.err);
      assert.match(r.out, /alpha-1/);
      assert.deepEqual(
        seen.map((s) => s.path),
        [path],
      );
    });
});
