import assert from "node:assert/strict";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, test } from "node:test";
import { WechatPayApiError, WechatPayClient } from "../wechatpay/client.js";
import { PlatformKeys } from "../wechatpay/platform-keys.js";
import { decryptResource, type NotificationBody, responseMessage, rsaVerify, type Transaction } from "../wechatpay/protocol.js";
import { generateSimKeys } from "./keys.js";
import { RETRY_SCHEDULE_S } from "./notifier.js";
import { WechatPaySim } from "./server.js";

const keys = generateSimKeys();
const sim = new WechatPaySim({ keys, timeScale: 15_000 });
let simUrl = "";
let notifyUrl = "";
let receiver: Server;
const received: { headers: IncomingHttpHeaders; raw: string }[] = [];
let answer = 204;

function client(
  platformKeys = new PlatformKeys().addPublicKey(keys.platformPubKey.id, keys.platformPubKey.publicKeyPem),
  key = keys.merchant.privateKeyPem,
) {
  return new WechatPayClient({
    baseUrl: simUrl,
    mchid: keys.mchid,
    appid: keys.appid,
    merchantSerial: keys.merchant.serial,
    merchantPrivateKeyPem: key,
    platformKeys,
    apiV3Key: keys.apiV3Key,
  });
}
const order = (no: string, total = 990) => ({
  description: "Twilight basic",
  out_trade_no: no,
  notify_url: notifyUrl,
  amount_fen: total,
  time_expire: new Date(Date.now() + 600_000).toISOString(),
});

