/**
 * Tenant boundary on the data-service side (issue 9, items 3, 7, 9, 10): key rotation with revocation while the service
 * runs, tokens.json that does not parse or gives one token to two profiles, the unix socket, and a non-root uid.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { chmodSync, chownSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { type PublicCiteKey, sha256Hex } from "@twilight/core";
import type { ManualClock } from "./clock.js";
import type { Health } from "./http/health.js";
import { rotateKey } from "./keys.js";
import type { Service } from "./service.js";
import { quietLog, startTestService, tempDir, writeTokens } from "./testkit.js";

const ALICE = "alice-token-0123456789";
const BOB = "bob-token-0123456789";

async function callLatest(url: string, token: string): Promise<{ cite: { key_id: string } }> {
  const post = (body: unknown, sid?: string) =>
    fetch(new URL("/mcp", url), {
      method: "POST",
      headers: {
        "content-type": "application/json",
        accept: "application/json, text/event-stream",
        authorization: `Bearer ${token}`,
        "mcp-protocol-version": "2025-06-18",
        ...(sid ? { "mcp-session-id": sid } : {}),
      },
      body: JSON.stringify(body),
    });
  const init = await post({
    jsonrpc: "2.0",
    id: 1,
    method: "initialize",
    params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "t", version: "1" } },
  });
  const sid = init.headers.get("mcp-session-id") ?? undefined;
  await init.text();
  const res = await post(
    { jsonrpc: "2.0", id: 2, method: "tools/call", params: { name: "get_latest_price", arguments: { ts_code: "600519" } } },
    sid,
  );
  const text = await res.text();
  const json = JSON.parse(text.startsWith("{") ? text : (/^data: (.*)$/m.exec(text)?.[1] ?? "null"));
  return json.result.structuredContent;
}

const keysOf = async (url: string) =>
  ((await (await fetch(new URL("/.well-known/cite-keys", url))).json()) as { keys: PublicCiteKey[] }).keys;
const health = async (url: string) => (await (await fetch(new URL("/health", url))).json()) as Health;
const status = async (url: string, token: string) =>
  (await fetch(new URL("/warehouse/stocks", url), { headers: { authorization: `Bearer ${token}` } })).status;

describe("data-service boundary", () => {
  const tmp = tempDir();
  let svc: Service & { clock: ManualClock };

  before(async () => {
    svc = (await startTestService({
      dataDir: tmp.dir,
      tokens: { alice: ALICE, bob: BOB },
      socketPath: join(tmp.dir, "mcp.sock"),
    })) as typeof svc;
    await svc.scheduler.runOnce("test");
  });
  after(async () => {
    await svc.close();
    tmp.remove();
  });

  it("rotate-key: the new key signs at once without a restart, the old one is published until its not_after, then dropped", async () => {
    const [first] = await keysOf(svc.url);
    assert.ok(first);
    assert.equal((await callLatest(svc.url, ALICE)).cite.key_id, first.key_id);
    const r = rotateKey(tmp.dir, { graceSeconds: 600, now: svc.clock.now() });
    assert.equal(r.retiring_key_id, first.key_id);
    assert.equal((await callLatest(svc.url, ALICE)).cite.key_id, r.new_key_id, "signs with the new key, no restart");
    const during = await keysOf(svc.url);
    assert.deepEqual(during.map((k) => k.key_id).sort(), [first.key_id, r.new_key_id].sort());
    assert.equal(during.find((k) => k.key_id === first.key_id)?.not_after, new Date(svc.clock.now() + 600_000).toISOString());
    const onDisk = JSON.parse(readFileSync(join(tmp.dir, "cite-keys.json"), "utf8")) as { keys: PublicCiteKey[] };
    assert.deepEqual(onDisk.keys, during, "cite-keys.json (what the fleet pins) matches what is published");
    svc.clock.advance(601_000);
    assert.deepEqual(
      (await keysOf(svc.url)).map((k) => k.key_id),
      [r.new_key_id],
      "the retired key is no longer published",
    );
    assert.equal(statSync(join(tmp.dir, "cite-keyset.json")).mode & 0o777, 0o600);
  });

  it("rotate-key --activate-in-seconds publishes the next key before it signs", async () => {
    const before = (await callLatest(svc.url, ALICE)).cite.key_id;
    const r = rotateKey(tmp.dir, { graceSeconds: 60, activateInSeconds: 30, now: svc.clock.now() });
    assert.ok((await keysOf(svc.url)).some((k) => k.key_id === r.new_key_id));
    assert.equal((await callLatest(svc.url, ALICE)).cite.key_id, before, "still the old key during the pin window");
    svc.clock.advance(31_000);
    assert.equal((await callLatest(svc.url, ALICE)).cite.key_id, r.new_key_id);
  });

  it("tokens.json that does not parse: keeps serving the last good set, names the file in /health and the log", async () => {
    assert.equal(await status(svc.url, ALICE), 200);
    writeFileSync(join(tmp.dir, "tokens.json"), '{"version":1,"tokens":{');
    assert.equal(await status(svc.url, ALICE), 200, "not read as empty");
    const h = await health(svc.url);
    assert.equal(h.tokens?.ok, false);
    assert.match(h.tokens?.error ?? "", /tokens\.json is invalid: not JSON/);
    assert.equal(h.status, "degraded");
    writeTokens(tmp.dir, { alice: ALICE, bob: BOB });
    assert.equal((await health(svc.url)).tokens?.ok, true);
  });

  it("a token hash listed for two profiles refuses the whole file (the last good set stays)", async () => {
    const h = sha256Hex(BOB);
    const text = `{"version":1,"tokens":{"${sha256Hex(ALICE)}":{"profile":"alice"},"${h}":{"profile":"bob"},"${h}":{"profile":"alice"}}}`;
    writeFileSync(join(tmp.dir, "tokens.json"), text);
    const hl = await health(svc.url);
    assert.equal(hl.tokens?.ok, false);
    assert.match(hl.tokens?.error ?? "", /one profile only/);
    // bob's token still means bob: the refused file would have given it to alice
    const bobCite = (await callLatest(svc.url, BOB)) as unknown as { cite: { profile: string } };
    assert.equal(bobCite.cite.profile, "bob");
    writeTokens(tmp.dir, { alice: ALICE, bob: BOB });
  });

  it("a restart with a bad tokens.json serves the last good copy", async () => {
    const dir = tempDir();
    const s1 = await startTestService({ dataDir: dir.dir, tokens: { carol: "carol-token-0123456789" } });
    await s1.close();
    writeFileSync(join(dir.dir, "tokens.json"), "not json");
    const s2 = await startTestService({ dataDir: dir.dir });
    try {
      assert.equal(await status(s2.url, "carol-token-0123456789"), 200);
      const h = await health(s2.url);
      assert.equal(h.tokens?.from_last_good, true);
      assert.equal(h.tokens?.ok, false);
    } finally {
      await s2.close();
      dir.remove();
    }
  });

  it("MCP_SOCKET_PATH: the service answers on a 0666 unix socket, with the same bearer auth", async () => {
    const path = join(tmp.dir, "mcp.sock");
    assert.ok(statSync(path).isSocket());
    assert.equal(statSync(path).mode & 0o777, 0o666);
    const get = (p: string, token?: string) =>
      new Promise<number>((resolve, reject) => {
        const req = request({ socketPath: path, path: p, headers: token ? { authorization: `Bearer ${token}` } : {} }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on("error", reject);
        req.end();
      });
    assert.equal(await get("/health"), 200);
    assert.equal(await get("/warehouse/stocks", ALICE), 200);
    assert.equal(await get("/warehouse/stocks", "nope-token-0123456789"), 401);
  });
});

const MAIN = fileURLToPath(new URL("./main.js", import.meta.url));
const asRoot = typeof process.getuid === "function" && process.getuid() === 0;

describe("data service as a non-root uid", { skip: asRoot ? false : "needs root to start a process as another uid" }, () => {
  it("runs as uid 65534 with everything under its own data dir (HOME unwritable, cwd /)", async () => {
    const tmp = tempDir("mcp-nonroot-");
    chmodSync(tmp.dir, 0o711);
    const dataDir = join(tmp.dir, "data");
    mkdirSync(dataDir, { mode: 0o700 });
    chownSync(dataDir, 65534, 65534);
    const sockDir = join(tmp.dir, "sock");
    // as the fleet makes it: the service uid owns the socket directory, 0755 (no tenant can replace the socket)
    mkdirSync(sockDir, { mode: 0o755 });
    chownSync(sockDir, 65534, 65534);
    const port = 20000 + Math.floor(Math.random() * 20000);
    const child = spawn(process.execPath, [MAIN], {
      uid: 65534,
      gid: 65534,
      cwd: "/",
      env: {
        PATH: process.env.PATH ?? "",
        HOME: "/nonexistent",
        MCP_DATA_DIR: dataDir,
        MCP_PORT: String(port),
        MCP_SOCKET_PATH: join(sockDir, "mcp.sock"),
        MCP_SCHEDULER: "off",
        LOG_LEVEL: "warn",
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout?.on("data", (d: Buffer) => {
      out += d.toString();
    });
    child.stderr?.on("data", (d: Buffer) => {
      out += d.toString();
    });
    try {
      let ok = false;
      for (let i = 0; i < 200 && !ok && child.exitCode === null; i++) {
        ok = await fetch(`http://127.0.0.1:${port}/health`).then(
          (r) => r.ok,
          () => false,
        );
        if (!ok) await new Promise((r) => setTimeout(r, 100));
      }
      assert.ok(ok, `service did not come up as uid 65534: ${out.slice(-2000)}`);
      const files = readdirSync(dataDir);
      for (const f of ["cite-keyset.json", "cite-keys.json", "admin-token", "warehouse.duckdb"]) assert.ok(files.includes(f), f);
      for (const f of files) assert.equal(statSync(join(dataDir, f)).uid, 65534, `${f} is owned by the service uid`);
      assert.equal(statSync(join(sockDir, "mcp.sock")).uid, 65534);
      quietLog.debug({ files }, "non-root data dir");
    } finally {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGTERM");
        await new Promise((r) => child.once("exit", r));
      }
      tmp.remove();
    }
  });
});
