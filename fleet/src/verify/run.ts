/**
 * `hermes-admin verify`: the plan's Phase 0 on this host. Starts the data service, creates the five test profiles
 * (test-upgrade-1 migrated prefab -> container in the middle of a conversation), runs the checklist on each through its
 * front-door URL, prints a table and writes JSON. Safe to re-run: existing profiles are reused.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { keyMap, type PublicCiteKey, type Tier } from "@twilight/core";
import type { FleetClient, ProgressLine } from "../client/client.js";
import type { FleetConfig } from "../config.js";
import { ROUTES } from "../contract/routes.js";
import {
  type CheckEnv,
  type CheckResult,
  type CiteBag,
  conversationCheck,
  dataSourceCheck,
  fundamentalsCheck,
  isolationCheck,
  type ProfileInfo,
  parallelCheck,
  priceCheck,
  timed,
} from "./checks.js";
import { paymentChecks } from "./payment.js";
import { ProfileClient, steadyLoad } from "./profile-client.js";
import type { VerifyReport } from "./report.js";

export const TEST_PROFILES: Array<{ name: string; tier: Tier; purpose: string }> = [
  { name: "test-basic-1", tier: "prefab", purpose: "baseline" },
  { name: "test-basic-2", tier: "prefab", purpose: "no cross-talk" },
  { name: "test-parallel-1", tier: "prefab", purpose: "concurrent queries" },
  { name: "test-container-1", tier: "container", purpose: "containerised, isolated" },
  { name: "test-upgrade-1", tier: "prefab", purpose: "prefab -> container mid-run" },
];

export interface VerifyOptions {
  cfg: FleetConfig;
  fleet: FleetClient;
  say: (line: string) => void;
  progress: (p: ProgressLine) => void;
  cleanup: boolean;
  /** Data service base URL as seen from this host. */
  mcpBaseUrl: string;
}

type Row = ProfileInfo & { status: string; status_url: string };

async function dataServiceEnv(o: VerifyOptions, all: ProfileInfo[]): Promise<CheckEnv> {
  const res = await fetch(`${o.mcpBaseUrl}/.well-known/cite-keys`, { signal: AbortSignal.timeout(5000) });
  if (!res.ok) throw new Error(`data service keys: HTTP ${res.status}`);
  const keys = keyMap(((await res.json()) as { keys: PublicCiteKey[] }).keys);
  const adminToken = readFileSync(join(o.cfg.mcp.dataDir, "admin-token"), "utf8").trim();
  return {
    fleet: o.fleet,
    keys,
    all,
    requestLog: async (requestId) => {
      const r = await fetch(`${o.mcpBaseUrl}/admin/requests?request_id=${encodeURIComponent(requestId)}`, {
        headers: { authorization: `Bearer ${adminToken}` },
      });
      const body = (await r.json()) as { requests?: Array<{ profile: string }>; items?: Array<{ profile: string }> };
      return (body.requests ?? body.items ?? [])[0]?.profile;
    },
  };
}

async function ensureProfiles(o: VerifyOptions): Promise<Row[]> {
  const existing = new Map((await o.fleet.call(ROUTES.listProfiles, {})).profiles.map((p) => [p.name, p]));
  for (const t of TEST_PROFILES) {
    const cur = existing.get(t.name);
    if (!cur) {
      o.say(`spawning ${t.name} (${t.tier}: ${t.purpose})`);
      await o.fleet.op(ROUTES.spawnProfile, { params: { name: t.name }, body: { tier: t.tier } }, o.progress);
      continue;
    }
    if (cur.status !== "running") {
      o.say(`starting ${t.name}`);
      await o.fleet.op(ROUTES.startProfile, { params: { name: t.name } }, o.progress);
    }
    if (cur.tier !== t.tier) {
      o.say(`re-run: moving ${t.name} back to ${t.tier} so its migration can be tested again`);
      await o.fleet.op(ROUTES.migrateProfile, { params: { name: t.name }, body: { to: t.tier } }, o.progress);
    }
  }
  const rows = (await o.fleet.call(ROUTES.listProfiles, {})).profiles;
  return TEST_PROFILES.map((t) => rows.find((r) => r.name === t.name) as Row);
}

