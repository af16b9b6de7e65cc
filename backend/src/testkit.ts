/**
 * Test kit (used by the integration tests and the bench): a WeChat Pay simulator, a fake fleet that checks the
 * provisioning HMAC with core's verifier, and a billing service wired to both from a config written to a temp dir.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLogger, readBody, verifyProvisionRequest } from "@twilight/core";
import { type Billing, createBilling } from "./billing.js";
import { loadBillingConfig } from "./config.js";
import { startHttp } from "./http/server.js";
import { BillingMetrics } from "./metrics.js";
import type { FleetTransport } from "./provisioning/transport.js";
import { generateSimKeys, type SimKeys } from "./sim/keys.js";
import { WechatPaySim } from "./sim/server.js";

export const FLEET_KEY_ID = "billing-test";
export const FLEET_SECRET = "fleet-provisioning-secret-for-tests-0123456789";

export interface FleetCall {
  name: string;
  headers: IncomingHttpHeaders;
  body: { tier: string; plan: string; user_id: string; set: Record<string, string> };
}

/** A fleet stand-in: `PUT /v1/profiles/:name`, HMAC-verified, replays refused, idempotent on Idempotency-Key. */
export class FakeFleet {
  readonly calls: FleetCall[] = [];
  readonly refused: string[] = [];
  readonly actions: { name: string; action: "stop" | "delete"; key: string }[] = [];
  private readonly nonces = new Set<string>();
  private readonly byKey = new Map<string, string>();
  /** profile -> its API_SERVER_KEY, as the real front door would check it. */
  private readonly keys = new Map<string, string>();
  private server: Server | undefined;
  port = 0;
  delayMs = 0;
  /** Answer every request with this error status (e.g. 400 for a non-retryable refusal). */
  failWith: number | null = null;

  url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async up(): Promise<void> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((r) => this.server?.listen(this.port, "127.0.0.1", r));
    this.port = (this.server.address() as AddressInfo).port;
  }

  async down(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (s) await new Promise<void>((r) => s.close(() => r()));
    s?.closeAllConnections();
  }

  private frontDoor(name: string, what: string, auth: string | undefined, send: (s: number, b: unknown) => void): void {
    const key = this.keys.get(name);
    if (!key) send(404, { error: { code: "NOT_FOUND", message: `profile ${name} not found` } });
    else if (what === "health") send(200, { status: "ok" });
    else if (auth !== `Bearer ${key}`) send(401, { error: { code: "UNAUTHORIZED", message: "wrong profile key" } });
    else
      send(200, {
        object: "chat.completion",
        choices: [
          {
            index: 0,
            message: { role: "assistant", content: `stand-in answer for ${name} [cite: stand-in]` },
            finish_reason: "stop",
          },
        ],
      });
  }

  private async handle(req: import("node:http").IncomingMessage, res: import("node:http").ServerResponse): Promise<void> {
    const raw = await readBody(req, 64 * 1024);
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(body));
    };
    const fd = /^\/p\/([a-z0-9-]{1,40})\/(health|v1\/chat\/completions)$/.exec(req.url ?? "");
    if (fd) {
      this.frontDoor(fd[1] as string, fd[2] as string, req.headers.authorization, send);
      return;
    }
    const m = /^\/v1\/profiles\/([a-z0-9-]{1,40})(\/stop)?$/.exec(req.url ?? "");
    const action =
      req.method === "PUT" && !m?.[2]
        ? "provision"
        : req.method === "POST" && m?.[2]
          ? "stop"
          : req.method === "DELETE" && !m?.[2]
            ? "delete"
            : null;
    if (!m || !action) return send(404, { error: { code: "NOT_FOUND", message: "no route" } });
    try {
      const { nonce } = verifyProvisionRequest({
        headers: req.headers,
        method: req.method ?? "",
        path: req.url ?? "",
        body: raw,
        lookupSecret: (k) => (k === FLEET_KEY_ID ? FLEET_SECRET : undefined),
        now: Date.now() / 1000,
      });
      if (this.nonces.has(nonce)) throw new Error("replayed nonce");
      this.nonces.add(nonce);
    } catch (e) {
      this.refused.push((e as Error).message);
      return send(401, { error: { code: "UNAUTHORIZED", message: (e as Error).message } });
    }
    if (this.failWith) return send(this.failWith, { error: { code: "INPUT_INVALID", message: "refused by test" } });
    const name = m[1] as string;
    if (action !== "provision") {
      this.actions.push({ name, action, key: String(req.headers["idempotency-key"] ?? "") });
      return this.keys.has(name)
        ? send(200, { ok: true })
        : send(404, { error: { code: "NOT_FOUND", message: `profile ${name} not found` } });
    }
    if (this.delayMs) await new Promise((r) => setTimeout(r, this.delayMs));
    const body = JSON.parse(raw.toString("utf8")) as FleetCall["body"];
    const key = String(req.headers["idempotency-key"] ?? "");
    const created = !this.byKey.has(key);
    this.byKey.set(key, name);
    if (created) this.calls.push({ name, headers: req.headers, body });
    if (created && body.set.API_SERVER_KEY) this.keys.set(name, body.set.API_SERVER_KEY);
    const base = this.url();
    send(created ? 201 : 200, {
      created,
      profile: {
        name,
        tier: body.tier,
        status: "running",
        status_url: `${base}/p/${name}/health`,
        api_base: `${base}/p/${name}/v1`,
      },
      connection: {
        status_url: `${base}/p/${name}/health`,
        api_base: `${base}/p/${name}/v1`,
        session_header: "X-Hermes-Session-Id",
      },
    });
  }
}

