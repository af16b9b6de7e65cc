import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import Database from "better-sqlite3";
import { FakeOpenAi } from "./testing/fake-openai.js";
import { exitOf, freePort, makeProfileDir, removeDir, spawnAgent } from "./testing/harness.js";

const KEY = "hk_process_test_key_0123456789";
const auth = { authorization: `Bearer ${KEY}` };

describe("the profile process (agent/dist/main.js)", () => {
  const llm = new FakeOpenAi();
  const dirs: string[] = [];

  before(async () => {
    await llm.start();
  });
  after(async () => {
    await llm.stop();
    for (const d of dirs) removeDir(d);
  });

  const mk = (name: string) => {
    const d = makeProfileDir({
      name,
      apiKey: KEY,
      model: { provider: "custom", base_url: llm.baseUrl, default: "fake-qwen", timeout_seconds: 10, max_retries: 0 },
    });
    dirs.push(d);
    return d;
  };

  it("serves health without auth, guards the rest, and answers bad input with clear 4xx", async () => {
    const dir = mk("proc-a");
    const port = await freePort();
    // the process environment wins over .env: the port comes from here, the key from .env
    const { child, url } = await spawnAgent(dir, { API_SERVER_PORT: String(port) });
    try {
      for (const p of ["/health", "/v1/health"]) {
        const h = (await (await fetch(url + p)).json()) as Record<string, unknown>;
        assert.equal(h.status, "ok");
        assert.equal(h.profile, "proc-a");
        assert.equal(h.generation, 1);
        assert.equal(typeof h.uptime_s, "number");
        assert.ok(!JSON.stringify(h).includes(KEY));
      }
      assert.equal((await fetch(`${url}/metrics`)).status, 401);
      assert.equal((await fetch(`${url}/metrics`, { headers: { authorization: "Bearer wrong" } })).status, 401);
      const m = await fetch(`${url}/metrics`, { headers: auth });
      const text = await m.text();
      assert.match(text, /hermes_query_total\{profile="proc-a"\} 0/);
      assert.match(text, /process_resident_memory_bytes/);
      assert.equal((await fetch(`${url}/v1/models`)).status, 401);
      const models = (await (await fetch(`${url}/v1/models`, { headers: auth })).json()) as { data: { id: string }[] };
      assert.equal(models.data[0]?.id, "fake-qwen");

      const post = (body: string, headers: Record<string, string> = {}) =>
        fetch(`${url}/v1/chat/completions`, {
          method: "POST",
          headers: { ...auth, "content-type": "application/json", ...headers },
          body,
        });
      const bad = async (res: Response, status: number, re: RegExp) => {
        assert.equal(res.status, status);
        const e = (await res.json()) as { error: { message: string } };
        assert.match(e.error.message, re);
      };
      await bad(await post("{not json"), 400, /not valid JSON/);
      await bad(await post(JSON.stringify({ messages: [] })), 400, /at least one message/);
      await bad(await post(JSON.stringify({ messages: [{ role: "robot", content: "x" }] })), 400, /messages\.0\.role/);
      await bad(await post(JSON.stringify({ messages: [{ role: "assistant", content: "x" }] })), 400, /role 'user'/);
      await bad(
        await post(JSON.stringify({ messages: [{ role: "user", content: "x" }] }), { "x-hermes-session-id": "../etc" }),
        400,
        /session id/,
      );
      await bad(await post(JSON.stringify({ messages: [{ role: "user", content: "x".repeat(300_000) }] })), 413, /larger than/);
      await bad(await fetch(`${url}/v1/chat/completions`, { headers: auth }), 400, /not allowed/);
      await bad(await fetch(`${url}/nope`, { headers: auth }), 404, /no route/);
      await bad(await fetch(`${url}/api/sessions?limit=abc`, { headers: auth }), 400, /integer/);
      const ok = await post(JSON.stringify({ messages: [{ role: "user", content: [{ type: "text", text: "hello there" }] }] }));
      assert.equal(ok.status, 200);
    } finally {
      child.kill("SIGTERM");
      assert.deepEqual(await exitOf(child), { code: 0, signal: null });
    }
  });

  it("on SIGTERM finishes the in-flight request, closes state.db cleanly, and exits 0", async () => {
    const dir = mk("proc-b");
    const port = await freePort();
    const { child, url } = await spawnAgent(dir, { API_SERVER_PORT: String(port) });
    llm.delayMs = 600;
    try {
      const pending = fetch(`${url}/v1/chat/completions`, {
        method: "POST",
        headers: { ...auth, "x-hermes-session-id": "drain-1" },
        body: JSON.stringify({ messages: [{ role: "user", content: "slow question" }] }),
      });
      await new Promise((r) => setTimeout(r, 200));
      child.kill("SIGTERM");
      const res = await pending;
      assert.equal(res.status, 200);
      assert.deepEqual(await exitOf(child), { code: 0, signal: null });
    } finally {
      llm.delayMs = 0;
      if (child.exitCode === null) child.kill("SIGKILL");
    }
    assert.ok(!existsSync(join(dir, "state.db-wal")) || (await import("node:fs")).statSync(join(dir, "state.db-wal")).size === 0);
    const db = new Database(join(dir, "state.db"), { readonly: true });
    try {
      assert.equal(db.pragma("integrity_check", { simple: true }), "ok");
      const n = db.prepare("SELECT count(*) AS n FROM messages WHERE session_id = 'drain-1'").get() as { n: number };
      assert.equal(n.n, 2, "the drained turn was stored");
    } finally {
      db.close();
    }
  });

  it("standby: health says standby, state.db stays closed, routes answer 503 until POST /admin/activate", async () => {
    const dir = mk("proc-c");
    const port = await freePort();
    const { child, url } = await spawnAgent(dir, { API_SERVER_PORT: String(port), TWILIGHT_STANDBY: "1" });
    try {
      const h = (await (await fetch(`${url}/health`)).json()) as { status: string; profile: string };
      assert.deepEqual([h.status, h.profile], ["standby", "proc-c"]);
      assert.ok(!existsSync(join(dir, "state.db")), "state.db is not opened in standby");
      assert.equal((await fetch(`${url}/v1/models`, { headers: auth })).status, 503);
      assert.equal((await fetch(`${url}/api/sessions`, { headers: auth })).status, 503);
      assert.equal((await fetch(`${url}/admin/activate`, { method: "POST" })).status, 401);
      const act = await fetch(`${url}/admin/activate`, { method: "POST", headers: auth });
      assert.equal(act.status, 200);
      assert.equal(((await act.json()) as { status: string }).status, "ok");
      assert.ok(existsSync(join(dir, "state.db")));
      assert.equal((await fetch(`${url}/v1/models`, { headers: auth })).status, 200);
      assert.equal(((await (await fetch(`${url}/health`)).json()) as { status: string }).status, "ok");
      assert.equal(
        (await fetch(`${url}/admin/activate`, { method: "POST", headers: auth })).status,
        200,
        "activate is idempotent",
      );
    } finally {
      child.kill("SIGTERM");
      assert.deepEqual(await exitOf(child), { code: 0, signal: null });
    }
  });

  it("release: in-flight requests finish, state.db is closed before it answers, then 503 and health `released`", async () => {
    const dir = mk("proc-r");
    const port = await freePort();
    const { child, url } = await spawnAgent(dir, { API_SERVER_PORT: String(port) });
    llm.delayMs = 400;
    try {
      const pending = fetch(`${url}/v1/chat/completions`, {
        method: "POST",
        headers: { ...auth, "x-hermes-session-id": "release-1" },
        body: JSON.stringify({ messages: [{ role: "user", content: "a question in flight" }] }),
      });
      await new Promise((r) => setTimeout(r, 100));
      assert.equal((await fetch(`${url}/admin/release`, { method: "POST" })).status, 401);
      const rel = await fetch(`${url}/admin/release`, { method: "POST", headers: auth });
      assert.equal(rel.status, 200);
      assert.equal(((await rel.json()) as { status: string }).status, "released");
      assert.equal((await pending).status, 200, "the request in flight finished first");
      // the state is closed: its WAL checkpointed away, and a reader sees the finished turn
      assert.ok(
        !existsSync(join(dir, "state.db-wal")) || (await import("node:fs")).statSync(join(dir, "state.db-wal")).size === 0,
      );
      const db = new Database(join(dir, "state.db"), { readonly: true });
      try {
        const n = db.prepare("SELECT count(*) AS n FROM messages WHERE session_id = 'release-1'").get() as { n: number };
        assert.equal(n.n, 2);
      } finally {
        db.close();
      }
      assert.equal((await fetch(`${url}/v1/models`, { headers: auth })).status, 503);
      assert.equal(((await (await fetch(`${url}/health`)).json()) as { status: string }).status, "released");
      assert.equal((await fetch(`${url}/admin/release`, { method: "POST", headers: auth })).status, 200, "idempotent");
      assert.equal((await fetch(`${url}/admin/activate`, { method: "POST", headers: auth })).status, 503, "never back");
    } finally {
      llm.delayMs = 0;
      child.kill("SIGTERM");
      assert.deepEqual(await exitOf(child), { code: 0, signal: null });
    }
  });

  it("refuses to start with a clear message when the profile is unusable", async () => {
    const dir = mk("proc-d");
    const { writeFileSync } = await import("node:fs");
    writeFileSync(join(dir, "config.yaml"), "model: [unclosed\n");
    const { spawn } = await import("node:child_process");
    const { AGENT_MAIN } = await import("./testing/harness.js");
    const child = spawn(process.execPath, [AGENT_MAIN], {
      env: { PATH: process.env.PATH ?? "", HERMES_HOME: dir },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
    });
    const r = await exitOf(child);
    assert.equal(r.code, 1);
    assert.match(out, /config\.yaml is not valid YAML/);
    assert.ok(!out.includes("hk_process_test_key"), "no secret in the log");
  });
  it("pooled (the fleet's warm pool): no profile until assigned, then the profile it is given, once", async () => {
    const dir = mk("proc-pool");
    const port = await freePort();
    const poolKey = "pool-key-for-this-test-0123456789";
    const empty = mkdtempSync(join(tmpdir(), "twl-pool-"));
    dirs.push(empty);
    const { child, url } = await spawnAgent(empty, {
      HERMES_HOME: empty,
      API_SERVER_PORT: String(port),
      TWILIGHT_POOL_KEY: poolKey,
    });
    try {
      const health = (await (await fetch(`${url}/health`)).json()) as Record<string, unknown>;
      assert.equal(health.status, "pooled");
      assert.equal(health.profile, undefined);
      assert.equal((await fetch(`${url}/v1/models`, { headers: auth })).status, 503);
      assert.equal((await fetch(`${url}/admin/activate`, { method: "POST", headers: auth })).status, 503);
      const assign = (body: unknown, key = poolKey) =>
        fetch(`${url}/admin/assign`, {
          method: "POST",
          headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
          body: JSON.stringify(body),
        });
      const env = { HERMES_HOME: dir, HOME: join(dir, "home"), PATH: process.env.PATH ?? "", API_SERVER_PORT: String(port) };
      assert.equal((await assign({ env, cwd: dir }, "wrong")).status, 401);
      assert.equal((await assign({ env: { A: 1 }, cwd: dir })).status, 400);
      assert.equal((await assign({ env, cwd: "relative" })).status, 400);
      const ok = await assign({ env, cwd: dir });
      assert.equal(ok.status, 200, await ok.clone().text());
      assert.equal(((await ok.json()) as Record<string, unknown>).status, "ok");
      const after = (await (await fetch(`${url}/health`)).json()) as Record<string, unknown>;
      assert.deepEqual([after.status, after.profile], ["ok", "proc-pool"]);
      assert.equal(readlinkSync(`/proc/${child.pid}/cwd`), dir);
      const models = (await (await fetch(`${url}/v1/models`, { headers: auth })).json()) as { data: { id: string }[] };
      assert.equal(models.data[0]?.id, "fake-qwen");
      assert.equal((await assign({ env, cwd: dir })).status, 409, "a second assignment is refused");
    } finally {
      child.kill("SIGTERM");
      await exitOf(child);
    }
  });
});
