/**
 * TEST SUPPORT: make a profile directory (config.yaml, .env, SOUL.md, AGENTS.md, skills/) in a temp dir and run the
 * agent in-process (AgentServer + runtime on 127.0.0.1:0), or spawn `agent/dist/main.js` as a real process.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { createLogger, type PublicCiteKey } from "@twilight/core";
import { stringify } from "yaml";
import { AgentMetrics } from "../metrics.js";
import type { ChatModel } from "../model/types.js";
import { loadProfile } from "../profile.js";
import { openRuntime, type Runtime } from "../runtime.js";
import { AgentServer } from "../server.js";
import type { ToolSource } from "../tools.js";

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
/** What ships (the bundle, scripts/bundle-agent.mjs) when built, else the compiled module; AGENT_MAIN_OVERRIDE picks. */
export const AGENT_MAIN =
  process.env.AGENT_MAIN_OVERRIDE ??
  (existsSync(join(REPO, "agent/dist/bundle/main.mjs"))
    ? join(REPO, "agent/dist/bundle/main.mjs")
    : join(REPO, "agent/dist/main.js"));

export interface ProfileDirOptions {
  name: string;
  apiKey?: string;
  mcpUrl?: string;
  mcpToken?: string;
  /** Written to `<dir>/cite-keys.json` and configured as `cite.keys_file` (what the fleet does for a real profile). */
  pinnedKeys?: PublicCiteKey[];
  trustedKeys?: PublicCiteKey[];
  /** `mcp_servers.tushare.socket`: reach the data service over this unix socket. */
  mcpSocket?: string;
  model?: { provider: string; base_url?: string; default?: string; timeout_seconds?: number; max_retries?: number };
  port?: number;
  extraEnv?: Record<string, string>;
}

export function makeProfileDir(o: ProfileDirOptions): string {
  const dir = mkdtempSync(join(tmpdir(), `twl-agent-${o.name}-`));
  const config = {
    model: { provider: "offline", default: "twilight-offline", api_key: "${SILICONFLOW_API_KEY}", ...(o.model ?? {}) },
    mcp_servers: o.mcpUrl
      ? {
          tushare: {
            url: o.mcpUrl,
            ...(o.mcpSocket ? { socket: o.mcpSocket } : {}),
            headers: { Authorization: "Bearer ${MCP_TUSHARE_TOKEN}" },
            timeout: 10,
            connect_timeout: 5,
          },
        }
      : {},
    api_server: { host: "127.0.0.1", port: o.port ?? 0 },
    cite: {
      ...(o.pinnedKeys ? { keys_file: "cite-keys.json" } : {}),
      ...(o.trustedKeys ? { trusted_keys: o.trustedKeys } : {}),
      max_age_seconds: 600,
    },
    twilight: { profile: o.name, tier: "prefab", generation: 1, plan: "pro" },
  };
  writeFileSync(join(dir, "config.yaml"), stringify(config));
  if (o.pinnedKeys) writeFileSync(join(dir, "cite-keys.json"), JSON.stringify({ keys: o.pinnedKeys }));
  const env = {
    HERMES_PROFILE: o.name,
    API_SERVER_ENABLED: "true",
    API_SERVER_KEY: o.apiKey ?? `hk_test_${o.name}_key`,
    SILICONFLOW_API_KEY: "sk-test",
    MCP_TUSHARE_TOKEN: o.mcpToken ?? `tmcp_${o.name}`,
    ...(o.extraEnv ?? {}),
  };
  writeFileSync(
    join(dir, ".env"),
    Object.entries(env)
      .map(([k, v]) => `${k}=${v}`)
      .join("\n") + "\n",
    { mode: 0o600 },
  );
  writeFileSync(join(dir, "SOUL.md"), `# Soul\nYou are the research assistant of profile ${o.name}.\n`);
  writeFileSync(join(dir, "AGENTS.md"), "# Instructions\nCite every figure.\n");
  mkdirSync(join(dir, "skills/research/stock-research"), { recursive: true });
  writeFileSync(
    join(dir, "skills/research/stock-research/SKILL.md"),
    "---\nname: stock-research\ndescription: Fetch cited A-share prices and fundamentals.\nversion: 0.1.0\n---\n# body\n",
  );
  return dir;
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

export interface RunningAgent {
  url: string;
  apiKey: string;
  dir: string;
  runtime: Runtime;
  metrics: AgentMetrics;
  server: AgentServer;
  stop(): Promise<void>;
}

/** Start the agent in this process on an ephemeral port. */
export async function startAgent(dir: string, over: { model?: ChatModel; tools?: ToolSource } = {}): Promise<RunningAgent> {
  const profile = loadProfile({ HERMES_HOME: dir, LOG_LEVEL: "silent" });
  const log = createLogger("agent-test", { level: process.env.TEST_LOG_LEVEL ?? "silent" });
  const metrics = new AgentMetrics(profile.name);
  let runtime: Runtime | undefined;
  const server = new AgentServer({
    profile: profile.name,
    generation: profile.generation,
    apiKey: profile.apiKey,
    metrics,
    log,
    open: async () => {
      runtime = await openRuntime({ profile, metrics, log, ...over });
      return runtime.router;
    },
  });
  await server.activate();
  const addr = await server.listen("127.0.0.1", 0);
  return {
    url: `http://127.0.0.1:${addr.port}`,
    apiKey: profile.apiKey,
    dir,
    runtime: runtime as Runtime,
    metrics,
    server,
    stop: async () => {
      await server.close(2_000);
      await runtime?.close();
    },
  };
}

/** Spawn `node agent/dist/main.js` for a profile dir; resolves once /health answers. */
export async function spawnAgent(
  dir: string,
  env: Record<string, string>,
): Promise<{ child: ChildProcess; url: string; output: () => string }> {
  const port = Number(env.API_SERVER_PORT);
  const child = spawn(process.execPath, [AGENT_MAIN], {
    cwd: dir,
    env: {
      PATH: process.env.PATH ?? "",
      HERMES_HOME: dir,
      HOME: join(dir, "home"),
      TWILIGHT_APP_DIR: REPO,
      LOG_LEVEL: "info",
      ...env,
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
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`agent exited early (${child.exitCode}): ${out}`);
    const ok = await fetch(`${url}/health`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return { child, url, output: () => out };
    await new Promise((r) => setTimeout(r, 50));
  }
  child.kill("SIGKILL");
  throw new Error(`agent did not become healthy: ${out}`);
}

export function exitOf(child: ChildProcess, timeoutMs = 10_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null)
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  return new Promise((resolveP, reject) => {
    const t = setTimeout(() => reject(new Error("process did not exit in time")), timeoutMs);
    child.once("exit", (code, signal) => {
      clearTimeout(t);
      resolveP({ code, signal });
    });
  });
}

export async function chat(
  a: { url: string; apiKey: string },
  body: Record<string, unknown>,
  session?: string,
): Promise<{ status: number; session: string | null; json: Record<string, unknown> }> {
  const res = await fetch(`${a.url}/v1/chat/completions`, {
    method: "POST",
    headers: {
      authorization: `Bearer ${a.apiKey}`,
      "content-type": "application/json",
      ...(session ? { "x-hermes-session-id": session } : {}),
    },
    body: JSON.stringify(body),
  });
  return {
    status: res.status,
    session: res.headers.get("x-hermes-session-id"),
    json: (await res.json()) as Record<string, unknown>,
  };
}

export function answerOf(j: Record<string, unknown>): string {
  return ((j.choices as { message: { content: string } }[])[0]?.message.content ?? "") as string;
}

export { freePort } from "@twilight/core";
