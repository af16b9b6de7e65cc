/**
 * Merchant-side APIv3 client: signs every request with the merchant key (`Authorization: WECHATPAY2-SHA256-RSA2048`),
 * verifies every answer's `Wechatpay-Signature` with the platform key its `Wechatpay-Serial` names, and maps WeChat's
 * `{code, message}` errors to UpstreamError (retryable on 5xx / network).
 */
import { createPrivateKey, type KeyObject } from "node:crypto";
import { UpstreamError } from "@twilight/core";
import type { PlatformKeys } from "./platform-keys.js";
import { buildAuthorization, type EncryptedResource, responseMessage, rsaVerify, type Transaction, unixNow } from "./protocol.js";

export interface WechatPayClientOptions {
  baseUrl: string;
  mchid: string;
  appid: string;
  merchantSerial: string;
  merchantPrivateKeyPem: string;
  platformKeys: PlatformKeys;
  apiV3Key: string;
  timeoutMs?: number;
}

export class WechatPayApiError extends UpstreamError {
  constructor(
    readonly status: number,
    readonly wxCode: string,
    message: string,
  ) {
    super("wechatpay", `${status} ${wxCode}: ${message}`, { retryable: status >= 500, details: { status, wx_code: wxCode } });
  }
}

export interface NativeOrderRequest {
  description: string;
  out_trade_no: string;
  notify_url: string;
  amount_fen: number;
  time_expire: string;
  attach?: string;
}

export class WechatPayClient {
  private readonly key: KeyObject;

  constructor(readonly o: WechatPayClientOptions) {
    this.key = createPrivateKey(o.merchantPrivateKeyPem);
  }

  async createNative(r: NativeOrderRequest): Promise<{ code_url: string }> {
    const res = await this.request("POST", "/v3/pay/transactions/native", {
      appid: this.o.appid,
      mchid: this.o.mchid,
      description: r.description,
      out_trade_no: r.out_trade_no,
      time_expire: r.time_expire,
      ...(r.attach ? { attach: r.attach } : {}),
      notify_url: r.notify_url,
      amount: { total: r.amount_fen, currency: "CNY" },
    });
    return res as { code_url: string };
  }

  /** The transaction, or null when WeChat Pay does not know the order (ORDER_NOT_EXIST). */
  async queryByOutTradeNo(outTradeNo: string): Promise<Transaction | null> {
    try {
      const path = `/v3/pay/transactions/out-trade-no/${encodeURIComponent(outTradeNo)}?mchid=${encodeURIComponent(this.o.mchid)}`;
      return (await this.request("GET", path)) as Transaction;
    } catch (e) {
      if (e instanceof WechatPayApiError && e.wxCode === "ORDER_NOT_EXIST") return null;
      throw e;
    }
  }

  async close(outTradeNo: string): Promise<void> {
    await this.request("POST", `/v3/pay/transactions/out-trade-no/${encodeURIComponent(outTradeNo)}/close`, {
      mchid: this.o.mchid,
    });
  }

  async refund(r: {
    out_trade_no: string;
    out_refund_no: string;
    refund_fen: number;
    total_fen: number;
    reason?: string;
  }): Promise<unknown> {
    return this.request("POST", "/v3/refund/domestic/refunds", {
      out_trade_no: r.out_trade_no,
      out_refund_no: r.out_refund_no,
      ...(r.reason ? { reason: r.reason } : {}),
      amount: { refund: r.refund_fen, total: r.total_fen, currency: "CNY" },
    });
  }

  /** Certificate mode: downloads and installs the platform certificates. */
  async loadCertificates(): Promise<string[]> {
    const res = (await this.request("GET", "/v3/certificates", undefined, false)) as {
      data: { serial_no: string; encrypt_certificate: EncryptedResource }[];
    };
    const serials = this.o.platformKeys.addEncryptedCertificates(res.data, this.o.apiV3Key);
    return serials;
  }

  async request(method: string, path: string, body?: object, verify = true): Promise<unknown> {
    const text = body === undefined ? "" : JSON.stringify(body);
    const authorization = buildAuthorization({
      mchid: this.o.mchid,
      serialNo: this.o.merchantSerial,
      privateKey: this.key,
      method,
      url: path,
      body: text,
    });
    let res: Response;
    try {
      res = await fetch(new URL(path, this.o.baseUrl), {
        method,
        headers: {
          authorization,
          accept: "application/json",
          "user-agent": "twilight-billing/0.1",
          ...(body ? { "content-type": "application/json" } : {}),
        },
        ...(body ? { body: text } : {}),
        signal: AbortSignal.timeout(this.o.timeoutMs ?? 10_000),
      });
    } catch (e) {
      throw new UpstreamError("wechatpay", `request failed: ${(e as Error).message}`, { retryable: true });
    }
    const raw = await res.text();
    if (verify) this.verifyResponse(res.headers, raw);
    const data = raw ? safeJson(raw) : undefined;
    if (!res.ok) {
      const err = data as { code?: string; message?: string } | undefined;
      throw new WechatPayApiError(res.status, err?.code ?? "UNKNOWN", err?.message ?? raw.slice(0, 200));
    }
    return data;
  }

  private verifyResponse(h: Headers, raw: string): void {
    const ts = h.get("wechatpay-timestamp");
    const nonce = h.get("wechatpay-nonce");
    const sig = h.get("wechatpay-signature");
    const serial = h.get("wechatpay-serial");
    if (!ts || !nonce || !sig || !serial)
      throw new UpstreamError("wechatpay", "answer is not signed (Wechatpay-* headers missing)");
    if (Math.abs(unixNow() - Number(ts)) > 300) throw new UpstreamError("wechatpay", "answer timestamp is outside 5 minutes");
    const key = this.o.platformKeys.get(serial);
    if (!key) throw new UpstreamError("wechatpay", `answer signed with unknown serial ${serial}`);
    if (!rsaVerify(responseMessage(ts, nonce, raw), sig, key))
      throw new UpstreamError("wechatpay", "answer signature is invalid");
  }
}

function safeJson(raw: string): unknown {
  try {
    return JSON.parse(raw);
  } catch {
    return undefined;
  }
}
