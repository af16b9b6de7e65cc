/**
 * The plan's week-3 integration row, "payment -> provision -> query": the WeChat Pay simulator and the billing service
 * run as real processes (backend/dist/e2e/payment-e2e.js, started by path: the fleet never imports billing) against this
 * fleet over the HTTP transport with a provisioning credential (HMAC), for a prefab plan and a container plan; each
 * paid order must end in a profile that answers a cited question through the front door with the user's key.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { FleetClient } from "../client/client.js";
import type { FleetConfig } from "../config.js";
import { ROUTES } from "../contract/routes.js";
import type { CheckResult } from "./checks.js";
import { type SshEndpoint, startSshEndpoint } from "./ssh-transport.js";

interface E2eRow {
  plan: string;
  ok?: boolean;
  error?: string;
  notification_to_provisioned_ms?: number;
  query_ms?: number;
  query_status?: number;
  cited?: boolean;
}

/** The verify run's own provisioning credential, kept (0600) under ops/verify so re-runs reuse it. */
async function credential(cfg: FleetConfig, fleet: FleetClient): Promise<{ key_id: string; secretFile: string }> {
  const dir = join(cfg.opsDir, "verify");
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = join(dir, "billing-key.json");
  const secretFile = join(dir, "billing-key.secret");
  if (!existsSync(file)) {
    const k = await fleet.call(ROUTES.createProvisionKey, {
      body: { key_id: `verify-billing-${Date.now().toString(36)}` },
    });
    writeFileSync(secretFile, k.secret, { mode: 0o600 });
    writeFileSync(file, `${JSON.stringify({ key_id: k.key_id })}\n`, { mode: 0o600 });
  }
  return { key_id: (JSON.parse(readFileSync(file, "utf8")) as { key_id: string }).key_id, secretFile };
}

function run(
  argv: string[],
  env: NodeJS.ProcessEnv,
  timeoutMs: number,
): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, argv, { env, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (b: Buffer) => {
      out += b.toString();
    });
    child.stderr.on("data", (b: Buffer) => {
      err = (err + b.toString()).slice(-4000);
    });
    const t = setTimeout(() => child.kill("SIGTERM"), timeoutMs);
    child.on("close", (code) => {
      clearTimeout(t);
      resolve({ code, out, err });
    });
  });
}

const check = "payment -> provision -> query";

/** The check rows of one payment-e2e run (one per plan, or one failure row when it printed none). */
function rowsOf(transport: "http" | "ssh", r: { code: number | null; out: string; err: string }, t0: number): CheckResult[] {
  const results: CheckResult[] = [];
  let rows: E2eRow[] = [];
  try {
    rows = (JSON.parse(r.out.trim().split("\n").at(-1) ?? "{}") as { rows?: E2eRow[] }).rows ?? [];
  } catch {
    rows = [];
  }
  const label = transport === "http" ? "billing" : "billing:ssh";
  if (rows.length === 0)
    results.push({
      profile: label,
      check,
      ok: false,
      ms: Math.round(performance.now() - t0),
      detail: `exit ${r.code}: ${r.err.slice(-300)}`,
    });
  for (const row of rows) {
    const ok = row.ok === true && row.cited === true;
    results.push({
      profile: `${label}:${row.plan}`,
      check,
      ok,
      ms: (row.notification_to_provisioned_ms ?? 0) + (row.query_ms ?? 0),
      detail: ok
        ? `paid -> profile healthy in ${row.notification_to_provisioned_ms} ms (${transport}); cited answer through the front door with the user's key in ${row.query_ms} ms`
        : (row.error ?? `answer ${row.query_status}, cited: ${row.cited}`),
    });
  }
  return results;
}

export async function paymentChecks(o: {
  cfg: FleetConfig;
  fleet: FleetClient;
  say: (l: string) => void;
}): Promise<CheckResult[]> {
  const t0 = performance.now();
  const script = join(o.cfg.appDir, "backend", "dist", "e2e", "payment-e2e.js");
  if (!existsSync(script))
    return [{ profile: "billing", check, ok: false, ms: 0, detail: `${script} is missing: build the backend (npx tsc -b)` }];
  const key = await credential(o.cfg, o.fleet);
  o.say("billing: order -> WeChat Pay simulator -> notification -> provisioned -> cited answer (basic, dedicated_pro)");
  const results = rowsOf(
    "http",
    await run(
      [script, "--json", "--plans", "basic,dedicated_pro"],
      { ...process.env, FLEET_URL: o.fleet.baseUrl, FLEET_KEY_ID: key.key_id, FLEET_KEY_SECRET_FILE: key.secretFile },
      300_000,
    ),
    t0,
  );
  // the same through the SSH transport: a real sshd on loopback whose deploy key runs `provision --stdin` only
  o.say("billing over SSH: the same for basic, provisioned through sshd's forced command");
  const t1 = performance.now();
  let ssh: SshEndpoint | undefined;
  try {
    ssh = await startSshEndpoint({ opsDir: o.cfg.opsDir, cliEntry: join(o.cfg.appDir, "fleet", "dist", "main.js") });
    results.push(
      ...rowsOf("ssh", await run([script, "--json", "--plans", "basic"], { ...process.env, ...ssh.env }, 300_000), t1),
    );
  } catch (e) {
    results.push({ profile: "billing:ssh", check, ok: false, ms: 0, detail: (e as Error).message });
  } finally {
    ssh?.stop();
  }
  // the profiles billing made for this check go away again (they belong to the e2e users)
  for (const p of (await o.fleet.call(ROUTES.listProfiles, {})).profiles)
    if (p.user_id?.startsWith("e2e-"))
      await o.fleet
        .call(ROUTES.removeProfile, { params: { name: p.name }, query: { force: "1", purge: "1" } })
        .catch(() => undefined);
  return results;
}
