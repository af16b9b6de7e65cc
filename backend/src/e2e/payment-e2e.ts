#!/usr/bin/env node
/**
 * The plan's week-3 row "payment -> provision -> query", as real processes: the WeChat Pay simulator and the billing
 * service are started as child processes (their bins), the fleet is the caller's (FLEET_* in the environment, HTTP or
 * SSH) or, without FLEET_URL/FLEET_TRANSPORT, the in-process HMAC-checking stand-in. For each plan: order -> code_url ->
 * simulated payment -> verified notification -> provisioned -> a question through the front door with the user's key.
 * Usage: node backend/dist/e2e/payment-e2e.js [--plans basic,dedicated_pro] [--query "..."] [--timeout-s 180] [--json]
 * Exit 0 when every plan passed.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { freePort } from "@twilight/core";
import { generateSimKeys, writeSimKeys } from "../sim/keys.js";
import { FakeFleet, FLEET_KEY_ID, FLEET_SECRET } from "../testkit.js";

const { values } = parseArgs({
  options: {
    plans: { type: "string", default: "basic,dedicated_pro" },
    query: { type: "string", default: "贵州茅台 600519.SH 最近的收盘价是多少？请给出引用。" },
    "timeout-s": { type: "string", default: "180" },
    json: { type: "boolean", default: false },
  },
});
const dist = join(dirname(fileURLToPath(import.meta.url)), "..");
const dir = mkdtempSync(join(tmpdir(), "billing-e2e-"));
const children: ChildProcess[] = [];
const say = (m: string) => values.json || process.stderr.write(`${m}\n`);

/** Starts a bin and resolves with the `url` of the first JSON line it prints. */
function startBin(file: string, args: string[], env: NodeJS.ProcessEnv): Promise<string> {
  const child = spawn(process.execPath, [join(dist, file), ...args], { env, stdio: ["ignore", "pipe", "pipe"] });
  children.push(child);
  let err = "";
  child.stderr?.on("data", (c: Buffer) => {
    err = (err + c.toString()).slice(-2000);
  });
  return new Promise((resolve, reject) => {
    const rl = createInterface({ input: child.stdout as NodeJS.ReadableStream });
    rl.once("line", (l) => resolve((JSON.parse(l) as { url: string }).url));
    child.once("exit", (code) => reject(new Error(`${file} exited ${code}: ${err}`)));
  });
}

