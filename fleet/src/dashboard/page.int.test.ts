/**
 * The dashboard page in Debian's Chromium (headless, `--dump-dom`): served the way the daemon will serve it (the
 * assets module), against a stand-in admin API with 200 profiles and the real fleet registry on /metrics. Checks the
 * table renders every profile worst first and the sign-in form shows without a session. Skipped when Chromium is not
 * installed (`apt-get install chromium`); the lead's playwright test covers login, actions and SSE.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { fleetMetrics, recordCrash, recordHealthCheck } from "../metrics.js";
import { DASHBOARD_HEADERS, dashboardAsset } from "./assets.js";

const CHROMIUM = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].find((p) => existsSync(p));
const COOKIE = "twilight_session=test-session";

function profiles(n: number) {
  return Array.from({ length: n }, (_, i) => ({
    name: `user-${String(i).padStart(3, "0")}`,
    tier: i % 3 === 0 ? "container" : "prefab",
    status: i === 7 ? "error" : "running",
    desired_state: "running",
    port: 18700 + i,
    restart_count: 0,
    last_error: i === 7 ? "exited with code 1" : null,
    plan: "pro",
    user_id: `u${i}`,
    order_id: null,
    runtime: { running: i !== 7, uptime_s: 600 + i, cpu_percent: 0.5, memory_bytes: 90 * 1024 * 1024 },
  }));
}

function summaryOf(dom: string): string {
  return /id="summary"[^>]*>([^<]*)</.exec(dom)?.[1] ?? "(no summary)";
}

/** Run headless Chromium on `url` and return the DOM after its scripts ran (bounded by a 20 s kill). */
function dumpDom(url: string, cookie?: string): Promise<string> {
  const args = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-extensions",
    "--virtual-time-budget=4000",
    "--dump-dom",
  ];
  const target = cookie ? `${url}?session=1` : url;
  return new Promise((resolve, reject) => {
    const child = spawn(CHROMIUM as string, [...args, target], { stdio: ["ignore", "pipe", "ignore"] });
    let out = "";
    child.stdout.on("data", (b: Buffer) => {
      out += b.toString("utf8");
    });
    const t = setTimeout(() => child.kill("SIGKILL"), 20_000);
    child.once("error", reject);
    child.once("exit", () => {
      clearTimeout(t);
      resolve(out);
    });
  });
}

describe("dashboard page in headless Chromium", { skip: CHROMIUM ? false : "chromium is not installed" }, () => {
  const m = fleetMetrics({ defaultMetrics: false });
  let server: Server;
  let base = "";
  before(async () => {
    recordCrash(m, "user-042", { action: "give-up", attempts: 5 });
    recordHealthCheck(m, "user-100", "prefab", false, 2);
    const list = profiles(200);
    server = createServer((req, res) => {
      void (async () => {
        const url = req.url ?? "/";
        // The stand-in's sign-in: loading the page with ?session=1 sets the session cookie (HttpOnly, SameSite=Strict);
        // the API then answers only requests that carry it, as the daemon will.
        const signedIn = (req.headers.cookie ?? "").split(/;\s*/).includes(COOKIE);
        const asset = url.startsWith("/ui") ? dashboardAsset(url) : undefined;
        if (asset) {
          const headers: Record<string, string> = { ...DASHBOARD_HEADERS, "content-type": asset.contentType };
          if (url.includes("session=1")) headers["set-cookie"] = `${COOKIE}; Path=/; HttpOnly; SameSite=Strict`;
          res.writeHead(200, headers).end(asset.body);
        } else if (!signedIn) res.writeHead(401, { "content-type": "application/json" }).end('{"error":{"code":"UNAUTHORIZED"}}');
        else if (url === "/v1/profiles")
          res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ profiles: list }));
        else if (url === "/metrics")
          res.writeHead(200, { "content-type": m.registry.contentType }).end(await m.registry.metrics());
        else res.writeHead(404).end();
      })();
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  it("renders 200 profiles, the problem ones first, with the summary", async () => {
    const t0 = Date.now();
    const dom = await dumpDom(`${base}/ui/`, COOKIE);
    const rows = [...dom.matchAll(/<tr class="sev-(\d)" data-profile="([a-z0-9-]+)"/g)].map((x) => [x[2], Number(x[1])]);
    assert.equal(rows.length, 200, `rendered rows (summary: ${summaryOf(dom)})`);
    assert.deepEqual(rows.slice(0, 3), [
      ["user-007", 3],
      ["user-042", 3],
      ["user-100", 3],
    ]);
    assert.equal(summaryOf(dom), "198 of 200 profiles running; 2 down, 1 crash-looping.");
    assert.ok(dom.includes('data-ready="1"'), "body marked ready after the first render");
    const renderMs = Number(/data-render-ms="(\d+)"/.exec(dom)?.[1]);
    console.log(
      `chromium: 200-profile page dumped in ${Date.now() - t0} ms (process start included); poll+render ${renderMs} ms`,
    );
    assert.ok(renderMs < 1000, `first render took ${renderMs} ms`);
  });

  it("without a session it shows the sign-in form, not the table", async () => {
    const dom = await dumpDom(`${base}/ui/`);
    assert.ok(dom.includes('<section id="login" aria-labelledby="login-h">'), "login is no longer hidden");
    assert.ok(dom.includes('<section id="fleet" aria-labelledby="fleet-h" hidden="">'), "the table is hidden");
    assert.equal(summaryOf(dom), "Sign in to see the fleet.");
  });
});
