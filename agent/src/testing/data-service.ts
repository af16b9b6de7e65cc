/**
 * TEST SUPPORT: the data service for integration tests. `real` spawns mcp/tushare/dist/main.js (contract 4: MCP_DATA_DIR,
 * MCP_PORT, MCP_HOST, tokens.json written here, keys at /.well-known/cite-keys); `fake` runs FakeDataService in process.
 * `auto` (default, or env TWILIGHT_DATA_SERVICE) takes the real one when it is built.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { PublicCiteKey } from "@twilight/core";
import { FakeDataService } from "./fake-data-service.js";
import { exitOf, freePort, REPO } from "./harness.js";

export const REAL_MAIN = join(REPO, "mcp/tushare/dist/main.js");
export const REAL_CLI = join(REPO, "mcp/tushare/dist/cli.js");

export interface DataServiceHandle {
  kind: "real" | "fake";
  url: string;
  keysUrl: string;
  /** The service's published keys, as the fleet pins them into a profile (read by the operator, not by the profile). */
  pinnedKeys(): Promise<PublicCiteKey[]>;
  /** The real service only: run its `rotate-key` command (as `hermes-admin mcp rotate-key` would) and return its JSON. */
  rotateKey?(args: string[]): Promise<{ new_key_id: string; retiring_key_id: string | null }>;
  /** Present for the fake only: lets a test make it misbehave. */
  fake?: FakeDataService;
  addToken(token: string, profile: string): Promise<void>;
  stop(): Promise<void>;
  output(): string;
}

function isSeeded(h: unknown): boolean {
  const s = (h as { scheduler?: { last_success_at?: string | null; enabled?: boolean } }).scheduler;
  return !!s && (s.enabled === false || !!s.last_success_at);
}

export function wantReal(): boolean {
  const w = process.env.TWILIGHT_DATA_SERVICE ?? "auto";
  return w === "real" || (w === "auto" && existsSync(REAL_MAIN));
}

/** `socket`: also serve on this unix socket (MCP_SOCKET_PATH for the real service). */
export async function startDataService(
  kind: "auto" | "real" | "fake" = "auto",
  o: { socket?: string } = {},
): Promise<DataServiceHandle> {
  const real = kind === "real" || (kind === "auto" && wantReal());
  return real ? startReal(o.socket) : startFake(o.socket);
}

async function startFake(socket?: string): Promise<DataServiceHandle> {
  const tokens: Record<string, string> = {};
  const fake = new FakeDataService(tokens);
  await fake.start();
  if (socket) await fake.listenSocket(socket);
  return {
    kind: "fake",
    url: fake.url,
    keysUrl: fake.keysUrl,
    pinnedKeys: async () => fake.pinnedKeys(),
    fake,
    addToken: async (t, p) => {
      tokens[t] = p;
    },
    stop: () => fake.stop(),
    output: () => "",
  };
}

async function startReal(socket?: string): Promise<DataServiceHandle> {
  const dataDir = mkdtempSync(join(tmpdir(), "twl-agent-mcp-"));
  const port = await freePort();
  const tokens: Record<string, { profile: string; issued_at: string }> = {};
  const writeTokens = () => {
    const tmp = join(dataDir, `.tokens.${process.pid}.tmp`);
    writeFileSync(tmp, JSON.stringify({ version: 1, tokens }), { mode: 0o600 });
    renameSync(tmp, join(dataDir, "tokens.json"));
  };
  writeTokens();
  const child: ChildProcess = spawn(process.execPath, [REAL_MAIN], {
    env: {
      PATH: process.env.PATH ?? "",
      MCP_DATA_DIR: dataDir,
      MCP_PORT: String(port),
      MCP_HOST: "127.0.0.1",
      ...(socket ? { MCP_SOCKET_PATH: socket } : {}),
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
  const base = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGTERM");
      await exitOf(child, 10_000).catch(() => child.kill("SIGKILL"));
    }
    rmSync(dataDir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) {
      await stop();
      throw new Error(`data service exited early (${child.exitCode}): ${out.slice(-2000)}`);
    }
    // ready once the keys are published and the first fill of the warehouse (from its embedded fixture) has finished
    const keysOk = await fetch(`${base}/.well-known/cite-keys`).then(
      (r) => r.ok,
      () => false,
    );
    const seeded =
      keysOk &&
      (await fetch(`${base}/health`)
        .then(
          (r) => r.json(),
          () => ({}),
        )
        .then(isSeeded, () => false));
    if (seeded) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`data service did not come up: ${out.slice(-2000)}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    kind: "real",
    url: `${base}/mcp`,
    keysUrl: `${base}/.well-known/cite-keys`,
    pinnedKeys: async () => (JSON.parse(readFileSync(join(dataDir, "cite-keys.json"), "utf8")) as { keys: PublicCiteKey[] }).keys,
    rotateKey: (args) =>
      new Promise((resolveP, reject) =>
        execFile(
          process.execPath,
          [REAL_CLI, "rotate-key", "--data-dir", dataDir, "--json", ...args],
          { encoding: "utf8", timeout: 20_000 },
          (e, out, err) => (e ? reject(new Error(`rotate-key failed: ${err}`)) : resolveP(JSON.parse(out))),
        ),
      ),
    addToken: async (token, profile) => {
      tokens[createHash("sha256").update(token).digest("hex")] = { profile, issued_at: new Date().toISOString() };
      writeTokens();
      // the service reloads tokens.json when its mtime changes; give it a moment
      await new Promise((r) => setTimeout(r, 1_100));
    },
    stop,
    output: () => out,
  };
}
