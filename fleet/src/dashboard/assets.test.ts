import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { DASHBOARD_HEADERS, dashboardAsset, INDEX_HTML } from "./assets.js";

describe("dashboard assets", () => {
  it("serves the page, the stylesheet and the three modules; nothing else", () => {
    assert.equal(dashboardAsset("/ui/")?.body, INDEX_HTML);
    assert.equal(dashboardAsset("/ui")?.contentType, "text/html; charset=utf-8");
    assert.match(dashboardAsset("/ui/style.css")?.contentType ?? "", /^text\/css/);
    for (const m of ["app.js", "view-model.js", "prom-text.js"]) {
      const a = dashboardAsset(`/ui/${m}?v=1`);
      assert.match(a?.contentType ?? "", /^text\/javascript/);
      assert.doesNotMatch(a?.body ?? "", /sourceMappingURL/);
    }
    for (const p of ["/ui/assets.js", "/ui/../metrics.js", "/ui/view-model.test.js", "/ui/x"])
      assert.equal(dashboardAsset(p), undefined, p);
  });

  it("the modules load in a browser: only relative imports of files the daemon serves (no CDN, no bare specifiers)", () => {
    for (const m of ["app.js", "view-model.js", "prom-text.js"]) {
      const body = dashboardAsset(`/ui/${m}`)?.body ?? "";
      for (const imp of body.matchAll(/^\s*import\s[^;]*?from\s+"([^"]+)"/gm)) {
        const spec = imp[1] as string;
        assert.match(spec, /^\.\/[a-z-]+\.js$/, `${m} imports ${spec}`);
        assert.ok(dashboardAsset(`/ui/${spec.slice(2)}`), `${m} imports ${spec}, which is served`);
      }
      assert.doesNotMatch(body, /https?:\/\//, `${m} has no remote URL`);
    }
  });

  it("every id app.js looks up exists in the page; the page is accessible markup", () => {
    const app = readFileSync(new URL("./app.js", import.meta.url), "utf8");
    const ids = [...app.matchAll(/\$\("([a-z-]+)"\)/g)].map((m) => m[1] as string);
    assert.ok(ids.length >= 8);
    for (const id of new Set(ids)) assert.match(INDEX_HTML, new RegExp(`id="${id}"`), id);
    assert.match(INDEX_HTML, /<html lang="en">/);
    assert.match(INDEX_HTML, /<label for="token">/);
    assert.match(INDEX_HTML, /role="status" aria-live="polite"/);
    assert.equal((INDEX_HTML.match(/<th scope="col">/g) ?? []).length, 14);
    assert.doesNotMatch(INDEX_HTML, /<script>|style="|https?:\/\//, "no inline script or style, nothing remote (CSP)");
    assert.match(DASHBOARD_HEADERS["content-security-policy"] ?? "", /script-src 'self'/);
  });
});