/** test-upgrade-1: two turns on prefab, migrate under steady load, a third turn that depends on the first two. */
async function upgradeCheck(
  o: VerifyOptions,
  client: ProfileClient,
  bag: CiteBag,
  migration: Record<string, unknown>,
): Promise<CheckResult> {
  return await timed("test-upgrade-1", "migrate mid-conversation", async () => {
    const t1 = await client.chat("What is the latest close of 600519?");
    const t2 = await client.chat("And its fundamentals for 2024?", t1.sessionId);
    if (t1.status !== 200 || t2.status !== 200) throw new Error(`turns before migration failed: ${t1.error ?? t2.error}`);
    const load = steadyLoad(client, 20);
    const m = await o.fleet.op(
      ROUTES.migrateProfile,
      { params: { name: "test-upgrade-1" }, body: { to: "container" } },
      o.progress,
    );
    const l = await load.stop();
    Object.assign(migration, m, { load: l });
    const t3 = await client.chat("What was its close on 20241231?", t1.sessionId);
    if (t3.status !== 200) throw new Error(`turn after migration failed: ${t3.error}`);
    for (const t of [t1, t2, t3]) for (const c of t.citations) bag.push((c.cite ?? c) as never);
    if (!t3.content.replace(/,/g, "").includes("1524.00"))
      throw new Error("the turn after migration lost the conversation's stock");
    if (l.failed > 0)
      throw new Error(`${l.failed} of ${l.sent} requests failed during migration (statuses ${l.statuses.join(",")})`);
    const list = (await o.fleet.call(ROUTES.listProfiles, {})).profiles;
    if (list.find((p) => p.name === "test-upgrade-1")?.tier !== "container")
      throw new Error("profile is not on the container tier after migration");
    return `${l.sent} requests at 20/s during migration, 0 failed, slowest ${Math.round(l.maxMs)} ms; pause ${m.pause_ms} ms; turn 3 continued the session`;
  });
}

export async function runVerify(o: VerifyOptions): Promise<VerifyReport> {
  const started = new Date().toISOString();
  const rows = await ensureProfiles(o);
  const all: ProfileInfo[] = rows.map((r) => ({ name: r.name, tier: r.tier, uid: r.uid, profile_path: r.profile_path }));
  const env = await dataServiceEnv(o, all);
  const results: CheckResult[] = [];
  const migration: Record<string, unknown> = {};
  const nonce = Math.random().toString(36).slice(2, 8);
  for (const p of all) {
    o.say(`checking ${p.name}`);
    const client = new ProfileClient(p.name, o.fleet.baseUrl, p.profile_path);
    const bag: CiteBag = [];
    if (p.name === "test-upgrade-1") results.push(await upgradeCheck(o, client, bag, migration));
    results.push(await priceCheck(env, { ...p, tier: p.name === "test-upgrade-1" ? "container" : p.tier }, bag));
    results.push(await fundamentalsCheck(env, p, bag));
    results.push(await conversationCheck(p, client, bag, `${p.name}-${nonce}`));
    results.push(await isolationCheck(env, p));
    if (p.name === "test-parallel-1") results.push(await parallelCheck(p, client));
    results.push(await dataSourceCheck(env, p, bag));
  }
  results.push(...(await paymentChecks(o)));
  const failed = results.filter((r) => !r.ok).length;
  const report: VerifyReport = {
    started_at: started,
    finished_at: new Date().toISOString(),
    ok: failed === 0,
    passed: results.length - failed,
    failed,
    results,
    migration,
    dashboard: `${o.fleet.baseUrl}/ui/`,
  };
  const dir = join(o.cfg.opsDir, "verify");
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "report.json"), `${JSON.stringify(report, null, 2)}\n`);
  if (o.cleanup)
    for (const t of TEST_PROFILES)
      await o.fleet.call(ROUTES.removeProfile, { params: { name: t.name }, query: { force: "1", purge: "1" } });
  return report;
}
