/**
 * Helpers shared by the container tier's integration tests and benchmark (not a test itself): a real profile
 * directory per contract 1 (config.yaml from the template, .env 0600, skills symlink, owned by the profile's uid, 0700),
 * a free loopback port, and a bounded wait for /health.
 */
import { randomBytes } from "node:crypto";
import { chmod, chown, mkdir, readdir, readFile, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { renderEnv } from "@twilight/core";
import { REPO_ROOT } from "../images/builder.js";

export const TEMPLATE_DIR = join(REPO_ROOT, "profile", "template-stock-research-pro");

/** A uid/gid in 23000..23999 for one test profile (outside the fleet's allocation during tests). */
export function testUid(): number {
  return 23000 + Math.floor(Math.random() * 1000);
}

const b62 = (n: number) =>
  [...randomBytes(n)].map((b) => "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"[b % 62]).join("");

export interface TestProfile {
  name: string;
  dir: string;
  uid: number;
  gid: number;
  port: number;
  secrets: Record<string, string>;
}

export interface MakeProfileOptions {
  root: string;
  skillsDir: string;
  name: string;
  uid: number;
  gid: number;
  port: number;
  generation?: number;
  mcpUrl?: string;
}

/** Write a profile directory as the fleet would (contract 1), for the container tier. */
export async function makeProfileDir(o: MakeProfileOptions): Promise<TestProfile> {
  const dir = join(o.root, o.name);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  for (const d of ["memories", "logs", "home"]) await mkdir(join(dir, d), { mode: 0o700 });
  for (const f of ["SOUL.md", "AGENTS.md"]) await writeFile(join(dir, f), await readFile(join(TEMPLATE_DIR, f)));
  const values: Record<string, string | number> = {
    profile: o.name,
    tier: "container",
    generation: o.generation ?? 1,
    plan: "dedicated_pro",
    mcp_url: o.mcpUrl ?? "http://twilight-mcp-tushare:9100/mcp",
    cite_keys_url: (o.mcpUrl ?? "http://twilight-mcp-tushare:9100/mcp").replace(/\/mcp$/, "/.well-known/cite-keys"),
    model_provider: "offline",
    model_default: "twilight-offline",
    model_base_url: "https://api.siliconflow.cn/v1",
    api_host: "0.0.0.0",
    port: 8642,
  };
  const tpl = await readFile(join(TEMPLATE_DIR, "config.yaml.template"), "utf8");
  await writeFile(
    join(dir, "config.yaml"),
    tpl.replace(/\{\{\s*([a-z_]+)\s*\}\}/g, (_, k: string) => String(values[k] ?? "")),
    { mode: 0o600 },
  );
  const secrets = {
    API_SERVER_KEY: `hk_${b62(40)}`,
    SILICONFLOW_API_KEY: `sk-${b62(48)}`,
    TWILIGHT_API_TOKEN: `tw_${b62(43)}`,
    MCP_TUSHARE_TOKEN: `tmcp_${b62(40)}`,
  };
  const envTpl = await readFile(join(TEMPLATE_DIR, ".env.example"), "utf8");
  const env = renderEnv(envTpl, {
    HERMES_PROFILE: o.name,
    API_SERVER_ENABLED: "true",
    API_SERVER_HOST: "127.0.0.1",
    API_SERVER_PORT: String(o.port),
    ...secrets,
  });
  await writeFile(join(dir, ".env"), env, { mode: 0o600 });
  await symlink(o.skillsDir, join(dir, "skills"));
  await chownTree(dir, o.uid, o.gid);
  await chmod(dir, 0o700);
  return { name: o.name, dir, uid: o.uid, gid: o.gid, port: o.port, secrets };
}

async function chownTree(dir: string, uid: number, gid: number): Promise<void> {
  await chown(dir, uid, gid);
  for (const ent of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, ent.name);
    if (ent.isSymbolicLink()) continue;
    if (ent.isDirectory()) await chownTree(p, uid, gid);
    else await chown(p, uid, gid);
  }
}

/** Poll GET http://127.0.0.1:<port><path> until 200 (bounded); returns the body and the time it took. */
export async function waitHealthy(port: number, timeoutMs = 30_000, path = "/health"): Promise<{ body: unknown; ms: number }> {
  const t0 = performance.now();
  let last = "";
  while (performance.now() - t0 < timeoutMs) {
    // A ref'd timer (AbortSignal.timeout is unref'd and would let the event loop drain while a request hangs).
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(), 1000);
    try {
      const r = await fetch(`http://127.0.0.1:${port}${path}`, { signal: ac.signal });
      if (r.status === 200) return { body: await r.json(), ms: performance.now() - t0 };
      last = `HTTP ${r.status}`;
    } catch (e) {
      last = (e as Error).message;
    } finally {
      clearTimeout(timer);
    }
    await new Promise((res) => setTimeout(res, 25));
  }
  throw new Error(`port ${port}${path} not healthy after ${timeoutMs} ms (last: ${last})`);
}

export { freePort } from "@twilight/core";
