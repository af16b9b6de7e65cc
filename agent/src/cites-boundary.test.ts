/**
 * Tenant-boundary attacks on the cite gate (issue 9, items 3 and 9): a cite is bound to the call it answers, and the
 * agent trusts only the keys pinned in `cite.keys_file` (never a key served by whoever answers on the MCP port).
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { createLogger, generateSigningKey, publicCiteKey, signEnvelope } from "@twilight/core";
import { CiteGuard } from "./cites.js";
import { AgentMetrics } from "./metrics.js";
import type { ToolResult } from "./tools.js";

const log = createLogger("cites-boundary-test", { level: "silent" });
const key = generateSigningKey();
const next = generateSigningKey();
const rogue = generateSigningKey();
const dir = mkdtempSync(join(tmpdir(), "twl-cite-keys-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const TOOL = "mcp__tushare__get_latest_price";
const meta = (params: Record<string, unknown>) => ({
  source: "tushare",
  api: "daily",
  params,
  as_of: "20251231",
  retrieved_at: new Date().toISOString(),
  profile: "p1",
  request_id: "r1",
});
const asResult = (env: unknown): ToolResult => ({ isError: false, text: JSON.stringify(env), structured: env });
const bar = { ts_code: "600519.SH", close: 1 };

let files = 0;
function keysFile(keys: { k: typeof key; not_after?: string }[]): string {
  const path = join(dir, `keys-${files++}.json`);
  writeKeys(path, keys);
  return path;
}
function writeKeys(path: string, keys: { k: typeof key; not_after?: string }[]): void {
  const body = { keys: keys.map(({ k, not_after }) => ({ ...publicCiteKey(k), ...(not_after ? { not_after } : {}) })) };
  writeFileSync(path, JSON.stringify(body));
}

async function count(m: AgentMetrics, reason: string): Promise<number> {
  return (await m.citeFailures.get()).values.find((x) => x.labels.reason === reason)?.value ?? 0;
}

function mk(keysPath: string, extra: Record<string, unknown> = {}) {
  const metrics = new AgentMetrics("p1");
  const guard = new CiteGuard({ profile: "p1", keysFile: keysPath, maxAgeMs: 600_000, metrics, log, ...extra });
  return { guard, metrics };
}

describe("cites are bound to the call", () => {
  const path = keysFile([{ k: key }]);

  it("accepts the cite of the call that was made (normalised params)", async () => {
    const { guard } = mk(path);
    const env = signEnvelope(bar, meta({ ts_code: "600519.SH", as_of: null }), key);
    const r = await guard.check(TOOL, { ts_code: "sh600519" }, asResult(env));
    assert.equal(r.kind, "verified");
  });

  it("refuses a valid cite of the same profile replayed for another call (wrong_call), counted", async () => {
    const { guard, metrics } = mk(path);
    const other = signEnvelope(bar, meta({ ts_code: "000858.SZ", as_of: null }), key);
    const r = await guard.check(TOOL, { ts_code: "600519" }, asResult(other));
    assert.equal(r.kind === "refused" && r.reason, "wrong_call");
    const otherDate = signEnvelope(bar, meta({ ts_code: "600519.SH", as_of: "20240102" }), key);
    const r2 = await guard.check(TOOL, { ts_code: "600519" }, asResult(otherDate));
    assert.equal(r2.kind === "refused" && r2.reason, "wrong_call");
    const otherApi = signEnvelope(bar, { ...meta({ ts_code: "600519.SH", period: null }), api: "fina_indicator" }, key);
    const r3 = await guard.check(TOOL, { ts_code: "600519" }, asResult(otherApi));
    assert.equal(r3.kind === "refused" && r3.reason, "wrong_call");
    assert.equal(await count(metrics, "wrong_call"), 3);
  });
});

describe("pinned keys only", () => {
  it("never fetches a key from the MCP endpoint: an unknown key id is refused even when keys_url serves it", async () => {
    let fetches = 0;
    const fetchImpl = (async () => {
      fetches++;
      return new Response(JSON.stringify({ keys: [publicCiteKey(rogue)] }), { status: 200 });
    }) as typeof fetch;
    const { guard, metrics } = mk(keysFile([{ k: key }]), { keysUrl: "http://127.0.0.1:9/k", fetchImpl });
    guard.start();
    const env = signEnvelope(bar, meta({ ts_code: "600519.SH", as_of: null }), rogue);
    const r = await guard.check(TOOL, { ts_code: "600519" }, asResult(env));
    guard.stop();
    assert.equal(r.kind === "refused" && r.reason, "unknown_key");
    assert.equal(fetches, 0);
    assert.equal(await count(metrics, "unknown_key"), 1);
  });

  it("picks up a rewritten keys file without a restart, and refuses a key past its not_after (expired_key)", async () => {
    const path = keysFile([{ k: key }]);
    const { guard, metrics } = mk(path);
    const byNext = signEnvelope(bar, meta({ ts_code: "600519.SH", as_of: null }), next);
    assert.equal((await guard.check(TOOL, { ts_code: "600519" }, asResult(byNext))).kind, "refused");
    // rotation: the fleet pins the new key and gives the old one a grace period
    writeKeys(path, [{ k: next }, { k: key, not_after: new Date(Date.now() + 60_000).toISOString() }]);
    utimesSync(path, new Date(), new Date(Date.now() + 5_000));
    const fresh = () => signEnvelope(bar, meta({ ts_code: "600519.SH", as_of: null }), next);
    assert.equal((await guard.check(TOOL, { ts_code: "600519" }, asResult(fresh()))).kind, "verified");
    const byOld = () => signEnvelope(bar, meta({ ts_code: "600519.SH", as_of: null }), key);
    assert.equal((await guard.check(TOOL, { ts_code: "600519" }, asResult(byOld()))).kind, "verified");
    // the grace period is over: the old key is refused even for a freshly dated cite
    writeKeys(path, [{ k: next }, { k: key, not_after: new Date(Date.now() - 1_000).toISOString() }]);
    utimesSync(path, new Date(), new Date(Date.now() + 10_000));
    const r = await guard.check(TOOL, { ts_code: "600519" }, asResult(byOld()));
    assert.equal(r.kind === "refused" && r.reason, "expired_key");
    assert.equal(await count(metrics, "expired_key"), 1);
  });

  it("keeps the last good key set when the keys file becomes unreadable, and refuses everything with no file", async () => {
    const path = keysFile([{ k: key }]);
    const { guard } = mk(path);
    const env = () => signEnvelope(bar, meta({ ts_code: "600519.SH", as_of: null }), key);
    assert.equal((await guard.check(TOOL, { ts_code: "600519" }, asResult(env()))).kind, "verified");
    writeFileSync(path, "{not json");
    utimesSync(path, new Date(), new Date(Date.now() + 5_000));
    assert.equal((await guard.check(TOOL, { ts_code: "600519" }, asResult(env()))).kind, "verified");
    const none = mk(join(dir, "missing.json")).guard;
    const r = await none.check(TOOL, { ts_code: "600519" }, asResult(env()));
    assert.equal(r.kind === "refused" && r.reason, "unknown_key");
  });
});
