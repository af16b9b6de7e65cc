import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ROUTES } from "../contract/routes.js";

// detail.ts touches the DOM only inside functions; its pure helpers load under Node.
const { actionRequest, confirmText, sparkline } = await import("./detail.js");

describe("dashboard panel helpers", () => {
  it("maps each action to the admin route the CLI uses", () => {
    const same = (method: string, path: string, route: { method: string; path: string }, name = "p-1") =>
      assert.deepEqual([method, path.split("?")[0]], [route.method, route.path.replace(":name", name)]);
    const r = (a: Parameters<typeof actionRequest>[0]) => actionRequest(a, "p-1", "container");
    same(r("start").method, r("start").path, ROUTES.startProfile);
    same(r("stop").method, r("stop").path, ROUTES.stopProfile);
    same(r("restart").method, r("restart").path, ROUTES.restartProfile);
    same(r("migrate").method, r("migrate").path, ROUTES.migrateProfile);
    same(r("rm").method, r("rm").path, ROUTES.removeProfile);
    assert.equal(r("migrate").body, '{"to":"container"}');
    assert.equal(r("rm").path, "/v1/profiles/p-1?force=1");
  });

  it("asks a plain question per action", () => {
    assert.equal(confirmText("restart", "p-1"), "Restart profile p-1?");
    assert.match(confirmText("rm", "p-1"), /^Remove profile p-1\?/);
    assert.match(confirmText("migrate", "p-1", "container"), /to the container tier/);
  });

  it("draws sparklines", () => {
    assert.equal(sparkline([]), "");
    assert.equal(sparkline([1, 1]), "▁▁");
    assert.equal(sparkline([0, 5, 10]), "▁▅█");
  });
});
