import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { CiteInvalid, generateSigningKey, publicCiteKey, signEnvelope, TOOLS } from "@twilight/core";
import { trustedKeys, verified } from "./client.js";
import type { SkillProfile } from "./profile.js";

const key = generateSigningKey();
const rogue = generateSigningKey();
const dir = mkdtempSync(join(tmpdir(), "twl-skill-keys-"));
after(() => rmSync(dir, { recursive: true, force: true }));

function profile(over: Partial<SkillProfile> = {}): SkillProfile {
  const keysFile = join(dir, "cite-keys.json");
  writeFileSync(keysFile, JSON.stringify({ keys: [publicCiteKey(key)] }));
  return {
    home: dir,
    profile: "bob",
    server: "tushare",
    url: "http://127.0.0.1:9100/mcp",
    socket: undefined,
    headers: {},
    timeoutMs: 5000,
    keysUrl: "http://127.0.0.1:9100/.well-known/cite-keys",
    keysFile,
    trustedKeys: [],
    maxAgeMs: 600_000,
    ...over,
  };
}

const cite = (params: Record<string, unknown>, k = key) =>
  signEnvelope(
    { ts_code: "600519.SH", close: 1 },
    {
      source: "tushare",
      api: "daily",
      params,
      as_of: "20251231",
      retrieved_at: new Date().toISOString(),
      profile: "bob",
      request_id: "r1",
    },
    k,
  );

describe("stock-research commands: the cite boundary", () => {
  it("trusts only the pinned keys file, never a key served by the MCP endpoint", async () => {
    let fetches = 0;
    const realFetch = globalThis.fetch;
    globalThis.fetch = (async () => {
      fetches++;
      return new Response(JSON.stringify({ keys: [publicCiteKey(rogue)] }));
    }) as typeof fetch;
    const keys = await trustedKeys(profile()).finally(() => {
      globalThis.fetch = realFetch;
    });
    assert.deepEqual([...keys.keys.keys()], [key.keyId]);
    assert.equal(fetches, 0);
  });

  it("refuses a valid cite of this profile for another call (wrong_call)", async () => {
    const p = profile();
    const keys = await trustedKeys(p);
    const call = { tool: TOOLS.latestPrice, args: { ts_code: "600519.SH" } };
    assert.equal(verified(cite({ ts_code: "600519.SH", as_of: null }), keys, p, call).cite.api, "daily");
    assert.throws(
      () => verified(cite({ ts_code: "000858.SZ", as_of: null }), keys, p, call),
      (e: unknown) => e instanceof CiteInvalid && e.reason === "wrong_call",
    );
  });

  it("refuses a pinned key past its not_after (expired_key)", async () => {
    const p = profile();
    writeFileSync(
      p.keysFile as string,
      JSON.stringify({ keys: [{ ...publicCiteKey(key), not_after: new Date(Date.now() - 1000).toISOString() }] }),
    );
    const keys = await trustedKeys(p);
    const call = { tool: TOOLS.latestPrice, args: { ts_code: "600519.SH" } };
    assert.throws(
      () => verified(cite({ ts_code: "600519.SH", as_of: null }), keys, p, call),
      (e: unknown) => e instanceof CiteInvalid && e.reason === "expired_key",
    );
  });
});
