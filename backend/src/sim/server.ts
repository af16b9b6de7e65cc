/**
 * WeChat Pay APIv3 simulator on loopback: the merchant API a Native-payment merchant uses (create, query, close,
 * refund, platform certificates), checking merchant signatures and signing every answer, plus `/sim/*` test controls
 * that play the payer and WeChat's notification sender. One merchant (the keys file), kept in memory.
 */
import { createPrivateKey, createPublicKey, randomBytes, randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import {
  encryptResource,
  OUT_TRADE_NO_RE,
  parseAuthorization,
  requestMessage,
  rfc3339Beijing,
  rsaVerify,
  signedHeaders,
  type Transaction,
  unixNow,
} from "../wechatpay/protocol.js";
import type { SimKeys } from "./keys.js";
import { Notifier, type Signer } from "./notifier.js";

export type PlatformMode = "certificate" | "public_key";

export interface SimOptions {
  keys: SimKeys;
  /** Which platform key signs answers and notifications. New merchants only get `public_key`. */
  mode?: PlatformMode;
  timeScale?: number;
  host?: string;
  port?: number;
}

class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

interface SimOrder {
  appid: string;
  mchid: string;
  description: string;
  out_trade_no: string;
  notify_url: string;
  attach?: string;
  time_expire?: string;
  amount: { total: number; currency: string };
  code_url: string;
  trade_state: Transaction["trade_state"];
  transaction_id?: string;
  success_time?: string;
  payer_total?: number;
  refunded: number;
}

const STATE_DESC: Record<Transaction["trade_state"], string> = {
  SUCCESS: "支付成功",
  REFUND: "转入退款",
  NOTPAY: "未支付",
  CLOSED: "已关闭",
  REVOKED: "已撤销",
  USERPAYING: "用户支付中",
  PAYERROR: "支付失败",
};

export class WechatPaySim {
  readonly orders = new Map<string, SimOrder>();
  readonly notifier: Notifier;
  mode: PlatformMode;
  private server: Server | undefined;
  private readonly merchantKey;
  private readonly signers: Record<PlatformMode, Signer>;

  constructor(private readonly o: SimOptions) {
    this.mode = o.mode ?? "public_key";
    this.merchantKey = createPublicKey(o.keys.merchant.publicKeyPem);
    this.signers = {
      certificate: { serial: o.keys.platformCert.serial, key: createPrivateKey(o.keys.platformCert.privateKeyPem) },
      public_key: { serial: o.keys.platformPubKey.id, key: createPrivateKey(o.keys.platformPubKey.privateKeyPem) },
    };
    this.notifier = new Notifier({
      apiV3Key: o.keys.apiV3Key,
      signer: () => this.signers[this.mode],
      timeScale: o.timeScale ?? 1,
    });
  }

  async listen(): Promise<string> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((r) => this.server?.listen(this.o.port ?? 0, this.o.host ?? "127.0.0.1", r));
    const a = this.server.address() as AddressInfo;
    return `http://${a.address}:${a.port}`;
  }

  async close(): Promise<void> {
    this.notifier.stop();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString("utf8");
    const url = new URL(req.url ?? "/", "http://sim");
    try {
      const out = url.pathname.startsWith("/sim/")
        ? await this.control(req.method ?? "GET", url, raw)
        : this.merchantApi(req, url, raw);
      this.send(res, out.status, out.body);
    } catch (e) {
      const err = e instanceof ApiError ? e : new ApiError(500, "SYSTEM_ERROR", (e as Error).message);
      this.send(res, err.status, { code: err.code, message: err.message });
    }
  }

  /** Every merchant-API answer is signed (`Wechatpay-*` headers), errors included, as WeChat Pay does. */
  private send(res: ServerResponse, status: number, body: unknown): void {
    const text = body === undefined ? "" : JSON.stringify(body);
    const s = this.signers[this.mode];
    res.writeHead(status, {
      ...(text ? { "content-type": "application/json; charset=utf-8" } : {}),
      "request-id": randomUUID(),
      ...signedHeaders(text, s.serial, s.key),
    });
    res.end(text);
  }

  private verifyMerchant(req: IncomingMessage, url: URL, raw: string): void {
    const auth = parseAuthorization(req.headers.authorization);
    if (!auth) throw new ApiError(401, "SIGN_ERROR", "Authorization 头缺失或格式错误 (missing or malformed Authorization)");
    if (auth.mchid !== this.o.keys.mchid) throw new ApiError(400, "MCH_NOT_EXISTS", "商户号不存在");
    if (auth.serial_no.toUpperCase() !== this.o.keys.merchant.serial) {
      throw new ApiError(401, "SIGN_ERROR", "商户证书序列号有误 (unknown merchant certificate serial)");
    }
    if (!/^[0-9]{1,12}$/.test(auth.timestamp) || Math.abs(unixNow() - Number(auth.timestamp)) > 300) {
      throw new ApiError(401, "SIGN_ERROR", "请求时间戳已过期 (timestamp outside 5 minutes)");
    }
    const msg = requestMessage(req.method ?? "GET", `${url.pathname}${url.search}`, auth.timestamp, auth.nonce_str, raw);
    if (!rsaVerify(msg, auth.signature, this.merchantKey))
      throw new ApiError(401, "SIGN_ERROR", "签名错误 (signature verification failed)");
  }

  private merchantApi(req: IncomingMessage, url: URL, raw: string): { status: number; body?: unknown } {
    const method = req.method ?? "GET";
    const p = url.pathname;
    this.verifyMerchant(req, url, raw);
    if (method === "POST" && p === "/v3/pay/transactions/native") return { status: 200, body: this.createNative(parse(raw)) };
    if (method === "GET" && p === "/v3/certificates") return { status: 200, body: this.certificates() };
    let m = /^\/v3\/pay\/transactions\/out-trade-no\/([^/]+)$/.exec(p);
    if (method === "GET" && m) {
      if (url.searchParams.get("mchid") !== this.o.keys.mchid) throw new ApiError(400, "PARAM_ERROR", "mchid 与请求不一致");
      return { status: 200, body: this.transaction(this.order(decodeURIComponent(m[1] as string))) };
    }
    m = /^\/v3\/pay\/transactions\/out-trade-no\/([^/]+)\/close$/.exec(p);
    if (method === "POST" && m) {
      this.closeOrder(decodeURIComponent(m[1] as string), parse(raw));
      return { status: 204 };
    }
    if (method === "POST" && p === "/v3/refund/domestic/refunds") return { status: 200, body: this.refund(parse(raw)) };
    throw new ApiError(404, "RESOURCE_NOT_EXISTS", `no such API: ${method} ${p}`);
  }

  private createNative(b: Record<string, unknown>): { code_url: string } {
    const amount = b.amount as { total?: unknown; currency?: unknown } | undefined;
    const need = (k: string, ok: boolean) => {
      if (!ok) throw new ApiError(400, "PARAM_ERROR", `输入源"/body/${k}"映射到字段"${k}"必填性规则校验失败`);
    };
    need("appid", typeof b.appid === "string" && b.appid.length > 0);
    need("mchid", typeof b.mchid === "string" && b.mchid.length > 0);
    need("description", typeof b.description === "string" && b.description.length > 0 && b.description.length <= 127);
    need("out_trade_no", typeof b.out_trade_no === "string" && OUT_TRADE_NO_RE.test(b.out_trade_no));
    need("notify_url", typeof b.notify_url === "string" && /^https?:\/\/[^\s]+$/.test(b.notify_url));
    need("amount", typeof amount?.total === "number" && Number.isInteger(amount.total) && amount.total > 0);
    if (amount?.currency !== undefined && amount.currency !== "CNY")
      throw new ApiError(400, "PARAM_ERROR", "currency 只支持 CNY");
    if (b.mchid !== this.o.keys.mchid) throw new ApiError(400, "MCH_NOT_EXISTS", "商户号不存在");
    if (b.appid !== this.o.keys.appid) throw new ApiError(400, "APPID_MCHID_NOT_MATCH", "AppID和mch_id不匹配");
    const no = b.out_trade_no as string;
    const prev = this.orders.get(no);
    if (prev) {
      if (prev.trade_state === "SUCCESS" || prev.trade_state === "REFUND") throw new ApiError(400, "ORDERPAID", "该订单已支付");
      if (prev.trade_state === "CLOSED") throw new ApiError(400, "ORDER_CLOSED", "订单已关闭");
      if (prev.amount.total !== amount?.total || prev.description !== b.description) {
        throw new ApiError(403, "OUT_TRADE_NO_USED", "商户订单号重复");
      }
      return { code_url: prev.code_url };
    }
    const order: SimOrder = {
      appid: b.appid as string,
      mchid: b.mchid as string,
      description: b.description as string,
      out_trade_no: no,
      notify_url: b.notify_url as string,
      ...(typeof b.attach === "string" ? { attach: b.attach } : {}),
      ...(typeof b.time_expire === "string" ? { time_expire: b.time_expire } : {}),
      amount: { total: amount?.total as number, currency: "CNY" },
      code_url: `weixin://wxpay/bizpayurl?pr=${randomBytes(6).toString("base64url")}`,
      trade_state: "NOTPAY",
      refunded: 0,
    };
    this.orders.set(no, order);
    return { code_url: order.code_url };
  }

  private order(no: string): SimOrder {
    const o = this.orders.get(no);
    if (!o) throw new ApiError(404, "ORDER_NOT_EXIST", "订单不存在");
    return o;
  }

  private transaction(o: SimOrder, amountOverride?: number): Transaction {
    const paid = o.trade_state === "SUCCESS" || o.trade_state === "REFUND";
    const total = amountOverride ?? o.amount.total;
    return {
      appid: o.appid,
      mchid: o.mchid,
      out_trade_no: o.out_trade_no,
      trade_state: o.trade_state,
      trade_state_desc: STATE_DESC[o.trade_state],
      ...(o.attach !== undefined ? { attach: o.attach } : {}),
      ...(paid
        ? {
            transaction_id: o.transaction_id as string,
            trade_type: "NATIVE",
            bank_type: "OTHERS",
            success_time: o.success_time as string,
            payer: { openid: "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o" },
            amount: { total, payer_total: total, currency: "CNY", payer_currency: "CNY" },
          }
        : { amount: { total, currency: "CNY" } }),
    };
  }

  private closeOrder(no: string, b: Record<string, unknown>): void {
    if (b.mchid !== this.o.keys.mchid) throw new ApiError(400, "PARAM_ERROR", "mchid 与请求不一致");
    const o = this.order(no);
    if (o.trade_state === "SUCCESS" || o.trade_state === "REFUND") throw new ApiError(400, "ORDERPAID", "订单已支付");
    o.trade_state = "CLOSED";
  }

  private refund(b: Record<string, unknown>): object {
    const amount = b.amount as { refund?: number; total?: number; currency?: string } | undefined;
    if (typeof b.out_refund_no !== "string" || !OUT_TRADE_NO_RE.test(b.out_refund_no)) {
      throw new ApiError(400, "PARAM_ERROR", "out_refund_no 不合法");
    }
    if (typeof b.out_trade_no !== "string") throw new ApiError(400, "PARAM_ERROR", "out_trade_no 必填");
    const o = this.order(b.out_trade_no);
    if (o.trade_state !== "SUCCESS" && o.trade_state !== "REFUND")
      throw new ApiError(400, "INVALID_REQUEST", "订单未支付，不能退款");
    if (typeof amount?.refund !== "number" || amount.total !== o.amount.total || amount.refund <= 0) {
      throw new ApiError(400, "PARAM_ERROR", "退款金额参数错误");
    }
    if (o.refunded + amount.refund > o.amount.total) throw new ApiError(403, "NOT_ENOUGH", "可退金额不足");
    o.refunded += amount.refund;
    o.trade_state = "REFUND";
    const refund = {
      refund_id: `50${Date.now()}${randomBytes(4).toString("hex")}`,
      out_refund_no: b.out_refund_no,
      transaction_id: o.transaction_id,
      out_trade_no: o.out_trade_no,
      channel: "ORIGINAL",
      user_received_account: "支付用户零钱",
      create_time: rfc3339Beijing(Date.now()),
      status: "SUCCESS",
      amount: {
        total: o.amount.total,
        refund: amount.refund,
        payer_total: o.amount.total,
        payer_refund: amount.refund,
        currency: "CNY",
      },
    };
    const url = typeof b.notify_url === "string" ? b.notify_url : o.notify_url;
    this.notifier.notify({
      kind: "refund",
      eventType: "REFUND.SUCCESS",
      summary: "退款成功",
      originalType: "refund",
      plaintext: { mchid: o.mchid, ...refund, refund_status: "SUCCESS", success_time: refund.create_time },
      notifyUrl: url,
      outTradeNo: o.out_trade_no,
    });
    return refund;
  }

  /** Certificate mode's `GET /v3/certificates`: each platform certificate encrypted with the APIv3 key. */
  private certificates(): object {
    const c = this.o.keys.platformCert;
    const now = Date.now();
    return {
      data: [
        {
          serial_no: c.serial,
          effective_time: rfc3339Beijing(now - 86_400_000),
          expire_time: rfc3339Beijing(now + 29 * 86_400_000),
          encrypt_certificate: encryptResource(c.certPem, this.o.keys.apiV3Key, "certificate"),
        },
      ],
    };
  }

  private async control(method: string, url: URL, raw: string): Promise<{ status: number; body?: unknown }> {
    const b = raw ? parse(raw) : {};
    const m = /^\/sim\/pay\/([^/]+)$/.exec(url.pathname);
    if (method === "POST" && m) return { status: 200, body: this.pay(decodeURIComponent(m[1] as string), b) };
    if (method === "POST" && url.pathname === "/sim/probe") {
      const target = typeof b.notify_url === "string" ? b.notify_url : [...this.orders.values()].at(-1)?.notify_url;
      if (!target) throw new ApiError(400, "PARAM_ERROR", "no notify_url given and no order known");
      return { status: 200, body: this.notifier.probe(target) };
    }
    if (method === "GET" && url.pathname === "/sim/notifications") {
      const no = url.searchParams.get("out_trade_no");
      return { status: 200, body: { notifications: this.notifier.sent.filter((n) => !no || n.out_trade_no === no) } };
    }
    if (method === "POST" && url.pathname === "/sim/mode") {
      if (b.mode !== "certificate" && b.mode !== "public_key")
        throw new ApiError(400, "PARAM_ERROR", "mode: certificate|public_key");
      this.mode = b.mode;
      return { status: 200, body: { mode: this.mode } };
    }
    if (method === "GET" && url.pathname === "/sim/health") return { status: 200, body: { status: "ok", mode: this.mode } };
    throw new ApiError(404, "RESOURCE_NOT_EXISTS", `no such control: ${method} ${url.pathname}`);
  }

  /** The payer scans and pays: order -> SUCCESS, then the notification (options: amount, duplicates, drop, delay_ms). */
  pay(no: string, opts: Record<string, unknown> = {}): { transaction_id: string; notifications: number } {
    const o = this.order(no);
    if (o.trade_state === "CLOSED") throw new ApiError(400, "ORDER_CLOSED", "订单已关闭");
    if (o.time_expire && Date.parse(o.time_expire) < Date.now()) throw new ApiError(400, "ORDER_CLOSED", "订单已过期");
    if (o.trade_state === "NOTPAY") {
      o.trade_state = "SUCCESS";
      o.transaction_id = `4200${Date.now()}${randomBytes(4).toString("hex")}`.slice(0, 28);
      o.success_time = rfc3339Beijing(Date.now());
    }
    const amount = typeof opts.amount === "number" ? opts.amount : undefined;
    const sent = this.notifier.notify({
      kind: "payment",
      eventType: "TRANSACTION.SUCCESS",
      summary: "支付成功",
      originalType: "transaction",
      plaintext: this.transaction(o, amount),
      notifyUrl: o.notify_url,
      outTradeNo: o.out_trade_no,
      copies: typeof opts.duplicates === "number" ? opts.duplicates : 1,
      drop: opts.drop === true,
      delayMs: typeof opts.delay_ms === "number" ? opts.delay_ms : 0,
    });
    return { transaction_id: o.transaction_id as string, notifications: sent.length };
  }
}

function parse(raw: string): Record<string, unknown> {
  try {
    const v = JSON.parse(raw) as unknown;
    if (v && typeof v === "object" && !Array.isArray(v)) return v as Record<string, unknown>;
  } catch {
    // fall through
  }
  throw new ApiError(400, "PARAM_ERROR", "请求体不是合法的 JSON 对象");
}
