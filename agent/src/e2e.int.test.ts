/**
 * End to end in a spawned profile process: the skill's commands and a chat request see the same cited figures; foreign
 * and tampered cites are refused (exit 6 for the commands, a counted refusal for the agent).
 */
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { execFile } from "node:child_process";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { keyMap, type PublicCiteKey, verifyCite } from "@twilight/core";
import { type DataServiceHandle, startDataService } from "./testing/data-service.js";
import { answerOf, chat, exitOf, freePort, makeProfileDir, REPO, removeDir, spawnAgent } from "./testing/harness.js";

const BIN = join(REPO, "skill/stock-research/bin");

/** Run a skill command as `hermes-admin exec` would: the profile's HOME and HERMES_HOME, the skill's bin on PATH. */
function skill(dir: string, cmd: string, args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolveP) => {
    execFile(
      join(BIN, cmd),
      args,
      {
        env: {
          PATH: `${dirname(process.execPath)}:${BIN}:/usr/bin:/bin`,
          HERMES_HOME: dir,
          HOME: join(dir, "home"),
          TWILIGHT_APP_DIR: REPO,
        },
        encoding: "utf8",
        timeout: 30_000,
      },
      (e, stdout, stderr) => resolveP({ code: e ? ((e as { code?: number }).code ?? null) : 0, out: stdout, err: stderr }),
    );
  });
}

describe("a spawned profile: skill commands and chat agree on cited figures", () => {
  let ds: DataServiceHandle;
  const dirs: string[] = [];
  const procs: ChildProcess[] = [];
  let a: { url: string; apiKey: string; dir: string };
  let keys: PublicCiteKey[];

  before(async () => {
    ds = await startDataService();
    await ds.addToken("tmcp_e2e_a", "e2e-a");
    await ds.addToken("tmcp_e2e_b", "e2e-b");
    const dir = makeProfileDir({ name: "e2e-a", mcpUrl: ds.url, pinnedKeys: await ds.pinnedKeys(), mcpToken: "tmcp_e2e_a" });
    dirs.push(dir);
    const port = await freePort();
    const p = await spawnAgent(dir, { API_SERVER_PORT: String(port) });
    procs.push(p.child);
    a = { url: p.url, apiKey: "hk_test_e2e-a_key", dir };
    keys = ((await (await fetch(ds.keysUrl)).json()) as { keys: PublicCiteKey[] }).keys;
  });

  after(async () => {
    for (const c of procs) {
      c.kill("SIGTERM");
      assert.equal((await exitOf(c)).code, 0);
    }
    await ds?.stop();
    for (const d of dirs) removeDir(d);
  });

  it(`fetch_price 600519 prints a verified envelope and a readable table (data service: ${process.env.TWILIGHT_DATA_SERVICE ?? "auto"})`, async () => {
    const j = await skill(a.dir, "fetch_price", ["600519", "--json"]);
    assert.equal(j.code, 0, j.err);
    const env = JSON.parse(j.out) as { data: { close: number; trade_date: string }; cite: { profile: string } };
    assert.ok(verifyCite(env, { keys: keyMap(keys), profile: "e2e-a" }).ok);
    const t = await skill(a.dir, "fetch_price", ["600519"]);
    assert.equal(t.code, 0, t.err);
    assert.match(t.out, new RegExp(`close\\s+${env.data.close}`));
    assert.match(t.out, /cite: verified \(Ed25519 ed25519:[0-9a-f]{16}\) for profile e2e-a/);

    const r = await chat(a, { messages: [{ role: "user", content: "What is the latest price of 600519?" }] });
    const c = (r.json.citations as { data: { close: number; trade_date: string } }[])[0];
    assert.equal(c?.data.close, env.data.close);
    assert.equal(c?.data.trade_date, env.data.trade_date);
    const shown = env.data.close.toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
    assert.ok(answerOf(r.json).includes(`${shown} CNY`), answerOf(r.json));
  });

  it("fetch_fundamentals 000858 --period 20241231 matches the chat answer", async () => {
    const j = await skill(a.dir, "fetch_fundamentals", ["000858", "--period", "20241231", "--json"]);
    assert.equal(j.code, 0, j.err);
    const env = JSON.parse(j.out) as { data: { end_date: string; roe: number } };
    assert.equal(env.data.end_date, "20241231");
    const r = await chat(a, { messages: [{ role: "user", content: "五粮液2024年的基本面" }] });
    const c = (r.json.citations as { data: { roe: number; end_date: string } }[])[0];
    assert.deepEqual([c?.data.end_date, c?.data.roe], ["20241231", env.data.roe]);
    assert.ok(answerOf(r.json).includes(`${env.data.roe.toFixed(2)}%`));
    const t = await skill(a.dir, "fetch_fundamentals", ["000858", "--period", "20241231"]);
    assert.match(t.out, /period end\s+20241231/);
  });

  it("usage and data errors have their own exit codes", async () => {
    assert.equal((await skill(a.dir, "fetch_fundamentals", ["000858"])).code, 2);
    assert.equal((await skill(a.dir, "fetch_price", ["abc"])).code, 2);
    const none = await skill(a.dir, "fetch_fundamentals", ["000858", "--period", "19990331"]);
    assert.equal(none.code, 5, none.err);
  });

  it("a foreign cite (another profile's token) is refused: exit 6 for the command, a counted refusal for the agent", async () => {
    const dir = makeProfileDir({ name: "e2e-c", mcpUrl: ds.url, pinnedKeys: await ds.pinnedKeys(), mcpToken: "tmcp_e2e_b" });
    dirs.push(dir);
    const r = await skill(dir, "fetch_price", ["600519", "--json"]);
    assert.equal(r.code, 6);
    assert.equal(r.out, "");
    assert.match(r.err, /wrong_profile/);
    const port = await freePort();
    const p = await spawnAgent(dir, { API_SERVER_PORT: String(port) });
    procs.push(p.child);
    const c = { url: p.url, apiKey: "hk_test_e2e-c_key" };
    const res = await chat(c, { messages: [{ role: "user", content: "price of 600519" }] });
    assert.deepEqual(res.json.citations, []);
    const m = await (await fetch(`${c.url}/metrics`, { headers: { authorization: `Bearer ${c.apiKey}` } })).text();
    assert.match(m, /hermes_cite_verification_failures_total\{profile="e2e-c",reason="wrong_profile"\} 1/);
    assert.match(m, /hermes_query_total\{profile="e2e-c"\} 1/);
  });

  it("a tampered datum is refused by the command with exit 6 (fake data service only)", async (t) => {
    if (!ds.fake) {
      t.skip("the real data service cannot be made to tamper; covered with the fake in cites.int.test");
      return;
    }
    ds.fake.queue.push("tamper");
    const r = await skill(a.dir, "fetch_price", ["600519"]);
    assert.equal(r.code, 6);
    assert.equal(r.out, "");
    assert.match(r.err, /data_mismatch/);
  });
});
