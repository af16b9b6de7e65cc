/** Test kit: a gateway process (the real `main.js serve`) with its own data dir, beside an in-process simulator. */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, renameSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { freePort, sha256Hex } from "@twilight/core";

export const MAIN = join(dirname(fileURLToPath(import.meta.url)), "main.js");

export function writeKeys(dataDir: string, keys: { key: string; profile: string; plan: string }[]): void {
  const out: Record<string, unknown> = {};
  for (const k of keys) out[sha256Hex(k.key)] = { profile: k.profile, plan: k.plan, issued_at: new Date().toISOString() };
  const tmp = join(dataDir, `keys.json.${process.pid}.tmp`);
  writeFileSync(tmp, JSON.stringify({ version: 1, keys: out }), { mode: 0o600 });
  renameSync(tmp, join(dataDir, "keys.json")); // an atomic swap, as the fleet does
}

export interface GatewayProc {
  url: string;
  dataDir: string;
  proc: ChildProcess;
  logs: () => string;
  stop: () => Promise<void>;
}

export async function startGatewayProcess(o: {
  upstreamUrl: string;
  upstreamKey: string;
  env?: Record<string, string>;
  nodeArgs?: string[];
}): Promise<GatewayProc> {
  const dataDir = mkdtempSync(join(tmpdir(), "gw-test-"));
  writeFileSync(join(dataDir, "upstream.env"), `UPSTREAM_BASE_URL=${o.upstreamUrl}\nUPSTREAM_API_KEY=${o.upstreamKey}\n`, {
    mode: 0o600,
  });
  const port = await freePort();
  const proc = spawn(process.execPath, [...(o.nodeArgs ?? []), MAIN, "serve"], {
    env: { PATH: process.env.PATH, GATEWAY_DATA_DIR: dataDir, GATEWAY_PORT: String(port), LOG_LEVEL: "debug", ...o.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  proc.stdout?.on("data", (c) => {
    out += String(c);
  });
  proc.stderr?.on("data", (c) => {
    out += String(c);
  });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    if (proc.exitCode !== null) throw new Error(`gateway exited: ${out}`);
    const ok = await fetch(`${url}/health`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url,
    dataDir,
    proc,
    logs: () => out,
    stop: () =>
      new Promise<void>((r) => {
        if (proc.exitCode !== null) return r();
        proc.once("exit", () => r());
        proc.kill("SIGTERM");
      }),
  };
}

export { freePort };
