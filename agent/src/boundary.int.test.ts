/**
 * Tenant boundary (issue 9, item 3): a prefab profile reaches the data service over a unix socket in a directory the
 * tenant cannot write, so another uid squatting the loopback TCP port of the data service gets nothing - no request,
 * no bearer token - and cannot vouch for its own key (keys are pinned, never fetched).
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { generateSigningKey, publicCiteKey } from "@twilight/core";
import { type DataServiceHandle, startDataService } from "./testing/data-service.js";
import { answerOf, chat, makeProfileDir, REPO, type RunningAgent, removeDir, startAgent } from "./testing/harness.js";

describe("MCP over a unix socket: a squatter on the TCP port gets nothing", () => {
  let ds: DataServiceHandle;
  const sockDir = mkdtempSync(join(tmpdir(), "twl-mcp-sock-"));
  const socket = join(sockDir, "mcp.sock");
  const seen: IncomingHttpHeaders[] = [];
  const rogue = generateSigningKey();
  let squatter: Server;
  let a: RunningAgent;
  let dir: string;

  before(async () => {
    ds = await startDataService("auto", { socket });
    await ds.addToken("tmcp_iota", "iota");
    // the squatter answers on the port in the profile's URL, logs every header it receives, and offers its own key
    squatter = createServer((req, res) => {
      seen.push(req.headers);
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ keys: [publicCiteKey(rogue)] }));
    });
    await new Promise<void>((r) => squatter.listen(0, "127.0.0.1", () => r()));
    const port = (squatter.address() as AddressInfo).port;
    dir = makeProfileDir({
      name: "iota",
      mcpUrl: `http://127.0.0.1:${port}/mcp`,
      mcpSocket: socket,
      pinnedKeys: await ds.pinnedKeys(),
    });
    a = await startAgent(dir);
  });

  after(async () => {
    await a?.stop();
    await ds?.stop();
    squatter.closeAllConnections();
    await new Promise<void>((r) => squatter.close(() => r()));
    removeDir(dir);
    rmSync(sockDir, { recursive: true, force: true });
  });

  it(`talks MCP through the socket (a verified, cited answer; data service: ${process.env.TWILIGHT_DATA_SERVICE ?? "auto"}) and sends nothing to the TCP port`, async () => {
    const r = await chat(a, { messages: [{ role: "user", content: "price of 600519" }] });
    assert.equal(r.status, 200);
    assert.equal((r.json.citations as unknown[]).length, 1, answerOf(r.json));
    assert.match(answerOf(r.json), /1,377\.18/);
    assert.equal((r.json.citations as { cite: { profile: string } }[])[0]?.cite.profile, "iota");
    assert.equal(seen.length, 0, "no request (and no bearer token) reached the squatter");
  });

  it("the skill's fetch_price goes through the socket too, and still nothing reaches the squatter", async () => {
    const bin = join(REPO, "skill/stock-research/bin");
    const r = await new Promise<{ code: number; out: string; err: string }>((resolveP) =>
      execFile(
        join(bin, "fetch_price"),
        ["600519", "--json"],
        {
          env: { PATH: `${dirname(process.execPath)}:/usr/bin:/bin`, HERMES_HOME: dir, TWILIGHT_APP_DIR: REPO },
          encoding: "utf8",
          timeout: 30_000,
        },
        (e, out, err) => resolveP({ code: e ? Number((e as { code?: number }).code ?? 1) : 0, out, err }),
      ),
    );
    assert.equal(r.code, 0, r.err);
    assert.equal((JSON.parse(r.out) as { cite: { profile: string } }).cite.profile, "iota");
    assert.equal(seen.length, 0);
  });
});

describe("key rotation end to end: rotate-key, the fleet re-pins, the profile follows without a restart", () => {
  let ds: DataServiceHandle;
  let a: RunningAgent;
  let dir: string;

  before(async () => {
    ds = await startDataService("auto");
    await ds.addToken("tmcp_kappa", "kappa");
    dir = makeProfileDir({ name: "kappa", mcpUrl: ds.url, pinnedKeys: await ds.pinnedKeys() });
    a = await startAgent(dir);
  });

  after(async () => {
    await a?.stop();
    await ds?.stop();
    removeDir(dir);
  });

  const keyOfAnswer = async () => {
    const r = await chat(a, { messages: [{ role: "user", content: "price of 600519" }] });
    return (r.json.citations as { cite: { key_id: string } }[])[0]?.cite.key_id ?? `refused: ${answerOf(r.json)}`;
  };

  it("an unpinned new key is refused, a re-pinned one accepted without a restart; publish-pin-activate never refuses", async (t) => {
    if (!ds.rotateKey) return t.skip("needs the real data service (mcp/tushare/dist)");
    const first = await keyOfAnswer();
    // rotate with no pin window and do not re-pin: the profile refuses the new key (it fetches nothing)
    const r1 = await ds.rotateKey(["--grace-seconds", "1"]);
    assert.equal(r1.retiring_key_id, first);
    assert.match(await keyOfAnswer(), /refused: .*cite did not verify \(unknown_key\)/);
    // the fleet re-pins (atomic replace of the profile's keys file): accepted without a restart
    const pin = async () => {
      writeFileSync(join(dir, "cite-keys.json.tmp"), JSON.stringify({ keys: await ds.pinnedKeys() }));
      renameSync(join(dir, "cite-keys.json.tmp"), join(dir, "cite-keys.json"));
    };
    await pin();
    assert.equal(await keyOfAnswer(), r1.new_key_id);
    // the proper flow: publish first, pin within the window, then the new key signs - never a refused answer
    const r2 = await ds.rotateKey(["--grace-seconds", "1", "--activate-in-seconds", "1"]);
    await pin();
    assert.equal(await keyOfAnswer(), r1.new_key_id, "the old key signs during the pin window");
    await new Promise((r) => setTimeout(r, 1_100));
    assert.equal(await keyOfAnswer(), r2.new_key_id);
    const published = (await ds.pinnedKeys()).map((k) => k.key_id);
    assert.ok(!published.includes(first), "the first key is past its grace and no longer published");
  });
});