before(async () => {
  simUrl = await sim.listen();
  receiver = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    received.push({ headers: req.headers, raw: Buffer.concat(chunks).toString("utf8") });
    res.writeHead(answer, answer === 204 ? {} : { "content-type": "application/json" });
    res.end(answer === 204 ? "" : JSON.stringify({ code: "FAIL", message: "try later" }));
  });
  await new Promise<void>((r) => receiver.listen(0, "127.0.0.1", r));
  notifyUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/notify`;
});
after(async () => {
  await sim.close();
  receiver.close();
});

test("create, query, close a Native order with merchant-signed requests and verified answers", async () => {
  const c = client();
  const { code_url } = await c.createNative(order("T0000001"));
  assert.match(code_url, /^weixin:\/\/wxpay\/bizpayurl\?pr=/);
  assert.deepEqual(await c.createNative(order("T0000001")), { code_url }, "same request again is idempotent");
  await assert.rejects(
    c.createNative(order("T0000001", 1)),
    (e: unknown) => e instanceof WechatPayApiError && e.wxCode === "OUT_TRADE_NO_USED",
  );
  const t = (await c.queryByOutTradeNo("T0000001")) as Transaction;
  assert.equal(t.trade_state, "NOTPAY");
  assert.equal(await c.queryByOutTradeNo("NOPE000001"), null);
  await c.close("T0000001");
  assert.equal((await c.queryByOutTradeNo("T0000001"))?.trade_state, "CLOSED");
  await assert.rejects(
    c.createNative(order("T0000001")),
    (e: unknown) => e instanceof WechatPayApiError && e.wxCode === "ORDER_CLOSED",
  );
});

test("bad merchant signature, unknown merchant serial and bad params get WeChat's error codes", async () => {
  const other = generateSimKeys();
  await assert.rejects(client(undefined, other.merchant.privateKeyPem).createNative(order("T0000002")), (e: unknown) => {
    return e instanceof WechatPayApiError && e.status === 401 && e.wxCode === "SIGN_ERROR";
  });
  const bad = client();
  (bad.o as { merchantSerial: string }).merchantSerial = "00AA";
  await assert.rejects(
    bad.queryByOutTradeNo("T0000002"),
    (e: unknown) => e instanceof WechatPayApiError && e.wxCode === "SIGN_ERROR",
  );
  await assert.rejects(
    client().createNative({ ...order("x"), out_trade_no: "x" }),
    (e: unknown) => e instanceof WechatPayApiError && e.wxCode === "PARAM_ERROR",
  );
  const raw = await fetch(`${simUrl}/v3/pay/transactions/native`, { method: "POST", body: "{}" });
  assert.equal(raw.status, 401);
  assert.equal(((await raw.json()) as { code: string }).code, "SIGN_ERROR");
});

test("an answer signed by a key the merchant does not know is refused by the client", async () => {
  const wrong = new PlatformKeys().addPublicKey("PUB_KEY_ID_OTHER", generateSimKeys().platformPubKey.publicKeyPem);
  await assert.rejects(client(wrong).queryByOutTradeNo("T0000001"), /unknown serial/);
});

test("pay -> an AES-GCM notification signed with the platform key; non-2xx answers are retried on the schedule", async () => {
  const c = client();
  await c.createNative(order("T0000003"));
  received.length = 0;
  answer = 500;
  await fetch(`${simUrl}/sim/pay/T0000003`, { method: "POST", body: JSON.stringify({}) });
  while (received.length < 3) await new Promise((r) => setTimeout(r, 5));
  answer = 204;
  await sim.notifier.idle();
  const first = received[0] as { headers: IncomingHttpHeaders; raw: string };
  const h = first.headers;
  assert.equal(h["wechatpay-serial"], keys.platformPubKey.id);
  assert.equal(h["wechatpay-signature-type"], "WECHATPAY2-SHA256-RSA2048");
  const msg = responseMessage(String(h["wechatpay-timestamp"]), String(h["wechatpay-nonce"]), first.raw);
  assert.ok(rsaVerify(msg, String(h["wechatpay-signature"]), keys.platformPubKey.publicKeyPem));
  const body = JSON.parse(first.raw) as NotificationBody;
  assert.equal(body.event_type, "TRANSACTION.SUCCESS");
  const t = JSON.parse(decryptResource(body.resource, keys.apiV3Key)) as Transaction;
  assert.equal(t.out_trade_no, "T0000003");
  assert.equal(t.trade_state, "SUCCESS");
  assert.deepEqual(t.amount, { total: 990, payer_total: 990, currency: "CNY", payer_currency: "CNY" });
  const log = (await (await fetch(`${simUrl}/sim/notifications?out_trade_no=T0000003`)).json()) as {
    notifications: { attempts: { status: number }[]; acknowledged: boolean }[];
  };
  const n = log.notifications[0];
  assert.ok(n?.acknowledged && n.attempts.length >= 3);
  assert.deepEqual(
    n.attempts.slice(0, 2).map((a) => a.status),
    [500, 500],
  );
  assert.equal(RETRY_SCHEDULE_S.length, 15);
  assert.equal(
    RETRY_SCHEDULE_S.reduce((a, b) => a + b, 0),
    24 * 3600 + 4 * 60,
  );
});

test("certificate mode: download the platform certificate, then answers and notifications carry its serial", async () => {
  const pk = new PlatformKeys();
  const c = client(pk);
  const serials = await c.loadCertificates();
  assert.deepEqual(serials, [keys.platformCert.serial]);
  await fetch(`${simUrl}/sim/mode`, { method: "POST", body: JSON.stringify({ mode: "certificate" }) });
  try {
    await c.createNative(order("T0000004"));
    received.length = 0;
    await fetch(`${simUrl}/sim/pay/T0000004`, { method: "POST", body: JSON.stringify({ duplicates: 3, amount: 1 }) });
    await sim.notifier.idle();
    assert.equal(received.length, 3);
    assert.equal(received[0]?.headers["wechatpay-serial"], keys.platformCert.serial);
    const ids = new Set(received.map((r) => (JSON.parse(r.raw) as NotificationBody).id));
    assert.equal(ids.size, 1, "duplicates carry the same notification id");
    const t = JSON.parse(
      decryptResource((JSON.parse(received[0]?.raw ?? "") as NotificationBody).resource, keys.apiV3Key),
    ) as Transaction;
    assert.equal(t.amount?.total, 1, "amount override");
  } finally {
    await fetch(`${simUrl}/sim/mode`, { method: "POST", body: JSON.stringify({ mode: "public_key" }) });
  }
});

test("drop, probe and refund", async () => {
  const c = client();
  await c.createNative(order("T0000005"));
  received.length = 0;
  await fetch(`${simUrl}/sim/pay/T0000005`, { method: "POST", body: JSON.stringify({ drop: true }) });
  await sim.notifier.idle();
  assert.equal(received.length, 0);
  assert.equal((await c.queryByOutTradeNo("T0000005"))?.trade_state, "SUCCESS");
  await fetch(`${simUrl}/sim/probe`, { method: "POST", body: JSON.stringify({ notify_url: notifyUrl }) });
  await sim.notifier.idle();
  const probe = received[0] as { headers: IncomingHttpHeaders; raw: string };
  const msg = responseMessage(String(probe.headers["wechatpay-timestamp"]), String(probe.headers["wechatpay-nonce"]), probe.raw);
  assert.equal(rsaVerify(msg, String(probe.headers["wechatpay-signature"]), keys.platformPubKey.publicKeyPem), false);
  await assert.rejects(c.close("T0000005"), (e: unknown) => e instanceof WechatPayApiError && e.wxCode === "ORDERPAID");
  received.length = 0;
  const r = (await c.refund({ out_trade_no: "T0000005", out_refund_no: "R0000005", refund_fen: 990, total_fen: 990 })) as {
    status: string;
  };
  assert.equal(r.status, "SUCCESS");
  assert.equal((await c.queryByOutTradeNo("T0000005"))?.trade_state, "REFUND");
  await sim.notifier.idle();
  assert.equal((JSON.parse(received[0]?.raw ?? "{}") as NotificationBody).event_type, "REFUND.SUCCESS");
});