async function poll<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const report: Record<string, unknown>[] = [];
let fake: FakeFleet | undefined;
let ok = true;
try {
  const keys = generateSimKeys();
  writeSimKeys(join(dir, "sim.json"), keys);
  const simUrl = await startBin(
    "sim/cli.js",
    ["--keys", join(dir, "sim.json"), "--port", "0", "--time-scale", "100"],
    process.env,
  );
  const file = (name: string, text: string) => {
    writeFileSync(join(dir, name), text, { mode: 0o600 });
    return join(dir, name);
  };
  const fleetEnv: Record<string, string> = {};
  if (!process.env.FLEET_URL && !process.env.FLEET_TRANSPORT) {
    fake = new FakeFleet();
    await fake.up();
    Object.assign(fleetEnv, { FLEET_URL: fake.url(), FLEET_KEY_ID, FLEET_KEY_SECRET_FILE: file("fleet-secret", FLEET_SECRET) });
  }
  const port = await freePort();
  const billingUrl = await startBin("main.js", [], {
    ...process.env,
    BILLING_PORT: String(port),
    BILLING_PUBLIC_URL: `http://127.0.0.1:${port}`,
    BILLING_DATABASE_URL: `sqlite:${join(dir, "billing.db")}`,
    BILLING_SECRET_FILE: file("secret", `e2e-${Date.now()}-secret-0123456789abcdef`),
    WECHATPAY_BASE_URL: simUrl,
    WECHATPAY_MCHID: keys.mchid,
    WECHATPAY_APPID: keys.appid,
    WECHATPAY_MERCHANT_SERIAL: keys.merchant.serial,
    WECHATPAY_MERCHANT_KEY_FILE: file("merchant.pem", keys.merchant.privateKeyPem),
    WECHATPAY_APIV3_KEY_FILE: file("apiv3", keys.apiV3Key),
    WECHATPAY_PUBLIC_KEY_ID: keys.platformPubKey.id,
    WECHATPAY_PUBLIC_KEY_FILE: file("wxpay-pub.pem", keys.platformPubKey.publicKeyPem),
    OUTBOX_POLL_MS: "200",
    LOG_LEVEL: process.env.LOG_LEVEL ?? "warn",
    ...fleetEnv,
  });
  say(
    `simulator ${simUrl}, billing ${billingUrl}, fleet ${fake ? `stand-in ${fake.url()}` : (process.env.FLEET_URL ?? process.env.FLEET_TRANSPORT)}`,
  );
  for (const plan of (values.plans ?? "").split(",").filter(Boolean)) {
    const row: Record<string, unknown> = { plan };
    report.push(row);
    try {
      const o = (await (
        await fetch(`${billingUrl}/v1/orders`, {
          method: "POST",
          body: JSON.stringify({ user_id: `e2e-${plan}`, plan, channel: `wxid_e2e_${plan}` }),
        })
      ).json()) as { order_id: string; out_trade_no: string; code_url: string; error?: unknown };
      if (!o.code_url) throw new Error(`order refused: ${JSON.stringify(o)}`);
      row.order_id = o.order_id;
      const t0 = performance.now();
      await fetch(`${simUrl}/sim/pay/${o.out_trade_no}`, { method: "POST", body: "{}" });
      const v = await poll(
        "provisioned",
        async () => {
          const x = (await (await fetch(`${billingUrl}/v1/orders/${o.order_id}`)).json()) as {
            status: string;
            last_error: string | null;
            connection: { api_base: string; api_key?: string; session_header: string } | null;
          };
          if (x.status === "failed") throw new Error(`provisioning failed: ${x.last_error}`);
          return x.status === "provisioned" ? x : undefined;
        },
        Number(values["timeout-s"]) * 1000,
      );
      row.notification_to_provisioned_ms = Math.round(performance.now() - t0);
      const c = v.connection;
      if (!c?.api_key) throw new Error("connection info or key missing");
      row.api_base = c.api_base;
      const t1 = performance.now();
      const res = await fetch(`${c.api_base}/chat/completions`, {
        method: "POST",
        headers: { authorization: `Bearer ${c.api_key}`, "content-type": "application/json", [c.session_header]: `e2e-${plan}` },
        body: JSON.stringify({ model: "hermes-agent", messages: [{ role: "user", content: values.query }] }),
        signal: AbortSignal.timeout(120_000),
      });
      const answer = (await res.json()) as {
        choices?: { message?: { content?: string } }[];
        citations?: Array<{ cite?: { profile?: string; sig?: string } }>;
      };
      const text = answer.choices?.[0]?.message?.content ?? "";
      row.query_status = res.status;
      row.query_ms = Math.round(performance.now() - t1);
      row.answer = text.slice(0, 400);
      // cited: the profile returned at least one signed cite envelope with its answer (the agent verified it first)
      row.cited = (answer.citations ?? []).some((c) => typeof c.cite?.sig === "string" && c.cite.sig.length > 0);
      if (res.status !== 200 || !text) throw new Error(`front door answered ${res.status}`);
      row.ok = true;
      say(`${plan}: provisioned in ${row.notification_to_provisioned_ms} ms, answered in ${row.query_ms} ms`);
    } catch (e) {
      ok = false;
      row.ok = false;
      row.error = (e as Error).message;
      say(`${plan}: FAILED ${(e as Error).message}`);
    }
  }
} catch (e) {
  ok = false;
  report.push({ ok: false, error: (e as Error).message });
} finally {
  for (const c of children) c.kill("SIGTERM");
  await fake?.down();
  rmSync(dir, { recursive: true, force: true });
}
process.stdout.write(`${JSON.stringify({ ok, rows: report }, null, values.json ? 0 : 2)}\n`);
process.exit(ok ? 0 : 1);