export interface Stack {
  keys: SimKeys;
  sim: WechatPaySim;
  simUrl: string;
  fleet: FakeFleet;
  billing: Billing;
  url: string;
  dir: string;
  close(): Promise<void>;
}

export async function startStack(
  o: {
    dbUrl?: string;
    env?: Record<string, string>;
    transport?: FleetTransport;
    mode?: "public_key" | "certificate";
    keys?: SimKeys;
  } = {},
): Promise<Stack> {
  const keys = o.keys ?? generateSimKeys();
  const sim = new WechatPaySim({ keys, timeScale: 1000, ...(o.mode ? { mode: o.mode } : {}) });
  const simUrl = await sim.listen();
  const fleet = new FakeFleet();
  await fleet.up();
  const dir = mkdtempSync(join(tmpdir(), "billing-test-"));
  const file = (name: string, text: string) => {
    writeFileSync(join(dir, name), text, { mode: 0o600 });
    return join(dir, name);
  };
  const probe = createServer();
  await new Promise<void>((r) => probe.listen(0, "127.0.0.1", r));
  const port = (probe.address() as AddressInfo).port;
  await new Promise<void>((r) => probe.close(() => r()));
  const env: Record<string, string> = {
    BILLING_PORT: String(port),
    BILLING_PUBLIC_URL: `http://127.0.0.1:${port}`,
    BILLING_DATABASE_URL: o.dbUrl ?? `sqlite:${join(dir, "billing.db")}`,
    BILLING_SECRET_FILE: file("secret", "billing-test-secret-0123456789abcdef-XYZ"),
    WECHATPAY_BASE_URL: simUrl,
    WECHATPAY_MCHID: keys.mchid,
    WECHATPAY_APPID: keys.appid,
    WECHATPAY_MERCHANT_SERIAL: keys.merchant.serial,
    WECHATPAY_MERCHANT_KEY_FILE: file("merchant.pem", keys.merchant.privateKeyPem),
    WECHATPAY_APIV3_KEY_FILE: file("apiv3", keys.apiV3Key),
    WECHATPAY_PUBLIC_KEY_ID: keys.platformPubKey.id,
    WECHATPAY_PUBLIC_KEY_FILE: file("wxpay-pub.pem", keys.platformPubKey.publicKeyPem),
    WECHATPAY_PLATFORM_CERT_FILES: file("platform-cert.pem", keys.platformCert.certPem),
    FLEET_URL: fleet.url(),
    FLEET_KEY_ID,
    FLEET_KEY_SECRET_FILE: file("fleet-secret", FLEET_SECRET),
    OUTBOX_BASE_DELAY_MS: "50",
    OUTBOX_MAX_DELAY_MS: "400",
    OUTBOX_POLL_MS: "50",
    OUTBOX_MAX_ATTEMPTS: "30",
    RECONCILE_INTERVAL_S: "3600",
    RECONCILE_UNPAID_AFTER_S: "0",
    ...o.env,
  };
  const cfg = loadBillingConfig(env);
  const log = createLogger("billing-test", { level: process.env.BILLING_TEST_LOG ?? "silent" });
  const billing = await createBilling(cfg, {
    log,
    metrics: new BillingMetrics(),
    ...(o.transport ? { transport: o.transport } : {}),
  });
  const http = await startHttp(billing, { host: "127.0.0.1", port });
  return {
    keys,
    sim,
    simUrl,
    fleet,
    billing,
    url: http.url,
    dir,
    async close() {
      await http.close();
      await sim.close();
      await fleet.down();
    },
  };
}

/** Polls until `fn` returns a truthy value or the deadline passes (then throws with `what`). */
export async function until<T>(what: string, fn: () => Promise<T | undefined | false | null>, timeoutMs = 10_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export async function json<T = Record<string, unknown>>(res: Response | Promise<Response>): Promise<T> {
  return (await (await res).json()) as T;
}
