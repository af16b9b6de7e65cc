/**
 * The checkout page in Debian's Chromium (playwright-core, no downloaded browser): QR of the code_url, live status,
 * connection info once provisioned. The screenshot is kept in $TWILIGHT_ARTIFACTS_DIR (default: a temp dir).
 */
import assert from "node:assert/strict";
import { existsSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { chromium } from "playwright-core";
import { json, startStack } from "../testkit.js";

const CHROMIUM = ["/usr/lib/chromium/chromium", "/usr/bin/chromium"].find((p) => existsSync(p));

test(
  "checkout page: QR code, live status, connection info once provisioned",
  { skip: !CHROMIUM && "Debian chromium not installed" },
  async () => {
    const s = await startStack();
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox", "--disable-gpu"] });
    try {
      const o = await json<{ order_id: string; out_trade_no: string; code_url: string }>(
        fetch(`${s.url}/v1/orders`, {
          method: "POST",
          body: JSON.stringify({ user_id: "u-web", plan: "basic", channel: "wxid_web" }),
        }),
      );
      const page = await browser.newPage();
      await page.goto(`${s.url}/checkout/${o.order_id}`);
      assert.equal(await page.locator("#qr").getAttribute("data-code-url"), o.code_url);
      assert.ok(await page.locator("#qr svg").isVisible());
      assert.equal(await page.locator("#status").textContent(), "created");
      const dir = process.env.TWILIGHT_ARTIFACTS_DIR ?? join(tmpdir(), "twilight-artifacts");
      mkdirSync(dir, { recursive: true });
      await page.screenshot({ path: join(dir, "checkout-qr.png") });
      await fetch(`${s.simUrl}/sim/pay/${o.out_trade_no}`, { method: "POST", body: "{}" });
      await page.locator("#status", { hasText: "provisioned" }).waitFor({ timeout: 15_000 });
      await page.locator("#conninfo", { hasText: "api_key" }).waitFor({ timeout: 5_000 });
      const info = JSON.parse((await page.locator("#conninfo").textContent()) ?? "{}") as { api_key?: string; api_base?: string };
      assert.match(info.api_key ?? "", /^hk_/);
      assert.match(info.api_base ?? "", /\/p\/tw-[0-9a-f]{16}\/v1$/);
      assert.ok(!(await page.locator("#qr").isVisible()));
      await page.screenshot({ path: join(dir, "checkout-provisioned.png") });
      process.stdout.write(`# screenshots: ${dir}/checkout-qr.png, checkout-provisioned.png\n`);
    } finally {
      await browser.close();
      await s.close();
    }
  },
);
