/** The checkout page: the Native code_url as a QR code (SVG), live status, and the connection info once provisioned. */
import QRCode from "qrcode";

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export async function checkoutPage(o: {
  order_id: string;
  plan: string;
  amount_fen: number;
  status: string;
  code_url: string | null;
}): Promise<string> {
  const qr = o.code_url
    ? await QRCode.toString(o.code_url, { type: "svg", margin: 2, width: 240, errorCorrectionLevel: "M" })
    : "";
  const yuan = (o.amount_fen / 100).toFixed(2);
  return `<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>Twilight 结账 ${esc(o.order_id)}</title>
<style>body{font-family:system-ui,sans-serif;max-width:28rem;margin:2rem auto;padding:0 1rem}#qr svg{width:240px;height:240px}
.status{font-weight:600}pre{background:#f4f4f4;padding:.75rem;white-space:pre-wrap;word-break:break-all}</style></head>
<body>
<h1>Twilight 股票研究</h1>
<p>套餐 <b>${esc(o.plan)}</b> · ¥${yuan}</p>
<div id="qr" data-code-url="${esc(o.code_url ?? "")}">${qr}</div>
<p>请用微信扫码支付 / Scan with WeChat to pay.</p>
<p>状态 / status: <span class="status" id="status">${esc(o.status)}</span></p>
<div id="conn" hidden><h2>连接信息 / Connection</h2><p>此密钥只显示一次，请妥善保存。 This key is shown once: keep it now.</p><pre id="conninfo"></pre></div>
<script>
const id = ${JSON.stringify(o.order_id)};
async function poll() {
  try {
    const r = await fetch("/v1/orders/" + encodeURIComponent(id), { headers: { accept: "application/json" } });
    const o = await r.json();
    document.getElementById("status").textContent = o.status;
    if (o.status !== "created") document.getElementById("qr").hidden = true;
    if (o.connection) {
      document.getElementById("conn").hidden = false;
      const pre = document.getElementById("conninfo");
      if (o.connection.api_key || !pre.textContent) pre.textContent = JSON.stringify(o.connection, null, 2);
    }
    if (["provisioned", "failed", "closed", "expired", "refunded"].includes(o.status)) return;
  } catch {}
  setTimeout(poll, 1500);
}
poll();
</script>
</body></html>`;
}
